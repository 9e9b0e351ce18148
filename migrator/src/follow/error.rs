//! Why a follow stops: the errors it reports, and the change that stopped it.

use super::recopy;
use crate::run_error::RunError;

/// Why a follow could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{source_name}: {reason}")]
    Source { source_name: String, reason: String },
    #[error("the run in `{state}` is at stage `{stage}`: a follow starts after the load and the constraints; run `migrate` to finish it first")]
    NotFinished { state: String, stage: String },
    #[error("the run in `{state}` recorded no change stream start point (its source was not a live replica set, or the run was made before follows existed): migrate again with --restart from the live source")]
    NoStartPoint { state: String },
    #[error("{source_name} no longer has the changes after the recorded point ({reason}): the target cannot be brought up to date from the stream; run `follow --recopy` to copy every collection again and go on, or migrate again with --restart (the server's history, its oplog, must cover the copy and the follow)")]
    HistoryLost { source_name: String, reason: String },
    /// An oplog replay's file, or one of its entries, that cannot be replayed.
    #[error("{file}: {reason}")]
    Oplog { file: String, reason: String },
    #[error("a follow cannot follow {what}")]
    Unsupported { what: String },
    #[error("the follow stopped: {reason}, at resume token {token}. The tables of {} no longer follow the source: run `follow --recopy` to copy {} again from the source and go on following", concerned(&stop.recopy), concerned(&stop.recopy))]
    Stopped {
        reason: String,
        token: serde_json::Value,
        stop: Box<StopAt>,
    },
}

/// The change that stopped a follow, and the collections to copy again (`*`: all).
#[derive(Debug, Clone, PartialEq)]
pub struct StopAt {
    pub token: serde_json::Value,
    pub recopy: Vec<String>,
}

/// `collection `a`, `b`` or `every collection`, for messages.
fn concerned(recopy: &[String]) -> String {
    if recopy.iter().any(|c| c == recopy::ALL) {
        return "every collection".into();
    }
    let names: Vec<String> = recopy.iter().map(|c| format!("`{c}`")).collect();
    format!("collection {}", names.join(", "))
}
