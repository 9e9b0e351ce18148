//! A mongodump made while an application writes, built by hand: the test says each write twice,
//! as the oplog entry a server logs for it (the form `mongodump --oplog` copies into
//! `oplog.bson`: `op`, `ns`, `ui`, `o`, `o2`, `ts`, `t`, `v`, `wall`, transactions as `applyOps`
//! commands on `admin.$cmd` with `lsid` and `txnNumber`) and as the change it makes to the
//! document, applied here directly. The dump reads each collection at a moment of the test's
//! choosing, so its files are a fuzzy snapshot; the final documents are the oracle's source.

use std::collections::BTreeMap;
use std::path::Path;

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Document, RawDocumentBuf, Timestamp};
use migrator::source::{ArchiveCollection, ArchiveWriter};

use crate::data::Dataset;

/// The database the dump holds.
pub const DATABASE: &str = "shop";

/// The writes, the documents as they are now, and the collections as the dump read them.
#[derive(Debug, Default)]
pub struct History {
    now: BTreeMap<String, BTreeMap<i32, Document>>,
    read: BTreeMap<String, Vec<Document>>,
    entries: Vec<Document>,
    clock: u32,
    /// Entries of the transaction being written, if one is.
    transaction: Option<Vec<Document>>,
    txn_number: i64,
}

fn uuid(seed: u8) -> Binary {
    Binary {
        subtype: BinarySubtype::Uuid,
        bytes: vec![seed; 16],
    }
}

impl History {
    /// Starts from these collections (the database before the dump began).
    pub fn new(collections: Vec<(&str, Vec<Document>)>) -> History {
        let mut history = History::default();
        for (name, docs) in collections {
            let by_id = docs
                .into_iter()
                .map(|d| (d.get_i32("_id").expect("an i32 _id"), d))
                .collect();
            history.now.insert(name.to_string(), by_id);
        }
        history
    }

    fn ts(&mut self) -> (Timestamp, DateTime) {
        self.clock += 1;
        let seconds = 1_765_000_000 + self.clock / 50;
        (
            Timestamp {
                time: seconds,
                increment: 1 + self.clock % 50,
            },
            DateTime::from_millis(i64::from(seconds) * 1000 + i64::from(self.clock % 50)),
        )
    }

    /// One operation as the oplog logs it; inside a transaction it waits for the commit.
    fn log(&mut self, op: &str, ns: &str, o: Document, o2: Option<Document>) {
        let mut entry = doc! {"op": op, "ns": ns, "ui": uuid(ns.len() as u8), "o": o};
        if let Some(o2) = o2 {
            entry.insert("o2", o2);
        }
        if let Some(ops) = self.transaction.as_mut() {
            ops.push(entry);
            return;
        }
        let (ts, wall) = self.ts();
        entry.insert("ts", ts);
        entry.insert("t", 3_i64);
        entry.insert("v", 2_i64);
        entry.insert("wall", wall);
        self.entries.push(entry);
    }

    fn ns(collection: &str) -> String {
        format!("{DATABASE}.{collection}")
    }

    pub fn insert(&mut self, collection: &str, doc: Document) {
        let id = doc.get_i32("_id").expect("an i32 _id");
        self.log("i", &Self::ns(collection), doc.clone(), None);
        self.now
            .entry(collection.to_string())
            .or_default()
            .insert(id, doc);
    }

    /// An update: `o` as the oplog has it, `change` what it does to the document.
    pub fn update(
        &mut self,
        collection: &str,
        id: i32,
        o: Document,
        change: impl FnOnce(&mut Document),
    ) {
        self.log("u", &Self::ns(collection), o, Some(doc! {"_id": id}));
        if let Some(doc) = self.now.get_mut(collection).and_then(|c| c.get_mut(&id)) {
            change(doc);
        }
    }

