//! Reading one partition in `_id` order, one `find` per batch.

use std::collections::VecDeque;
use std::sync::Arc;

use bson::spec::ElementType;
use bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::{Collection, Cursor};

use super::conn::{Conn, Pending};
use super::meter::ReadMeter;
use crate::source::{Position, Positioned, RangeClaim, SourceError};

/// BSON's comparison order groups some types: all numbers compare as numbers, strings with
/// symbols, null with undefined.
fn type_class(value: &Bson) -> u8 {
    match value.element_type() {
        ElementType::Double | ElementType::Int32 | ElementType::Int64 | ElementType::Decimal128 => {
            ElementType::Double as u8
        }
        ElementType::Symbol => ElementType::String as u8,
        ElementType::Undefined => ElementType::Null as u8,
        other => other as u8,
    }
}

/// The smallest (`direction` 1) or largest (-1) `_id` of a collection.
pub(super) async fn edge_id(
    coll: Collection<RawDocumentBuf>,
    direction: i32,
) -> mongodb::error::Result<Option<Bson>> {
    let mut cursor = coll
        .find(doc! {})
        .sort(doc! {"_id": direction})
        .projection(doc! {"_id": 1})
        .limit(1)
        .await?;
    if !cursor.advance().await? {
        return Ok(None);
    }
    Ok(cursor
        .current()
        .get("_id")
        .ok()
        .flatten()
        .and_then(|id| Bson::try_from(id).ok()))
}

/// Whether every `_id` (and the resume point) compares within one type class.
pub(super) fn single_class(
    first: &Option<Bson>,
    last: &Option<Bson>,
    extra: Option<&Bson>,
) -> bool {
    one_class([first.as_ref(), last.as_ref(), extra].into_iter().flatten())
}

/// Whether all these values compare within one type class.
fn one_class<'a>(values: impl Iterator<Item = &'a Bson>) -> bool {
    let classes: Vec<u8> = values.map(type_class).collect();
    classes.windows(2).all(|w| w[0] == w[1])
}

pub(super) async fn collect(
    mut cursor: mongodb::Cursor<RawDocumentBuf>,
) -> mongodb::error::Result<Vec<RawDocumentBuf>> {
    let mut docs = Vec::new();
    while cursor.advance().await? {
        docs.push(cursor.current().to_owned());
    }
    Ok(docs)
}

/// A partition's `_id` bounds.
#[derive(Debug, Clone)]
pub(super) struct IdRange {
    pub(super) min: Option<Bson>,
    pub(super) max: Option<Bson>,
    /// Compare with `$expr` (total BSON order) instead of the type-bracketed operators.
    pub(super) expr: bool,
}

impl IdRange {
    /// `min <= _id < max` and `_id > after`.
    pub(super) fn filter(&self, after: Option<&Bson>) -> Document {
        let conditions = [
            ("$gte", self.min.as_ref()),
            ("$lt", self.max.as_ref()),
            ("$gt", after),
        ];
        let conditions = conditions
            .into_iter()
            .filter_map(|(op, v)| v.map(|v| (op, v.clone())));
        if self.expr {
            let all: Vec<Document> = conditions
                .map(|(op, v)| doc! {op: ["$_id", {"$literal": v}]})
                .collect();
            if all.is_empty() {
                doc! {}
            } else {
                doc! {"$expr": {"$and": all}}
            }
        } else {
            let range: Document = conditions.map(|(op, v)| (op.to_string(), v)).collect();
            if range.is_empty() {
                doc! {}
            } else {
                doc! {"_id": range}
            }
        }
    }
}

/// A batch and the cursor to read the next one from (`None` once the query is done).
type Batch = (Option<Cursor<RawDocumentBuf>>, Vec<RawDocumentBuf>);

/// Up to `n` documents from `cursor`.
async fn read_batch(mut cursor: Cursor<RawDocumentBuf>, n: u32) -> mongodb::error::Result<Batch> {
    let mut docs = Vec::with_capacity(n as usize);
    while docs.len() < n as usize && cursor.advance().await? {
        docs.push(cursor.current().to_owned());
    }
    let more = docs.len() == n as usize;
    Ok((more.then_some(cursor), docs))
}

/// The batch being read ahead, and whether it comes from a new query (whose failure is final)
/// or from an open cursor (whose failure is retried once by a new query).
#[derive(Debug)]
struct Ahead {
    batch: Pending<Batch>,
    fresh: bool,
}

