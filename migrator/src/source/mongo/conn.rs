//! The tokio runtime a [`super::MongoSource`] owns, and running driver futures on it from
//! blocking code.

use std::future::Future;
use std::sync::Arc;

use bson::RawDocumentBuf;
use mongodb::{Collection, Database};

use crate::source::SourceError;

/// The runtime the driver runs on. Dropping it never blocks, so it may happen anywhere.
#[derive(Debug)]
pub(super) struct OwnedRuntime(pub(super) Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// What every operation needs: the database, the runtime, a name for messages.
#[derive(Debug, Clone)]
pub(super) struct Conn {
    // Declared before the runtime so the driver's handles are dropped first.
    pub(super) db: Database,
    pub(super) name: String,
    pub(super) handle: tokio::runtime::Handle,
    pub(super) _runtime: Arc<OwnedRuntime>,
}

/// Runs `fut` on the runtime behind `handle` and waits for it on this thread.
pub(super) fn run_on<T, F>(
    handle: &tokio::runtime::Handle,
    name: &str,
    fut: F,
) -> Result<T, SourceError>
where
    T: Send + 'static,
    F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        // The receiver only goes away if the caller is gone too.
        let _ = tx.send(fut.await);
    });
    let server = |reason: String| SourceError::Server {
        source_name: name.to_string(),
        reason,
    };
    match rx.recv() {
        Ok(result) => result.map_err(|e| server(e.to_string())),
        Err(_) => Err(server(
            "the driver's runtime stopped before answering".into(),
        )),
    }
}

impl Conn {
    pub(super) fn run<T, F>(&self, fut: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
    {
        run_on(&self.handle, &self.name, fut)
    }

    pub(super) fn collection(&self, name: &str) -> Collection<RawDocumentBuf> {
        self.db.collection(name)
    }
}
