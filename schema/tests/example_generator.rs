//! The example application's generator: deterministic output, every collection present, and a
//! manifest that matches what the models make of the documents (no database: every `.bson` file
//! goes through the models, and the reference stage is simulated in memory).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use migrator::bson::{Bson, RawDocumentBuf};
use migrator::model::{MissingPolicy, RefTarget};
use migrator::plan::LoadPlan;
use migrator::source::dump::BsonFileReader;
use migrator::testing::Rejection;
use migrator::{Cell, RowSet, Schema};
use schema::generator::faults::{FaultKind, MAX_BSON_SIZE};
use schema::generator::manifest::Manifest;
use schema::generator::{dump, Collection, FaultConfig, Generator, GeneratorConfig, Stage};

fn example() -> Schema {
    schema::example::schema().expect("the example schema is consistent")
}

fn generate(dir: &Path, seed: u64, scale: f64, faults: FaultConfig) -> Manifest {
    let generator = Generator::new(GeneratorConfig {
        seed,
        scale,
        faults,
    })
    .expect("valid config");
    dump::write_dump(&generator, dir).expect("dump written")
}

fn read(path: &Path) -> Vec<RawDocumentBuf> {
    BsonFileReader::open(path)
        .expect("open")
        .map(|d| d.expect("well-formed BSON").doc)
        .collect()
}

#[test]
fn the_schema_has_26_collections_10_junctions_and_a_deep_load_plan() {
    let schema = example();
    assert_eq!(schema.models().len(), 26);
    let mut junctions = BTreeSet::new();
    let mut children = BTreeSet::new();
    for model in schema.models() {
        for table in &model.def().tables {
            match &table.role {
                migrator::model::TableRole::Junction { .. } => junctions.insert(table.name.clone()),
                migrator::model::TableRole::Child { .. } => children.insert(table.name.clone()),
                migrator::model::TableRole::Collection => false,
            };
        }
    }
    assert_eq!(junctions.len(), 10, "{junctions:?}");
    assert!(
        children.contains("invoice_line_adjustments"),
        "{children:?}"
    );
    let plan = LoadPlan::new(&schema);
    assert_eq!(plan.phases.len(), 10, "{:?}", plan.phases);
    let cycles: Vec<Vec<&str>> = plan
        .cycles
        .iter()
        .map(|c| {
            let mut names: Vec<&str> = c.iter().map(|&i| plan.collections[i].as_str()).collect();
            names.sort_unstable();
            names
        })
        .collect();
    assert_eq!(cycles, vec![vec!["organizations", "users"]]);
    let self_references: BTreeSet<&str> = plan
        .edges
        .iter()
        .filter(|e| e.from == e.to)
        .map(|e| plan.collections[e.from].as_str())
        .collect();
    assert_eq!(
        self_references,
        BTreeSet::from(["comments", "documents", "tasks", "users"])
    );
    // The generator's table list is the schema's.
    let generated: BTreeSet<String> = Collection::ALL
        .iter()
        .flat_map(|c| c.spec().tables.iter().map(|t| t.to_string()))
        .collect();
    let modelled: BTreeSet<String> = schema
        .models()
        .iter()
        .flat_map(|m| m.def().tables.iter().map(|t| t.name.clone()))
        .collect();
    assert_eq!(generated, modelled);
}

