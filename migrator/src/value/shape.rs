//! [`serde_shape`]: the keys a serde type reads, found by asking its `Deserialize` impl.
//!
//! A derived `Deserialize` for a struct calls `deserialize_struct(name, fields, visitor)` with its
//! field names, renames applied. A deserializer that records that call and then fails learns the
//! keys without any document; every other shape (maps, sequences, enums, scalars) has no fixed keys.

use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};

use crate::model::SerdeShape;

/// The shape `T` reads: its keys if it is a struct with a derived (or struct-like) `Deserialize`.
pub fn serde_shape<T: DeserializeOwned>(rust_type: &str) -> SerdeShape {
    let mut probe = Probe { fields: None };
    let _ = T::deserialize(&mut probe);
    SerdeShape {
        rust_type: rust_type.to_string(),
        fields: probe.fields,
    }
}

struct Probe {
    fields: Option<Vec<String>>,
}

/// The probe's only answer: it never produces a value.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shape probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for &mut Probe {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.fields = Some(fields.iter().map(|f| f.to_string()).collect());
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Settings {
        time_zone: String,
        #[serde(rename = "sso")]
        sso_enforced: bool,
        default_priority: Option<String>,
    }

    #[test]
    fn structs_give_their_keys_and_other_types_none() {
        assert_eq!(
            serde_shape::<Settings>("Settings"),
            SerdeShape {
                rust_type: "Settings".into(),
                fields: Some(vec![
                    "timeZone".into(),
                    "sso".into(),
                    "defaultPriority".into()
                ]),
            }
        );
        assert_eq!(serde_shape::<BTreeMap<String, i32>>("Map").fields, None);
        assert_eq!(serde_shape::<Vec<String>>("Vec").fields, None);
        assert_eq!(serde_shape::<String>("String").fields, None);
    }
}
