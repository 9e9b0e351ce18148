//! `scaffold` end to end on the shared real data, as a new user runs it: the migrator CLI writes
//! a crate from each source (a mongodump directory assembled from the `.bson` and
//! `.metadata.json` files, and the mflix mongoexport directory), `cargo build` builds it outside
//! the workspace, its own binary migrates into a fresh database and `validate` passes. The
//! references, junctions and natural keys the data holds appear in the generated code; the only
//! dead letters are the documents that are truly broken.
//!
//! Both crates build against this workspace's target directory (`--offline`, its lock file and
//! dev profile), so the dependencies are reused: migrator and the two small crates compile.

use std::path::{Path, PathBuf};
use std::process::Command;

use migrator::bson::{doc, oid::ObjectId, RawDocumentBuf};
use migrator::source::{Source, UniqueIndex};
use migrator_e2e::cli::{Cli, SchemaChoice};
use migrator_e2e::data::{Dataset, REAL_DATA};
use migrator_e2e::mongo::MongoDb;
use migrator_e2e::pg::TestDb;

/// Any schema crate's CLI reaches `scaffold`; this one is built with the tests.
const BIN: &str = env!("CARGO_BIN_EXE_e2e-migrate");

/// The workspace's target directory: this test runs from `<target>/debug/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .expect("the test runs from <target>/<profile>/deps")
}

fn output(what: &str, out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({})\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `scaffold --source <source> --out <dir>/<name>`; returns the generated `src/lib.rs` and what
/// the command printed.
fn scaffold(source: impl AsRef<std::ffi::OsStr>, dir: &Path, name: &str) -> (String, String) {
    let out = dir.join(name);
    let printed = output(
        "scaffold",
        Command::new(BIN)
            .arg("scaffold")
            .arg("--source")
            .arg(source)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("running scaffold"),
    );
    let lib = std::fs::read_to_string(out.join("src/lib.rs")).expect("src/lib.rs written");
    (lib, printed)
}

/// `cargo build` of the scaffolded crates, one after the other into the workspace's target
/// directory; returns each crate's binary.
fn build(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    let target = target_dir();
    names
        .iter()
        .map(|name| {
            output(
                "cargo build of the scaffolded crate",
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .current_dir(dir.join(name))
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["build", "--offline", "--quiet"])
                    .args(["--config", "profile.dev.debug=\"line-tables-only\""])
                    .args(["--config", "profile.dev.package.\"*\".debug=false"])
                    .output()
                    .expect("running cargo"),
            );
            target.join("debug").join(name)
        })
        .collect()
}

/// The items of `lib` that hold `needle` on one line (attributes and their fields).
fn has(lib: &str, needle: &str) -> bool {
    lib.lines().any(|l| l.contains(needle))
}

/// Migrates `source` with the crate's binary, then validates; returns the dead letters
/// `(collection, _id, stage, field, class)`.
fn migrate_and_validate(
    bin: &Path,
    source: &Path,
    db: &TestDb,
    rejected: usize,
) -> Vec<[String; 5]> {
    let cli = Cli::new(&bin.display().to_string(), SchemaChoice::Real, db.url());
    let source = source.display().to_string();
    let accept = rejected.to_string();
    let args: Vec<&str> = vec!["migrate", "--source", &source, "--accept-rejected", &accept];
    let run = cli.run(&args);
    run.expect_code(0);
    let validate = cli.run(&["validate", "--source", &source]);
    validate.expect_code(0);
    db.dead_letters()
        .into_iter()
        .map(|l| {
            [
                l[0].clone(),
                l[1].clone(),
                l[2].clone(),
                l[3].clone(),
                l[4].clone(),
            ]
        })
        .collect()
}