#[test]
fn generation_is_deterministic() {
    let faults = FaultConfig {
        per_kind: 3,
        oversized: 0,
    };
    let (a, b, c) = (
        tempfile::tempdir(),
        tempfile::tempdir(),
        tempfile::tempdir(),
    );
    let (a, b, c) = (
        a.expect("tempdir"),
        b.expect("tempdir"),
        c.expect("tempdir"),
    );
    let ma = generate(a.path(), 11, 0.01, faults);
    let mb = generate(b.path(), 11, 0.01, faults);
    let mc = generate(c.path(), 12, 0.01, faults);
    assert_eq!(ma, mb);
    let mut files: Vec<_> = std::fs::read_dir(a.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    files.sort();
    assert_eq!(files.len(), 26 * 2 + 1);
    for name in &files {
        let x = std::fs::read(a.path().join(name)).expect("read");
        let y = std::fs::read(b.path().join(name)).expect("read");
        assert!(
            x == y,
            "{name:?} differs between two runs with the same seed"
        );
    }
    let tasks = |dir: &Path| std::fs::read(dir.join("tasks.bson")).expect("read");
    assert_ne!(
        tasks(a.path()),
        tasks(c.path()),
        "another seed gives other data"
    );
    assert_ne!(ma.tables, mc.tables);
}

/// What the migration would make of the dump: rows that land per table, rejections by stage.
struct Outcome {
    rows: HashMap<String, RowSet>,
    transform_rejections: BTreeSet<(String, String, String, String)>,
}

fn migrate_in_memory(schema: &Schema, dir: &Path, manifest: &Manifest) -> Outcome {
    let reference_rejected: HashSet<(String, String)> = manifest
        .rejected_at(Stage::Reference)
        .map(|f| (f.collection.clone(), f.id.clone()))
        .collect();
    let mut rows = HashMap::new();
    let mut transform_rejections = BTreeSet::new();
    for model in schema.models() {
        let docs = read(&dir.join(format!("{}.bson", model.collection())));
        assert_eq!(
            docs.len() as u64,
            manifest.collections[model.collection()].documents,
            "documents of {}",
            model.collection()
        );
        assert!(!docs.is_empty(), "{} is empty", model.collection());
        let mut landed = RowSet::new(model.def());
        for doc in &docs {
            let mut one = RowSet::new(model.def());
            match model.transform(doc, &mut one) {
                Ok(()) => {
                    let id = migrator::transform::describe_id(doc);
                    if !reference_rejected.contains(&(model.collection().to_string(), id)) {
                        landed.extend(one);
                    }
                }
                Err(e) => {
                    let r = Rejection::from(&e);
                    transform_rejections.insert((r.collection, r.id, r.field, r.class));
                }
            }
        }
        rows.insert(model.collection().to_string(), landed);
    }
    Outcome {
        rows,
        transform_rejections,
    }
}

fn key(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Null => None,
        other => Some(format!("{other:?}")),
    }
}

