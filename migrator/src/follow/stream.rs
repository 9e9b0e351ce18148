//! The source's change stream: the start point a run records before its copy, and the changes
//! read from a recorded resume token on, in the stream's order.

use std::time::{Duration, Instant};

use bson::{doc, Bson, RawDocument, RawDocumentBuf};
use mongodb::change_stream::event::ResumeToken;
use mongodb::change_stream::ChangeStream;
use mongodb::error::ErrorKind;
use mongodb::options::FullDocumentType;
use mongodb::{Client, Database};

use super::FollowError;
use crate::source::{ChangeStart, ClusterTime};

/// Server error codes that mean the recorded point is no longer in the server's history
/// (`ChangeStreamHistoryLost`, `ChangeStreamFatalError`, an unknown resume token).
const HISTORY_LOST: [i32; 3] = [286, 280, 40647];

/// Opens a change stream on `db` and returns where it stands, without reading anything.
pub(crate) async fn start_point(db: &Database) -> mongodb::error::Result<ChangeStart> {
    let stream = db.watch().await?;
    let token = stream
        .resume_token()
        .ok_or_else(|| mongodb::error::Error::custom("the server gave no resume token"))?;
    let hello = db.run_command(doc! {"hello": 1}).await?;
    let cluster_time = match hello.get("operationTime") {
        Some(Bson::Timestamp(t)) => Some(ClusterTime {
            seconds: t.time,
            increment: t.increment,
        }),
        _ => None,
    };
    Ok(ChangeStart {
        token: token_json(&token),
        cluster_time,
    })
}

fn token_json(token: &ResumeToken) -> serde_json::Value {
    bson::serialize_to_bson(token)
        .map(Bson::into_canonical_extjson)
        .unwrap_or(serde_json::Value::Null)
}

/// One change, as the follow applies it.
#[derive(Debug, Clone)]
pub struct Change {
    /// Resuming after this token reads the changes after this one.
    pub token: serde_json::Value,
    pub cluster_time: Option<ClusterTime>,
    /// When the change was made, in milliseconds since the epoch (the server's clock).
    pub wall_ms: Option<i64>,
    /// The MongoDB transaction it belongs to (session id and transaction number), if any.
    pub transaction: Option<(Vec<u8>, i64)>,
    pub what: What,
}

/// What a change does.
#[derive(Debug, Clone)]
pub enum What {
    /// The document as it is now (looked up by the server): insert, replace, update.
    Upsert {
        collection: String,
        id: Bson,
        doc: RawDocumentBuf,
    },
    /// The document is gone: deleted, or an update whose lookup found nothing (a delete follows).
    Delete { collection: String, id: Bson },
    /// The follow cannot go on: a collection dropped or renamed, the stream invalidated.
    /// `recopy`: the collections to copy again (`*`: all).
    Stop { reason: String, recopy: Vec<String> },
    /// Nothing to apply (an index built, a collection created).
    Nothing,
}

/// What one read gave.
#[derive(Debug, Default)]
pub struct Read {
    pub changes: Vec<Change>,
    /// With no change read: the stream's own token when it moved on (the source wrote elsewhere),
    /// so the follow's position advances while the source is idle.
    pub idle_token: Option<serde_json::Value>,
    /// The stream had nothing more when the read ended.
    pub at_head: bool,
}

/// The change stream of the database being followed.
pub struct ChangeReader {
    stream: ChangeStream<RawDocumentBuf>,
    source_name: String,
    last_token: Option<serde_json::Value>,
    /// A post-batch token not yet handed out, and when it was first seen (see `IDLE_CONFIRM`).
    held: Option<(serde_json::Value, Instant)>,
}

/// How long a post-batch token must stand, with no change arriving, before the follow records it.
/// A server may report a post-batch token before a transaction committed under it is visible to
/// the stream (seen on the Mongo-wire test server: a follow killed after recording such a token
/// resumed past the transaction, and its changes were lost). A change that arrives meanwhile
/// drops the held token: the position then moves with the changes themselves.
pub const IDLE_CONFIRM: Duration = Duration::from_secs(2);

