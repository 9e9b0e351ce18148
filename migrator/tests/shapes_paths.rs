//! Nested paths, flattened structs and `with` on child and junction fields: the rows real
//! documents from `../shared/data` become (theaters' `location.address` as flattened columns and
//! `location.geo` as a PostGIS point, movies' `imdb.rating` by path, mongomart carts' items and
//! their reviews as nested children), and made-up documents for paths through arrays, absent and
//! wrong-typed intermediates (insta snapshots).

use std::path::PathBuf;

use migrator::bson::oid::ObjectId;
use migrator::bson::{doc, Bson, Document, RawBsonRef, RawDocumentBuf};
use migrator::census::coverage::collection_coverage;
use migrator::census::Tally;
use migrator::geo::Point;
use migrator::testing::{read_documents, rows, Transformed};
use migrator::Migrate;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(path)
}

fn documents(path: &str) -> Vec<Document> {
    read_documents(&data(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .iter()
        .map(|d| Document::try_from(d.as_ref()).expect("a document"))
        .collect()
}

/// The own table's columns: name, type, nullability and the document path read.
fn columns(model: &migrator::ModelDef) -> Vec<String> {
    model.tables[0]
        .columns
        .iter()
        .map(|c| {
            let null = if c.nullable { "" } else { " not null" };
            format!("{} {}{null} <- {}", c.name, c.ty.sql(), c.source)
        })
        .collect()
}

fn rejected(t: &Transformed) -> bool {
    matches!(t, Transformed::Rejected { .. })
}

/// A theater's postal address (`street2` is absent, null or a string).
#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Address {
    street1: String,
    street2: Option<String>,
    city: String,
    state: String,
    zipcode: String,
}

/// `location.address` flattened without a prefix, `location.geo` as a PostGIS point, and the
/// point's longitude read again by position: three fields below one key, read in one pass.
#[derive(Debug, Migrate)]
#[migrate(collection = "theaters", rename_all = "camelCase")]
struct Theater {
    #[migrate(id)]
    id: ObjectId,
    theater_id: i32,
    #[migrate(path = "location.address", flatten = "")]
    address: Address,
    #[migrate(path = "location.geo", index)]
    geo: Point,
    #[migrate(path = "location.geo.coordinates.0")]
    longitude: f64,
}

#[test]
fn theaters_addresses_flatten_and_points_read_by_path() {
    let docs = documents("sample_mflix/theaters.bson");
    assert_eq!(docs.len(), 1564);
    let bad: Vec<_> = docs.iter().map(rows::<Theater>).filter(rejected).collect();
    assert!(bad.is_empty(), "{bad:?}");
    insta::assert_yaml_snapshot!("theater_columns", columns(&Theater::model()));
    let first: Vec<_> = docs[..2].iter().map(rows::<Theater>).collect();
    insta::assert_yaml_snapshot!(first);
}

/// The IMDb rating by path; some movies have none (the key is absent) or an empty string.
#[derive(Debug, Migrate)]
#[migrate(collection = "movies", unknown_fields = "ignore")]
struct Movie {
    #[migrate(id)]
    id: ObjectId,
    title: String,
    #[migrate(path = "imdb.rating", with = rating)]
    imdb_rating: Option<f64>,
    #[migrate(path = "imdb.votes", default)]
    imdb_votes: i32,
}

/// An empty string is no rating.
fn rating(value: RawBsonRef<'_>) -> Result<Option<f64>, String> {
    match value {
        RawBsonRef::Double(d) => Ok(Some(d)),
        RawBsonRef::Int32(i) => Ok(Some(f64::from(i))),
        RawBsonRef::String("") | RawBsonRef::Null => Ok(None),
        _ => Err("not a rating".into()),
    }
}

#[test]
fn movies_imdb_rating_by_path() {
    let docs = documents("sample_mflix_export/movies.json");
    let out: Vec<_> = docs.iter().map(rows::<Movie>).collect();
    let rejections: Vec<_> = out.iter().filter(|t| rejected(t)).collect();
    insta::assert_yaml_snapshot!("movies_rejected", rejections);
    insta::assert_yaml_snapshot!(out[..3].to_vec());
}

/// A review inside an item inside a cart.
#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Review {
    name: String,
    stars: i32,
}

/// A cart's item: its `_id` and its reviews (a child of the child).
#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct CartItem {
    #[migrate(rename = "_id", column = "item_id")]
    item_id: i32,
    title: String,
    quantity: i32,
    #[migrate(child = "cart_item_reviews")]
    reviews: Option<Vec<Review>>,
    /// The first review's stars, by position.
    #[migrate(path = "reviews.0.stars")]
    first_stars: Option<i32>,
}

#[derive(Debug, Migrate)]
#[migrate(
    collection = "mongomart_cart",
    table = "carts",
    unknown_fields = "ignore"
)]
struct Cart {
    #[migrate(id)]
    id: ObjectId,
    #[migrate(child = "cart_items")]
    items: Vec<CartItem>,
    /// The first item's title, by position, beside the child rows.
    #[migrate(path = "items.0.title")]
    first_title: Option<String>,
}

