//! The follow's recorded position and counters (`<state>.follow`), for the follow itself and
//! for `status`.

use sqlx::{PgConnection, Row};

use crate::run_error::RunError;
use crate::sink::sql;
use crate::source::ClusterTime;
use crate::state::StateStore;

/// The follow's row: where it resumes and what it applied in all.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowState {
    /// The start point recorded with the run, before the copy.
    pub start: serde_json::Value,
    /// The resume token after the last change applied (the start point's at first).
    pub token: serde_json::Value,
    /// The cluster time of the last change applied (of the start point at first).
    pub cluster_time: Option<ClusterTime>,
    pub applied: i64,
    pub upserted: i64,
    pub deleted: i64,
    pub dead_letters: i64,
    pub references_acted: i64,
    pub transactions: i64,
    /// Milliseconds behind the source at the last commit (0: at the head of the stream).
    pub lag_ms: Option<i64>,
    /// Changes per second at the last commit.
    pub rate: Option<f64>,
    /// Why the last follow stopped, if a change stopped it.
    pub stopped: Option<String>,
    pub updated_at: String,
    /// Seconds since the last commit.
    pub seconds_since_update: f64,
    /// The change that stopped the follow (a collection dropped or renamed), and the
    /// collections `follow --recopy` copies again (`*`: all).
    pub stop_token: Option<serde_json::Value>,
    pub recopy: Option<Vec<String>>,
}

impl FollowState {
    /// The follow's row, if the run recorded a start point (`None` also without a state).
    pub async fn read(
        conn: &mut PgConnection,
        state: &StateStore,
    ) -> Result<Option<FollowState>, RunError> {
        let exists: bool = sqlx::query_scalar(sql::TABLE_EXISTS)
            .bind(state.schema())
            .bind("follow")
            .fetch_one(&mut *conn)
            .await
            .map_err(RunError::db("reading the follow's position"))?;
        if !exists {
            return Ok(None);
        }

        let row = sqlx::query(&sql::select_follow(state.schema()))
            .fetch_optional(&mut *conn)
            .await
            .map_err(RunError::db("reading the follow's position"))?;
        Ok(row.map(|row| FollowState {
            start: row.get(0),
            token: row.get(1),
            cluster_time: row.get::<Option<i64>, _>(2).map(ClusterTime::unpacked),
            applied: row.get(3),
            upserted: row.get(4),
            deleted: row.get(5),
            dead_letters: row.get(6),
            references_acted: row.get(7),
            lag_ms: row.get(8),
            rate: row.get(9),
            stopped: row.get(10),
            updated_at: row.get(11),
            seconds_since_update: row.get(12),
            transactions: row.get(13),
            stop_token: row
                .get::<Option<serde_json::Value>, _>(14)
                .filter(|t| !t.is_null()),
            recopy: row
                .get::<Option<serde_json::Value>, _>(15)
                .and_then(|v| serde_json::from_value(v).ok()),
        }))
    }
}
