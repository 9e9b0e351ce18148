//! `scaffold` on a source large enough that the key sets are sampled (over 65,536 distinct
//! values): the references and the unique key decided on the hash sample are confirmed by a
//! second read, and the generated code states the exact counts (all resolve; 4 dangle in 4
//! documents; 8 dangling array elements in 4 documents; 2 repeated keys), the same whether the
//! values fit in memory at once or are read in parts (a document counted once however many of
//! its values dangle, in whichever part).

use migrator::bson::{doc, oid::ObjectId, Document};
use migrator::scaffold::{self, confirm, references, write};
use migrator::source::{DumpSource, UniqueIndex};

const USERS: u32 = 70_000;
const ORDERS: u32 = 3_000;
/// Orders whose seller is no user.
const DANGLING: [u32; 4] = [10, 20, 30, 40];

fn oid(collection: u8, i: u32) -> ObjectId {
    let mut b = [0u8; 12];
    b[0] = 0x5a;
    b[7] = collection;
    b[8..].copy_from_slice(&i.to_be_bytes());
    ObjectId::from_bytes(b)
}

fn email(i: u32) -> String {
    format!("user{i}@example.com")
}

fn write_bson(dir: &std::path::Path, name: &str, docs: impl Iterator<Item = Document>) {
    let mut bytes = Vec::new();
    for d in docs {
        d.to_writer(&mut bytes).expect("encode");
    }
    std::fs::write(dir.join(format!("{name}.bson")), bytes).expect("write");
}

/// A dump: 70,000 users (the last two repeat the emails of users 5 and 6; `email` has a unique
/// index) and 3,000 orders whose `buyer_id` and `buyer_email` all resolve, whose `seller_id`
/// dangles in 4 orders and whose `watcher_ids` hold 2 dangling values in each of those 4.
fn dump() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let users = (0..USERS).map(|i| {
        let e = match i {
            69_998 => email(5),
            69_999 => email(6),
            _ => email(i),
        };
        doc! { "_id": oid(1, i), "email": e, "active": i % 2 == 0 }
    });
    write_bson(dir.path(), "users", users);
    std::fs::write(
        dir.path().join("users.metadata.json"),
        r#"{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"},{"v":2,"unique":true,"key":{"email":1},"name":"email_1"}]}"#,
    )
    .expect("metadata");
    let orders = (0..ORDERS).map(|i| {
        let seller = if DANGLING.contains(&i) {
            oid(9, i)
        } else {
            oid(1, (i * 31) % USERS)
        };
        // Watchers: a user each, and in the 4 orders two users that are not (8 dangling
        // values in 4 documents, which the parts below split between them).
        let mut watchers = vec![oid(1, i)];
        if DANGLING.contains(&i) {
            watchers.extend([oid(9, 100_000 + i), oid(9, 200_000 + i)]);
        }
        doc! {
            "_id": oid(2, i),
            "buyer_id": oid(1, (i * 7919) % USERS),
            "seller_id": seller,
            "buyer_email": email((i * 13) % 60_000),
            "watcher_ids": watchers,
        }
    });
    write_bson(dir.path(), "orders", orders);
    dir
}

fn at(c: &str, p: &str) -> (String, String) {
    (c.to_string(), p.to_string())
}

