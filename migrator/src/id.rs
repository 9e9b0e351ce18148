//! Primary keys from `_id`: deterministic on every run and machine, so references are computed
//! without lookups and re-runs are idempotent.
//!
//! The default ([`IdStrategy::Ordered`]) maps an ObjectId to a version 7 UUID whose 48-bit
//! millisecond timestamp is the ObjectId's second times 1000 and whose remaining bits hold the
//! ObjectId's other 8 bytes. UUIDs sort exactly as their ObjectIds do, and the mapping is reversible
//! ([`ordered_uuid_to_object_id`], or in SQL `<state schema>.object_id(uuid)`, made by
//! [`crate::sink::sql::create_object_id_function`]):
//!
//! ```text
//! ObjectId  TTTTTTTT RRRRRRRRRRRRRRRR            (T: seconds, R: 8 other bytes)
//! UUID      MMMMMMMM-MMMM-7RRR-800R-RRRRRRRRRRRR  (M: T * 1000 in milliseconds)
//! ```

use bson::oid::ObjectId;
use uuid::Uuid;

use crate::error::FieldError;
use crate::model::{IdStrategy, PgType};
use crate::value::{Cell, FromBson, PgValue};

/// Namespace of the name-based ([`IdStrategy::V5`]) ObjectId UUIDs.
pub const OBJECT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d69_6772_6174_4f72_8000_0000_0000_0001);
/// Namespace of child-row ids ([`child_row_id`]).
pub const CHILD_ROW_NAMESPACE: Uuid = Uuid::from_u128(0x6d69_6772_6174_4f72_8000_0000_0000_0002);

/// The ordered, reversible UUID of an ObjectId.
pub fn object_id_to_ordered_uuid(oid: &ObjectId) -> Uuid {
    let b = oid.bytes();
    let secs = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
    let millis = secs * 1000;
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&b[4..12]);
    let tail = u64::from_be_bytes(tail);
    // 48 bits millis | version 7 | top 12 bits of tail | variant 0b10 + 10 zero bits | low 52 bits of tail
    let hi: u64 = (millis << 16) | (0x7 << 12) | (tail >> 52);
    let lo: u64 = (0x8000_0000_0000_0000) | (tail & 0x000F_FFFF_FFFF_FFFF);
    Uuid::from_u64_pair(hi, lo)
}

/// The inverse of [`object_id_to_ordered_uuid`]; `None` for a UUID that no ObjectId maps to.
pub fn ordered_uuid_to_object_id(uuid: &Uuid) -> Option<ObjectId> {
    let (hi, lo) = uuid.as_u64_pair();
    let millis = hi >> 16;
    if (hi >> 12) & 0xF != 0x7 || lo >> 52 != 0x800 || millis % 1000 != 0 {
        return None;
    }
    let secs = u32::try_from(millis / 1000).ok()?;
    let tail = ((hi & 0xFFF) << 52) | (lo & 0x000F_FFFF_FFFF_FFFF);
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    bytes[4..].copy_from_slice(&tail.to_be_bytes());
    Some(ObjectId::from_bytes(bytes))
}

/// The name-based UUID of an ObjectId.
pub fn object_id_to_v5_uuid(oid: &ObjectId) -> Uuid {
    v5(&OBJECT_ID_NAMESPACE, &[&oid.bytes()])
}

/// The deterministic id of a child row: its parent's key, the array field and the position.
pub fn child_row_id(parent: &Key, field: &str, position: i32) -> Uuid {
    let mut scratch = [0u8; 8];
    let [tag, key] = parent.name_parts(&mut scratch);
    v5(
        &CHILD_ROW_NAMESPACE,
        &[
            tag,
            key,
            &[0],
            field.as_bytes(),
            &[0],
            &position.to_be_bytes(),
        ],
    )
}

/// `Uuid::new_v5(namespace, name)` with `name` given in parts, hashed by a SHA-1 that uses the
/// CPU's SHA instructions where it has them (one per child row: it shows in a load's profile).
fn v5(namespace: &Uuid, name: &[&[u8]]) -> Uuid {
    use sha1::Digest;
    let mut hasher = sha1::Sha1::new();
    hasher.update(namespace.as_bytes());
    for part in name {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// A primary or foreign key value as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Uuid(Uuid),
    Text(String),
    Int(i32),
    BigInt(i64),
}

impl Key {
    /// The key as the name of a child row id: a tag byte, then its bytes (`scratch` holds an
    /// integer's).
    fn name_parts<'a>(&'a self, scratch: &'a mut [u8; 8]) -> [&'a [u8]; 2] {
        match self {
            Key::Uuid(u) => [b"u", u.as_bytes()],
            Key::Text(s) => [b"s", s.as_bytes()],
            Key::Int(i) => {
                scratch[..4].copy_from_slice(&i.to_be_bytes());
                [b"i", &scratch[..4]]
            }
            Key::BigInt(i) => {
                *scratch = i.to_be_bytes();
                [b"l", &scratch[..]]
            }
        }
    }

    fn as_pg_value(&self) -> &dyn PgValue {
        match self {
            Key::Uuid(u) => u,
            Key::Text(s) => s,
            Key::Int(i) => i,
            Key::BigInt(i) => i,
        }
    }
}

