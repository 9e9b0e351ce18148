//! `validate` against the real PostgreSQL: a real run from a mongodump directory, then a clean
//! validation, then a tampered target whose every change must be reported, and nothing else.
//!
//! Needs PostgreSQL at 127.0.0.1:5432 (user `postgres`, trust auth) or `MIGRATOR_TEST_PG_URL`.
//! A missing server fails the test.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use migrator::bson::{doc, Document};
use migrator::pipeline::config::RunConfig;
use migrator::pipeline::run::run;
use migrator::progress::Silent;
use migrator::report::Outcome;
use migrator::source::{DumpSource, Source};
use migrator::state::StateStore;
use migrator::validate::{validate, Mismatch, ReferenceCheck, ValidationReport, NO_ROW};
use migrator::Migrate;
use sqlx::{Connection, Executor, PgConnection};

#[derive(Debug, Migrate)]
#[migrate(collection = "authors")]
struct Author {
    #[migrate(id)]
    id: i32,
    name: String,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "tags")]
struct Tag {
    #[migrate(id)]
    id: i32,
    label: String,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Line {
    sku: String,
    quantity: i32,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "posts")]
struct Post {
    #[migrate(id)]
    id: i32,
    title: String,
    #[migrate(references = Author, on_missing = "reject")]
    author_id: i32,
    #[migrate(
        junction = "post_tags",
        references = Tag,
        owner_column = "post_id",
        target_column = "tag_id",
        on_missing = "skip"
    )]
    tags: Vec<i32>,
    #[migrate(child = "post_lines", parent_column = "post_id")]
    lines: Vec<Line>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "reviews")]