impl std::fmt::Debug for ChangeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeReader")
            .field("source", &self.source_name)
            .finish_non_exhaustive()
    }
}

fn server_error(source_name: &str, e: &mongodb::error::Error) -> FollowError {
    if let ErrorKind::Command(c) = e.kind.as_ref() {
        if HISTORY_LOST.contains(&c.code) {
            return FollowError::HistoryLost {
                source_name: source_name.to_string(),
                reason: format!("error {} ({}): {}", c.code, c.code_name, c.message),
            };
        }
    }
    FollowError::Source {
        source_name: source_name.to_string(),
        reason: e.to_string(),
    }
}

impl ChangeReader {
    /// Opens the change stream of `database` after `token`, looking up the whole document of
    /// every update.
    pub async fn open(
        uri: &str,
        database: &str,
        token: &serde_json::Value,
    ) -> Result<ChangeReader, FollowError> {
        let source_name = format!("MongoDB database `{database}`");
        let unreadable = |reason: String| FollowError::Source {
            source_name: source_name.clone(),
            reason,
        };
        let token_bson = Bson::try_from(token.clone()).map_err(|e| {
            unreadable(format!(
                "the recorded resume token is not Extended JSON: {e}"
            ))
        })?;
        let resume: ResumeToken = bson::deserialize_from_bson(token_bson)
            .map_err(|e| unreadable(format!("the recorded resume token is unreadable: {e}")))?;
        let client = Client::with_uri_str(uri)
            .await
            .map_err(|e| server_error(&source_name, &e))?;
        let stream = client
            .database(database)
            .watch()
            .full_document(FullDocumentType::UpdateLookup)
            .resume_after(resume)
            .batch_size(1000)
            .max_await_time(Duration::from_millis(200))
            .await
            .map_err(|e| server_error(&source_name, &e))?
            .with_type::<RawDocumentBuf>();
        Ok(ChangeReader {
            stream,
            source_name,
            last_token: Some(token.clone()),
            held: None,
        })
    }

    /// Reads up to `max` changes, for at most `wait`; never ends inside a MongoDB transaction
    /// unless `max` is twice exceeded (its changes land in one PostgreSQL transaction).
    pub async fn read(&mut self, max: usize, wait: Duration) -> Result<Read, FollowError> {
        let started = Instant::now();
        let mut read = Read::default();
        loop {
            let next = self
                .stream
                .next_if_any()
                .await
                .map_err(|e| server_error(&self.source_name, &e))?;
            match next {
                Some(event) => {
                    let change = parse(&event).map_err(|reason| FollowError::Source {
                        source_name: self.source_name.clone(),
                        reason: format!("unreadable change event: {reason}"),
                    })?;
                    let stop = matches!(change.what, What::Stop { .. });
                    self.last_token = Some(change.token.clone());
                    self.held = None;
                    read.changes.push(change);
                    if stop {
                        return Ok(read);
                    }
                    let full = read.changes.len() >= max && !self.inside_transaction(&read);
                    if full || read.changes.len() >= max * 2 {
                        return Ok(read);
                    }
                }
                None => {
                    read.at_head = true;
                    if read.changes.is_empty() {
                        let now = self.stream.resume_token().map(|t| token_json(&t));
                        read.idle_token = self.idle(now);
                    }
                    if !read.changes.is_empty() || started.elapsed() >= wait {
                        return Ok(read);
                    }
                    if read.idle_token.is_some() {
                        return Ok(read);
                    }
                }
            }
            if started.elapsed() >= wait
                && !read.changes.is_empty()
                && !self.inside_transaction(&read)
            {
                return Ok(read);
            }
        }
    }

    /// The post-batch token to record while no change arrives (see `hold`).
    fn idle(&mut self, now: Option<serde_json::Value>) -> Option<serde_json::Value> {
        hold(&mut self.held, &mut self.last_token, now, Instant::now())
    }

    /// Whether the last change read is part of a transaction whose next change may follow.
    fn inside_transaction(&self, read: &Read) -> bool {
        read.changes.last().is_some_and(|c| c.transaction.is_some())
    }
}