#[test]
fn scaffolded_crates_build_migrate_and_validate_on_the_real_data() {
    let root = Path::new(REAL_DATA);
    let work = tempfile::tempdir().expect("temp dir");
    // One mongodump directory: every `.bson` with its `.metadata.json`.
    let dump = work.path().join("dump");
    std::fs::create_dir_all(&dump).expect("dump dir");
    for set in ["sample_analytics", "sample_mflix", "mongomart"] {
        for entry in std::fs::read_dir(root.join(set)).expect("a shared data set") {
            let path = entry.expect("entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().to_string());
            let name = name.unwrap_or_default();
            if name.ends_with(".bson") || name.ends_with(".metadata.json") {
                std::fs::copy(&path, dump.join(&name)).expect("copy");
            }
        }
    }
    let export = root.join("sample_mflix_export");
    let crates = work.path().join("crates");

    let (dump_lib, printed) = scaffold(&dump, &crates, "real-dump-schema");
    assert!(printed.contains("scanned 4020 documents"), "{printed}");
    // customers.accounts: int32s that are accounts' natural key `account_id` (unique from the
    // values; one account repeats it).
    assert!(
        has(
            &dump_lib,
            "#[migrate(junction, references = Account, key = \"account_id\")]"
        ),
        "{dump_lib}"
    );
    assert!(
        has(&dump_lib, "1 repeated: those documents will be rejected"),
        "{dump_lib}"
    );
    // cart.items[]._id: the items' int `_id`s; items and their reviews are child tables.
    assert!(
        has(
            &dump_lib,
            "#[migrate(rename = \"_id\", references = MongomartItem)]"
        ),
        "{dump_lib}"
    );
    assert!(
        has(&dump_lib, "child table `mongomart_cart_items`"),
        "{dump_lib}"
    );
    assert!(
        has(&dump_lib, "child table `mongomart_item_reviews`"),
        "{dump_lib}"
    );
    // users.email: unique from users.metadata.json.
    assert!(has(&dump_lib, "pub email: String"), "{dump_lib}");
    // No reference invented: exactly the two above.
    let references = dump_lib.matches("references = ").count();
    assert_eq!(references, 2, "{dump_lib}");

    // The same collections as a mongodump archive (interleaved, metadata in its prelude): the
    // same models; only the first line, naming the source, differs.
    let archive = work.path().join("real.archive");
    Dataset::real()
        .without("movies")
        .without("comments")
        .write_archive(&archive, false);
    let (archive_lib, _) = scaffold(&archive, &crates, "real-archive-schema");
    let body = |lib: &str| lib.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        archive_lib
            .starts_with("//! Models scaffolded by `migrator scaffold` from mongodump archive"),
        "{archive_lib}"
    );
    assert_eq!(
        body(&archive_lib),
        body(&dump_lib),
        "the archive's models are the dump's"
    );

    let (export_lib, _) = scaffold(&export, &crates, "mflix-export-schema");
    // comments.movie_id: ObjectIds of movies, some dangling within this subset: kept.
    assert!(
        has(
            &export_lib,
            "#[migrate(references = Movie, on_missing = \"keep\")]"
        ),
        "{export_lib}"
    );
    assert_eq!(
        export_lib.matches("references = ").count(),
        1,
        "{export_lib}"
    );

    let bins = build(&crates, &["real-dump-schema", "mflix-export-schema"]);

    // The dump: the one account whose `account_id` repeats another's is rejected.
    let db = TestDb::create("scaffold_dump");
    let letters = migrate_and_validate(&bins[0], &dump, &db, 1);
    assert_eq!(
        letters,
        [[
            "accounts".to_string(),
            "{\"$oid\":\"5ca4bbc7a2dd94ee58162812\"}".into(),
            "load".into(),
            "account_id".into(),
            "unique_violation".into(),
        ]],
        "the only broken document of the dump"
    );
    assert_eq!(db.table_count("accounts"), 1_745, "every other account");
    assert_eq!(db.table_count("customers"), 500, "every customer");
    // The export: nothing is broken for these models (the movie whose `imdb.rating` is `""` is
    // read through the generated `with` function; dangling comments are kept).
    let db = TestDb::create("scaffold_export");
    let letters = migrate_and_validate(&bins[1], &export, &db, 0);
    assert_eq!(letters, Vec::<[String; 5]>::new(), "no dead letter");
    assert_eq!(
        db.table_count("comments"),
        1_000,
        "every comment, dangling ones kept"
    );
    assert_eq!(db.table_count("movies"), 1_000, "every movie");
}

/// A live deployment's unique indexes (`listIndexes`) make natural keys, as a dump's metadata
/// does: `plans.code` is unique by its index, so `organizations.planCode`, strings whose name
/// does not say they are ids, references it; `_id`'s index, a compound and a partial unique index
/// are listed as they are and make no natural key.
#[test]
fn live_unique_indexes_make_natural_keys() {
    let mongo = MongoDb::create("scaffold_live_unique");
    let oid = |i: u32| ObjectId::parse_str(format!("65a0000000000000000{i:05x}")).expect("oid");
    let raw = |d: migrator::bson::Document| RawDocumentBuf::try_from(&d).expect("raw");
    let plans: Vec<RawDocumentBuf> = ["free", "team", "business", "enterprise"]
        .iter()
        .enumerate()
        .map(|(i, code)| {
            raw(doc! { "_id": oid(i as u32), "code": *code, "seats": (i as i32 + 1) * 5 })
        })
        .collect();
    let orgs: Vec<RawDocumentBuf> = (0..60u32)
        .map(|i| {
            let code = ["free", "team", "business", "enterprise"][i as usize % 4];
            raw(doc! { "_id": oid(100 + i), "planCode": code, "name": format!("org {i}") })
        })
        .collect();
    mongo.insert("plans", &plans);
    mongo.insert("organizations", &orgs);
    mongo.command(doc! { "createIndexes": "plans", "indexes": [
        { "key": { "code": 1 }, "name": "code_1", "unique": true },
        { "key": { "code": 1, "seats": 1 }, "name": "code_seats", "unique": true },
        { "key": { "seats": 1 }, "name": "seats_partial", "unique": true,
          "partialFilterExpression": { "seats": { "$gt": 10 } } },
        { "key": { "seats": -1 }, "name": "seats_plain" },
    ]});
    let listed = mongo.source().unique_indexes("plans").expect("listIndexes");
    let index = |name: &str, keys: &[&str], partial: bool| UniqueIndex {
        name: name.into(),
        keys: keys.iter().map(|k| k.to_string()).collect(),
        partial,
        sparse: false,
    };
    assert_eq!(
        listed,
        [
            index("code_1", &["code"], false),
            index("code_seats", &["code", "seats"], false),
            index("seats_partial", &["seats"], true),
        ]
    );

    let work = tempfile::tempdir().expect("temp dir");
    let uri = format!("{}/{}", mongo.uri().trim_end_matches('/'), mongo.name());
    let (lib, _) = scaffold(&uri, work.path(), "live-schema");
    assert!(
        has(
            &lib,
            "Unique index `code_1` on code, declared in the source."
        ),
        "{lib}"
    );
    assert!(has(&lib, "Unique: index `code_1`"), "{lib}");
    assert!(
        has(
            &lib,
            "#[migrate(rename = \"planCode\", references = Plan, key = \"code\")]"
        ),
        "{lib}"
    );
    assert_eq!(lib.matches("#[migrate(unique)]").count(), 1, "{lib}");
}
