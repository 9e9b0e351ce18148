//! ObjectIds: as `uuid` by default, or as 24-digit hex `text` through [`ObjectIdText`].
//!
//! A bare `ObjectId` field is written as the ordered, reversible UUID of
//! [`crate::id::object_id_to_ordered_uuid`], so references to collections keyed by ObjectId line
//! up with their primary keys. Fields whose ObjectIds should stay readable text (or reference a
//! collection that keeps its ids as text) are written through [`ObjectIdText`], which covers
//! `ObjectId`, `Option<ObjectId>`, `Vec<ObjectId>`, `Vec<Option<ObjectId>>` and
//! `Option<Vec<ObjectId>>`:
//!
//! ```ignore
//! out.value(&ObjectIdText(&self.author));
//! let (ty, nullable) = <ObjectIdText<'static, Option<ObjectId>> as PgValue>::column_type();
//! ```

use bson::oid::ObjectId;
use bson::RawBsonRef;

use super::array::encode_array;
use super::wire::{put_field, put_null};
use super::{wrong_type, ArrayElement, Cell, FromBson, PgValue};
use crate::error::FieldError;
use crate::id::object_id_to_ordered_uuid;
use crate::model::PgType;

/// The element OID of `text`.
const TEXT_OID: u32 = 25;

impl FromBson for ObjectId {
    fn from_bson(value: RawBsonRef<'_>) -> Result<Self, FieldError> {
        match value {
            RawBsonRef::ObjectId(oid) => Ok(oid),
            other => Err(wrong_type("objectId", &other)),
        }
    }
}

/// The ordered UUID of the ObjectId.
impl PgValue for ObjectId {
    fn column_type() -> (PgType, bool) {
        (PgType::Uuid, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        put_field(buf, object_id_to_ordered_uuid(self).as_bytes());
    }

    fn to_cell(&self) -> Cell {
        Cell::Uuid(object_id_to_ordered_uuid(self))
    }
}

impl ArrayElement for ObjectId {
    const ELEMENT_OID: u32 = 2950;
}

/// Writes the ObjectIds of a field as 24-digit lowercase hex `text` (or `text[]`) instead of
/// `uuid`. See the [module documentation](self).
#[derive(Debug, Clone, Copy)]
pub struct ObjectIdText<'a, T>(pub &'a T);

/// A field type that [`ObjectIdText`] can write.
pub trait ObjectIdTextColumn {
    /// The column type and whether it is nullable.
    fn text_column_type() -> (PgType, bool);
    /// Appends the field.
    fn encode_text(&self, buf: &mut Vec<u8>);
    /// The value as a [`Cell`].
    fn to_text_cell(&self) -> Cell;
}

impl<T: ObjectIdTextColumn> PgValue for ObjectIdText<'_, T> {
    fn column_type() -> (PgType, bool) {
        T::text_column_type()
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        self.0.encode_text(buf);
    }

    fn to_cell(&self) -> Cell {
        self.0.to_text_cell()
    }
}

/// The 24 lowercase hex digits of an ObjectId, without allocating.
fn hex_digits(oid: &ObjectId) -> [u8; 24] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 24];
    for (i, byte) in oid.bytes().iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

fn put_hex(oid: &ObjectId, buf: &mut Vec<u8>) {
    put_field(buf, &hex_digits(oid));
}

fn put_optional_hex(oid: &Option<ObjectId>, buf: &mut Vec<u8>) {
    match oid {
        Some(oid) => put_hex(oid, buf),
        None => put_null(buf),
    }
}

fn text_cell(oid: &ObjectId) -> Cell {
    Cell::Text(oid.to_hex())
}

fn optional_text_cell(oid: &Option<ObjectId>) -> Cell {
    oid.as_ref().map_or(Cell::Null, text_cell)
}

fn text_array() -> PgType {
    PgType::Array(Box::new(PgType::Text))
}

impl ObjectIdTextColumn for ObjectId {
    fn text_column_type() -> (PgType, bool) {
        (PgType::Text, false)
    }

    fn encode_text(&self, buf: &mut Vec<u8>) {
        put_hex(self, buf);
    }

    fn to_text_cell(&self) -> Cell {
        text_cell(self)
    }
}

impl ObjectIdTextColumn for Option<ObjectId> {
    fn text_column_type() -> (PgType, bool) {
        (PgType::Text, true)
    }

    fn encode_text(&self, buf: &mut Vec<u8>) {
        put_optional_hex(self, buf);
    }

    fn to_text_cell(&self) -> Cell {
        optional_text_cell(self)
    }
}

impl ObjectIdTextColumn for Vec<ObjectId> {
    fn text_column_type() -> (PgType, bool) {
        (text_array(), false)
    }

