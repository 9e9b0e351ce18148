//! The tokio runtime a [`super::MongoSource`] owns, and running driver futures on it from
//! blocking code.

use std::future::Future;
use std::sync::Arc;

use bson::RawDocumentBuf;
use mongodb::error::ErrorKind;
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

/// A driver future running on the runtime, its answer not yet taken.
#[derive(Debug)]
pub(super) struct Pending<T>(std::sync::mpsc::Receiver<mongodb::error::Result<T>>);

/// A driver error in one line: a command the server refused as its code, name and message
/// (the driver's own text adds the raw reply in hex).
fn describe(e: &mongodb::error::Error) -> String {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => format!(
            "the server refused the command: error {} ({}): {}",
            c.code, c.code_name, c.message
        ),
        _ => e.to_string(),
    }
}

/// Starts `fut` on the runtime behind `handle` without waiting for it.
pub(super) fn spawn_on<T, F>(handle: &tokio::runtime::Handle, fut: F) -> Pending<T>
where
    T: Send + 'static,
    F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        // The receiver goes away only if its caller no longer wants the answer, which is then
        // dropped wherever it is. A cursor may drop on any thread: the driver hands the
        // killing of an unfinished one to a task of its own.
        let _ = tx.send(fut.await);
    });
    Pending(rx)
}

impl<T> Pending<T> {
    /// Waits for the answer on this thread; `name` names the source in the error.
    pub(super) fn wait(self, name: &str) -> Result<T, SourceError> {
        let server = |reason: String| SourceError::Server {
            source_name: name.to_string(),
            reason,
        };
        match self.0.recv() {
            Ok(result) => result.map_err(|e| server(describe(&e))),
            Err(_) => Err(server(
                "the driver's runtime stopped before answering".into(),
            )),
        }
    }
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
    spawn_on(handle, fut).wait(name)
}

impl Conn {
    pub(super) fn run<T, F>(&self, fut: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
    {
        run_on(&self.handle, &self.name, fut)
    }

    /// Starts `fut` without waiting: [`Pending::wait`] takes its answer.
    pub(super) fn spawn<T, F>(&self, fut: F) -> Pending<T>
    where
        T: Send + 'static,
        F: Future<Output = mongodb::error::Result<T>> + Send + 'static,
    {
        spawn_on(&self.handle, fut)
    }

    pub(super) fn collection(&self, name: &str) -> Collection<RawDocumentBuf> {
        self.db.collection(name)
    }
}