impl std::fmt::Display for Key {
    /// The key as PostgreSQL prints it (`::text`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Uuid(u) => write!(f, "{}", u.hyphenated()),
            Key::Text(s) => f.write_str(s),
            Key::Int(i) => write!(f, "{i}"),
            Key::BigInt(i) => write!(f, "{i}"),
        }
    }
}

impl PgValue for Key {
    fn column_type() -> (PgType, bool) {
        // A Key's real type depends on the model; columns holding keys are described with
        // `IdKey::pg_type` instead.
        (PgType::Uuid, false)
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        self.as_pg_value().encode(buf)
    }

    fn to_cell(&self) -> Cell {
        self.as_pg_value().to_cell()
    }
}

/// A Rust type usable as `_id`: ObjectId, i32, i64, String or Uuid.
pub trait IdKey: FromBson + Clone + Eq + std::hash::Hash + 'static {
    /// The column type of this id under `strategy`.
    fn pg_type(strategy: IdStrategy) -> PgType;
    /// The stored key of this id under `strategy`.
    fn key(&self, strategy: IdStrategy) -> Key;
    /// The id as BSON (for resuming a source and for dead letters).
    fn to_bson(&self) -> bson::Bson;
    /// Whether `strategy` applies to this type (checked when a schema is built).
    fn supports(strategy: IdStrategy) -> bool {
        strategy == IdStrategy::Keep
    }
}

impl IdKey for ObjectId {
    fn pg_type(strategy: IdStrategy) -> PgType {
        match strategy {
            IdStrategy::Ordered | IdStrategy::V5 => PgType::Uuid,
            IdStrategy::Keep => PgType::Text,
        }
    }

    fn key(&self, strategy: IdStrategy) -> Key {
        match strategy {
            IdStrategy::Ordered => Key::Uuid(object_id_to_ordered_uuid(self)),
            IdStrategy::V5 => Key::Uuid(object_id_to_v5_uuid(self)),
            IdStrategy::Keep => Key::Text(self.to_hex()),
        }
    }

    fn to_bson(&self) -> bson::Bson {
        bson::Bson::ObjectId(*self)
    }

    fn supports(_strategy: IdStrategy) -> bool {
        true
    }
}

macro_rules! keep_only_id {
    ($ty:ty, $pg:expr, $variant:ident, $bson:expr) => {
        impl IdKey for $ty {
            fn pg_type(_strategy: IdStrategy) -> PgType {
                $pg
            }

            fn key(&self, _strategy: IdStrategy) -> Key {
                Key::$variant(self.clone())
            }

            fn to_bson(&self) -> bson::Bson {
                $bson(self.clone())
            }
        }
    };
}

keep_only_id!(i32, PgType::Integer, Int, bson::Bson::Int32);
keep_only_id!(i64, PgType::BigInt, BigInt, bson::Bson::Int64);
keep_only_id!(String, PgType::Text, Text, bson::Bson::String);
keep_only_id!(Uuid, PgType::Uuid, Uuid, |u: Uuid| bson::Bson::Binary(
    bson::Binary::from_uuid(bson::Uuid::from_bytes(u.into_bytes()))
));

/// Helper for `FromBson` of ObjectId given as hex text where the model asks for it.
pub fn parse_object_id_hex(s: &str) -> Result<ObjectId, FieldError> {
    ObjectId::parse_str(s)
        .map_err(|_| FieldError::invalid(format!("`{s}` is not a 24-digit hexadecimal ObjectId")))
}