/// One partition read in `_id` order through one cursor, `batch_size` documents at a time.
///
/// The next batch is asked for as soon as one arrives, so the server reads it while this one is
/// handed out. A cursor that goes away (the server times out an idle one while the pipeline is
/// stalled, or a connection drops) is replaced by the same query from the last `_id` handed
/// out, which is also what a resume asks. One cursor rather than one `find` per batch: a server
/// without an efficient `_id` range scan then reads each partition once instead of once per
/// batch.
#[derive(Debug)]
pub(super) struct IdOrderStream {
    conn: Conn,
    coll: Collection<RawDocumentBuf>,
    range: IdRange,
    /// The last `_id` handed out (or the resume point).
    after: Option<Bson>,
    batch_size: u32,
    buffer: VecDeque<RawDocumentBuf>,
    ahead: Option<Ahead>,
    exhausted: bool,
    /// Whether `range.expr` was worked out (from the collection's edges, on first need).
    expr_known: bool,
    /// Through which each `_id` is claimed before it is handed out: the load may cut the rest
    /// of the range off (see [`RangeClaim`]).
    claim: Option<Arc<RangeClaim>>,
    /// Where what the reader waits for the server is summed for the run.
    meter: Option<Arc<ReadMeter>>,
}

impl IdOrderStream {
    /// Reads `coll` within `range`, after `after` when resuming.
    pub(super) fn new(
        conn: Conn,
        coll: Collection<RawDocumentBuf>,
        range: IdRange,
        after: Option<Bson>,
        batch_size: u32,
    ) -> Self {
        IdOrderStream {
            conn,
            coll,
            range,
            after,
            batch_size,
            buffer: VecDeque::new(),
            ahead: None,
            exhausted: false,
            expr_known: false,
            claim: None,
            meter: None,
        }
    }

