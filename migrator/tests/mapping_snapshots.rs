//! Snapshots of the rows documents become, one per mapping feature: what a user sees with
//! `migrator::testing::rows` and insta. Review changes with `cargo insta review`.

use std::collections::BTreeMap;
use std::str::FromStr;

use migrator::bson::{doc, oid::ObjectId, Binary, DateTime, Decimal128, Document};
use migrator::testing::rows;
use migrator::Migrate;

fn oid(hex: &str) -> ObjectId {
    ObjectId::parse_str(hex).expect("valid hex")
}

fn dec(text: &str) -> Decimal128 {
    Decimal128::from_str(text).expect("valid decimal")
}

// -- scalars ---------------------------------------------------------------------------------

#[derive(Debug, Migrate)]
#[migrate(collection = "scalars")]
struct Scalars {
    #[migrate(id)]
    id: ObjectId,
    text: String,
    int32: i32,
    int64: i64,
    double: f64,
    flag: bool,
    at: DateTime,
    money: Decimal128,
    blob: Binary,
    token: uuid::Uuid,
    /// An ObjectId that is not a reference: the ordered UUID by default...
    other: ObjectId,
    /// ...or its hex text.
    #[migrate(as_text)]
    other_hex: ObjectId,
}

fn scalars_doc() -> Document {
    doc! {
        "_id": oid("5a9427648b0beebeb69579e7"),
        "text": "héllo",
        "int32": -2_147_483_648_i32,
        // Mongo shells write numbers as doubles: integral ones fit integer columns.
        "int64": 9_007_199_254_740_992.0_f64,
        "double": 7_i32,
        "flag": true,
        "at": DateTime::from_millis(-14_182_940_000),
        "money": dec("1234.50"),
        "blob": Binary { subtype: migrator::bson::spec::BinarySubtype::Generic, bytes: vec![0, 1, 254, 255] },
        "token": Binary { subtype: migrator::bson::spec::BinarySubtype::Uuid, bytes: vec![0x11; 16] },
        "other": oid("000000000000000000000001"),
        "other_hex": oid("5a9427648b0beebeb69579e8"),
    }
}

#[test]
fn scalars_map_to_their_columns() {
    insta::assert_yaml_snapshot!(rows::<Scalars>(&scalars_doc()));
}

#[test]
fn decimals_keep_digits_scale_and_specials() {
    for (name, text) in [
        ("scale", "0.000100"),
        ("exponent", "1E+3"),
        ("negative_zero", "-0.0"),
        ("nan", "NaN"),
        ("infinity", "-Infinity"),
        ("large", "12345678901234567890123456789012.34"),
    ] {
        let mut d = scalars_doc();
        d.insert("money", dec(text));
        insta::assert_yaml_snapshot!(format!("decimal_{name}"), rows::<Scalars>(&d));
    }
}

#[test]
fn dates_before_1970_and_far_in_the_future() {
    for (name, millis) in [
        ("year_1", -62_135_596_800_000_i64),
        ("year_1900", -2_208_988_800_000),
        ("year_9999", 253_402_300_799_999),
        ("year_200000", 6_249_223_180_800_000),
    ] {
        let mut d = scalars_doc();
        d.insert("at", DateTime::from_millis(millis));
        insta::assert_yaml_snapshot!(format!("date_{name}"), rows::<Scalars>(&d));
    }
}

