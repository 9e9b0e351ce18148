//! The Mongo-wire source reads a collection batch by batch through one cursor, the next batch
//! asked for while one is handed out: every document arrives once, in `_id` order, even when
//! the server loses the cursor part way (the read goes on from the last `_id` handed out).

use bson::{doc, Bson, RawDocumentBuf};
use migrator::source::{Partition, Position, Source, SourceError};
use migrator_e2e::mongo::MongoDb;

const DOCS: i32 = 40;

fn numbered(mongo: &MongoDb) {
    let docs: Vec<RawDocumentBuf> = (0..DOCS)
        .rev()
        .map(|i| RawDocumentBuf::try_from(&doc! {"_id": i, "n": i * 10}).expect("bson"))
        .collect();
    mongo.insert("numbers", &docs);
}

fn ids(mongo: &MongoDb, batch_size: u32, from: &Position) -> Result<Vec<i32>, SourceError> {
    let source = mongo.source().with_batch_size(batch_size);
    let docs = source.read("numbers", &Partition::whole(), from)?;
    docs.map(|item| {
        let item = item?;
        Ok(item.doc.get_i32("_id").expect("an i32 `_id`"))
    })
    .collect()
}

/// A `failCommand` failpoint for the migrator's connections only (`appName`), `times` times.
fn fail(mongo: &MongoDb, command: &str, times: i32) {
    mongo.admin(doc! {
        "configureFailPoint": "failCommand",
        "mode": {"times": times},
        "data": {"failCommands": [command], "errorCode": 43, "appName": "migrator"},
    });
}

fn off(mongo: &MongoDb) {
    mongo.admin(doc! {"configureFailPoint": "failCommand", "mode": "off"});
}

#[test]
fn batches_come_in_id_order_and_a_lost_cursor_is_asked_again() {
    let mongo = MongoDb::create("batches");
    numbered(&mongo);
    let all: Vec<i32> = (0..DOCS).collect();
    assert_eq!(ids(&mongo, 7, &Position::Start).expect("read"), all);
    // A resume starts after the `_id` it names.
    let after = Position::AfterId {
        id: Bson::Int32(29),
    };
    assert_eq!(
        ids(&mongo, 4, &after).expect("resumed"),
        (30..DOCS).collect::<Vec<_>>()
    );

    // The first `getMore` fails: the query is asked again from the last `_id` handed out, and
    // nothing is lost or read twice.
    fail(&mongo, "getMore", 1);
    let read = ids(&mongo, 6, &Position::Start);
    off(&mongo);
    assert_eq!(read.expect("read past a lost cursor"), all);

    // A `find` that fails is final, and names the source and the collection.
    fail(&mongo, "find", 1);
    let read = ids(&mongo, 6, &Position::Start);
    off(&mongo);
    let error = read.expect_err("a failed find fails the read").to_string();
    assert!(error.contains(mongo.name()), "{error}");
    assert!(error.contains("reading `numbers`"), "{error}");
    assert!(error.contains("error 43 (CursorNotFound)"), "{error}");
    assert!(
        !error.contains("RawDocumentBuf"),
        "the raw reply is left out: {error}"
    );
}
