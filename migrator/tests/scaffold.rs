//! `scaffold` on small made-up sources, one per inference rule: the generated `src/lib.rs`
//! (insta snapshots), so a change in what is inferred or how it is explained shows in review.

use migrator::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use migrator::scaffold::{self, write};
use migrator::source::{ExportSource, UniqueIndex};

/// The `src/lib.rs` scaffolded from an export directory holding these collections.
fn lib_rs(collections: &[(&str, Vec<Document>)]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, docs) in collections {
        let text: String = docs
            .iter()
            .map(|d| format!("{}\n", Bson::Document(d.clone()).into_canonical_extjson()))
            .collect();
        std::fs::write(dir.path().join(format!("{name}.json")), text).expect("write");
    }
    let source = ExportSource::open(dir.path()).expect("the export opens");
    // `plans.code` has a unique index, as in a dump's `plans.metadata.json`.
    let unique = |c: &str| match c {
        "plans" => vec![UniqueIndex {
            name: "code_1".into(),
            keys: vec!["code".into()],
            partial: false,
            sparse: false,
        }],
        _ => Vec::new(),
    };
    let scan = scaffold::scan(&source, None, &unique, &mut |_, _, _| {}).expect("scan");
    let result = scaffold::scaffold(scan, &source, &mut |_, _, _| {}).expect("scaffold");
    let text = write::lib_rs(&result.krate, &result.scan);
    // The temporary directory's name is not part of what is tested.
    text.replace(&dir.path().display().to_string(), "<dir>")
}

fn oid(i: u32) -> ObjectId {
    ObjectId::parse_str(format!("5a9427648b0beebeb69{i:05x}")).expect("oid")
}

#[test]
fn number_drift_and_mixed_types() {
    let docs = (0..40)
        .map(|i| {
            let mut d =
                doc! { "_id": i, "count": i, "big": 1_i64 << 40, "price": f64::from(i) + 0.5 };
            match i % 4 {
                0 => d.insert("count", 3.0),
                1 => d.insert("count", 7_i64),
                _ => None,
            };
            d.insert(
                "depth",
                if i == 3 {
                    Bson::String(String::new())
                } else if i % 2 == 0 {
                    Bson::Double(1.5)
                } else {
                    Bson::Int32(2)
                },
            );
            d
        })
        .collect();
    insta::assert_snapshot!(lib_rs(&[("readings", docs)]));
}

#[test]
fn absent_null_maps_and_enums() {
    // 120 documents: `status` is an enum (three word labels, 40 uses each); `zone` (few labels
    // that are not words) and `author_name` (a name) are not.
    let docs = (0..120)
        .map(|i| {
            let status = ["open", "closed", "in_progress"][i as usize % 3];
            let mut d = doc! {
                "_id": oid(i),
                "status": status,
                "zone": (["UTC", "Europe/Berlin"][i as usize % 2]),
                "author_name": (["ann", "bob"][i as usize % 2]),
                "byUser": { format!("{:024x}", i): { "seen": true } },
                "createdAt": DateTime::from_millis(i64::from(i) * 1000),
            };
            // One date a timestamptz cannot hold (forecast: rejected).
            if i == 5 {
                d.insert("createdAt", DateTime::MAX);
            }
            match i % 3 {
                0 => {}
                1 => {
                    d.insert("note", Bson::Null);
                }
                _ => {
                    d.insert("note", "hello");
                }
            }
            d
        })
        .collect();
    insta::assert_snapshot!(lib_rs(&[("tickets", docs)]));
}

#[test]
fn references_self_references_cycles_natural_keys_and_junctions() {
    let plans = (0..3)
        .map(|i| doc! { "_id": oid(100 + i), "code": format!("plan-{i}") })
        .collect();
    let orgs: Vec<Document> = (0..30)
        .map(|i| doc! { "_id": oid(200 + i), "plan_code": format!("plan-{}", i % 3), "owner_id": oid(300 + i) })
        .collect();
    let users = (0..30)
        .map(|i| {
            let mut d = doc! { "_id": oid(300 + i), "organization_id": oid(200 + i % 30), "team_ids": [oid(200 + i % 5), oid(200 + (i + 1) % 5)], "buddy_ids": [oid(300 + (i + 1) % 30)] };
            if i > 0 {
                d.insert("manager_id", oid(300 + i / 2));
            }
            if i == 7 {
                d.insert("manager_id", oid(999));
            }
            // Teams that are no organization: 4 dangling values (2 distinct) in 3 users.
            match i {
                3 => d.insert("team_ids", [oid(200), oid(997), oid(998)]),
                10 | 17 => d.insert("team_ids", [oid(201), oid(998)]),
                _ => None,
            };
            d
        })
        .collect();
    insta::assert_snapshot!(lib_rs(&[
        ("plans", plans),
        ("organizations", orgs),
        ("users", users),
    ]));
}

#[test]
fn geojson_nested_paths_and_children() {
    let docs = (0..10)
        .map(|i| {
            doc! {
                "_id": i,
                "location": { "address": { "city": "Paris", "Zip-Code": "75001" }, "geo": { "type": "Point", "coordinates": [2.35, 48.85 + f64::from(i) / 100.0] } },
                "lines": [ { "sku": format!("s{i}"), "qty": 1 }, { "sku": "x", "qty": 2, "note": "gift" } ],
                "tags": ["a", "b"],
            }
        })
        .collect();
    insta::assert_snapshot!(lib_rs(&[("stores", docs)]));
}

#[test]
fn stable_subdocuments_are_flattened() {
    // `billingAddress` has a stable shape (absent from every fifth document): an embedded struct
    // flattened into the row, `Option` as a whole, with the nested `geo` flattened inside it;
    // `content` holds an array of subdocuments (a child table, which a flattened struct cannot
    // hold): its keys are read by path; `meta` has one key: read by path.
    let docs = (0..20)
        .map(|i| {
            let mut d = doc! {
                "_id": i,
                "content": { "title": format!("t{i}"), "blocks": [ { "kind": "p", "text": "x" } ] },
                "meta": { "source": "import" },
            };
            if i % 5 != 0 {
                d.insert(
                    "billingAddress",
                    doc! {
                        "street": "1 Main St",
                        "postalCode": format!("{:05}", i),
                        "geo": { "lat": 48.85, "lng": f64::from(i) },
                        "tags": ["home"],
                    },
                );
            }
            if i % 2 == 0 {
                if let Ok(a) = d.get_document_mut("billingAddress") {
                    a.insert("floor", i);
                }
            }
            d
        })
        .collect();
    insta::assert_snapshot!(lib_rs(&[("customers", docs)]));
}