#[test]
fn mongomart_cart_items_and_their_reviews_as_nested_children() {
    let docs = documents("mongomart/mongomart_cart.bson");
    let out: Vec<_> = docs.iter().map(rows::<Cart>).collect();
    assert!(!out.iter().any(rejected), "{out:?}");
    insta::assert_yaml_snapshot!(out);
}

/// A post: the author's handle and a company's rival read by path, the rival's slug also as
/// a reference key, the place as two doubles by position, and `entities.tags` as a child table.
#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Tag {
    text: String,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "posts")]
struct Post {
    #[migrate(id)]
    id: i32,
    #[migrate(path = "author.handle")]
    handle: String,
    #[migrate(path = "author.name")]
    author_name: Option<String>,
    #[migrate(path = "loc.0")]
    lng: Option<f64>,
    #[migrate(path = "loc.1")]
    lat: Option<f64>,
    /// The whole `author` too, as jsonb.
    author: Option<Document>,
    #[migrate(path = "entities.tags", child, default)]
    tags: Vec<Tag>,
    #[migrate(path = "meta.views.total", default)]
    views: i64,
}

#[test]
fn paths_through_arrays_absent_and_wrong_intermediates() {
    let cases = [
        doc! {
            "_id": 1,
            "author": { "handle": "ada", "name": "Ada" },
            "loc": [2.35, 48.85],
            "entities": { "tags": [{ "text": "rust" }, { "text": "pg" }] },
            "meta": { "views": { "total": 7_i64 } },
        },
        // Absent intermediates: `Option` and `default` apply, a required field is missing.
        doc! { "_id": 2, "author": { "handle": "bob" } },
        doc! { "_id": 3 },
        // A null intermediate reads as absent.
        doc! { "_id": 4, "author": { "handle": "cy" }, "loc": null, "meta": null },
        // Intermediates of the wrong type: every field below them fails, naming its path.
        doc! { "_id": 5, "author": "dee", "loc": { "0": 1.5, "1": 2.5 }, "meta": { "views": [1, 2] } },
        doc! { "_id": 6, "author": { "handle": "eve" }, "entities": { "tags": "none" } },
    ];
    let out: Vec<_> = cases.iter().map(rows::<Post>).collect();
    insta::assert_yaml_snapshot!(out);
    // Every field below a wrong intermediate fails with its own path; `loc` as a document with
    // keys "0" and "1" reads like the array.
    let raw = RawDocumentBuf::try_from(&cases[4]).expect("encodes");
    let error = Post::decode(&raw).expect_err("rejected");
    let all: Vec<String> = error
        .all()
        .map(|e| format!("{}: {}", e.path(), e.kind()))
        .collect();
    assert_eq!(
        all,
        [
            "author.handle: expected object, found string \"dee\" at `author`",
            "author.name: expected object, found string \"dee\" at `author`",
            "author: expected object, found string \"dee\"",
            "meta.views.total: expected object, found array [1,2] at `meta.views`",
        ]
    );
}

/// The key census knows nested paths: what a path reads is not dropped, the keys beside it
/// are, and the subdocuments read through are neither.
#[test]
fn coverage_sees_nested_paths_and_flattened_columns() {
    let mut tally = Tally::new();
    let d = doc! {
        "_id": 1,
        "author": { "handle": "ada", "other": "x" },
        "loc": [2.35, 48.85],
        "entities": { "tags": [{ "text": "rust" }], "links": ["https://x"] },
        "meta": { "views": { "total": 7_i64, "unique": 3 } },
    };
    tally.observe(&RawDocumentBuf::try_from(&d).expect("encodes"));
    let census = tally.take();
    let coverage = collection_coverage(&Post::model(), &census);
    let fates: Vec<String> = coverage
        .keys
        .iter()
        .map(|k| format!("{} -> {}", k.path, k.fate.describe()))
        .collect();
    insta::assert_yaml_snapshot!(fates);
    let dropped: Vec<&str> = coverage.dropped.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(dropped, ["entities.links", "meta.views.unique"]);
    let mut tally = Tally::new();
    tally.observe(&RawDocumentBuf::try_from(&doc! { "_id": 1, "office": { "street": "1 Main", "geo": { "lat": 1.0, "lng": 2.0, "alt": 3.0 } } }).expect("encodes"));
    let coverage = collection_coverage(&Company::model(), &tally.take());
    let dropped: Vec<&str> = coverage.dropped.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(dropped, ["office.geo.alt"]);
    let never: Vec<&str> = coverage
        .never_seen
        .iter()
        .map(|d| d.path.as_str())
        .collect();
    assert_eq!(
        never,
        [
            "office.postalCode",
            "billing.street",
            "billing.postalCode",
            "billing.geo.lat",
            "billing.geo.lng"
        ]
    );
}

/// `with` on child and junction fields: an array of `[name, qty]` pairs becomes child rows, and
/// a comma-separated string the ids of a junction.
#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Line {
    name: String,
    qty: i32,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "labels")]