struct Review {
    #[migrate(id)]
    id: i32,
    #[migrate(references = Post, on_missing = "skip")]
    post_id: i32,
    #[migrate(references = Author, on_missing = "keep")]
    reviewer_id: Option<i32>,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Note {
    text: String,
}

#[derive(Debug, Migrate)]
#[migrate(embedded)]
struct Item {
    #[migrate(references = Tag, on_missing = "skip")]
    tag_id: i32,
    #[migrate(references = Tag, on_missing = "null")]
    alt_tag_id: Option<i32>,
    #[migrate(child = "item_notes", parent_column = "item_id")]
    notes: Vec<Note>,
}

#[derive(Debug, Migrate)]
#[migrate(collection = "orders")]
struct Order {
    #[migrate(id)]
    id: i32,
    #[migrate(references = Tag, on_missing = "null")]
    main_tag_id: Option<i32>,
    #[migrate(child = "order_items", parent_column = "order_id")]
    items: Vec<Item>,
}

const TARGET: &str = "app";
const STATE: &str = "_migrator";

async fn with_database<F, Fut>(test: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    migrator::testing::with_test_database(test, body).await;
}

fn write_collection(dir: &Path, name: &str, docs: &[Document]) {
    let mut bytes = Vec::new();
    for d in docs {
        bytes.extend(d.to_vec().expect("serialize a test document"));
    }
    std::fs::write(dir.join(format!("{name}.bson")), bytes).expect("write a dump file");
}

/// The dump: post 3 references a missing author (rejected), post 4 has a title of the wrong type
/// (rejected), post 2 references a missing tag (that junction row is skipped), review 101
/// references the rejected post and review 102 a missing one (both skipped), review 100 has a
/// missing reviewer (kept).
fn write_dump(dir: &Path) {
    write_collection(
        dir,
        "authors",
        &[
            doc! {"_id": 1, "name": "Ada"},
            doc! {"_id": 2, "name": "Grace"},
        ],
    );
    write_collection(
        dir,
        "tags",
        &[
            doc! {"_id": 10, "label": "rust"},
            doc! {"_id": 11, "label": "sql"},
        ],
    );
    let line = |sku: &str, quantity: i32| doc! {"sku": sku, "quantity": quantity};
    write_collection(
        dir,
        "posts",
        &[
            doc! {"_id": 1, "title": "one", "author_id": 1, "tags": [10, 11], "lines": [line("a", 1), line("b", 2)]},
            doc! {"_id": 2, "title": "two", "author_id": 2, "tags": [10, 99], "lines": [line("c", 3)]},
            doc! {"_id": 3, "title": "three", "author_id": 7, "tags": [11], "lines": [line("x", 1)]},
            doc! {"_id": 4, "title": 4, "author_id": 1, "tags": [], "lines": []},
            doc! {"_id": 5, "title": "five", "author_id": 1, "tags": [], "lines": []},
            doc! {"_id": 6, "title": "six", "author_id": 2, "tags": [11, 11], "lines": [line("d", 4), line("e", 5), line("f", 6)]},
        ],
    );
    write_collection(
        dir,
        "reviews",
        &[
            doc! {"_id": 100, "post_id": 1, "reviewer_id": 9},
            doc! {"_id": 101, "post_id": 3, "reviewer_id": 1},
            doc! {"_id": 102, "post_id": 42},
        ],
    );
}

/// Runs a migration of `schema` from a dump written by `write` into `url`.
async fn migrate(url: &str, schema: &migrator::Schema, dump: &Path) -> Arc<dyn Source> {
    let source: Arc<dyn Source> = Arc::new(DumpSource::open(dump).expect("open the dump"));
    let mut config = RunConfig::new(url);
    config.target_schema = TARGET.into();
    config.state_schema = STATE.into();
    let report = run(
        schema,
        Arc::clone(&source),
        config,
        Arc::new(Silent),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .expect("the run completes");
    assert_eq!(report.outcome, Outcome::Completed);
    source
}

fn schema() -> migrator::Schema {
    migrator::schema![Author, Tag, Post, Review].expect("the test schema is consistent")
}

async fn run_validate(
    url: &str,
    schema: &migrator::Schema,
    source: &dyn Source,
) -> ValidationReport {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    validate(
        schema,
        source,
        &mut conn,
        TARGET,
        &StateStore::new(STATE),
        100,
    )
    .await
    .expect("validation runs")
}

fn counts(report: &ValidationReport, collection: &str) -> Vec<(String, u64, u64)> {
    let c = report
        .collections
        .iter()
        .find(|c| c.collection == collection)
        .unwrap_or_else(|| panic!("no report for `{collection}`"));
    c.tables
        .iter()
        .map(|t| (t.table.clone(), t.expected, t.actual))
        .collect()
}

fn orphans(report: &ValidationReport) -> Vec<(String, String, u64, bool)> {
    report
        .collections
        .iter()
        .flat_map(|c| &c.references)
        .filter(|r: &&ReferenceCheck| r.orphans > 0)
        .map(|r| (r.table.clone(), r.column.clone(), r.orphans, r.allowed))
        .collect()
}

fn mismatches(report: &ValidationReport) -> Vec<Mismatch> {
    report
        .collections
        .iter()
        .flat_map(|c| c.mismatches.clone())
        .collect()
}

fn line_row(post: &str, position: i32, sku: &str, quantity: i32, id: &str) -> String {
    format!("id={id}, post_id={post}, position={position}, sku={sku}, quantity={quantity}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_passes_after_a_run_and_names_every_tampered_value() {
    with_database("validate", |url| async move {
        let dump = tempfile::tempdir().expect("temp dir");
        write_dump(dump.path());
        let schema = schema();
        let source: Arc<dyn Source> =
            Arc::new(DumpSource::open(dump.path()).expect("open the dump"));
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        let before = validate(
            &schema,
            source.as_ref(),
            &mut conn,
            TARGET,
            &StateStore::new(STATE),
            1,
        )
        .await;
        let message = before.expect_err("nothing ran yet").to_string();
        assert!(message.contains("no migration has run"), "{message}");
        let source = migrate(&url, &schema, dump.path()).await;

        // 1. Untouched: everything matches.
        let clean = run_validate(&url, &schema, source.as_ref()).await;
        assert!(clean.passed(), "{clean}");
        assert!(clean.problems().is_empty(), "{clean}");
        let posts = clean
            .collections
            .iter()
            .find(|c| c.collection == "posts")
            .expect("posts");
        assert_eq!(
            (
                posts.source_documents,
                posts.dead_letters,
                posts.skipped,
                posts.sampled_documents
            ),
            (6, 2, 0, 4)
        );
        assert_eq!(
            counts(&clean, "posts"),
            vec![
                ("posts".to_string(), 4, 4),
                ("post_tags".to_string(), 4, 4),
                ("post_lines".to_string(), 6, 6),
            ]
        );
        let reviews = clean
            .collections
            .iter()
            .find(|c| c.collection == "reviews")
            .expect("reviews");
        assert_eq!(
            (
                reviews.source_documents,
                reviews.dead_letters,
                reviews.skipped
            ),
            (3, 0, 2)
        );
        assert_eq!(
            counts(&clean, "reviews"),
            vec![("reviews".to_string(), 1, 1)]
        );
        assert_eq!(
            orphans(&clean),
            vec![("reviews".to_string(), "reviewer_id".to_string(), 1, true)],
            "the kept dangling reviewer is counted, not failed"
        );

        // 2. Tampered: one changed value, one deleted child row, one orphaned junction row.
        let line_e: String = sqlx::query_scalar(
            "SELECT id::text FROM app.post_lines WHERE post_id = 6 AND sku = 'e'",
        )
        .fetch_one(&mut conn)
        .await
        .expect("line e exists");
        for stmt in [
            "UPDATE app.posts SET title = 'tampered' WHERE id = 6",
            "DELETE FROM app.post_lines WHERE post_id = 6 AND sku = 'e'",
            "SET session_replication_role = replica",
            "INSERT INTO app.post_tags (post_id, tag_id) VALUES (5, 77)",
            "SET session_replication_role = origin",
        ] {
            conn.execute(stmt)
                .await
                .unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
        let tampered = run_validate(&url, &schema, source.as_ref()).await;
        assert!(!tampered.passed(), "{tampered}");
        assert_eq!(
            counts(&tampered, "posts"),
            vec![
                ("posts".to_string(), 4, 4),
                ("post_tags".to_string(), 4, 5),
                ("post_lines".to_string(), 6, 5),
            ]
        );
        assert_eq!(
            orphans(&tampered),
            vec![
                ("post_tags".to_string(), "tag_id".to_string(), 1, false),
                ("reviews".to_string(), "reviewer_id".to_string(), 1, true),
            ]
        );
        let mismatch =
            |table: &str, column: Option<&str>, expected: String, actual: String| Mismatch {
                collection: "posts".into(),
                document_id: String::new(),
                table: table.into(),
                column: column.map(String::from),
                expected,
                actual,
            };
        let mut found = mismatches(&tampered);
        let ids: Vec<String> = found
            .iter_mut()
            .map(|m| std::mem::take(&mut m.document_id))
            .collect();
        assert_eq!(ids, vec!["6", "5", "6"]);
        assert_eq!(
            found,
            vec![
                mismatch("posts", Some("title"), "six".into(), "tampered".into()),
                mismatch(
                    "post_tags",
                    None,
                    NO_ROW.into(),
                    "post_id=5, tag_id=77".into()
                ),
                mismatch(
                    "post_lines",
                    None,
                    line_row("6", 1, "e", 5, &line_e),
                    NO_ROW.into()
                ),
            ]
        );
        assert_eq!(tampered.problems().len(), 6, "{tampered}");
        let text = tampered.to_string();
        assert!(
            text.starts_with("validation FAILED: 6 problem(s)"),
            "{text}"
        );
        assert!(
            text.contains("posts.title is tampered, expected six"),
            "{text}"
        );
    })
    .await;
}

/// A skipped child row takes its own children with it, columns set to NULL by the `null` policy
/// are expected as NULL, and the sample compares grandchildren through two levels of parents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_follows_skipped_child_rows_and_nested_children() {
    with_database("validate_nested", |url| async move {
        let dump = tempfile::tempdir().expect("temp dir");
        write_collection(dump.path(), "tags", &[doc! {"_id": 10, "label": "rust"}]);
        let item = |tag: i32, alt: i32, notes: &[&str]| {
            let notes: Vec<Document> = notes.iter().map(|n| doc! {"text": *n}).collect();
            doc! {"tag_id": tag, "alt_tag_id": alt, "notes": notes}
        };
        write_collection(
            dump.path(),
            "orders",
            &[
                doc! {"_id": 1, "main_tag_id": 10, "items": [item(10, 97, &["a", "b"]), item(99, 10, &["c"]), item(10, 10, &[])]},
                doc! {"_id": 2, "main_tag_id": 96, "items": [item(98, 10, &["d", "e"])]},
                doc! {"_id": 3, "items": []},
            ],
        );
        let schema = migrator::schema![Tag, Order].expect("the test schema is consistent");
        let source = migrate(&url, &schema, dump.path()).await;

        let mut conn = PgConnection::connect(&url).await.expect("connect");
        let nulled: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM app.orders WHERE main_tag_id IS NULL) \
             + (SELECT count(*) FROM app.order_items WHERE alt_tag_id IS NULL)",
        )
        .fetch_one(&mut conn)
        .await
        .expect("count NULLs");
        assert_eq!(nulled, 3, "orders 2 and 3, and the first item of order 1");

        let clean = run_validate(&url, &schema, source.as_ref()).await;
        assert!(clean.passed(), "{clean}");
        assert_eq!(
            counts(&clean, "orders"),
            vec![
                ("orders".to_string(), 3, 3),
                ("order_items".to_string(), 2, 2),
                ("item_notes".to_string(), 2, 2),
            ]
        );

        conn.execute("UPDATE app.item_notes SET text = 'B' WHERE text = 'b'")
            .await
            .expect("tamper with a note");
        let tampered = run_validate(&url, &schema, source.as_ref()).await;
        assert!(!tampered.passed(), "{tampered}");
        let found: Vec<(String, String, bool)> = mismatches(&tampered)
            .into_iter()
            .map(|m| (m.document_id, m.table, m.actual == NO_ROW))
            .collect();
        assert_eq!(
            found,
            vec![
                ("1".to_string(), "item_notes".to_string(), true),
                ("1".to_string(), "item_notes".to_string(), false),
            ],
            "{tampered}"
        );
        assert_eq!(tampered.problems().len(), 2, "{tampered}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_is_as_many_documents_as_asked_when_there_are_that_many() {
    with_database("validate_sample_size", |url| async move {
        let dump = tempfile::tempdir().expect("temp dir");
        // 102 authors, one rejected (a name of the wrong type): 101 in the target.
        let mut authors: Vec<Document> = (1..=101)
            .map(|i| doc! {"_id": i, "name": format!("author {i}")})
            .collect();
        authors.insert(50, doc! {"_id": 1000, "name": 5});
        write_collection(dump.path(), "authors", &authors);
        let schema = migrator::schema![Author].expect("the test schema is consistent");
        let source = migrate(&url, &schema, dump.path()).await;
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        for (asked, compared) in [(100, 100), (101, 101), (500, 101), (1, 1)] {
            let report = validate(
                &schema,
                source.as_ref(),
                &mut conn,
                TARGET,
                &StateStore::new(STATE),
                asked,
            )
            .await
            .expect("validation runs");
            assert!(report.passed(), "{report}");
            let authors = &report.collections[0];
            assert_eq!(
                (authors.dead_letters, authors.sampled_documents),
                (1, compared),
                "--sample {asked}"
            );
        }
    })
    .await;
}
