//! The example application end to end: its generated data as a mongodump directory or inserted
//! into the Mongo-wire server, and what a run must leave behind according to the generator's
//! manifest (rows per table, the injected faults as dead letters, the kept references).
//!
//! The manifest is the generator's own bookkeeping, not the engine's: a mismatch means the
//! migration lost, duplicated or misfiled something.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use migrator::model::MissingPolicy;
use migrator::source::Source;
use migrator::state::StateStore;
use migrator::validate::ValidationReport;
use migrator::Schema;
use schema::generator::manifest::FaultRecord;
use schema::generator::mongo::{InsertOptions, MongoTarget};
use schema::generator::{dump, FaultConfig, Generator, GeneratorConfig, Manifest, Stage};

use crate::expect::orphans;
use crate::mongo::MongoDb;
use crate::pg::{TestDb, STATE, TARGET};

/// The example's schema.
pub fn schema() -> Schema {
    schema::example::schema().expect("the example schema is consistent")
}

/// Every fault kind on every one of its targets (where the collection is large enough), and the
/// two documents near 16 MB.
pub fn every_fault() -> FaultConfig {
    FaultConfig {
        per_kind: 6,
        oversized: 2,
    }
}

/// A generator for `seed` and `scale` with `faults`.
pub fn generator(seed: u64, scale: f64, faults: FaultConfig) -> Generator {
    Generator::new(GeneratorConfig {
        seed,
        scale,
        faults,
    })
    .unwrap_or_else(|e| panic!("generator settings: {e}"))
}

/// Writes the generator's data as a mongodump directory in `dir`.
pub fn write_dump(generator: &Generator, dir: &Path) -> Manifest {
    dump::write_dump(generator, dir)
        .unwrap_or_else(|e| panic!("writing the example dump to {}: {e}", dir.display()))
}

/// Inserts the generator's data into the test's database on the Mongo-wire server, with
/// `batch_documents` documents per `insert_many`.
pub fn insert(generator: &Generator, mongo: &MongoDb, batch_documents: usize) -> Manifest {
    let target = MongoTarget::connect(mongo.uri(), Some(mongo.name()))
        .unwrap_or_else(|e| panic!("the Mongo-wire server at {}: {}", mongo.uri(), chain(&e)));
    let options = InsertOptions {
        batch_documents,
        ..InsertOptions::default()
    };
    target
        .insert(generator, &options, |_| {})
        .unwrap_or_else(|e| panic!("inserting the example into {}: {}", mongo.name(), chain(&e)))
}

/// An error and its sources, `: `-separated.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A rejected document: (collection, `_id` as relaxed Extended JSON, stage, class).
pub type Rejection = (String, String, String, String);

/// The rejections the manifest announces.
pub fn expected_rejections(manifest: &Manifest) -> BTreeSet<Rejection> {
    manifest
        .faults
        .iter()
        .filter_map(|f| {
            let stage = match f.stage {
                Stage::Transform => "transform",
                Stage::Reference => "reference",
                Stage::None => return None,
            };
            let class = f.class.clone().unwrap_or_else(|| {
                panic!("the rejected fault {} {} has no class", f.collection, f.id)
            });
            Some((f.collection.clone(), f.id.clone(), stage.to_string(), class))
        })
        .collect()
}

/// Every dead letter of the test database as a rejection, with its field, in `_id` order (a
/// document rejected twice appears twice).
pub fn dead_letters(db: &TestDb) -> Vec<(Rejection, String)> {
    db.dead_letters()
        .into_iter()
        .map(|[collection, id, stage, field, class, _message]| {
            ((collection, id, stage, class), field)
        })
        .collect()
}

/// The references kept under `keep`, counted by `table.column` as the manifest counts them.
pub fn kept_references(db: &TestDb) -> BTreeMap<String, u64> {
    let mut kept = BTreeMap::new();
    for [_, _, table, column, _, action] in db.reference_issues() {
        if action == MissingPolicy::Keep.as_str() {
            *kept.entry(format!("{table}.{column}")).or_default() += 1;
        }
    }
    kept
}