    /// Adds what the reader waits for the server to `meter`.
    pub(super) fn metered(mut self, meter: Arc<ReadMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Claims each `_id` through `claim` before handing it out.
    pub(super) fn claimed(mut self, claim: Arc<RangeClaim>) -> Self {
        self.claim = Some(claim);
        self
    }

    /// Decides between operators and `$expr` before the first query with a filter: operators
    /// only if every `_id` the query can meet compares within one type class. Between two
    /// bounds of one class only that class sorts, so a bounded range needs no lookup; an open
    /// end needs the collection's smallest or largest `_id` on that side.
    fn decide_expr(&mut self) -> Result<(), SourceError> {
        let (min, max) = (self.range.min.clone(), self.range.max.clone());
        if self.expr_known || (min.is_none() && max.is_none() && self.after.is_none()) {
            return Ok(());
        }
        let coll = self.coll.clone();
        let (first, last) = self.conn.run(async move {
            let first = match min {
                None => edge_id(coll.clone(), 1).await?,
                Some(_) => None,
            };
            let last = match max {
                None => edge_id(coll, -1).await?,
                Some(_) => None,
            };
            Ok((first, last))
        })?;
        let known = [
            first.as_ref(),
            last.as_ref(),
            self.range.min.as_ref(),
            self.range.max.as_ref(),
            self.after.as_ref(),
        ];
        self.range.expr = !one_class(known.into_iter().flatten());
        self.expr_known = true;
        Ok(())
    }

    /// Starts the query from the last `_id` handed out; its first batch is read ahead.
    fn query(&mut self) -> Result<Ahead, SourceError> {
        // A range cut short while it was read asks only for what is left of it; one with
        // ranges reserved after it reads on through them (see [`RangeClaim::reserve`]).
        if let Some(claim) = &self.claim {
            self.range.max = claim.reach();
        }
        self.decide_expr()?;
        let filter = self.range.filter(self.after.as_ref());
        let coll = self.coll.clone();
        let n = self.batch_size;
        let batch = self.conn.spawn(async move {
            let cursor = coll
                .find(filter)
                .sort(doc! {"_id": 1})
                .batch_size(n)
                .await?;
            read_batch(cursor, n).await
        });
        Ok(Ahead { batch, fresh: true })
    }

    /// Waits for the batch read ahead (starting the query if none is) and reads the next one
    /// ahead. A failed open cursor is replaced by a new query, once.
    fn next_batch(&mut self) -> Result<(), SourceError> {
        let ahead = match self.ahead.take() {
            Some(ahead) => ahead,
            None => self.query()?,
        };
        let asked = std::time::Instant::now();
        let fresh = ahead.fresh;
        let waited = self.wait(ahead.batch);
        let waited_for = asked.elapsed();
        if let Some(claim) = &self.claim {
            claim.waited(waited_for);
        }
        let (cursor, docs) = match waited {
            Ok(batch) => batch,
            Err(_) if !ahead.fresh => {
                let again = self.query()?;
                self.wait(again.batch)?
            }
            Err(e) => return Err(e),
        };
        // A query's first answer pays for starting it too.
        if let (Some(meter), false) = (&self.meter, fresh) {
            meter.add(docs.len(), waited_for);
        }
        self.buffer = docs.into();
        match cursor {
            Some(cursor) => {
                let n = self.batch_size;
                self.ahead = Some(Ahead {
                    batch: self.conn.spawn(read_batch(cursor, n)),
                    fresh: false,
                });
            }
            None => self.exhausted = true,
        }
        Ok(())
    }

    /// The batch, or the error naming the collection it was read from.
    fn wait(&self, batch: Pending<Batch>) -> Result<Batch, SourceError> {
        batch.wait(&self.conn.name).map_err(|e| match e {
            SourceError::Server {
                source_name,
                reason,
            } => SourceError::Server {
                source_name,
                reason: format!("reading `{}`: {reason}", self.coll.name()),
            },
            other => other,
        })
    }

    fn positioned(&mut self, doc: RawDocumentBuf) -> Result<Positioned, SourceError> {
        let id = doc
            .get("_id")
            .ok()
            .flatten()
            .and_then(|id| Bson::try_from(id).ok())
            .ok_or_else(|| SourceError::Server {
                source_name: self.conn.name.clone(),
                reason: format!(
                    "`{}` returned a document without a readable `_id`",
                    self.coll.name()
                ),
            })?;
        let next = Position::after_id(&id);
        self.after = Some(id);
        Ok(Positioned { doc, next })
    }

    /// Whether the document with this `_id` is still the range's (the load may have cut the
    /// range short); ends the stream if not.
    fn still_ours(&mut self, doc: &RawDocumentBuf) -> bool {
        let Some(claim) = &self.claim else {
            return true;
        };
        let id = doc
            .get("_id")
            .ok()
            .flatten()
            .and_then(|id| Bson::try_from(id).ok());
        // A document without a readable `_id` is handed on to fail as such.
        if id.is_none_or(|id| claim.claim(&id)) {
            return true;
        }
        self.exhausted = true;
        self.buffer.clear();
        self.ahead = None;
        false
    }
}

impl IdOrderStream {
    /// Ends the stream after an error: nothing more is read, and no range reserved after this
    /// one is merged into it (the query did not read through them).
    fn failed(&mut self) {
        self.exhausted = true;
        self.buffer.clear();
        if let Some(claim) = self.claim.take() {
            claim.close();
        }
    }
}

impl Iterator for IdOrderStream {
    type Item = Result<Positioned, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.exhausted {
            if let Err(e) = self.next_batch() {
                self.failed();
                return Some(Err(e));
            }
        }
        let Some(doc) = self.buffer.pop_front() else {
            if let Some(claim) = self.claim.take() {
                claim.finish(&self.range.max);
            }
            return None;
        };
        if !self.still_ours(&doc) {
            return None;
        }
        let item = self.positioned(doc);
        if item.is_err() {
            self.failed();
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_use_operators_or_expr() {
        let range = |expr| IdRange {
            min: Some(Bson::Int32(10)),
            max: Some(Bson::Int32(20)),
            expr,
        };
        let cases = [
            (
                IdRange {
                    min: None,
                    max: None,
                    expr: false,
                },
                None,
                doc! {},
            ),
            (
                IdRange {
                    min: None,
                    max: None,
                    expr: true,
                },
                Some(Bson::Int32(3)),
                doc! {"$expr": {"$and": [{"$gt": ["$_id", {"$literal": 3}]}]}},
            ),
            (range(false), None, doc! {"_id": {"$gte": 10, "$lt": 20}}),
            (
                range(false),
                Some(Bson::Int32(12)),
                doc! {"_id": {"$gte": 10, "$lt": 20, "$gt": 12}},
            ),
            (
                range(true),
                None,
                doc! {"$expr": {"$and": [{"$gte": ["$_id", {"$literal": 10}]}, {"$lt": ["$_id", {"$literal": 20}]}]}},
            ),
        ];
        for (range, after, expected) in cases {
            assert_eq!(
                range.filter(after.as_ref()),
                expected,
                "{range:?} {after:?}"
            );
        }
    }

    #[test]
    fn type_classes_follow_bson_comparison() {
        let cases = [
            (Bson::Int32(1), Bson::Double(2.5), true),
            (Bson::Int64(1), Bson::Int32(1), true),
            (Bson::String("a".into()), Bson::Int32(1), false),
            (Bson::Null, Bson::Undefined, true),
            (
                Bson::ObjectId(bson::oid::ObjectId::new()),
                Bson::String("a".into()),
                false,
            ),
        ];
        for (a, b, same) in cases {
            assert_eq!(
                single_class(&Some(a.clone()), &Some(b.clone()), None),
                same,
                "{a:?} {b:?}"
            );
            assert_eq!(
                single_class(&Some(a.clone()), &None, Some(&b)),
                same,
                "{a:?} {b:?}"
            );
        }
    }
}
