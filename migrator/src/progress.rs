//! Progress events. The library only emits them; the binary draws bars or prints lines.

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The source's collections were listed: the documents they hold in total, if it knows.
    Listed { estimated_documents: Option<u64> },
    /// A collection starts (or resumes) loading.
    CollectionStarted {
        collection: String,
        partitions: usize,
        /// Documents the source expects in total, if it knows.
        estimated: Option<u64>,
        /// Documents already committed by an earlier, interrupted run.
        already_done: u64,
    },
    /// A batch committed.
    BatchCommitted {
        collection: String,
        partition: u32,
        documents: u64,
        rows: u64,
        dead_letters: u64,
        retries: u32,
    },
    /// Every partition of a collection is done.
    CollectionFinished { collection: String },
    /// A stage after the load begins (`references`, `constraints`, `validate`).
    Stage { name: String },
    /// A note worth showing (a retry, a resolved reference policy).
    Note { message: String },
}

impl Event {
    /// [`Event::Listed`] for these collections (the sum of the estimates known).
    pub fn listed(collections: &[crate::source::CollectionInfo]) -> Event {
        Event::Listed {
            estimated_documents: collections
                .iter()
                .filter_map(|c| c.estimated_documents)
                .reduce(|a, b| a + b),
        }
    }
}

/// Receives events; must be cheap (called from the run loop).
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _event: &Event) {}
}