/// Everything that differs between the test database and the manifest, one sentence each:
/// rows per table, the dead letters against the rejected faults (same documents, stages and
/// classes, each once, and the field for transform rejections), the kept references, and
/// orphaned rows (none under an enforced reference; under `keep` exactly the kept ones).
pub fn differences(db: &TestDb, schema: &Schema, manifest: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    let counts: BTreeMap<String, u64> = db
        .table_counts()
        .into_iter()
        .map(|(t, n)| (t, u64::try_from(n).unwrap_or(u64::MAX)))
        .collect();
    for (table, expected) in &manifest.tables {
        match counts.get(table) {
            Some(actual) if actual == expected => {}
            actual => problems.push(format!(
                "table `{table}` has {actual:?} rows, the manifest says {expected}"
            )),
        }
    }
    for table in counts.keys().filter(|t| !manifest.tables.contains_key(*t)) {
        problems.push(format!("table `{table}` is not in the manifest"));
    }

    let letters = dead_letters(db);
    let found: BTreeSet<Rejection> = letters.iter().map(|(r, _)| r.clone()).collect();
    if found.len() != letters.len() {
        problems.push(format!(
            "{} dead letters for {} rejected documents: some are duplicated",
            letters.len(),
            found.len()
        ));
    }
    let expected = expected_rejections(manifest);
    for missing in expected.difference(&found) {
        problems.push(format!("no dead letter for the injected fault {missing:?}"));
    }
    for extra in found.difference(&expected) {
        problems.push(format!("a dead letter no fault explains: {extra:?}"));
    }
    let by_id: BTreeMap<(&str, &str), &FaultRecord> = manifest
        .faults
        .iter()
        .map(|f| ((f.collection.as_str(), f.id.as_str()), f))
        .collect();
    for ((collection, id, stage, _), field) in &letters {
        let Some(fault) = by_id.get(&(collection.as_str(), id.as_str())) else {
            continue;
        };
        if stage == "transform" && field != &fault.field {
            problems.push(format!(
                "the dead letter of {collection} {id} names field `{field}`, the fault is in `{}`",
                fault.field
            ));
        }
    }

    let kept = kept_references(db);
    if kept != manifest.kept_references {
        problems.push(format!(
            "kept references {kept:?}, the manifest says {:?}",
            manifest.kept_references
        ));
    }
    for o in orphans(db, schema) {
        let label = format!("{}.{}", o.table, o.column);
        let allowed = if o.policy == MissingPolicy::Keep {
            manifest.kept_references.get(&label).copied().unwrap_or(0)
        } else {
            0
        };
        if u64::try_from(o.count).ok() != Some(allowed) {
            problems.push(format!(
                "{label} ({}, enforced: {}) has {} orphaned row(s), expected {allowed}",
                o.policy.as_str(),
                o.enforced,
                o.count
            ));
        }
    }
    problems
}

/// `migrator::validate::validate` of the test database against `source`, comparing `sample`
/// documents per collection column by column.
pub fn validate(
    db: &TestDb,
    schema: &Schema,
    source: &dyn Source,
    sample: usize,
) -> ValidationReport {
    let mut conn = db.connect();
    db.block_on(migrator::validate::validate(
        schema,
        source,
        &mut conn,
        TARGET,
        &StateStore::new(STATE),
        sample,
    ))
    .unwrap_or_else(|e| panic!("validation could not run: {}", chain(&e)))
}

/// The lines of a dead-letter file, sorted (writers commit batches in no fixed order): two runs
/// with the same rejections give the same lines.
pub fn dead_letter_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading the dead-letter file {}: {e}", path.display()));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// The `(collection, document_id)` of every line of a dead-letter file, in file order.
pub fn dead_letter_file(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading the dead-letter file {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a dead-letter line is not JSON ({e}): {line}"));
            let field = |k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_else(|| panic!("no `{k}` in the dead-letter line {line}"))
                    .to_string()
            };
            (field("collection"), field("document_id"))
        })
        .collect()
}
