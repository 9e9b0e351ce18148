//! The example application's change workload ([`schema::generator::changes`]) on a thread of its
//! own, writing to a test's database on the Mongo-wire server while a copy or a follow runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use schema::generator::changes::writer::{ChangeWriter, Pace, Written};
use schema::generator::changes::ChangePlan;
use schema::generator::Generator;

use crate::example::chain;

/// A workload running until [`ExampleChanges::stop`].
#[derive(Debug)]
pub struct ExampleChanges {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<(Written, ChangePlan)>>,
}

impl ExampleChanges {
    /// Starts changing `database` at `uri` (the data `generator` made) at `pace`, under workload
    /// seed `seed`.
    pub fn start(
        uri: &str,
        database: &str,
        generator: &Generator,
        seed: u64,
        pace: Pace,
    ) -> ExampleChanges {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let (uri, database) = (uri.to_string(), database.to_string());
        let mut plan = ChangePlan::new(generator, seed);
        let thread = {
            let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the workload");
                let written = runtime.block_on(async {
                    let writer = ChangeWriter::connect(&uri, &database).await?;
                    writer
                        .run(&mut plan, &pace, &stop, |w| {
                            done.store(w.changes, Ordering::SeqCst);
                        })
                        .await
                });
                let written =
                    written.unwrap_or_else(|e| panic!("the change workload failed: {}", chain(&e)));
                (written, plan)
            })
        };
        ExampleChanges {
            stop,
            done,
            thread: Some(thread),
        }
    }

    /// Changes made so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Stops it; returns what it wrote (every change acknowledged) and the plan (what it left
    /// invalid).
    pub fn stop(mut self) -> (Written, ChangePlan) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("a running workload")
            .join()
            .expect("the workload thread")
    }
}

impl Drop for ExampleChanges {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