#[test]
fn sampled_references_and_keys_are_confirmed_exactly() {
    let dir = dump();
    let source = DumpSource::open(dir.path()).expect("the dump opens");
    let unique = |c: &str| -> Vec<UniqueIndex> { source.unique_indexes(c).expect("metadata") };
    let scan = scaffold::scan(&source, None, &unique, &mut |_, _, _| {}).expect("scan");

    // The first pass decided on a hash sample.
    let sampled = references::find(&scan);
    for path in ["buyer_id", "seller_id", "buyer_email", "watcher_ids[]"] {
        let f = &sampled.found[&at("orders", path)];
        assert!(!f.exact && f.confirmed.is_none(), "{path}: {f:?}");
    }
    assert!(!sampled.unique[&at("users", "email")].exact);

    let mut read = Vec::new();
    let result = scaffold::scaffold(scan.clone(), &source, &mut |c, n, done| {
        if done {
            read.push((c.to_string(), n));
        }
    })
    .expect("scaffold");
    // The second read took only the two collections concerned, each once: the target keys
    // first, then the references looked up among them.
    assert_eq!(
        read,
        [
            ("users".into(), u64::from(USERS)),
            ("orders".into(), u64::from(ORDERS))
        ]
    );
    let confirmed = |path: &str| {
        let f = &result.refs.found[&at("orders", path)];
        assert_eq!((f.target.as_str(), f.exact), ("users", false), "{path}");
        f.confirmed.expect("confirmed")
    };
    let all = confirm::Confirmed {
        distinct: 3_000,
        dangling: 0,
        values: 3_000,
        dangling_values: 0,
        dangling_documents: 0,
    };
    assert_eq!(confirmed("buyer_id"), all);
    assert_eq!(confirmed("buyer_email"), all);
    assert_eq!(
        confirmed("seller_id"),
        confirm::Confirmed {
            distinct: 3_000,
            dangling: 4,
            values: 3_000,
            dangling_values: 4,
            dangling_documents: 4,
        }
    );
    assert_eq!(
        confirmed("watcher_ids[]"),
        confirm::Confirmed {
            distinct: 3_008,
            dangling: 8,
            values: 3_008,
            dangling_values: 8,
            dangling_documents: 4,
        }
    );
    let email_key = &result.refs.unique[&at("users", "email")];
    assert_eq!(
        (email_key.distinct, email_key.repeats, email_key.confirmed),
        (69_998, 2, true)
    );
    assert_eq!(result.confirmed(), 5);

    // What the user reads.
    let lib = write::lib_rs(&result.krate, &result.scan);
    for expected in [
        "References `users._id`: confirmed exactly by a second read: 3000 of 3000 distinct values resolve, all 3000 values resolve",
        "References `users._id`: confirmed exactly by a second read: 2996 of 3000 distinct values resolve, 4 distinct values dangle, in 4 of 3000 values",
        "References `users.email`: confirmed exactly by a second read: 3000 of 3000 distinct values resolve, all 3000 values resolve",
        "4 dangling values in 4 documents (4 distinct, of 3,000 values in all): `keep` loads them without their target.",
        "8 dangling values in 4 documents (8 distinct, of 3,008 values in all): `keep` loads them without their target.",
        "Unique: index `email_1`; 69,998 distinct values (confirmed exactly by a second read after a hash sample), 2 repeated: those documents will be rejected as repeated keys.",
    ] {
        assert!(lib.contains(expected), "missing {expected:?} in:\n{lib}");
    }
    assert!(!lib.contains("95% confidence"), "{lib}");
    assert_eq!(lib.matches("on_missing = \"keep\"").count(), 2, "{lib}");

    // Read in parts (at most 75,000 keys held at once: 2 parts for the 140,000 of `users._id`
    // and `users.email`), the counts are the same.
    let mut parts = references::find(&scan);
    let done = confirm::confirm_within(&source, &scan, &mut parts, 75_000, &mut |_, _, _| {})
        .expect("confirm in parts");
    assert_eq!((done.confirmed, done.parts, done.keys), (5, 2, 140_000));
    assert_eq!(result.confirmation.parts, 1);
    assert_eq!(done.looked_up, 12_008);
    assert_eq!(parts.found, result.refs.found);
    assert_eq!(parts.unique, result.refs.unique);
}

/// A collection referring to itself (each person's `sponsor_id` is another person's `_id`, 7 of
/// them no one's), sampled: its references are read before its own keys are whole, so they wait
/// in memory, and the collection is still read once a pass.
#[test]
fn a_sampled_self_reference_is_confirmed_in_one_read() {
    const PEOPLE: u32 = 70_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let people = (0..PEOPLE).map(|i| {
        let sponsor = if i % 10_000 == 5 {
            oid(9, i)
        } else {
            oid(1, (i * 3) % PEOPLE)
        };
        doc! { "_id": oid(1, i), "sponsor_id": sponsor }
    });
    write_bson(dir.path(), "people", people);
    let source = DumpSource::open(dir.path()).expect("the dump opens");
    let scan = scaffold::scan(&source, None, &|_| Vec::new(), &mut |_, _, _| {}).expect("scan");
    let expected = confirm::Confirmed {
        distinct: 70_000,
        dangling: 7,
        values: 70_000,
        dangling_values: 7,
        dangling_documents: 7,
    };
    for (budget, parts) in [(confirm::BUDGET, 1), (50_000, 3)] {
        let mut refs = references::find(&scan);
        let f = &refs.found[&at("people", "sponsor_id")];
        assert_eq!((f.target.as_str(), f.exact), ("people", false));
        let mut read = Vec::new();
        let done = confirm::confirm_within(&source, &scan, &mut refs, budget, &mut |c, n, end| {
            if end {
                read.push((c.to_string(), n));
            }
        })
        .expect("confirm");
        assert_eq!((done.parts, done.looked_up), (parts, 70_000));
        assert_eq!(
            read,
            vec![("people".to_string(), u64::from(PEOPLE)); parts as usize]
        );
        let f = &refs.found[&at("people", "sponsor_id")];
        assert_eq!(f.confirmed, Some(expected), "budget {budget}");
    }
}
