//! The key census of the real exports in ../shared/data: every path and every type count against
//! an independent count over the parsed documents, figures counted by hand in the data's README,
//! and the real-data models leave no key with values unaccounted for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use migrator::bson::{Bson, Document, RawDocumentBuf};
use migrator::census::{self, Census, KeyCensus, Tally};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// Every real file and the collection it holds.
const FILES: &[(&str, &str)] = &[
    ("accounts", "sample_analytics/accounts.json"),
    ("accounts", "sample_analytics/accounts.bson"),
    ("customers", "sample_analytics/customers.json"),
    ("customers", "sample_analytics/customers.bson"),
    ("users", "sample_mflix/users.json"),
    ("users", "sample_mflix/users.bson"),
    ("theaters", "sample_mflix/theaters.json"),
    ("theaters", "sample_mflix/theaters.bson"),
    ("sessions", "sample_mflix/sessions.json"),
    ("sessions", "sample_mflix/sessions.bson"),
    ("movies", "sample_mflix_export/movies.json"),
    ("comments", "sample_mflix_export/comments.json"),
    ("mongomart_item", "mongomart/mongomart_item.bson"),
    ("mongomart_cart", "mongomart/mongomart_cart.bson"),
];

fn read(file: &str) -> Vec<RawDocumentBuf> {
    let path = data_dir().join(file);
    assert!(path.exists(), "missing data file {}", path.display());
    migrator::testing::read_documents(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn tally(docs: &[RawDocumentBuf]) -> KeyCensus {
    let mut tally = Tally::new();
    for doc in docs {
        tally.observe(doc);
    }
    tally.take()
}

/// Keys that are ids rather than names, written out again here: digits only, 16+ hex digits, or
/// a UUID (8-4-4-4-12).
fn looks_like_data(key: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = key.split('-').collect();
    let uuid = parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| hex(p));
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_digit()))
        || (key.len() >= 16 && hex(key))
        || uuid
}

/// A second, plain count over parsed documents: per path the set of documents having it and
/// the values per type. Like the census, keys that are data count as `*`, and a path keeps its
/// first `MAX_CHILDREN` distinct keys and counts further ones as `*`.
#[derive(Default)]
struct Plain {
    documents: BTreeMap<String, std::collections::BTreeSet<usize>>,
    types: BTreeMap<String, BTreeMap<String, u64>>,
    children: BTreeMap<String, Vec<String>>,
}

impl Plain {
    fn key_path(&mut self, parent: &str, key: &str) -> String {
        let known = self.children.entry(parent.to_string()).or_default();
        let key = if looks_like_data(key) {
            "*"
        } else if known.iter().any(|k| k == key) {
            key
        } else if known.len() < census::MAX_CHILDREN {
            known.push(key.to_string());
            key
        } else {
            "*"
        };
        if parent.is_empty() {
            key.to_string()
        } else {
            format!("{parent}.{key}")
        }
    }

    fn value(&mut self, doc: usize, path: String, value: &Bson) {
        self.documents.entry(path.clone()).or_default().insert(doc);
        *self
            .types
            .entry(path.clone())
            .or_default()
            .entry(census::type_name(value.element_type()).to_string())
            .or_default() += 1;
        match value {
            Bson::Document(d) => self.document(doc, &path, d),
            Bson::Array(items) => {
                for item in items {
                    self.value(doc, format!("{path}[]"), item);
                }
            }
            _ => {}
        }
    }

    fn document(&mut self, doc: usize, path: &str, d: &Document) {
        for (key, value) in d {
            let child = self.key_path(path, key);
            self.value(doc, child, value);
        }
    }
}

fn plain(docs: &[RawDocumentBuf]) -> Plain {
    let mut out = Plain::default();
    for (i, raw) in docs.iter().enumerate() {
        let doc = Document::try_from(raw.as_ref()).expect("a real document parses");
        out.document(i, "", &doc);
    }
    out
}

#[test]
fn the_census_of_every_real_file_matches_a_plain_count_path_by_path() {
    for (collection, file) in FILES {
        let docs = read(file);
        let census = tally(&docs);
        let plain = plain(&docs);
        assert_eq!(census.documents, docs.len() as u64, "{file}");
        let paths: Vec<&String> = census.keys.keys().collect();
        let expected: Vec<&String> = plain.documents.keys().collect();
        assert_eq!(paths, expected, "{collection} ({file}): the paths");
        for (path, stats) in &census.keys {
            assert_eq!(
                stats.documents,
                plain.documents[path].len() as u64,
                "{file}: documents with `{path}`"
            );
            assert_eq!(stats.types, plain.types[path], "{file}: types of `{path}`");
            assert!(
                stats.example_id.is_some(),
                "{file}: `{path}` has an example"
            );
        }
    }
}