#[test]
fn lossy_or_mistyped_values_are_rejected_with_their_reason() {
    for (name, key, value) in [
        (
            "int32_overflow",
            "int32",
            migrator::bson::Bson::Int64(1 << 40),
        ),
        ("fractional_int", "int64", migrator::bson::Bson::Double(1.5)),
        (
            "inexact_double",
            "double",
            migrator::bson::Bson::Int64((1 << 53) + 1),
        ),
        (
            "string_for_bool",
            "flag",
            migrator::bson::Bson::String("yes".into()),
        ),
        (
            "nul_in_text",
            "text",
            migrator::bson::Bson::String("a\0b".into()),
        ),
        ("null_required", "text", migrator::bson::Bson::Null),
        (
            "date_out_of_range",
            "at",
            migrator::bson::Bson::DateTime(DateTime::from_millis(i64::MAX)),
        ),
    ] {
        let mut d = scalars_doc();
        d.insert(key, value);
        insta::assert_yaml_snapshot!(format!("rejected_{name}"), rows::<Scalars>(&d));
    }
    let mut d = scalars_doc();
    d.remove("money");
    insta::assert_yaml_snapshot!("rejected_missing", rows::<Scalars>(&d));
}

// -- names, options, defaults, skip, arrays, jsonb, enums, custom conversions -----------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(name = "plan_tier", rename_all = "lowercase")]
enum Tier {
    Free,
    Pro,
    #[migrate(rename = "enterprise-plus")]
    EnterprisePlus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Migrate)]
#[migrate(repr = "text", rename_all = "snake_case")]
enum Channel {
    Email,
    PushNotification,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Address {
    city: String,
    zip: Option<String>,
}

fn score_from_text(value: migrator::bson::RawBsonRef<'_>) -> Result<i32, String> {
    match value {
        migrator::bson::RawBsonRef::Int32(i) => Ok(i),
        migrator::bson::RawBsonRef::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a score")),
        other => Err(format!(
            "expected a score, found {:?}",
            other.element_type()
        )),
    }
}

fn default_locale() -> String {
    "en".into()
}

#[derive(Debug, Migrate)]
#[migrate(collection = "accountProfiles", rename_all = "camelCase")]
struct Profile {
    #[migrate(id, strategy = "keep")]
    id: String,
    display_name: String,
    #[migrate(rename = "e-mail", column = "email_address", unique)]
    email: String,
    nickname: Option<String>,
    #[migrate(default = "default_locale")]
    locale: String,
    #[migrate(default)]
    login_count: i64,
    #[migrate(skip)]
    cached: Option<String>,
    tags: Vec<String>,
    lucky_numbers: Option<Vec<i32>>,
    tier: Tier,
    channels: Vec<Channel>,
    settings: Document,
    counters: BTreeMap<String, i64>,
    #[migrate(jsonb)]
    address: Address,
    #[migrate(with = score_from_text)]
    score: i32,
}

fn profile_doc() -> Document {
    doc! {
        "_id": "ada",
        "displayName": "Ada",
        "e-mail": "ada@example.com",
        "nickname": null,
        "tags": ["math", "engines"],
        "tier": "enterprise-plus",
        "channels": ["email", "push_notification"],
        "settings": { "theme": "dark", "since": DateTime::from_millis(0), "owner": oid("5a9427648b0beebeb69579e7") },
        "counters": { "logins": 3_i64, "posts": 2_i32 },
        "address": { "city": "London" },
        "score": " 42 ",
        "somethingElse": "ignored by default",
    }
}

#[test]
fn names_options_defaults_arrays_jsonb_enums_and_conversions() {
    insta::assert_yaml_snapshot!(rows::<Profile>(&profile_doc()));
    let raw = migrator::bson::RawDocumentBuf::try_from(&profile_doc()).expect("raw");
    let decoded = Profile::decode(&raw).expect("decodes");
    assert_eq!(decoded.cached, None, "skipped fields take their default");
}

#[test]
fn a_value_outside_an_enum_is_a_document_error() {
    let mut d = profile_doc();
    d.insert("tier", "gold");
    insta::assert_yaml_snapshot!(rows::<Profile>(&d));
    let mut d = profile_doc();
    d.insert("channels", vec!["email", "fax"]);
    insta::assert_yaml_snapshot!("enum_array_outside", rows::<Profile>(&d));
}

#[test]
fn custom_conversion_errors_name_the_field() {
    let mut d = profile_doc();
    d.insert("score", "lots");
    insta::assert_yaml_snapshot!(rows::<Profile>(&d));
}

#[derive(Debug, Migrate)]
#[migrate(collection = "strict", unknown_fields = "reject")]
struct Strict {
    #[migrate(id)]
    id: i32,
    name: String,
}

#[test]
fn unknown_fields_can_be_rejected() {
    insta::assert_yaml_snapshot!(rows::<Strict>(
        &doc! { "_id": 1, "name": "a", "extra": true }
    ));
}

// -- ids, references, junctions, children -----------------------------------------------------

#[derive(Debug, Migrate)]
#[migrate(collection = "users")]
struct User {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(unique)]
    email: String,
    #[migrate(references = User, on_missing = "null")]
    manager_id: Option<ObjectId>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "labels")]