/// The post-batch token to record at `at`: the one `held` since at least `IDLE_CONFIRM`, if any;
/// `now` (the stream's token, when it is not `last` already) is held in its place.
fn hold(
    held: &mut Option<(serde_json::Value, Instant)>,
    last: &mut Option<serde_json::Value>,
    now: Option<serde_json::Value>,
    at: Instant,
) -> Option<serde_json::Value> {
    let now = now.filter(|t| Some(t) != last.as_ref())?;
    match held.take() {
        None => {
            *held = Some((now, at));
            None
        }
        Some((token, since)) if at.saturating_duration_since(since) >= IDLE_CONFIRM => {
            if now != token {
                *held = Some((now, at));
            }
            *last = Some(token.clone());
            Some(token)
        }
        Some(waiting) => {
            *held = Some(waiting);
            None
        }
    }
}

/// A change event as the follow needs it.
fn parse(event: &RawDocument) -> Result<Change, String> {
    let get = |key: &str| event.get(key).map_err(|e| format!("`{key}`: {e}"));
    let token = match get("_id")? {
        Some(value) => Bson::try_from(value)
            .map_err(|e| format!("`_id`: {e}"))?
            .into_canonical_extjson(),
        None => return Err("no `_id` (resume token)".into()),
    };
    let cluster_time = match get("clusterTime")? {
        Some(bson::RawBsonRef::Timestamp(t)) => Some(ClusterTime {
            seconds: t.time,
            increment: t.increment,
        }),
        _ => None,
    };
    let wall_ms = match get("wallTime")? {
        Some(bson::RawBsonRef::DateTime(d)) => Some(d.timestamp_millis()),
        _ => None,
    };
    let transaction = match (get("lsid")?, get("txnNumber")?) {
        (Some(bson::RawBsonRef::Document(lsid)), Some(number)) => {
            let number = match number {
                bson::RawBsonRef::Int64(n) => n,
                bson::RawBsonRef::Int32(n) => i64::from(n),
                _ => 0,
            };
            Some((lsid.as_bytes().to_vec(), number))
        }
        _ => None,
    };
    let operation = match get("operationType")? {
        Some(bson::RawBsonRef::String(s)) => s.to_string(),
        _ => return Err("no `operationType`".into()),
    };
    let collection = match get("ns")? {
        Some(bson::RawBsonRef::Document(ns)) => match ns.get("coll") {
            Ok(Some(bson::RawBsonRef::String(c))) => Some(c.to_string()),
            _ => None,
        },
        _ => None,
    };
    let id = match get("documentKey")? {
        Some(bson::RawBsonRef::Document(key)) => match key.get("_id") {
            Ok(Some(id)) => {
                Some(Bson::try_from(id).map_err(|e| format!("`documentKey._id`: {e}"))?)
            }
            _ => None,
        },
        _ => None,
    };
    let full = match get("fullDocument")? {
        Some(bson::RawBsonRef::Document(d)) => Some(d.to_owned()),
        _ => None,
    };
    let named = |what: &str| match &collection {
        Some(c) => format!("collection `{c}` {what}"),
        None => format!("the database {what}"),
    };
    let (dropped, renamed) = (named("was dropped"), named("was renamed"));
    let renamed_to = match get("to")? {
        Some(bson::RawBsonRef::Document(to)) => match to.get("coll") {
            Ok(Some(bson::RawBsonRef::String(c))) => Some(c.to_string()),
            _ => None,
        },
        _ => None,
    };
    let all = || vec![super::recopy::ALL.to_string()];
    let concerned: Vec<String> = match &collection {
        Some(c) => std::iter::once(c.clone()).chain(renamed_to).collect(),
        None => all(),
    };
    let what = match (operation.as_str(), collection, id) {
        ("insert" | "update" | "replace", Some(collection), Some(id)) => match full {
            Some(doc) => What::Upsert {
                collection,
                id,
                doc,
            },
            None => What::Delete { collection, id },
        },
        ("delete", Some(collection), Some(id)) => What::Delete { collection, id },
        ("drop", _, _) => What::Stop {
            reason: dropped,
            recopy: concerned,
        },
        ("rename", _, _) => What::Stop {
            reason: renamed,
            recopy: concerned,
        },
        ("dropDatabase", _, _) => What::Stop {
            reason: "the database was dropped".into(),
            recopy: all(),
        },
        ("invalidate", _, _) => What::Stop {
            reason: "the change stream was invalidated".into(),
            recopy: all(),
        },
        _ => What::Nothing,
    };
    Ok(Change {
        token,
        cluster_time,
        wall_ms,
        transaction,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(doc: bson::Document) -> Change {
        let raw = RawDocumentBuf::try_from(&doc).expect("a document");
        parse(&raw).expect("a change")
    }

    #[test]
    fn an_idle_token_is_recorded_only_once_it_has_stood() {
        let t = |n: u32| serde_json::json!({ "_data": format!("{n:04}") });
        let start = Instant::now();
        let after = |ms: u64| start + Duration::from_millis(ms);
        let (mut held, mut last) = (None, Some(t(1)));
        // The stream's own position again: nothing to record, nothing held.
        assert_eq!(hold(&mut held, &mut last, Some(t(1)), after(0)), None);
        assert!(held.is_none());
        // A newer token is held, not recorded, until it has stood `IDLE_CONFIRM`.
        assert_eq!(hold(&mut held, &mut last, Some(t(2)), after(0)), None);
        assert_eq!(hold(&mut held, &mut last, Some(t(3)), after(1_000)), None);
        assert_eq!(
            hold(&mut held, &mut last, Some(t(3)), after(2_000)),
            Some(t(2))
        );
        assert_eq!(last, Some(t(2)));
        // The newest token is held in its place, from when it was first seen then.
        assert_eq!(hold(&mut held, &mut last, Some(t(3)), after(3_999)), None);
        assert_eq!(
            hold(&mut held, &mut last, Some(t(3)), after(4_000)),
            Some(t(3))
        );
        assert!(held.is_none());
        assert_eq!(hold(&mut held, &mut last, None, after(9_000)), None);
    }

    #[test]
    fn events_become_changes() {
        let token = doc! {"_data": "00"};
        let ns = doc! {"db": "app", "coll": "orders"};
        let time = bson::Timestamp {
            time: 5,
            increment: 2,
        };
        let upsert = event(
            doc! {"_id": token.clone(), "operationType": "update", "clusterTime": time,
            "ns": ns.clone(), "documentKey": {"_id": 1}, "fullDocument": {"_id": 1, "x": 2}},
        );
        assert!(
            matches!(&upsert.what, What::Upsert { collection, id: Bson::Int32(1), .. } if collection == "orders")
        );
        assert_eq!(
            upsert.cluster_time,
            Some(ClusterTime {
                seconds: 5,
                increment: 2
            })
        );
        assert_eq!(upsert.token, serde_json::json!({"_data": "00"}));
        // An update whose document was gone when the server looked it up: the document is gone.
        let gone = event(
            doc! {"_id": token.clone(), "operationType": "update", "ns": ns.clone(),
            "documentKey": {"_id": 1}, "fullDocument": null},
        );
        assert!(matches!(gone.what, What::Delete { .. }));
        let in_transaction = event(
            doc! {"_id": token.clone(), "operationType": "delete", "ns": ns.clone(),
            "documentKey": {"_id": 1}, "lsid": {"id": 1}, "txnNumber": 4_i64},
        );
        assert_eq!(in_transaction.transaction.map(|t| t.1), Some(4));
        for (operation, says) in [
            ("drop", "collection `orders` was dropped"),
            ("rename", "collection `orders` was renamed"),
            ("invalidate", "the change stream was invalidated"),
        ] {
            let stop =
                event(doc! {"_id": token.clone(), "operationType": operation, "ns": ns.clone()});
            assert!(
                matches!(&stop.what, What::Stop { reason, recopy } if reason == says
                    && recopy == &[if operation == "invalidate" { "*" } else { "orders" }]),
                "{operation}"
            );
        }
        let index = event(doc! {"_id": token, "operationType": "createIndexes", "ns": ns});
        assert!(matches!(index.what, What::Nothing));
    }
}
