//! The run's state in PostgreSQL: the ObjectId function, the run lock, the settings fingerprint.
//! Needs PostgreSQL (127.0.0.1:5432 or MIGRATOR_TEST_PG_URL); a missing server fails.

use migrator::bson::oid::ObjectId;
use migrator::id::object_id_to_ordered_uuid;
use migrator::run_error::RunError;
use migrator::state::{connect, Fingerprint, RunStage, StateStore};
use migrator::testing::with_test_database;

fn fingerprint(partitions: usize) -> Fingerprint {
    Fingerprint {
        schema: "abc".into(),
        source_kind: "dump".into(),
        target_schema: "public".into(),
        partitions,
        schema_mode: "create".into(),
    }
}

#[tokio::test]
async fn the_sql_object_id_function_inverts_ordered_uuids() {
    with_test_database("state_oid", |url| async move {
        let mut conn = connect(&url).await.expect("connect");
        let state = StateStore::new("_migrator");
        state.init(&mut conn).await.expect("init");
        for hex in [
            "000000000000000000000000",
            "5a9427648b0beebeb69579e7",
            "ffffffffffffffffffffffff",
            "59b99db4cfa9a34dcd7885b6",
        ] {
            let oid = ObjectId::parse_str(hex).expect("hex");
            let uuid = object_id_to_ordered_uuid(&oid);
            let back: String = sqlx::query_scalar("SELECT _migrator.object_id($1)")
                .bind(uuid)
                .fetch_one(&mut conn)
                .await
                .expect("query");
            assert_eq!(back, hex);
        }
    })
    .await;
}

#[tokio::test]
async fn a_second_run_on_the_same_target_is_refused() {
    with_test_database("state_lock", |url| async move {
        let state = StateStore::new("_migrator");
        let mut first = connect(&url).await.expect("connect");
        let mut second = connect(&url).await.expect("connect");
        state
            .lock(&mut first)
            .await
            .expect("first run takes the lock");
        let refused = state.lock(&mut second).await;
        assert!(
            matches!(refused, Err(RunError::Locked { .. })),
            "{refused:?}"
        );
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("another migration"), "{message}");
        state.unlock(&mut first).await.expect("unlock");
        state
            .lock(&mut second)
            .await
            .expect("free again after the first ends");
        // Another state schema is another target: its lock is independent.
        StateStore::new("_other")
            .lock(&mut first)
            .await
            .expect("independent lock");
    })
    .await;
}

#[tokio::test]
async fn resuming_with_other_settings_is_refused_with_the_differences() {
    with_test_database("state_fingerprint", |url| async move {
        let mut conn = connect(&url).await.expect("connect");
        let state = StateStore::new("_migrator");
        assert_eq!(
            state
                .begin(&mut conn, &fingerprint(4), None)
                .await
                .expect("begin"),
            RunStage::New
        );
        state
            .set_stage(&mut conn, RunStage::Loading)
            .await
            .expect("stage");
        assert_eq!(
            state
                .begin(&mut conn, &fingerprint(4), None)
                .await
                .expect("resume"),
            RunStage::Loading
        );
        let err = state
            .begin(&mut conn, &fingerprint(8), None)
            .await
            .expect_err("other settings");
        let text = err.to_string();
        assert!(text.contains("--partitions was 4, now 8"), "{text}");
        assert!(text.contains("--restart"), "{text}");
        state.drop(&mut conn).await.expect("drop");
        assert!(state.current(&mut conn).await.expect("read").is_none());
    })
    .await;
}

#[derive(Debug, migrator::Migrate)]
#[migrate(collection = "things")]
struct Thing {
    #[migrate(id)]
    id: i32,
    name: String,
}