struct Label {
    #[migrate(id, strategy = "v5")]
    id: ObjectId,
    name: String,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "products")]
struct Product {
    #[migrate(id)]
    id: i64,
    title: String,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Reply {
    #[migrate(references = User, key = "email")]
    author_email: String,
    body: String,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Line {
    #[migrate(references = Product)]
    product_id: i64,
    quantity: i32,
    price: Decimal128,
    #[migrate(child)]
    replies: Option<Vec<Reply>>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "orders")]
struct Order {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(references = User)]
    customer_id: ObjectId,
    #[migrate(references = User, key = "email", on_missing = "keep")]
    contact: String,
    #[migrate(junction, references = Label, position)]
    label_ids: Vec<ObjectId>,
    #[migrate(junction = "order_watchers", references = User, target_column = "watcher_id")]
    watchers: Vec<ObjectId>,
    #[migrate(child = "order_lines")]
    lines: Vec<Line>,
}

fn order_doc() -> Document {
    let a = oid("5a9427648b0beebeb69579e1");
    let b = oid("5a9427648b0beebeb69579e2");
    doc! {
        "_id": oid("5a9427648b0beebeb6957900"),
        "customer_id": oid("5a9427648b0beebeb6957901"),
        "contact": "ada@example.com",
        "label_ids": [a, b, a],
        "watchers": [oid("5a9427648b0beebeb6957901")],
        "lines": [
            { "product_id": 7_i64, "quantity": 2, "price": dec("9.99"),
              "replies": [ { "author_email": "ada@example.com", "body": "thanks" } ] },
            { "product_id": 8_i32, "quantity": 1, "price": dec("100") },
        ],
    }
}

#[test]
fn ids_are_deterministic_under_each_strategy() {
    insta::assert_yaml_snapshot!(
        "id_ordered",
        rows::<User>(
            &doc! { "_id": oid("5a9427648b0beebeb69579e7"), "email": "a@x", "manager_id": null }
        )
    );
    insta::assert_yaml_snapshot!(
        "id_v5",
        rows::<Label>(&doc! { "_id": oid("5a9427648b0beebeb69579e7"), "name": "red" })
    );
    insta::assert_yaml_snapshot!(
        "id_integer",
        rows::<Product>(&doc! { "_id": 7_i64, "title": "cog" })
    );
}

#[test]
fn references_junctions_and_two_levels_of_children() {
    insta::assert_yaml_snapshot!(rows::<Order>(&order_doc()));
}

#[test]
fn errors_inside_children_carry_the_array_path() {
    let mut d = order_doc();
    let mut lines = d.get_array("lines").expect("lines").clone();
    let mut second = lines[1].as_document().expect("line").clone();
    second.insert("quantity", "two");
    lines[1] = second.into();
    d.insert("lines", lines);
    insta::assert_yaml_snapshot!(rows::<Order>(&d));
}

#[test]
fn the_model_description_is_stable() {
    let schema = migrator::schema![User, Label, Product, Order].expect("consistent");
    insta::assert_snapshot!(migrator::sink::ddl::Ddl::new(&schema, None).to_sql());
}
