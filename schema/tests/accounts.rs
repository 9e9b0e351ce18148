//! The user directory (the benchmark's large-collection workload): every generated document
//! loads through its model, the dump's manifest counts what lands, and the `_id`s follow the
//! sign-up dates.

use std::collections::BTreeMap;

use migrator::bson::{Bson, Document};
use migrator::testing::{rows, Transformed};
use migrator::Migrate;
use schema::accounts::generator::{Accounts, Timeline, ORGS, ROLES};
use schema::accounts::{Org, Role, User};

fn landed<T: Migrate>(doc: &Document, tables: &mut BTreeMap<String, u64>) {
    match rows::<T>(doc) {
        Transformed::Rows(set) => {
            for t in set {
                *tables.entry(t.table).or_default() += t.rows.len() as u64;
            }
        }
        Transformed::Rejected { rejected } => panic!("rejected: {rejected:?}"),
    }
}

#[test]
fn every_document_loads_and_the_manifest_counts_the_rows() {
    let accounts = Accounts::new(7, 600);
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = accounts
        .write_dump(dir.path())
        .expect("the dump is written");
    let mut tables = BTreeMap::new();
    for i in 0..ROLES {
        landed::<Role>(&accounts.role(i), &mut tables);
    }
    for i in 0..ORGS {
        landed::<Org>(&accounts.org(i), &mut tables);
    }
    let mut ids = Vec::new();
    for i in 0..600 {
        let (user, roles) = accounts.user(i);
        assert!(roles <= 4, "{user}");
        landed::<User>(&user, &mut tables);
        ids.push(user.get_object_id("_id").expect("an ObjectId"));
        assert!(
            matches!(user.get("balance"), Some(Bson::Decimal128(_))),
            "{user}"
        );
    }
    assert_eq!(tables, manifest.tables, "rows per table");
    assert_eq!(manifest.documents, ROLES + ORGS + 600);
    assert!(tables["user_roles"] > 600, "0 to 4 roles each: {tables:?}");
    // Users are generated in `_id` order, their timestamps spread over the sign-up years.
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let span = ids[599]
        .timestamp()
        .checked_duration_since(ids[0].timestamp());
    assert!(span.expect("later").as_secs() > 2 * 365 * 86_400);
    // The same seed gives the same documents.
    assert_eq!(Accounts::new(7, 600).user(42), accounts.user(42));
    let bytes = std::fs::read(dir.path().join("users.bson")).expect("users.bson");
    assert_eq!(bytes.len() as u64, manifest.collections["users"].bytes);
}

#[test]
fn a_timeline_places_the_sign_ups_and_keeps_the_id_order() {
    let n = 1_000u64;
    let seconds = |timeline: Timeline| -> Vec<u64> {
        let accounts = Accounts::new(7, n).with_timeline(timeline);
        let ids: Vec<_> = (0..n)
            .map(|i| {
                accounts
                    .user(i)
                    .0
                    .get_object_id("_id")
                    .expect("an ObjectId")
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{timeline:?}: in order"
        );
        ids.iter()
            .map(|id| id.timestamp().timestamp_millis() as u64 / 1000)
            .collect()
    };
    let day = 86_400;
    // Gaps longer than a month between consecutive sign-ups.
    let gaps = |s: &[u64]| s.windows(2).filter(|w| w[1] - w[0] > 30 * day).count();
    let even = seconds(Timeline::Even);
    assert!(even[999] - even[0] > 2 * 365 * day);
    assert_eq!(gaps(&even), 0, "one sign-up every day or so");
    assert_eq!(gaps(&seconds(Timeline::Tail)), 0);
    let burst = seconds(Timeline::Burst);
    assert!(burst[999] - burst[0] < 5, "{} s", burst[999] - burst[0]);
    let clustered = seconds(Timeline::Gaps);
    assert_eq!(gaps(&clustered), 3, "4 bursts");
    assert!(clustered[999] - clustered[0] > 2 * 365 * day);
    let tail = seconds(Timeline::Tail);
    let last_month = tail.iter().filter(|&&s| s > tail[999] - 30 * day).count();
    assert_eq!(last_month, 900, "nine tenths in the last month");
    assert!(tail[999] - tail[0] > 2 * 365 * day);
    // Only the `_id` and the dates move.
    let (a, b) = (
        Accounts::new(7, n).user(3).0,
        Accounts::new(7, n).with_timeline(Timeline::Tail).user(3).0,
    );
    assert_eq!(a.get("email"), b.get("email"));
    assert_ne!(a.get("_id"), b.get("_id"));
}