struct Label {
    #[migrate(id)]
    id: i32,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "orders")]
struct Order {
    #[migrate(id)]
    id: i32,
    #[migrate(child, with = pairs)]
    lines: Vec<Line>,
    #[migrate(junction, references = Label, with = id_list, path = "meta.labels")]
    labels: Option<Vec<i32>>,
}

fn pairs(value: RawBsonRef<'_>) -> Result<Vec<Line>, String> {
    let RawBsonRef::Array(array) = value else {
        return Err("expected an array of [name, qty] pairs".into());
    };
    array
        .into_iter()
        .map(|pair| {
            let pair =
                Bson::try_from(pair.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            match pair.as_array().map(Vec::as_slice) {
                Some([Bson::String(name), qty]) => Ok(Line {
                    name: name.clone(),
                    qty: match qty {
                        Bson::Int32(q) => *q,
                        Bson::String(s) => s.parse().map_err(|_| format!("bad quantity {s:?}"))?,
                        other => return Err(format!("bad quantity {other}")),
                    },
                }),
                _ => Err(format!("not a [name, qty] pair: {pair}")),
            }
        })
        .collect()
}

fn id_list(value: RawBsonRef<'_>) -> Result<Option<Vec<i32>>, String> {
    let RawBsonRef::String(text) = value else {
        return Err("expected a comma-separated string".into());
    };
    text.split(',')
        .map(|t| t.trim().parse().map_err(|_| format!("`{t}` is not an id")))
        .collect::<Result<_, _>>()
        .map(Some)
}

#[test]
fn with_on_child_and_junction_reshapes_arrays() {
    let cases = [
        doc! { "_id": 1, "lines": [["bolt", 4], ["nut", "12"]], "meta": { "labels": "3, 1, 3" } },
        doc! { "_id": 2, "lines": [] },
        doc! { "_id": 3, "lines": [["bolt"]], "meta": { "labels": "x" } },
    ];
    let out: Vec<_> = cases.iter().map(rows::<Order>).collect();
    insta::assert_yaml_snapshot!(out);
}

/// An `Option` flattened struct with its own flattened struct inside: every column nullable,
/// an absent subdocument NULL in all of them.
#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
struct Geo {
    lat: f64,
    lng: f64,
}

#[derive(Debug, Migrate)]
#[migrate(embedded, rename_all = "camelCase")]
struct Office {
    street: String,
    postal_code: Option<String>,
    #[migrate(flatten)]
    geo: Option<Geo>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "companies")]
struct Company {
    #[migrate(id)]
    id: i32,
    #[migrate(flatten = "hq_")]
    office: Option<Office>,
    #[migrate(flatten, rename = "billing")]
    billing_office: Office,
}

#[test]
fn flattened_structs_nest_and_null_out() {
    insta::assert_yaml_snapshot!("company_columns", columns(&Company::model()));
    let cases = [
        doc! {
            "_id": 1,
            "office": { "street": "1 Main", "postalCode": "75001", "geo": { "lat": 48.8, "lng": 2.3 } },
            "billing": { "street": "2 Side" },
        },
        doc! { "_id": 2, "billing": { "street": "3 Back", "geo": null } },
        // A required key of a non-`Option` flattened struct is still required.
        doc! { "_id": 3, "office": { "street": "4 Up" } },
        doc! { "_id": 4, "office": "closed", "billing": { "street": "5 Down" } },
    ];
    let out: Vec<_> = cases.iter().map(rows::<Company>).collect();
    insta::assert_yaml_snapshot!(out);
}

/// Unknown keys rejected, but not inside the flattened `Geo`, which reads its own subdocument by
/// its own rule.
#[derive(Debug, Migrate)]
#[migrate(collection = "strict", unknown_fields = "reject")]
struct Strict {
    #[migrate(id)]
    id: i32,
    #[migrate(flatten)]
    geo: Geo,
}

#[test]
fn a_flattened_struct_reads_its_subdocument_by_its_own_rule_and_the_census_agrees() {
    let doc = doc! { "_id": 1, "geo": { "lat": 1.0, "lng": 2.0, "alt": 3.0 } };
    assert!(!rejected(&rows::<Strict>(&doc)));
    assert!(rejected(&rows::<Strict>(&doc! { "_id": 2, "extra": 1 })));
    let mut tally = Tally::new();
    tally.observe(&RawDocumentBuf::try_from(&doc).expect("encodes"));
    let coverage = collection_coverage(&Strict::model(), &tally.take());
    let fates: Vec<String> = coverage
        .keys
        .iter()
        .map(|k| format!("{} -> {}", k.path, k.fate.describe()))
        .collect();
    assert_eq!(
        fates,
        [
            "_id -> column strict.id",
            "geo -> read below (nested paths)",
            "geo.alt -> DROPPED",
            "geo.lat -> column strict.geo_lat",
            "geo.lng -> column strict.geo_lng",
        ]
    );
}