/// The `_id`s a stored key (as PostgreSQL prints it) can come from, to find a document again from
/// its rows: an ObjectId (from an ordered UUID, or kept as 24 hex digits), a binary UUID,
/// integers, the text itself. The caller keeps the documents whose key is the one it has (a
/// name-based UUID, [`IdStrategy::V5`], maps back to none).
pub fn id_candidates(key: &str) -> Vec<bson::Bson> {
    let mut out = Vec::new();
    if let Ok(uuid) = Uuid::parse_str(key) {
        if let Some(oid) = ordered_uuid_to_object_id(&uuid) {
            out.push(bson::Bson::ObjectId(oid));
        }
        out.push(uuid.to_bson());
    }
    if let Ok(oid) = ObjectId::parse_str(key) {
        out.push(bson::Bson::ObjectId(oid));
    }
    if let Ok(n) = key.parse::<i64>() {
        if let Ok(small) = i32::try_from(n) {
            out.push(bson::Bson::Int32(small));
        }
        out.push(bson::Bson::Int64(n));
    }
    out.push(bson::Bson::String(key.to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_map_back_to_their_ids() {
        let oid = ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("valid hex");
        let ordered = oid.key(IdStrategy::Ordered).to_string();
        assert!(id_candidates(&ordered).contains(&bson::Bson::ObjectId(oid)));
        assert!(id_candidates(&oid.to_hex()).contains(&bson::Bson::ObjectId(oid)));
        assert!(id_candidates("7").contains(&bson::Bson::Int32(7)));
        assert!(id_candidates("7").contains(&bson::Bson::Int64(7)));
        assert!(id_candidates("9000000000").contains(&bson::Bson::Int64(9_000_000_000)));
        assert!(id_candidates("sku-1").contains(&bson::Bson::String("sku-1".into())));
        let uuid = Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef);
        assert!(id_candidates(&uuid.to_string()).contains(&uuid.to_bson()));
    }

    /// The ids are exactly the documented `uuid_v5(namespace, name)` (checked against the uuid
    /// crate's own v5) for every kind of key.
    #[test]
    fn ids_are_the_documented_v5_uuids() {
        let oid = ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("hex");
        assert_eq!(
            object_id_to_v5_uuid(&oid),
            Uuid::new_v5(&OBJECT_ID_NAMESPACE, &oid.bytes())
        );
        let parents = [
            (
                Key::Uuid(Uuid::from_u128(7)),
                [b"u".to_vec(), 7u128.to_be_bytes().to_vec()],
            ),
            (
                Key::Text("a long key".repeat(9)),
                [b"s".to_vec(), "a long key".repeat(9).into_bytes()],
            ),
            (
                Key::Int(-3),
                [b"i".to_vec(), (-3i32).to_be_bytes().to_vec()],
            ),
            (
                Key::BigInt(1 << 40),
                [b"l".to_vec(), (1i64 << 40).to_be_bytes().to_vec()],
            ),
        ];
        for (key, [tag, bytes]) in parents {
            let name = [
                tag,
                bytes,
                b"\0lines\0".to_vec(),
                2i32.to_be_bytes().to_vec(),
            ]
            .concat();
            let expected = Uuid::new_v5(&CHILD_ROW_NAMESPACE, &name);
            assert_eq!(child_row_id(&key, "lines", 2), expected, "{key:?}");
            assert_eq!(expected.get_version_num(), 5);
        }
    }

    #[test]
    fn ordered_uuid_round_trips_and_keeps_order() {
        let samples = [
            "000000000000000000000000",
            "5a9427648b0beebeb69579e7",
            "5a9427648b0beebeb69579e8",
            "5a9427658b0beebeb69579e7",
            "ffffffffffffffffffffffff",
            "59a47286cfa9a3a73e51e72c",
        ];
        let mut prev: Option<Uuid> = None;
        for hex in samples {
            let oid = ObjectId::parse_str(hex).expect("valid hex");
            let uuid = object_id_to_ordered_uuid(&oid);
            assert_eq!(uuid.get_version_num(), 7, "{hex}");
            assert_eq!(ordered_uuid_to_object_id(&uuid), Some(oid), "{hex}");
            if let Some(p) = prev {
                if hex != "59a47286cfa9a3a73e51e72c" {
                    assert!(p < uuid, "order kept for {hex}");
                }
            }
            prev = Some(uuid);
        }
    }

    #[test]
    fn ordered_uuid_layout_is_documented_one() {
        let oid = ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("valid hex");
        let uuid = object_id_to_ordered_uuid(&oid);
        // 0x5a942764 = 1519658852 s -> 1519658852000 ms = 0x161d2b9dea0
        assert_eq!(uuid.to_string(), "0161d2b9-dea0-78b0-800b-eebeb69579e7");
    }

    #[test]
    fn foreign_uuids_have_no_object_id() {
        let v4 = Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef);
        assert_eq!(ordered_uuid_to_object_id(&v4), None);
    }

    #[test]
    fn v5_and_keep_are_deterministic() {
        let oid = ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("valid hex");
        assert_eq!(oid.key(IdStrategy::V5), oid.key(IdStrategy::V5));
        assert_eq!(
            oid.key(IdStrategy::Keep),
            Key::Text("5a9427648b0beebeb69579e7".into())
        );
        assert_eq!(7i32.key(IdStrategy::Keep), Key::Int(7));
    }

    #[test]
    fn child_ids_differ_by_field_and_position() {
        let parent = Key::Int(1);
        let a = child_row_id(&parent, "reviews", 0);
        assert_eq!(a, child_row_id(&parent, "reviews", 0));
        assert_ne!(a, child_row_id(&parent, "reviews", 1));
        assert_ne!(a, child_row_id(&parent, "answers", 0));
        assert_ne!(a, child_row_id(&Key::BigInt(1), "reviews", 0));
    }
}