#[test]
fn the_twins_of_a_data_set_have_the_same_census() {
    for pair in FILES.chunks(2).take(5) {
        let [(_, json), (_, bson)] = pair else {
            unreachable!()
        };
        assert_eq!(tally(&read(json)), tally(&read(bson)), "{json} and {bson}");
    }
}

/// Figures from ../shared/data/README.md, counted there by hand.
#[test]
fn the_census_has_the_figures_the_data_readme_counts() {
    let theaters = tally(&read("sample_mflix/theaters.bson"));
    assert_eq!(theaters.documents, 1564);
    let street2 = &theaters.keys["location.address.street2"];
    // Missing in 1,008 documents, null in 189, a string in 367.
    assert_eq!(street2.documents, 189 + 367);
    assert_eq!(
        street2.types,
        BTreeMap::from([("null".to_string(), 189), ("string".to_string(), 367)])
    );
    assert_eq!(
        theaters.keys["location.geo.coordinates[]"].types["double"],
        2 * 1564
    );

    let customers = tally(&read("sample_analytics/customers.bson"));
    assert_eq!(customers.documents, 500);
    assert_eq!(
        customers.keys["active"].documents, 1,
        "`active` is in 1 of 500"
    );
    // 1 to 6 account numbers each, 1,746 in all (the junction's rows).
    assert_eq!(customers.keys["accounts[]"].types["int"], 1746);
    assert_eq!(customers.keys["accounts"].documents, 500);
    // A map keyed by random hex ids (empty in 267 documents): one path for all its keys.
    assert_eq!(customers.keys["tier_and_details"].documents, 500);
    assert_eq!(customers.keys["tier_and_details.*"].documents, 500 - 267);
    assert!(customers.keys.contains_key("tier_and_details.*.tier"));
    assert!(!customers
        .keys
        .keys()
        .any(|k| k.starts_with("tier_and_details.0")));

    let users = tally(&read("sample_mflix/users.bson"));
    assert_eq!(users.documents, 185);
    assert_eq!(
        users.keys["preferences"].documents, 1,
        "one user has `preferences: {{}}`"
    );
    assert_eq!(users.keys["preferences"].types["object"], 1);

    let accounts = tally(&read("sample_analytics/accounts.bson"));
    assert_eq!(accounts.keys["account_id"].types["int"], 1746);
    assert_eq!(
        accounts.keys["products[]"].types["string"],
        accounts.keys["products[]"].types.values().sum::<u64>()
    );

    let movies = tally(&read("sample_mflix_export/movies.json"));
    // `imdb.rating` is "" in one document: one string among the numbers.
    assert_eq!(movies.keys["imdb.rating"].types["string"], 1);

    let items = tally(&read("mongomart/mongomart_item.bson"));
    assert_eq!(items.documents, 23);
    assert_eq!(items.keys["_id"].types["int"], 23);
    // 13 reviews (the child table's rows) in the documents that have any.
    assert_eq!(items.keys["reviews[]"].types["object"], 13);
    let cart = tally(&read("mongomart/mongomart_cart.bson"));
    assert_eq!(cart.keys["items[]"].types["object"], 5);
    assert_eq!(cart.keys["userId"].types["string"], 1);
}

/// Every key of the real data that holds a value is read by a model or ignored by name.
#[test]
fn the_real_data_models_account_for_every_key() {
    let schema = schema::real_data::schema().expect("the real-data schema");
    let mut census = Census::new();
    for (collection, file) in FILES {
        if file.ends_with(".json")
            && FILES
                .iter()
                .any(|(c, f)| c == collection && f.ends_with(".bson"))
        {
            continue;
        }
        census.insert(collection.to_string(), tally(&read(file)));
    }
    let coverage = census::coverage(&schema, &census);
    assert_eq!(
        coverage.collections.len(),
        9,
        "every model has its collection's census"
    );
    let losing: Vec<String> = coverage
        .losing()
        .map(|d| format!("{}.{} ({} not null)", d.collection, d.path, d.non_null))
        .collect();
    assert!(
        losing.is_empty(),
        "keys dropped without a word: {losing:#?}"
    );
    let never: Vec<String> = coverage
        .never_seen()
        .map(|n| format!("{}.{}", n.collection, n.path))
        .collect();
    assert!(never.is_empty(), "declared keys in no document: {never:#?}");
}
