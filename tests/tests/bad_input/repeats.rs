//! Repeated `_id`s and unique values: the second is a dead letter naming the column, and which
//! one is kept does not depend on the partitions.

use std::sync::Arc;

use bson::doc;
use migrator::report::Outcome;
use migrator::source::DumpSource;
use migrator_e2e::fixture::{self, docs_mut};
use migrator_e2e::pg::TestDb;

use super::{clean_hashes, completed, config, dump, letter, letters, message_of, schema};

/// Two documents with the same `_id`, and two customers with the same unique email, in one
/// batch: the second of each is a load-stage dead letter naming the column; the rest lands.
#[test]
fn duplicate_ids_are_load_stage_dead_letters() {
    let db = TestDb::create("duplicate_ids");
    let mut data = fixture::clean();
    let customers = docs_mut(&mut data, "customers");
    customers.insert(
        3,
        doc! {"_id": 3, "name": "again", "email": "other@example.com"},
    );
    customers.push(doc! {"_id": 13, "name": "copycat", "email": fixture::email(1)});
    let dir = dump(data);
    completed(&db, dir.path(), 20);
    assert_eq!(
        letters(&db),
        vec![
            letter("customers", "13", "load", "email", "unique_violation"),
            letter("customers", "3", "load", "id", "unique_violation"),
        ]
    );
    let reason = message_of(&db, "customers", "3");
    assert!(reason.contains("already exists"), "{reason}");
    assert_eq!(
        db.scalar("SELECT name FROM public.customers WHERE id = 3")
            .as_deref(),
        Some("customer 3"),
        "the first document with the `_id` stays"
    );
    assert_eq!(&db.table_hashes(), clean_hashes());
}

/// Which of two documents sharing a unique value is kept does not depend on how the source is
/// split: the first in the file, for 1, 2 and 7 partitions. The pair sits far apart (the first
/// near the end of the first partition, the second at the start of a later one), so partitions
/// loading side by side would commit the second first.
#[test]
fn the_first_of_two_repeats_is_kept_whatever_the_partitions() {
    let mut data = fixture::clean();
    let padding = "p".repeat(1000);
    let customers = docs_mut(&mut data, "customers");
    for i in 0..1000 {
        let email = match i {
            130 | 520 => "shared@example.com".to_string(),
            _ => format!("bulk{i}@example.com"),
        };
        customers.push(
            doc! {"_id": 1000 + i, "name": format!("bulk {i}"), "email": email, "bio": &padding},
        );
    }
    let dir = dump(data);
    for partitions in [1, 2, 7] {
        let db = TestDb::create(&format!("repeats_partitions_{partitions}"));
        let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
        let mut config = config(&db, 5);
        config.partitions = partitions;
        config.adaptive_partitions = false;
        config.jobs = 2;
        let report = db
            .run(&schema(), source, config)
            .unwrap_or_else(|e| panic!("the run with {partitions} partitions failed: {e}"));
        assert_eq!(report.outcome, Outcome::Completed);
        assert_eq!(
            db.scalar("SELECT id::text FROM public.customers WHERE email = 'shared@example.com'")
                .as_deref(),
            Some("1130"),
            "{partitions} partitions: the first document in the file is kept"
        );
        assert_eq!(
            letters(&db),
            vec![letter(
                "customers",
                "1520",
                "load",
                "email",
                "unique_violation"
            )],
            "{partitions} partitions"
        );
    }
}
