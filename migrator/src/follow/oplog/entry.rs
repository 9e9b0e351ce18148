//! The entries of a mongodump `oplog.bson` as the replay needs them: the inserts, updates and
//! deletes of the followed database's collections, with the `applyOps` of transactions (and of
//! batched inserts) opened up and a transaction written over several entries (`partialTxn`,
//! `prepare`) held until it commits. Commands that change no document (indexes, `create`,
//! `collMod`) and no-ops are passed over; one that drops or renames a collection of the models,
//! or the database, and any form this reader does not know, is refused naming the entry.

use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document, RawDocument};

use super::update::Update;
use crate::source::ClusterTime;

/// What one operation does to one document.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    /// The whole document: an insert, or an update that replaces it.
    Put(Document),
    Update(Update),
    Delete,
}

/// An operation on a document of a collection of the models.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DocOp {
    pub ts: Option<ClusterTime>,
    pub collection: String,
    pub id: Bson,
    pub op: Op,
}

/// An entry the replay cannot apply: where it is and why.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EntryError {
    pub ts: Option<ClusterTime>,
    pub ns: String,
    pub id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ts = self
            .ts
            .map_or_else(|| "no `ts`".to_string(), |t| t.to_string());
        write!(f, "the oplog entry at {ts} on `{}`", self.ns)?;
        if let Some(id) = &self.id {
            write!(f, " (`_id` {id})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Commands that change no document of a collection.
const PASSED_OVER: [&str; 11] = [
    "create",
    "createIndexes",
    "commitIndexBuild",
    "startIndexBuild",
    "abortIndexBuild",
    "dropIndexes",
    "deleteIndexes",
    "collMod",
    "dbCheck",
    "setMultikeyMetadata",
    "deleteIndex",
];

/// Reads entries in order, keeping the transactions not yet committed.
#[derive(Debug)]
pub(super) struct EntryReader {
    database: String,
    collections: BTreeSet<String>,
    /// Operations of transactions written over several entries, by session and number.
    pending: BTreeMap<(Vec<u8>, i64), Vec<DocOp>>,
}

impl EntryReader {
    pub(super) fn new(database: &str, collections: BTreeSet<String>) -> Self {
        EntryReader {
            database: database.to_string(),
            collections,
            pending: BTreeMap::new(),
        }
    }

    /// Whether a transaction's entries were read and its commit was not.
    pub(super) fn inside_transaction(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The operations on the models' documents that the entry applies now.
    pub(super) fn read(&mut self, raw: &RawDocument) -> Result<Vec<DocOp>, EntryError> {
        let entry = Document::try_from(raw).map_err(|e| EntryError {
            ts: None,
            ns: String::new(),
            id: None,
            reason: format!("unreadable BSON: {e}"),
        })?;
        let ts = match entry.get("ts") {
            Some(Bson::Timestamp(t)) => Some(ClusterTime {
                seconds: t.time,
                increment: t.increment,
            }),
            _ => None,
        };
        let mut out = Vec::new();
        self.entry(&entry, ts, &mut out)?;
        Ok(out)
    }

    fn entry(
        &mut self,
        entry: &Document,
        ts: Option<ClusterTime>,
        out: &mut Vec<DocOp>,
    ) -> Result<(), EntryError> {
        let ns = entry.get_str("ns").unwrap_or_default().to_string();
        let fail = |id: Option<&Bson>, reason: String| EntryError {
            ts,
            ns: ns.clone(),
            id: id.map(|i| i.clone().into_relaxed_extjson().to_string()),
            reason,
        };
        let op = entry
            .get_str("op")
            .map_err(|_| fail(None, "no `op`".into()))?;
        let object = || {
            entry
                .get_document("o")
                .map_err(|_| fail(None, "no `o` document".into()))
        };
        if op == "c" {
            return self.command(entry, object()?, ts, &ns, out);
        }
        let (database, collection) = ns.split_once('.').unwrap_or((ns.as_str(), ""));
        if !matches!(op, "i" | "u" | "d") {
            // `n` (no-op) and the server's own bookkeeping (`ci`, `cu`, `cd`, `km`).
            return Ok(());
        }
        if database != self.database || !self.collections.contains(collection) {
            return Ok(());
        }
        let o = object()?;
        let id = match op {
            "u" => entry.get_document("o2").ok().and_then(|o2| o2.get("_id")),
            _ => o.get("_id"),
        }
        .cloned()
        .ok_or_else(|| fail(None, format!("an `{op}` entry without an `_id`")))?;
        let op = match op {
            "i" => Op::Put(o.clone()),
            "d" => Op::Delete,
            _ => match Update::parse(o).map_err(|reason| fail(Some(&id), reason))? {
                Some(update) => Op::Update(update),
                None => {
                    let mut replacement = Document::new();
                    replacement.insert("_id", id.clone());
                    for (k, v) in o {
                        if k != "_id" {
                            replacement.insert(k.clone(), v.clone());
                        }
                    }
                    Op::Put(replacement)
                }
            },
        };
        out.push(DocOp {
            ts,
            collection: collection.to_string(),
            id,
            op,
        });
        Ok(())
    }

    fn command(
        &mut self,
        entry: &Document,
        o: &Document,
        ts: Option<ClusterTime>,
        ns: &str,
        out: &mut Vec<DocOp>,
    ) -> Result<(), EntryError> {
        let fail = |reason: String| EntryError {
            ts,
            ns: ns.to_string(),
            id: None,
            reason,
        };
        let database = ns.split_once('.').map_or(ns, |(d, _)| d);
        let Some((name, value)) = o.iter().next() else {
            return Err(fail("a command entry with an empty `o`".into()));
        };
        let ours = database == self.database;
        let of_models = |collection: &str| ours && self.collections.contains(collection);
        let transaction = transaction_of(entry);
        match name.as_str() {
            "applyOps" => {
                let Bson::Array(inner) = value else {
                    return Err(fail("`applyOps` is not an array".into()));
                };
                let mut ops = Vec::new();
                for item in inner {
                    let Bson::Document(item) = item else {
                        return Err(fail("an `applyOps` element is not a document".into()));
                    };
                    self.entry(item, ts, &mut ops)?;
                }
                let held = o.get_bool("partialTxn").unwrap_or(false)
                    || o.get_bool("prepare").unwrap_or(false);
                match transaction {
                    Some(key) if held => self.pending.entry(key).or_default().extend(ops),
                    Some(key) => {
                        out.extend(self.pending.remove(&key).unwrap_or_default());
                        out.extend(ops);
                    }
                    None if held => {
                        return Err(fail(
                            "a transaction's `applyOps` without `lsid` and `txnNumber`".into(),
                        ))
                    }
                    None => out.extend(ops),
                }
            }
            "commitTransaction" => {
                if let Some(key) = transaction {
                    out.extend(self.pending.remove(&key).unwrap_or_default());
                }
            }
            "abortTransaction" => {
                if let Some(key) = transaction {
                    self.pending.remove(&key);
                }
            }
            "drop" | "convertToCapped" | "emptycapped" => {
                let collection = value.as_str().unwrap_or_default();
                if of_models(collection) {
                    return Err(fail(format!(
                        "`{name}` of collection `{collection}`, which the models read: replaying \
                         it is not supported; dump again (or migrate from the live deployment)"
                    )));
                }
            }
            "renameCollection" => {
                let from = value.as_str().unwrap_or_default();
                let to = o.get_str("to").unwrap_or_default();
                let touches = [from, to].iter().any(|full| {
                    full.split_once('.')
                        .is_some_and(|(d, c)| d == self.database && self.collections.contains(c))
                });
                if touches {
                    return Err(fail(format!(
                        "collection `{from}` renamed to `{to}`, a collection the models read: \
                         replaying it is not supported; dump again (or migrate from the live \
                         deployment)"
                    )));
                }
            }
            "dropDatabase" => {
                if ours {
                    return Err(fail(
                        "the database was dropped: replaying it is not supported; dump again"
                            .into(),
                    ));
                }
            }
            other if PASSED_OVER.contains(&other) => {}
            other => {
                if ours || database == "admin" {
                    return Err(fail(format!(
                        "unknown oplog command `{other}`: the replay cannot tell what it changes"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The session and number of a transaction's entry.
fn transaction_of(entry: &Document) -> Option<(Vec<u8>, i64)> {
    let lsid = entry.get_document("lsid").ok()?;
    let number = match entry.get("txnNumber")? {
        Bson::Int64(n) => *n,
        Bson::Int32(n) => i64::from(*n),
        _ => return None,
    };
    let bytes = bson::RawDocumentBuf::try_from(lsid).ok()?.into_bytes();
    Some((bytes, number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, RawDocumentBuf};

    fn reader() -> EntryReader {
        EntryReader::new("shop", ["orders".to_string()].into())
    }

    fn read(reader: &mut EntryReader, entry: Document) -> Result<Vec<DocOp>, EntryError> {
        let raw = RawDocumentBuf::try_from(&entry).expect("a document");
        reader.read(&raw)
    }

    fn ts(i: u32) -> bson::Timestamp {
        bson::Timestamp {
            time: 100,
            increment: i,
        }
    }

    #[test]
    fn inserts_updates_and_deletes_of_the_models_collections() {
        let mut r = reader();
        let put = read(
            &mut r,
            doc! {"ts": ts(1), "op": "i", "ns": "shop.orders", "o": {"_id": 1, "x": 1}},
        )
        .expect("read");
        assert_eq!(put.len(), 1);
        assert_eq!(put[0].op, Op::Put(doc! {"_id": 1, "x": 1}));
        let replaced = read(
            &mut r,
            doc! {"ts": ts(2), "op": "u", "ns": "shop.orders", "o2": {"_id": 1}, "o": {"x": 2}},
        )
        .expect("read");
        assert_eq!(replaced[0].op, Op::Put(doc! {"_id": 1, "x": 2}));
        let updated = read(
            &mut r,
            doc! {"ts": ts(3), "op": "u", "ns": "shop.orders", "o2": {"_id": 1},
            "o": {"$v": 2, "diff": {"u": {"x": 3}}}},
        )
        .expect("read");
        assert!(matches!(updated[0].op, Op::Update(Update::Diff(_))));
        let deleted = read(
            &mut r,
            doc! {"ts": ts(4), "op": "d", "ns": "shop.orders", "o": {"_id": 1}},
        )
        .expect("read");
        assert_eq!(deleted[0].op, Op::Delete);
        // Other databases and collections, no-ops and index builds: nothing.
        for entry in [
            doc! {"ts": ts(5), "op": "i", "ns": "other.orders", "o": {"_id": 1}},
            doc! {"ts": ts(5), "op": "i", "ns": "shop.logs", "o": {"_id": 1}},
            doc! {"ts": ts(5), "op": "n", "ns": "", "o": {"msg": "periodic noop"}},
            doc! {"ts": ts(5), "op": "c", "ns": "shop.$cmd", "o": {"createIndexes": "orders", "v": 2}},
            doc! {"ts": ts(5), "op": "c", "ns": "shop.$cmd", "o": {"drop": "logs"}},
        ] {
            assert_eq!(
                read(&mut r, entry.clone()).expect("read"),
                vec![],
                "{entry}"
            );
        }
    }

    #[test]
    fn a_transaction_over_several_entries_applies_at_its_commit() {
        let mut r = reader();
        let lsid = doc! {"id": bson::Binary {subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![7; 16]}};
        let first = read(
            &mut r,
            doc! {"ts": ts(1), "op": "c", "ns": "admin.$cmd", "lsid": lsid.clone(), "txnNumber": 3_i64,
            "o": {"applyOps": [{"op": "i", "ns": "shop.orders", "o": {"_id": 1}}], "partialTxn": true}},
        )
        .expect("read");
        assert!(first.is_empty() && r.inside_transaction());
        let last = read(
            &mut r,
            doc! {"ts": ts(2), "op": "c", "ns": "admin.$cmd", "lsid": lsid.clone(), "txnNumber": 3_i64,
            "o": {"applyOps": [{"op": "d", "ns": "shop.orders", "o": {"_id": 2}}], "count": 2_i64}},
        )
        .expect("read");
        assert_eq!(last.len(), 2);
        assert!(!r.inside_transaction());
        // A prepared transaction aborted: nothing.
        read(
            &mut r,
            doc! {"ts": ts(3), "op": "c", "ns": "admin.$cmd", "lsid": lsid.clone(), "txnNumber": 4_i64,
            "o": {"applyOps": [{"op": "i", "ns": "shop.orders", "o": {"_id": 3}}], "prepare": true}},
        )
        .expect("read");
        let aborted = read(
            &mut r,
            doc! {"ts": ts(4), "op": "c", "ns": "admin.$cmd", "lsid": lsid, "txnNumber": 4_i64,
            "o": {"abortTransaction": 1}},
        )
        .expect("read");
        assert!(aborted.is_empty() && !r.inside_transaction());
    }

    #[test]
    fn what_the_replay_cannot_apply_names_the_entry() {
        for (entry, says) in [
            (
                doc! {"ts": ts(9), "op": "c", "ns": "shop.$cmd", "o": {"drop": "orders"}},
                "the oplog entry at Timestamp(100, 9) on `shop.$cmd`: `drop` of collection `orders`",
            ),
            (
                doc! {"ts": ts(9), "op": "c", "ns": "admin.$cmd",
                "o": {"renameCollection": "shop.tmp", "to": "shop.orders"}},
                "collection `shop.tmp` renamed to `shop.orders`",
            ),
            (
                doc! {"ts": ts(9), "op": "c", "ns": "shop.$cmd", "o": {"dropDatabase": 1}},
                "the database was dropped",
            ),
            (
                doc! {"ts": ts(9), "op": "u", "ns": "shop.orders", "o2": {"_id": 5},
                "o": {"$v": 2, "diff": {"z": {}}}},
                "on `shop.orders` (`_id` 5): unknown `$v: 2` diff section `z`",
            ),
            (
                doc! {"ts": ts(9), "op": "c", "ns": "shop.$cmd", "o": {"somethingNew": 1}},
                "unknown oplog command `somethingNew`",
            ),
        ] {
            let error = read(&mut reader(), entry.clone()).expect_err("refused");
            assert!(error.to_string().contains(says), "{entry}: {error}");
        }
    }
}