fn batch(
    model: &migrator::ModelHandle,
    ids: std::ops::Range<i32>,
    start: u64,
    end: u64,
) -> migrator::pipeline::batch::Batch {
    use migrator::source::{Partition, Position};
    let docs: Vec<_> = ids
        .map(|i| migrator::bson::rawdoc! { "_id": i, "name": format!("thing {i}") })
        .collect();
    let refs: Vec<&migrator::bson::RawDocument> = docs.iter().map(|d| &**d).collect();
    let (payloads, rows) = migrator::pipeline::batch::encode(model, &refs);
    let mut kept = migrator::pipeline::batch::Documents::default();
    for doc in &refs {
        kept.push(doc).expect("room for the document");
    }
    let position = |offset| {
        if offset == 0 {
            Position::Start
        } else {
            Position::Offset { offset }
        }
    };
    migrator::pipeline::batch::Batch {
        collection: "things".into(),
        partition: Partition::whole(),
        docs: kept,
        docs_kept: true,
        payloads,
        rows,
        dead_letters: Vec::new(),
        documents_read: 2,
        start: position(start),
        end: position(end),
        done: false,
        seconds: 0.0,
        census: {
            let mut tally = migrator::census::Tally::new();
            for doc in &refs {
                tally.observe(doc);
            }
            tally.take()
        },
    }
}

#[tokio::test]
async fn a_batch_whose_partition_moved_on_is_refused_and_lands_nothing_nor_its_key_census() {
    with_test_database("state_moved", |url| async move {
        let schema = migrator::schema![Thing].expect("schema");
        let model = schema.models()[0].clone();
        let state = StateStore::new("_migrator");
        let mut conn = connect(&url).await.expect("connect");
        state.init(&mut conn).await.expect("init");
        let ddl = migrator::sink::ddl::Ddl::new(&schema, Some("public"));
        migrator::sink::ddl::execute_all(&mut conn, "create", &ddl.tables)
            .await
            .expect("tables");
        state
            .plan_partitions(
                &mut conn,
                "things",
                &[migrator::source::Partition::whole()],
                None,
            )
            .await
            .expect("plan");
        let config = migrator::sink::postgres::WriterConfig {
            url: url.clone(),
            target_schema: "public".into(),
            state: state.clone(),
            replica_role: false,
            max_retries: 0,
            first_backoff: std::time::Duration::from_millis(1),
        };
        let mut writer = migrator::sink::postgres::BatchWriter::new(config, model.clone());
        writer
            .write(&batch(&model, 0..2, 0, 100))
            .await
            .expect("first batch");
        // A late copy of the first batch (same start) must not land again.
        let stale = writer.write(&batch(&model, 10..12, 0, 100)).await;
        assert!(
            matches!(stale, Err(RunError::CheckpointMoved { .. })),
            "{stale:?}"
        );
        writer
            .write(&batch(&model, 2..4, 100, 200))
            .await
            .expect("next batch");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM things")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        assert_eq!(rows, 4, "the stale batch wrote nothing");
        // The key census moves with the batches: the stale copy counted nothing, the two
        // batches merged (types summed, the first example kept).
        let census = migrator::census::store::load(&mut conn, "_migrator")
            .await
            .expect("census");
        let things = &census["things"];
        assert_eq!(things.documents, 4);
        assert_eq!(things.keys.len(), 2, "{things:?}");
        assert_eq!(things.keys["name"].documents, 4);
        assert_eq!(things.keys["_id"].types["int"], 4);
        assert_eq!(things.keys["_id"].example_id.as_deref(), Some("0"));
    })
    .await;
}

#[tokio::test]
async fn a_failing_script_names_its_statement_and_leaves_nothing() {
    with_test_database("state_script", |url| async move {
        let mut conn = connect(&url).await.expect("connect");
        let script = [
            "CREATE TABLE first_one (id integer PRIMARY KEY)".to_string(),
            "CREATE TABLE second_one (id integer REFERENCES missing_table (id))".to_string(),
            "CREATE TABLE third_one (id integer)".to_string(),
        ];
        let failed = migrator::sink::ddl::execute_all(&mut conn, "create the tables", &script)
            .await
            .expect_err("the second statement fails");
        let message = failed.to_string();
        assert!(
            message.contains("create the tables: CREATE TABLE second_one")
                && message.contains("missing_table"),
            "{message}"
        );
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('first_one', 'second_one', 'third_one')",
        )
        .fetch_one(&mut conn)
        .await
        .expect("count");
        assert_eq!(tables, 0, "rolled back whole");
        migrator::sink::ddl::execute_all(&mut conn, "create the tables", &script[..1])
            .await
            .expect("a good script runs");
    })
    .await;
}

