use bson::spec::BinarySubtype;
use bson::{bson, doc};
use serde_json::json;

use super::*;
use crate::value::fixtures::{body, decode, rejection};

/// The JSON text of a binary jsonb field, checking the version byte.
fn jsonb_text(value: &dyn PgValue) -> String {
    let bytes = body(value);
    assert_eq!(bytes.first(), Some(&JSONB_VERSION), "version byte");
    String::from_utf8(bytes[1..].to_vec()).expect("utf-8 JSON")
}

#[test]
fn documents_are_relaxed_extended_json() {
    let oid = ObjectId::parse_str("5a9427648b0beebeb69579e7").expect("oid");
    let document = doc! {
        "s": "x",
        "i": 1,
        "l": 2_i64,
        "d": 2.5,
        "nan": f64::NAN,
        "b": true,
        "n": null,
        "o": oid,
        "t": DateTime::from_millis(1_577_836_800_000),
        "old": DateTime::from_millis(-1),
        "m": "1.50".parse::<Decimal128>().expect("decimal"),
        "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] },
        "a": [1, "two", { "three": 3 }],
    };
    let decoded = decode::<Document>(Bson::Document(document.clone())).expect("document");
    // Compared as bytes: NaN is not equal to itself.
    assert_eq!(
        bson::RawDocumentBuf::try_from(&decoded).expect("raw"),
        bson::RawDocumentBuf::try_from(&document).expect("raw")
    );
    let expected = json!({
        "s": "x",
        "i": 1,
        "l": 2,
        "d": 2.5,
        "nan": {"$numberDouble": "NaN"},
        "b": true,
        "n": null,
        "o": {"$oid": "5a9427648b0beebeb69579e7"},
        "t": {"$date": "2020-01-01T00:00:00Z"},
        "old": {"$date": {"$numberLong": "-1"}},
        "m": {"$numberDecimal": "1.50"},
        "bin": {"$binary": {"base64": "AQI=", "subType": "00"}},
        "a": [1, "two", {"three": 3}],
    });
    assert_eq!(decoded.to_cell(), Cell::Json(expected.clone()));
    let text = jsonb_text(&decoded);
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("valid JSON"),
        expected
    );
    assert!(
        text.starts_with(r#"{"s":"x","i":1,"l":2,"d":2.5,"#),
        "{text}"
    );
}

#[test]
fn documents_reject_other_types() {
    for (input, message) in [
        (bson!([1]), "expected object, found array [1]"),
        (
            Bson::String("{}".into()),
            "expected object, found string \"{}\"",
        ),
        (Bson::Null, "required field is null"),
    ] {
        assert_eq!(rejection::<Document>(input), message);
    }
}

#[test]
fn nul_characters_are_rejected_with_their_path() {
    let nul = "string contains a NUL character (\\u0000), which PostgreSQL jsonb cannot store";
    for (input, path, value) in [
        (
            bson!({"a": {"b": ["ok", "x\0y"]}}),
            "a.b[1]",
            r#""x\u0000y""#,
        ),
        (bson!({"s": Bson::Symbol("\0".into())}), "s", r#""\u0000""#),
        (
            bson!({"c": Bson::JavaScriptCode("f(\0)".into())}),
            "c",
            r#""f(\u0000)""#,
        ),
    ] {
        let expected = format!("field `{path}`: {nul}: {value}");
        assert_eq!(rejection::<Document>(input.clone()), expected);
        assert_eq!(rejection::<Bson>(input), expected);
    }
    assert_eq!(
        rejection::<Bson>(Bson::String("\0".into())),
        format!(r#"{nul}: "\u0000""#)
    );
    assert_eq!(
        rejection::<BTreeMap<String, Bson>>(bson!({"k": ["\0"]})),
        format!(r#"field `k[0]`: {nul}: "\u0000""#)
    );
}

#[test]
fn bson_takes_any_value() {
    for input in [
        Bson::Null,
        Bson::Int32(3),
        bson!([1, {"a": null}]),
        Bson::MaxKey,
        Bson::Timestamp(bson::Timestamp {
            time: 1,
            increment: 2,
        }),
    ] {
        assert_eq!(decode::<Bson>(input.clone()).expect("accepted"), input);
    }
    assert_eq!(decode::<Option<Bson>>(Bson::Null).expect("null"), None);
    assert_eq!(jsonb_text(&Bson::Null), "null");
    assert_eq!(jsonb_text(&Bson::Int64(-5)), "-5");
    assert_eq!(jsonb_text(&Bson::MinKey), r#"{"$minKey":1}"#);
}

#[test]
fn maps_read_typed_values() {
    let map = decode::<BTreeMap<String, i64>>(bson!({"b": 2.0, "a": 1})).expect("map");
    assert_eq!(map, BTreeMap::from([("a".into(), 1), ("b".into(), 2)]));
    assert_eq!(jsonb_text(&map), r#"{"a":1,"b":2}"#);
    assert_eq!(
        rejection::<BTreeMap<String, i64>>(bson!({"a": 1, "b": "x"})),
        "field `b`: expected int32, int64 or double, found string \"x\""
    );
    assert_eq!(
        rejection::<HashMap<String, String>>(bson!([])),
        "expected object, found array []"
    );
    let hash =
        decode::<HashMap<String, Option<Vec<String>>>>(bson!({"z": ["q"], "m": null, "a": []}))
            .expect("hash map");
    assert_eq!(jsonb_text(&hash), r#"{"a":[],"m":null,"z":["q"]}"#);
    assert_eq!(
        hash.to_cell(),
        Cell::Json(json!({"a": [], "m": null, "z": ["q"]}))
    );
}

#[test]
fn map_values_are_written_as_their_rust_type_reads_them() {
    let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let values: BTreeMap<String, Bson> = BTreeMap::from([("x".into(), Bson::Double(1.0))]);
    assert_eq!(jsonb_text(&values), r#"{"x":1.0}"#);
    assert_eq!(
        uuid.to_json(),
        json!({"$binary": {"base64": "ASNFZ4mrze8BI0VniavN7w==", "subType": "04"}})
    );
    assert_eq!(
        f64::INFINITY.to_json(),
        json!({"$numberDouble": "Infinity"})
    );
    assert_eq!(None::<i32>.to_json(), Value::Null);
    assert_eq!(
        DateTime::from_millis(0).to_json(),
        json!({"$date": "1970-01-01T00:00:00Z"})
    );
}

#[test]
fn jsonb_columns() {
    assert_eq!(Document::column_type(), (PgType::Jsonb, false));
    assert_eq!(Bson::column_type(), (PgType::Jsonb, false));
    assert_eq!(
        <Option<BTreeMap<String, i32>>>::column_type(),
        (PgType::Jsonb, true)
    );
    assert_eq!(
        <HashMap<String, String>>::column_type(),
        (PgType::Jsonb, false)
    );
    assert_eq!(
        <Vec<Document>>::column_type(),
        (PgType::Array(Box::new(PgType::Jsonb)), false)
    );
    assert_eq!(Document::ELEMENT_OID, 3802);
    assert_eq!(<BTreeMap<String, i32> as ArrayElement>::ELEMENT_OID, 3802);
}

#[test]
fn unserializable_values_become_invalid_json() {
    let mut buf = Vec::new();
    put_jsonb(&mut buf, &HashMap::from([((1, 2), 3)]));
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    assert_eq!(len as usize, buf.len() - 4);
    assert_eq!(&buf[4..], b"\x01!not JSON: key must be a string");
}
