//! Listing a live database's collections with their document counts, each count bounded in
//! time.
//!
//! The counts serve the progress display's totals, the load's order (largest first) and the
//! planner's first measure of what a query costs the server. A server with collection
//! statistics (MongoDB) answers each in a round trip; a server without them reads the whole
//! collection to count it (SecantusDB), which for a large collection costs a good share of the
//! read that follows. So each count is asked with a time limit ([`COUNT_LIMIT`], `maxTimeMS`):
//! a count the server stops at the limit leaves the collection's total unknown, and says that
//! the server reads to count (the planner then reads the collection through one cursor without
//! asking anything more).

use std::time::{Duration, Instant};

use bson::RawDocumentBuf;
use mongodb::action::Action;
use mongodb::error::ErrorKind;
use mongodb::results::CollectionType;

use super::conn::Conn;
use crate::source::{CollectionInfo, SourceError};

/// The longest the server may take over one collection's count: far more than any server that
/// keeps counts needs (a round trip), far less than reading a large collection takes.
pub(super) const COUNT_LIMIT: Duration = Duration::from_millis(50);

/// The server's code for an operation stopped at its `maxTimeMS`.
const MAX_TIME_EXPIRED: i32 = 50;

/// One collection as listed, and how long its count took (the limit, when stopped there:
/// `estimated_documents` is then `None`).
pub(super) type Listed = (CollectionInfo, Duration);

/// The collections (not views, not `system.*`), each counted within `limit` (if any), in no
/// particular order. The counts are asked all at once: one round trip's wait, not one per
/// collection.
pub(super) fn list(conn: &Conn, limit: Option<Duration>) -> Result<Vec<Listed>, SourceError> {
    let db = conn.db.clone();
    conn.run(async move {
        let mut specs = db.list_collections().await?;
        let mut counts = tokio::task::JoinSet::new();
        while specs.advance().await? {
            let spec = specs.deserialize_current()?;
            if spec.collection_type == CollectionType::Collection
                && !spec.name.starts_with("system.")
            {
                let coll = db.collection::<RawDocumentBuf>(&spec.name);
                counts.spawn(async move {
                    let started = Instant::now();
                    let counting = coll.estimated_document_count();
                    let count = match counting.optional(limit, |c, l| c.max_time(l)).await {
                        Ok(count) => Some(count),
                        Err(e) if stopped_at_limit(&e) => None,
                        Err(e) => {
                            let reason = format!("counting `{}`: {e}", spec.name);
                            return Err(std::io::Error::other(reason).into());
                        }
                    };
                    let info = CollectionInfo {
                        name: spec.name,
                        estimated_documents: count,
                        bytes_on_disk: None,
                    };
                    mongodb::error::Result::Ok((info, started.elapsed()))
                });
            }
        }
        let mut infos = Vec::new();
        while let Some(info) = counts.join_next().await {
            let info = info.map_err(|e| {
                std::io::Error::other(format!("counting a collection's documents: {e}"))
            })?;
            infos.push(info?);
        }
        Ok(infos)
    })
}

fn stopped_at_limit(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == MAX_TIME_EXPIRED)
}
