//! `bytea` from `bson::Binary` and `uuid` from `uuid::Uuid`.
//!
//! A `Binary` field accepts every binData subtype and stores the bytes only (the subtype is not
//! kept). A `Uuid` field accepts binData of subtype 4 (UUID) or the legacy subtype 3 with 16
//! bytes; subtype 3 bytes are taken in the order they are stored, which is the standard order
//! for data written by the Python driver and by MongoDB's own tools (Java and C# legacy layouts
//! reverse some bytes and are not recognised).

use bson::spec::BinarySubtype;
use bson::{Binary, RawBsonRef};
use uuid::Uuid;

use super::wire::put_field;
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::model::PgType;

impl FromBson for Binary {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Binary(b) => Ok(b.to_binary()),
            other => Err(wrong_type("binData", &other)),
        }
    }
}

impl PgValue for Binary {
    fn column_type() -> (PgType, bool) {
        (PgType::Bytea, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, &self.bytes);
    }

    fn to_cell(&self) -> Cell {
        Cell::Bytes(self.bytes.clone())
    }
}

impl ArrayElement for Binary {
    const ELEMENT_OID: u32 = 17;
}

impl FromBson for Uuid {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::Binary(b) => {
                if !matches!(b.subtype, BinarySubtype::Uuid | BinarySubtype::UuidOld) {
                    return Err(FieldError::invalid(format!(
                        "binData subtype {} is not a UUID; expected subtype 4 (or the legacy 3)",
                        u8::from(b.subtype)
                    )));
                }
                Uuid::from_slice(b.bytes).map_err(|_| {
                    FieldError::invalid(format!(
                        "a binData UUID has 16 bytes, found {}",
                        b.bytes.len()
                    ))
                })
            }
            other => Err(wrong_type("binData UUID", &other)),
        }
    }
}

impl PgValue for Uuid {
    fn column_type() -> (PgType, bool) {
        (PgType::Uuid, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, self.as_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Uuid(*self)
    }
}

impl ArrayElement for Uuid {
    const ELEMENT_OID: u32 = 2950;
}

#[cfg(test)]
mod tests {
    use bson::Bson;

    use super::*;
    use crate::value::fixtures::{decode, field, hex, rejection};

    fn bin(subtype: BinarySubtype, bytes: &[u8]) -> Bson {
        Bson::Binary(Binary {
            subtype,
            bytes: bytes.to_vec(),
        })
    }

    const SAMPLE: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn binary_accepts_every_subtype() {
        for subtype in [
            BinarySubtype::Generic,
            BinarySubtype::Function,
            BinarySubtype::BinaryOld,
            BinarySubtype::Uuid,
            BinarySubtype::Md5,
            BinarySubtype::UserDefined(0x80),
        ] {
            let b = decode::<Binary>(bin(subtype, b"\x00\xffab")).expect("accepted");
            assert_eq!(b.bytes, b"\x00\xffab", "{subtype:?}");
        }
        assert_eq!(
            rejection::<Binary>(Bson::String("ab".into())),
            "expected binData, found string \"ab\""
        );
    }

    #[test]
    fn bytea_is_the_bytes() {
        let b = Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![0, 1, 0xfe],
        };
        assert_eq!(field(&b), [0, 0, 0, 3, 0, 1, 0xfe]);
        assert_eq!(b.to_cell(), Cell::Bytes(vec![0, 1, 0xfe]));
        assert_eq!(Binary::column_type(), (PgType::Bytea, false));
        assert_eq!(Binary::ELEMENT_OID, 17);
    }

    #[test]
    fn uuids_come_from_uuid_subtypes() {
        let bytes = hex(SAMPLE);
        let expected = Uuid::parse_str(SAMPLE).expect("uuid");
        assert_eq!(
            decode::<Uuid>(bin(BinarySubtype::Uuid, &bytes)).expect("4"),
            expected
        );
        assert_eq!(
            decode::<Uuid>(bin(BinarySubtype::UuidOld, &bytes)).expect("3"),
            expected
        );
        for (input, message) in [
            (
                bin(BinarySubtype::Generic, &bytes),
                "binData subtype 0 is not a UUID; expected subtype 4 (or the legacy 3)",
            ),
            (
                bin(BinarySubtype::Uuid, &bytes[..15]),
                "a binData UUID has 16 bytes, found 15",
            ),
            (
                Bson::String(SAMPLE.into()),
                "expected binData UUID, found string \"0123456789abcdef0123456789abcdef\"",
            ),
            (Bson::Null, "required field is null"),
        ] {
            assert_eq!(rejection::<Uuid>(input), message);
        }
    }

    #[test]
    fn uuid_is_sixteen_bytes() {
        let u = Uuid::parse_str(SAMPLE).expect("uuid");
        assert_eq!(field(&u), hex(&format!("00000010 {SAMPLE}")));
        assert_eq!(u.to_cell(), Cell::Uuid(u));
        assert_eq!(Uuid::column_type(), (PgType::Uuid, false));
        assert_eq!(Uuid::ELEMENT_OID, 2950);
    }
}
