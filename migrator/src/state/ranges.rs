//! The partitions of a collection as the state records them: planned before any is read, cut
//! short or merged while they are read, each change in one transaction before anything reads
//! what it gives a reader.

use sqlx::{Connection, PgConnection};

use super::StateStore;
use crate::run_error::RunError;
use crate::sink::sql;
use crate::source::{Partition, Position, SourceStamp};

impl StateStore {
    /// Records a collection's partitions, none of them started, and what its source was when
    /// they were planned (if the source can say), in one transaction.
    pub async fn plan_partitions(
        &self,
        conn: &mut PgConnection,
        collection: &str,
        partitions: &[Partition],
        stamp: Option<&SourceStamp>,
    ) -> Result<(), RunError> {
        let failed = || RunError::db(format!("recording the partitions of `{collection}`"));
        let mut tx = conn.begin().await.map_err(failed())?;
        // The load waits for this commit, not for its flush: the WAL is flushed in order, so a
        // server crash that loses it loses every batch of these partitions with it (they commit
        // after it), and the resume plans the collection again.
        sqlx::query(sql::ASYNC_COMMIT_LOCAL)
            .execute(&mut *tx)
            .await
            .map_err(failed())?;
        for partition in partitions {
            let bounds = serde_json::to_value(partition)
                .map_err(|e| RunError::Internal(format!("unwritable partition: {e}")))?;
            let start = serde_json::to_value(Position::Start)
                .map_err(|e| RunError::Internal(format!("unwritable position: {e}")))?;
            sqlx::query(&sql::insert_planned_checkpoint(&self.schema))
                .bind(collection)
                .bind(i32::try_from(partition.index).unwrap_or(i32::MAX))
                .bind(bounds)
                .bind(start)
                .execute(&mut *tx)
                .await
                .map_err(failed())?;
        }
        if let Some(stamp) = stamp {
            let stamp = serde_json::to_value(stamp)
                .map_err(|e| RunError::Internal(format!("unwritable source stamp: {e}")))?;
            sqlx::query(&sql::record_source_stamp(&self.schema))
                .bind(collection)
                .bind(stamp)
                .execute(&mut *tx)
                .await
                .map_err(failed())?;
        }
        tx.commit().await.map_err(failed())
    }

    /// Cuts `narrowed` (a partition being read, with its new end) short and records `cut_off`
    /// (the rest, nothing done yet) in one statement, before anything reads the rest: a resume
    /// finds both. `false` when the partition is done (nothing recorded).
    pub async fn split_partition(
        &self,
        conn: &mut PgConnection,
        collection: &str,
        narrowed: &Partition,
        cut_off: &Partition,
    ) -> Result<bool, RunError> {
        let unwritable =
            |e: serde_json::Error| RunError::Internal(format!("unwritable partition: {e}"));
        let narrowed_bounds = serde_json::to_value(narrowed).map_err(unwritable)?;
        let cut_off_bounds = serde_json::to_value(cut_off).map_err(unwritable)?;
        let start = serde_json::to_value(Position::Start).map_err(unwritable)?;
        let index = |p: &Partition| i32::try_from(p.index).unwrap_or(i32::MAX);
        let recorded = sqlx::query(&sql::split_partition(&self.schema))
            .bind(collection)
            .bind(index(narrowed))
            .bind(narrowed_bounds)
            .bind(index(cut_off))
            .bind(cut_off_bounds)
            .bind(start)
            .fetch_optional(&mut *conn)
            .await
            .map_err(RunError::db(format!(
                "recording partition {} of `{collection}` cut off from partition {}",
                cut_off.index, narrowed.index
            )))?;
        Ok(recorded.is_some())
    }

    /// Merges the partitions `merged` (none of them started) into `widened` (a partition being
    /// read, with its new end), in one transaction fenced by the run's epoch, before the reader
    /// of `widened` reads into them: a resume finds either all of them or the wider one.
    /// `false` (nothing recorded) when `widened` is done, one of `merged` is not untouched, or
    /// another run holds the target.
    pub async fn merge_partitions(
        &self,
        conn: &mut PgConnection,
        collection: &str,
        widened: &Partition,
        merged: &[u32],
    ) -> Result<bool, RunError> {
        let failed = || {
            RunError::db(format!(
                "recording partitions {merged:?} of `{collection}` merged into partition {}",
                widened.index
            ))
        };
        let bounds = serde_json::to_value(widened)
            .map_err(|e| RunError::Internal(format!("unwritable partition: {e}")))?;
        let indexes: Vec<i32> = merged
            .iter()
            .map(|&i| i32::try_from(i).unwrap_or(i32::MAX))
            .collect();
        let mut tx = conn.begin().await.map_err(failed())?;
        // As for the plan: the reader's batches commit after this, so a crash that loses it
        // loses them too.
        sqlx::query(sql::ASYNC_COMMIT_LOCAL)
            .execute(&mut *tx)
            .await
            .map_err(failed())?;
        let (deleted, widened_rows): (i64, i64) =
            sqlx::query_as(&sql::merge_partitions(&self.schema))
                .bind(collection)
                .bind(i32::try_from(widened.index).unwrap_or(i32::MAX))
                .bind(&indexes)
                .bind(bounds)
                .bind(self.epoch())
                .fetch_one(&mut *tx)
                .await
                .map_err(failed())?;
        if widened_rows != 1 || deleted != indexes.len() as i64 {
            tx.rollback().await.map_err(failed())?;
            return Ok(false);
        }
        tx.commit().await.map_err(failed())?;
        Ok(true)
    }
}