#[tokio::test]
async fn an_unreadable_checkpoint_names_its_collection_and_partition() {
    with_test_database("state_bad_checkpoint", |url| async move {
        let mut conn = connect(&url).await.expect("connect");
        let state = StateStore::new("_migrator");
        state.init(&mut conn).await.expect("init");
        state
            .plan_partitions(
                &mut conn,
                "things",
                &[migrator::source::Partition::whole()],
                None,
            )
            .await
            .expect("plan");
        // A resume point whose `_id` is not Extended JSON (edited by hand, say).
        sqlx::query(
            r#"UPDATE _migrator.checkpoints SET position = '{"kind": "after_id", "id": {"$oid": "zz"}}'"#,
        )
        .execute(&mut conn)
        .await
        .expect("corrupt the checkpoint");
        let error = state
            .checkpoints(&mut conn)
            .await
            .expect_err("the position is unreadable")
            .to_string();
        assert!(
            error.contains("`things` partition 0")
                && error.contains("_migrator.checkpoints")
                && error.contains("not Extended JSON"),
            "{error}"
        );
    })
    .await;
}

/// A batch of a source that can be read again keeps no documents; should PostgreSQL refuse it,
/// its documents are read again: exactly the batch's (those that transform), or an error that
/// says the source changed under the run.
#[test]
fn a_batch_read_again_gives_its_documents_or_says_the_source_changed() {
    use migrator::pipeline::batch::reread;
    use migrator::source::{DumpSource, Partition, Position, Source};

    let schema = migrator::schema![Thing].expect("schema");
    let model = schema.models()[0].clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("things.bson");
    let docs = [
        migrator::bson::rawdoc! { "_id": 1, "name": "one" },
        migrator::bson::rawdoc! { "_id": 2, "name": 2 },
        migrator::bson::rawdoc! { "_id": 3, "name": "three" },
        migrator::bson::rawdoc! { "_id": 4, "name": "four" },
    ];
    let write = |docs: &[migrator::bson::RawDocumentBuf]| {
        let bytes: Vec<u8> = docs.iter().flat_map(|d| d.as_bytes().to_vec()).collect();
        std::fs::write(&file, bytes).expect("write");
    };
    write(&docs);
    let source = DumpSource::open(dir.path()).expect("the dump opens");
    assert!(source.rereadable());
    let third_ends: usize = docs[..3].iter().map(|d| d.as_bytes().len()).sum();
    let mut wanted = batch(&model, 0..0, 0, third_ends as u64);
    wanted.docs_kept = false;
    wanted.documents_read = 3;

    let again = reread(&source, &model, &wanted.span()).expect("read again");
    let ids: Vec<i32> = again
        .iter()
        .map(|d| d.get_i32("_id").expect("an int id"))
        .collect();
    assert_eq!(ids, [1, 3], "the documents that transform, in order");

    write(&[docs[0].clone(), docs[2].clone(), docs[3].clone()]);
    let changed = reread(&source, &model, &wanted.span()).expect_err("the file changed");
    assert!(
        changed.to_string().contains("the source changed"),
        "{changed}"
    );
    let whole = Partition::whole();
    assert_eq!(wanted.partition, whole);
    assert_eq!(wanted.start, Position::Start);
}

#[tokio::test]
async fn the_load_time_is_recorded_once_and_kept_for_a_resume() {
    with_test_database("state_load_time", |url| async move {
        let mut conn = connect(&url).await.expect("connect");
        let state = StateStore::new("_migrator");
        // No run yet: nothing to adopt, nothing created.
        state.adopt_load_time(&mut conn).await.expect("adopt");
        state.init(&mut conn).await.expect("init");
        state.settle_load_time(&mut conn).await.expect("settle");
        let recorded = || async {
            let mut conn = connect(&url).await.expect("connect");
            sqlx::query_scalar::<_, i64>("SELECT unix_millis FROM _migrator.load_time")
                .fetch_all(&mut conn)
                .await
                .expect("the load time")
        };
        assert_eq!(recorded().await, [migrator::load_time().timestamp_millis()]);
        // A run recorded by another process keeps its time.
        sqlx::query("UPDATE _migrator.load_time SET unix_millis = 1700000000123")
            .execute(&mut conn)
            .await
            .expect("update");
        state.settle_load_time(&mut conn).await.expect("settle");
        assert_eq!(recorded().await, [1_700_000_000_123]);
    })
    .await;
}