    /// A replacement: the oplog logs the whole new document (without `_id`: `o2` has it).
    pub fn replace(&mut self, collection: &str, doc: Document) {
        let id = doc.get_i32("_id").expect("an i32 _id");
        let mut o = doc.clone();
        o.remove("_id");
        self.log("u", &Self::ns(collection), o, Some(doc! {"_id": id}));
        self.now
            .entry(collection.to_string())
            .or_default()
            .insert(id, doc);
    }

    pub fn delete(&mut self, collection: &str, id: i32) {
        self.log("d", &Self::ns(collection), doc! {"_id": id}, None);
        if let Some(c) = self.now.get_mut(collection) {
            c.remove(&id);
        }
    }

    /// An entry that changes no document of the database's models.
    pub fn other(&mut self, op: &str, ns: &str, o: Document) {
        self.log(op, ns, o, None);
    }

    /// The writes of `body` in one transaction, logged as `applyOps` entries of at most
    /// `per_entry` operations (`partialTxn` on all but the last), or dropped with an
    /// `abortTransaction` after a `prepare` when `abort` (its changes are then undone).
    pub fn transaction(&mut self, per_entry: usize, abort: bool, body: impl FnOnce(&mut History)) {
        self.transaction = Some(Vec::new());
        let before = abort.then(|| self.now.clone());
        body(self);
        if let Some(before) = before {
            self.now = before;
        }
        let ops = self.transaction.take().unwrap_or_default();
        self.txn_number += 1;
        let lsid = doc! {"id": uuid(99), "uid": Binary {subtype: BinarySubtype::Generic, bytes: vec![1; 32]}};
        let chunks: Vec<&[Document]> = ops.chunks(per_entry.max(1)).collect();
        let mut previous = doc! {"ts": Timestamp {time: 0, increment: 0}, "t": -1_i64};
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let array: Vec<Bson> = chunk.iter().cloned().map(Bson::Document).collect();
            let mut o = doc! {"applyOps": array};
            if abort {
                o.insert("prepare", true);
            } else if !last {
                o.insert("partialTxn", true);
            } else {
                o.insert("count", ops.len() as i64);
            }
            let (ts, wall) = self.ts();
            self.entries.push(doc! {
                "lsid": lsid.clone(), "txnNumber": self.txn_number, "op": "c", "ns": "admin.$cmd",
                "o": o, "ts": ts, "t": 3_i64, "v": 2_i64, "wall": wall, "prevOpTime": previous.clone(),
            });
            previous = doc! {"ts": ts, "t": 3_i64};
        }
        if abort {
            let (ts, wall) = self.ts();
            self.entries.push(doc! {
                "lsid": lsid, "txnNumber": self.txn_number, "op": "c", "ns": "admin.$cmd",
                "o": {"abortTransaction": 1}, "ts": ts, "t": 3_i64, "v": 2_i64, "wall": wall,
                "prevOpTime": previous,
            });
        }
    }

    /// The dump reads `collection` now.
    pub fn dump_reads(&mut self, collection: &str) {
        let docs = self
            .now
            .get(collection)
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        self.read.insert(collection.to_string(), docs);
    }

    /// Writes `<dir>/shop/<collection>.bson` as the dump read them and `<dir>/oplog.bson`;
    /// returns the database directory.
    pub fn write_dump(&self, dir: &Path) -> std::path::PathBuf {
        let database = dir.join(DATABASE);
        let collections: Vec<(String, Vec<Document>)> = self
            .read
            .iter()
            .map(|(name, docs)| (name.clone(), docs.clone()))
            .collect();
        Dataset::from_documents(collections).write_dump(&database);
        let mut bytes = Vec::new();
        for entry in &self.entries {
            bytes.extend(entry.to_vec().expect("an oplog entry"));
        }
        std::fs::write(dir.join("oplog.bson"), bytes).expect("write oplog.bson");
        database
    }

    /// Writes a `mongodump --archive --oplog` of the same dump: the collections as the dump
    /// read them (database `shop`), then the oplog, the namespace `oplog` of no database (as
    /// mongodump lists it in the prelude and writes it after the collections), gzipped if asked.
    pub fn write_archive(&self, path: &Path, gzip: bool) {
        let mut prelude: Vec<ArchiveCollection> = self
            .read
            .keys()
            .map(|name| ArchiveCollection::new(DATABASE, name))
            .collect();
        prelude.push(ArchiveCollection {
            db: String::new(),
            collection: "oplog".into(),
            metadata: String::new(),
            size: 0,
            kind: String::new(),
        });
        let file = std::fs::File::create(path).expect("create the archive");
        if gzip {
            let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            self.archive_into(gz, &prelude)
                .finish()
                .expect("finish gzip");
        } else {
            use std::io::Write;
            let mut out = self.archive_into(std::io::BufWriter::new(file), &prelude);
            out.flush().expect("flush the archive");
        }
    }

    fn archive_into<W: std::io::Write>(&self, out: W, prelude: &[ArchiveCollection]) -> W {
        let mut writer = ArchiveWriter::new(out, prelude).expect("archive prelude");
        let raw = |doc: &Document| RawDocumentBuf::try_from(doc).expect("a document");
        for (name, docs) in &self.read {
            for doc in docs {
                writer
                    .write(DATABASE, name, &raw(doc))
                    .expect("archive write");
            }
        }
        for entry in &self.entries {
            writer
                .write("", "oplog", &raw(entry))
                .expect("archive write");
        }
        writer.finish().expect("finish the archive")
    }

    /// The `_id`s of the first `n` documents of each collection as the dump read them (what
    /// `--limit n` loads).
    pub fn first_read(&self, n: usize) -> BTreeMap<String, Vec<i32>> {
        self.read
            .iter()
            .map(|(name, docs)| {
                let ids = docs
                    .iter()
                    .take(n)
                    .map(|d| d.get_i32("_id").expect("an i32 _id"));
                (name.clone(), ids.collect())
            })
            .collect()
    }

    /// A dump of the documents as they are now of those `ids` only: what the oracle of a
    /// limited replay migrates.
    pub fn write_final_of(
        &self,
        dir: &Path,
        ids: &BTreeMap<String, Vec<i32>>,
    ) -> std::path::PathBuf {
        let database = dir.join(DATABASE);
        let collections: Vec<(String, Vec<Document>)> = self
            .now
            .iter()
            .map(|(name, docs)| {
                let keep = ids.get(name).cloned().unwrap_or_default();
                let docs = docs
                    .iter()
                    .filter(|(id, _)| keep.contains(id))
                    .map(|(_, d)| d.clone());
                (name.clone(), docs.collect())
            })
            .collect();
        Dataset::from_documents(collections).write_dump(&database);
        database
    }

    /// A dump of the documents as they are now (no oplog): what the oracle migrates.
    pub fn write_final(&self, dir: &Path) -> std::path::PathBuf {
        let database = dir.join(DATABASE);
        let collections: Vec<(String, Vec<Document>)> = self
            .now
            .iter()
            .map(|(name, docs)| (name.clone(), docs.values().cloned().collect()))
            .collect();
        Dataset::from_documents(collections).write_dump(&database);
        database
    }

    /// How many entries `oplog.bson` holds.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }
}

/// Asserts that a replayed target equals a fresh migration of the final state (`expected`): every
/// table row by row, and the same documents rejected. `what` names the case in the message.
pub fn assert_replayed_as_fresh(
    replayed: &crate::pg::TestDb,
    expected: &crate::pg::TestDb,
    what: &str,
) {
    assert_eq!(
        replayed.table_hashes(),
        expected.table_hashes(),
        "{what}: the replayed target differs from a fresh migration of the final state"
    );
    assert_eq!(
        crate::follow::rejected(replayed),
        crate::follow::rejected(expected),
        "{what}: the dead letters differ"
    );
}