/// Dangling references per `table.column`, among the rows that land.
fn dangling(schema: &Schema, outcome: &Outcome) -> BTreeMap<String, (MissingPolicy, u64)> {
    let mut values: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for model in schema.models() {
        let set = &outcome.rows[model.collection()];
        for table in &model.def().tables {
            for (i, column) in table.columns.iter().enumerate() {
                let cells = set.table(&table.name).unwrap_or_default();
                values.insert(
                    (table.name.clone(), column.name.clone()),
                    cells.iter().filter_map(|r| key(&r[i])).collect(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    for model in schema.models() {
        let def = model.def();
        for table in &def.tables {
            for reference in &table.references {
                if !matches!(reference.target, RefTarget::Model { .. }) {
                    continue;
                }
                let target = schema.resolve(def, &reference.target).expect("resolvable");
                let known = &values[&(target.table.to_string(), target.column.to_string())];
                let i = table
                    .columns
                    .iter()
                    .position(|c| c.name == reference.column)
                    .expect("reference column");
                let cells = outcome.rows[model.collection()]
                    .table(&table.name)
                    .unwrap_or_default();
                let missing = cells
                    .iter()
                    .filter_map(|r| key(&r[i]))
                    .filter(|k| !known.contains(k))
                    .count() as u64;
                out.insert(
                    format!("{}.{}", table.name, reference.column),
                    (reference.on_missing, missing),
                );
            }
        }
    }
    out
}

#[test]
fn the_manifest_matches_what_the_models_make_of_every_document() {
    let schema = example();
    let dir = tempfile::tempdir().expect("tempdir");
    // Enough faults for every target of every kind, and the two oversized documents.
    let faults = FaultConfig {
        per_kind: 6,
        oversized: 2,
    };
    let manifest = generate(dir.path(), 5, 0.01, faults);
    for kind in FaultKind::ALL {
        // Small collections take fewer (at most a quarter of a collection is faulty).
        let injected = manifest.faults.iter().filter(|f| f.kind == kind).count();
        let wanted = if kind == FaultKind::Oversized { 2 } else { 6 };
        assert!(injected >= 1 && injected <= wanted, "{kind:?}: {injected}");
    }

    let outcome = migrate_in_memory(&schema, dir.path(), &manifest);

    let expected: BTreeSet<(String, String, String, String)> = manifest
        .rejected_at(Stage::Transform)
        .map(|f| {
            let class = f.class.clone().expect("a rejected fault has a class");
            (f.collection.clone(), f.id.clone(), f.field.clone(), class)
        })
        .collect();
    assert_eq!(outcome.transform_rejections, expected);

    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for set in outcome.rows.values() {
        for (table, n) in set.counts() {
            counted.insert(table, n as u64);
        }
    }
    assert_eq!(counted, manifest.tables, "rows per table");

    // The reference stage, in memory: only the planted dangling references exist. They are all
    // in rejected documents, except the ones a `keep` policy keeps.
    for (column, (policy, missing)) in dangling(&schema, &outcome) {
        let kept = manifest.kept_references.get(&column).copied().unwrap_or(0);
        match policy {
            MissingPolicy::Keep => assert_eq!(missing, kept, "{column}"),
            _ => assert_eq!(missing, 0, "{column} points at documents that do not land"),
        }
    }
    assert!(manifest.kept_references.values().sum::<u64>() > 0);
}

#[test]
fn planted_faults_look_as_the_manifest_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = FaultConfig {
        per_kind: 6,
        oversized: 2,
    };
    let manifest = generate(dir.path(), 9, 0.01, faults);
    let schema = example();
    let mut files: HashMap<String, Vec<RawDocumentBuf>> = HashMap::new();
    for fault in &manifest.faults {
        let docs = files
            .entry(fault.collection.clone())
            .or_insert_with(|| read(&dir.path().join(format!("{}.bson", fault.collection))));
        let raw = &docs[fault.index as usize];
        assert_eq!(migrator::transform::describe_id(raw), fault.id);
        let model = schema.model(&fault.collection).expect("model");
        let result = model.transform(raw, &mut RowSet::new(model.def()));
        match fault.kind {
            FaultKind::Oversized => {
                let size = raw.as_bytes().len();
                assert!(
                    size <= MAX_BSON_SIZE && size > MAX_BSON_SIZE - 200_000,
                    "{size}"
                );
                assert_eq!(fault.bytes, Some(size as u64));
                assert!(result.is_ok(), "an oversized document migrates: {result:?}");
            }
            FaultKind::DuplicateEntries => {
                let array = raw.get_array(&fault.field).expect("junction array");
                let ids: Vec<Bson> = array
                    .into_iter()
                    .map(|v| Bson::try_from(v.expect("element")).expect("value"))
                    .collect();
                let distinct: HashSet<String> = ids.iter().map(|b| b.to_string()).collect();
                assert_eq!(
                    (ids.len() - distinct.len()) as u64,
                    fault.duplicates.expect("duplicates counted")
                );
                assert!(fault.duplicates > Some(0));
                assert!(result.is_ok());
            }
            FaultKind::MissingReference => assert!(result.is_ok(), "{result:?}"),
            FaultKind::NulByte => {
                let e = result.expect_err("rejected");
                assert!(e.to_string().contains("NUL"), "{e}");
            }
            _ => {
                let e = result.expect_err("rejected");
                assert_eq!(e.error.path(), fault.field);
            }
        }
    }
}

#[test]
fn the_dump_reads_as_a_mongodump_directory_with_the_models_unique_keys() {
    use migrator::source::Source;
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = generate(dir.path(), 3, 0.005, FaultConfig::none());
    assert!(manifest.faults.is_empty());
    let source = migrator::source::dump::DumpSource::open(dir.path()).expect("a dump directory");
    let names: BTreeSet<String> = source
        .collections()
        .expect("collections")
        .into_iter()
        .map(|c| c.name)
        .collect();
    let schema = example();
    let modelled: BTreeSet<String> = schema
        .models()
        .iter()
        .map(|m| m.collection().to_string())
        .collect();
    assert_eq!(names, modelled);
    for model in schema.models() {
        let declared: BTreeSet<Vec<String>> = source
            .unique_indexes(model.collection())
            .expect("metadata")
            .into_iter()
            .map(|u| u.keys)
            .collect();
        let unique: BTreeSet<Vec<String>> = model.def().table().uniques.iter().cloned().collect();
        assert_eq!(declared, unique, "unique keys of {}", model.collection());
    }
}

#[test]
fn scale_rejects_nonsense() {
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            Generator::new(GeneratorConfig::new(1, scale)).is_err(),
            "{scale}"
        );
    }
    assert!(Generator::new(GeneratorConfig::new(1, 1e6)).is_err());
}
