//! Every document of the real exports in ../shared/data through the real-data models: row counts
//! per table, the per-document errors real data produces, and identical rows from the `.json` and
//! `.bson` twins. No server is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use migrator::testing::Rejection;
use migrator::{RowSet, Schema};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

fn read(path: &Path) -> Vec<migrator::bson::RawDocumentBuf> {
    assert!(path.exists(), "missing data file {}", path.display());
    migrator::testing::read_documents(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

struct Outcome {
    rows: RowSet,
    rejected: Vec<Rejection>,
    documents: usize,
}

fn run(schema: &Schema, collection: &str, file: &str) -> Outcome {
    let model = schema
        .model(collection)
        .unwrap_or_else(|| panic!("no model for {collection}"));
    let docs = read(&data_dir().join(file));
    let mut rows = RowSet::new(model.def());
    let mut rejected = Vec::new();
    for doc in &docs {
        if let Err(e) = model.transform(doc, &mut rows) {
            rejected.push(Rejection::from(&e));
        }
    }
    Outcome {
        rows,
        rejected,
        documents: docs.len(),
    }
}

fn schema() -> Schema {
    schema::real_data::schema().expect("the real-data schema is consistent")
}

/// (collection, files that hold it, expected rows per table, expected rejections as (id, field, class)).
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, usize)],
    &'static [(&'static str, &'static str, &'static str)],
);

const CASES: &[Case] = &[
    (
        "accounts",
        &[
            "sample_analytics/accounts.json",
            "sample_analytics/accounts.bson",
        ],
        &[("accounts", 1746)],
        &[],
    ),
    (
        "customers",
        &[
            "sample_analytics/customers.json",
            "sample_analytics/customers.bson",
        ],
        &[("customers", 500), ("customer_accounts", 1746)],
        &[],
    ),
    (
        "users",
        &["sample_mflix/users.json", "sample_mflix/users.bson"],
        &[("users", 185)],
        &[],
    ),
    (
        "theaters",
        &["sample_mflix/theaters.json", "sample_mflix/theaters.bson"],
        &[("theaters", 1564)],
        &[],
    ),
    (
        "sessions",
        &["sample_mflix/sessions.json", "sample_mflix/sessions.bson"],
        &[("sessions", 1)],
        &[],
    ),
    (
        "movies",
        &["sample_mflix_export/movies.json"],
        &[("movies", 999)],
        &[(
            "{\"$oid\":\"573a1393f29313caabcddbed\"}",
            "imdb.rating",
            "invalid",
        )],
    ),
    (
        "comments",
        &["sample_mflix_export/comments.json"],
        &[("comments", 1000)],
        &[],
    ),
    (
        "mongomart_item",
        &["mongomart/mongomart_item.bson"],
        &[("items", 23), ("item_reviews", 13)],
        &[],
    ),
    (
        "mongomart_cart",
        &["mongomart/mongomart_cart.bson"],
        &[("carts", 1), ("cart_items", 5), ("cart_item_reviews", 2)],
        &[],
    ),
];

#[test]
fn every_real_document_transforms_as_expected() {
    let schema = schema();
    for (collection, files, expected_rows, expected_rejections) in CASES {
        let mut first: Option<Outcome> = None;
        for file in *files {
            let outcome = run(&schema, collection, file);
            let counts: BTreeMap<String, usize> = outcome
                .rows
                .counts()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect();
            let expected: BTreeMap<String, usize> = expected_rows
                .iter()
                .map(|(t, n)| (t.to_string(), *n))
                .collect();
            assert_eq!(counts, expected, "row counts of {file}");
            let got: Vec<(String, String, String)> = outcome
                .rejected
                .iter()
                .map(|r| (r.id.clone(), r.field.clone(), r.class.clone()))
                .collect();
            let want: Vec<(String, String, String)> = expected_rejections
                .iter()
                .map(|(i, f, c)| (i.to_string(), f.to_string(), c.to_string()))
                .collect();
            assert_eq!(got, want, "rejections of {file}");
            assert_eq!(
                outcome.documents,
                expected_rows[0].1 + expected_rejections.len(),
                "every document of {file} is either a row or a rejection"
            );
            match &first {
                None => first = Some(outcome),
                Some(twin) => assert!(
                    twin.rows == outcome.rows && twin.rejected == outcome.rejected,
                    "{file} gives other rows than its twin {}",
                    files[0]
                ),
            }
        }
    }
}

#[test]
fn real_data_rejection_reasons_are_explained() {
    let schema = schema();
    let outcome = run(&schema, "movies", "sample_mflix_export/movies.json");
    let rejection = &outcome.rejected[0];
    assert_eq!(rejection.collection, "movies");
    assert!(
        rejection.reason.contains("string") && rejection.reason.contains("f64"),
        "reason should say a string was found where a number was expected: {}",
        rejection.reason
    );
}

#[test]
fn every_collection_of_the_real_data_is_covered() {
    let schema = schema();
    let covered: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    for model in schema.models() {
        assert!(
            covered.contains(&model.collection()),
            "{} has no case",
            model.collection()
        );
    }
}
