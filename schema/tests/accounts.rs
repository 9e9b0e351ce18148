//! The user directory (the benchmark's large-collection workload): every generated document
//! loads through its model, the dump's manifest counts what lands, and the `_id`s follow the
//! sign-up dates.

use std::collections::BTreeMap;

use migrator::bson::{Bson, Document};
use migrator::testing::{rows, Transformed};
use migrator::Migrate;
use schema::accounts::generator::{Accounts, ORGS, ROLES};
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
