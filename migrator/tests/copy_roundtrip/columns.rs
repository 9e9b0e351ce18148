//! The test table: one column per supported value type, each value with the text PostgreSQL
//! prints for it.

use std::collections::BTreeMap;
use std::str::FromStr;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{bson, Binary, Bson, DateTime, Decimal128, Document, RawBson};
use migrator::value::{FromBson, ObjectIdText, PgValue, SerdeJson};
use migrator::Key;

/// One column: its SQL type and, per row, a value with the text PostgreSQL prints for it.
pub struct Column {
    pub name: &'static str,
    pub sql: String,
    pub values: Vec<(Box<dyn PgValue>, Option<String>)>,
}

/// A column of `T` whose values are decoded from BSON as a generated `decode` would.
fn decoded<T: FromBson + PgValue + 'static>(
    name: &'static str,
    rows: Vec<(Bson, Option<&str>)>,
) -> Column {
    let values = rows
        .into_iter()
        .map(|(input, text)| {
            let raw = RawBson::try_from(input.clone()).expect("test input converts to raw BSON");
            let value = T::from_bson(raw.as_raw_bson_ref())
                .unwrap_or_else(|e| panic!("{name}: {input:?} was rejected: {e}"));
            (Box::new(value) as Box<dyn PgValue>, text.map(str::to_owned))
        })
        .collect();
    Column {
        name,
        sql: T::column_type().0.sql(),
        values,
    }
}

/// A column written through a wrapper that borrows its value (kept alive for the whole test).
fn wrapped<T: PgValue + 'static>(name: &'static str, rows: Vec<(T, Option<String>)>) -> Column {
    let values = rows
        .into_iter()
        .map(|(value, text)| (Box::new(value) as Box<dyn PgValue>, text))
        .collect();
    Column {
        name,
        sql: T::column_type().0.sql(),
        values,
    }
}

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

fn dec(text: &str) -> Bson {
    Bson::Decimal128(Decimal128::from_str(text).expect("decimal128 text"))
}

fn date(millis: i64) -> Bson {
    Bson::DateTime(DateTime::from_millis(millis))
}

fn oid(hex: &str) -> ObjectId {
    ObjectId::parse_str(hex).expect("ObjectId hex")
}