    fn encode_text(&self, buf: &mut Vec<u8>) {
        encode_array(buf, TEXT_OID, self, put_hex);
    }

    fn to_text_cell(&self) -> Cell {
        Cell::Array(self.iter().map(text_cell).collect())
    }
}

impl ObjectIdTextColumn for Vec<Option<ObjectId>> {
    fn text_column_type() -> (PgType, bool) {
        (text_array(), false)
    }

    fn encode_text(&self, buf: &mut Vec<u8>) {
        encode_array(buf, TEXT_OID, self, put_optional_hex);
    }

    fn to_text_cell(&self) -> Cell {
        Cell::Array(self.iter().map(optional_text_cell).collect())
    }
}

impl ObjectIdTextColumn for Option<Vec<ObjectId>> {
    fn text_column_type() -> (PgType, bool) {
        (text_array(), true)
    }

    fn encode_text(&self, buf: &mut Vec<u8>) {
        match self {
            Some(ids) => ids.encode_text(buf),
            None => put_null(buf),
        }
    }

    fn to_text_cell(&self) -> Cell {
        self.as_ref().map_or(Cell::Null, |ids| ids.to_text_cell())
    }
}

#[cfg(test)]
mod tests {
    use bson::Bson;

    use super::*;
    use crate::value::fixtures::{body, decode, field, hex, rejection};

    const HEX: &str = "5a9427648b0beebeb69579e7";
    const ORDERED: &str = "0161d2b9-dea0-78b0-800b-eebeb69579e7";

    fn oid() -> ObjectId {
        ObjectId::parse_str(HEX).expect("valid hex")
    }

    #[test]
    fn object_ids_accept_object_ids_only() {
        assert_eq!(
            decode::<ObjectId>(Bson::ObjectId(oid())).expect("oid"),
            oid()
        );
        assert_eq!(
            rejection::<ObjectId>(Bson::String(HEX.into())),
            "expected objectId, found string \"5a9427648b0beebeb69579e7\""
        );
        assert_eq!(rejection::<ObjectId>(Bson::Null), "required field is null");
    }

    #[test]
    fn object_ids_are_ordered_uuids_by_default() {
        let uuid = uuid::Uuid::parse_str(ORDERED).expect("uuid");
        assert_eq!(body(&oid()), uuid.as_bytes());
        assert_eq!(oid().to_cell(), Cell::Uuid(uuid));
        assert_eq!(ObjectId::column_type(), (PgType::Uuid, false));
        assert_eq!(ObjectId::ELEMENT_OID, 2950);
    }

    #[test]
    fn object_id_text_is_hex() {
        let one = oid();
        assert_eq!(body(&ObjectIdText(&one)), HEX.as_bytes());
        assert_eq!(ObjectIdText(&one).to_cell(), Cell::Text(HEX.into()));
        assert_eq!(field(&ObjectIdText(&None::<ObjectId>)), [0xff; 4]);
        assert_eq!(ObjectIdText(&Some(one)).to_cell(), Cell::Text(HEX.into()));
        let expected = format!(
            "00000001 00000001 00000019 00000002 00000001 00000018 {} ffffffff",
            hex_text(HEX)
        );
        assert_eq!(body(&ObjectIdText(&vec![Some(one), None])), hex(&expected));
        assert_eq!(
            ObjectIdText(&vec![one]).to_cell(),
            Cell::Array(vec![Cell::Text(HEX.into())])
        );
        assert_eq!(field(&ObjectIdText(&None::<Vec<ObjectId>>)), [0xff; 4]);
        assert_eq!(
            body(&ObjectIdText(&Some(Vec::<ObjectId>::new()))),
            hex("00000000 00000000 00000019")
        );
    }

    #[test]
    fn object_id_text_columns() {
        type Text<T> = ObjectIdText<'static, T>;
        let text_array = PgType::Array(Box::new(PgType::Text));
        assert_eq!(Text::<ObjectId>::column_type(), (PgType::Text, false));
        assert_eq!(
            Text::<Option<ObjectId>>::column_type(),
            (PgType::Text, true)
        );
        assert_eq!(
            Text::<Vec<ObjectId>>::column_type(),
            (text_array.clone(), false)
        );
        assert_eq!(
            Text::<Vec<Option<ObjectId>>>::column_type(),
            (text_array.clone(), false)
        );
        assert_eq!(
            Text::<Option<Vec<ObjectId>>>::column_type(),
            (text_array, true)
        );
    }

    /// The hex of the ASCII bytes of `text`.
    fn hex_text(text: &str) -> String {
        text.bytes().map(|b| format!("{b:02x}")).collect()
    }
}