pub fn columns() -> Vec<Column> {
    let some = |s: &str| Some(s.to_string());
    let big = format!("9999999999999999999999999999999999{}", "0".repeat(40));
    let uuid_bytes = (0..16u8).map(|i| i * 17).collect::<Vec<u8>>();
    let (a, b) = (
        oid("5a9427648b0beebeb69579e7"),
        oid("000000010000000000000000"),
    );
    vec![
        decoded::<String>(
            "t_text",
            vec![
                (bson!("héllo"), Some("héllo")),
                (bson!(""), Some("")),
                (
                    Bson::Symbol("quote \" and \\ and 🎉".into()),
                    Some("quote \" and \\ and 🎉"),
                ),
            ],
        ),
        decoded::<i32>(
            "t_int",
            vec![
                (bson!(i32::MIN), Some("-2147483648")),
                (bson!(i32::MAX as i64), Some("2147483647")),
                (bson!(42.0), Some("42")),
            ],
        ),
        decoded::<i64>(
            "t_bigint",
            vec![
                (bson!(i64::MIN), Some("-9223372036854775808")),
                (bson!(9_007_199_254_740_992.0), Some("9007199254740992")),
            ],
        ),
        decoded::<f64>(
            "t_double",
            vec![
                (bson!(0.1), Some("0.1")),
                (bson!(f64::NAN), Some("NaN")),
                (bson!(f64::NEG_INFINITY), Some("-Infinity")),
                (bson!(1e300), Some("1e+300")),
                (bson!(1.5e-7), Some("1.5e-07")),
                (
                    bson!(-9_007_199_254_740_992_i64),
                    Some("-9.007199254740992e+15"),
                ),
            ],
        ),
        decoded::<bool>(
            "t_bool",
            vec![(bson!(true), Some("true")), (bson!(false), Some("false"))],
        ),
        decoded::<DateTime>(
            "t_timestamptz",
            vec![
                (date(-14_182_940_000), Some("1969-07-20 20:17:40+00")),
                (date(-62_135_596_800_000), Some("0001-01-01 00:00:00+00")),
                (date(-2_208_988_800_000), Some("1900-01-01 00:00:00+00")),
                (
                    date(253_402_300_799_999),
                    Some("9999-12-31 23:59:59.999+00"),
                ),
                (
                    date(-210_866_803_200_000),
                    Some("4714-11-24 00:00:00+00 BC"),
                ),
                (
                    date(9_223_372_036_854_775),
                    Some("294247-01-10 04:00:54.775+00"),
                ),
                (date(-1), Some("1969-12-31 23:59:59.999+00")),
            ],
        ),
        decoded::<Decimal128>(
            "t_numeric",
            vec![
                (dec("1.50"), Some("1.50")),
                (dec("1E+3"), Some("1000")),
                (dec("-0.00"), Some("0.00")),
                (dec("NaN"), Some("NaN")),
                (dec("Infinity"), Some("Infinity")),
                (dec("-Infinity"), Some("-Infinity")),
                (dec("0.000001"), Some("0.000001")),
                (dec("-1.234E-20"), Some("-0.00000000000000000001234")),
                (
                    dec("9999999999999999999999999999999999E+40"),
                    Some(big.as_str()),
                ),
                (bson!(i64::MAX), Some("9223372036854775807")),
                (bson!(0.1), Some("0.1")),
                (bson!(f64::INFINITY), Some("Infinity")),
            ],
        ),
        decoded::<Binary>(
            "t_bytea",
            vec![
                (
                    Bson::Binary(Binary {
                        subtype: BinarySubtype::Generic,
                        bytes: vec![0, 0xff, b'\\'],
                    }),
                    Some("\\x00ff5c"),
                ),
                (
                    Bson::Binary(Binary {
                        subtype: BinarySubtype::UserDefined(0x80),
                        bytes: vec![],
                    }),
                    Some("\\x"),
                ),
            ],
        ),
        decoded::<uuid::Uuid>(
            "t_uuid",
            vec![(
                Bson::Binary(Binary {
                    subtype: BinarySubtype::Uuid,
                    bytes: uuid_bytes,
                }),
                Some("00112233-4455-6677-8899-aabbccddeeff"),
            )],
        ),
        decoded::<ObjectId>(
            "t_object_id",
            vec![(
                Bson::ObjectId(a),
                Some("0161d2b9-dea0-78b0-800b-eebeb69579e7"),
            )],
        ),
        decoded::<Document>(
            "t_document",
            vec![
                (
                    bson!({"b": [1, 2.5], "aa": {"x": null}, "a": "é\n", "o": a, "m": dec("1.50"), "d": date(0)}),
                    Some(
                        r#"{"a": "é\n", "b": [1, 2.5], "d": {"$date": "1970-01-01T00:00:00Z"}, "m": {"$numberDecimal": "1.50"}, "o": {"$oid": "5a9427648b0beebeb69579e7"}, "aa": {"x": null}}"#,
                    ),
                ),
                (bson!({}), Some("{}")),
            ],
        ),
        decoded::<Bson>(
            "t_bson",
            vec![
                (Bson::Null, Some("null")),
                (bson!(7), Some("7")),
                (bson!("s"), Some("\"s\"")),
            ],
        ),
        decoded::<BTreeMap<String, i64>>(
            "t_map",
            vec![(bson!({"b": 2.0, "a": 1}), Some(r#"{"a": 1, "b": 2}"#))],
        ),
        decoded::<Option<String>>(
            "t_nullable",
            vec![(Bson::Null, None), (bson!("x"), Some("x"))],
        ),
        decoded::<Vec<i32>>(
            "t_int_array",
            vec![
                (bson!([1, -2, 3_i64]), Some("{1,-2,3}")),
                (bson!([]), Some("{}")),
            ],
        ),
        decoded::<Vec<Option<String>>>(
            "t_text_array",
            vec![(
                bson!(["a", "b c", "", "NULL", "q\"", null]),
                Some(r#"{a,"b c","","NULL","q\"",NULL}"#),
            )],
        ),
        decoded::<Vec<DateTime>>(
            "t_timestamptz_array",
            vec![(
                Bson::Array(vec![date(0), date(-210_866_803_200_000)]),
                Some(r#"{"1970-01-01 00:00:00+00","4714-11-24 00:00:00+00 BC"}"#),
            )],
        ),
        decoded::<Vec<Option<Decimal128>>>(
            "t_numeric_array",
            vec![(
                Bson::Array(vec![dec("1.50"), dec("NaN"), dec("-Infinity"), Bson::Null]),
                Some("{1.50,NaN,-Infinity,NULL}"),
            )],
        ),
        decoded::<Vec<f64>>(
            "t_double_array",
            vec![(bson!([0.5, f64::INFINITY]), Some("{0.5,Infinity}"))],
        ),
        decoded::<Vec<bool>>("t_bool_array", vec![(bson!([true, false]), Some("{t,f}"))]),
        decoded::<Vec<i64>>(
            "t_bigint_array",
            vec![(bson!([i64::MAX]), Some("{9223372036854775807}"))],
        ),
        decoded::<Vec<Binary>>(
            "t_bytea_array",
            vec![(
                Bson::Array(vec![Bson::Binary(Binary {
                    subtype: BinarySubtype::Generic,
                    bytes: vec![1],
                })]),
                Some(r#"{"\\x01"}"#),
            )],
        ),
        decoded::<Vec<ObjectId>>(
            "t_uuid_array",
            vec![(
                Bson::Array(vec![Bson::ObjectId(b)]),
                Some("{00000000-03e8-7000-8000-000000000000}"),
            )],
        ),
        decoded::<Vec<Document>>(
            "t_jsonb_array",
            vec![(bson!([{"a": 1}]), Some(r#"{"{\"a\": 1}"}"#))],
        ),
        decoded::<Option<Vec<i64>>>("t_nullable_array", vec![(Bson::Null, None)]),
        wrapped(
            "t_object_id_text",
            vec![
                (
                    ObjectIdText(leak(Some(a))),
                    some("5a9427648b0beebeb69579e7"),
                ),
                (ObjectIdText(leak(None)), None),
            ],
        ),
        wrapped(
            "t_object_id_text_array",
            vec![(
                ObjectIdText(leak(vec![Some(a), None])),
                some("{5a9427648b0beebeb69579e7,NULL}"),
            )],
        ),
        wrapped(
            "t_serde",
            vec![(
                SerdeJson(leak(BTreeMap::from([("k", vec![1.5, -2.0])]))),
                some(r#"{"k": [1.5, -2.0]}"#),
            )],
        ),
        wrapped(
            "t_key",
            vec![(
                Key::Uuid(uuid::Uuid::from_u128(1)),
                some("00000000-0000-0000-0000-000000000001"),
            )],
        ),
        Column {
            sql: "text".into(),
            ..wrapped(
                "t_key_text",
                vec![
                    (Key::Text("k1".into()), some("k1")),
                    (Key::Text(String::new()), some("")),
                ],
            )
        },
        Column {
            sql: "bigint".into(),
            ..wrapped("t_key_bigint", vec![(Key::BigInt(-5), some("-5"))])
        },
    ]
}
