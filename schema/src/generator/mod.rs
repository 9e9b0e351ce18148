//! A deterministic data generator for the example application.
//!
//! From a seed and a scale factor (scale 1 is about 100,000 documents over the 26 collections)
//! it streams documents one at a time: document #i of a collection is a pure function of the
//! seed, the scale, the collection and i, and every reference is computed from indexes (see
//! [`population`]), so no collection is ever held in memory and any document can be generated
//! alone. A handful of documents per fault kind are broken on purpose ([`faults`]); the
//! [`manifest`] says which, and how many rows every table must end with. The documents go to a
//! mongodump directory ([`dump`]) or, with the `live` feature, into a live deployment (`mongo`).
//!
//! ```no_run
//! use schema::generator::{Generator, GeneratorConfig};
//!
//! let generator = Generator::new(GeneratorConfig::new(42, 1.0))?;
//! let manifest = schema::generator::dump::write_dump(&generator, "dump/app".as_ref())?;
//! println!("{} faults", manifest.faults.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod changes;
pub mod collection;
pub mod documents;
pub mod dump;
pub mod faults;
pub mod manifest;
#[cfg(feature = "live")]
pub mod mongo;
pub mod population;
mod relations;
pub mod rng;
pub mod text;

use migrator::bson::{oid::ObjectId, Document};

pub use collection::Collection;
pub use faults::{Applied, Fault, FaultConfig, FaultKind, FaultPlan, Stage};
pub use manifest::{Manifest, ManifestBuilder};
use population::Population;
use rng::Streams;

/// Documents per `insert_many` into a live deployment unless told otherwise (`mongo`, with the
/// `live` feature).
pub const DEFAULT_INSERT_BATCH_DOCUMENTS: usize = 1000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    pub scale: f64,
    pub faults: FaultConfig,
}

impl GeneratorConfig {
    /// `seed` and `scale` with the default number of faults for the scale.
    pub fn new(seed: u64, scale: f64) -> Self {
        GeneratorConfig {
            seed,
            scale,
            faults: FaultConfig::scaled(scale),
        }
    }
}

/// A configuration the generator cannot honour.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GeneratorError {
    #[error("scale must be a positive finite number, got {0}")]
    Scale(f64),
    #[error("scale {scale} gives {count} `{collection}` documents; at most 4294967295 fit in an ObjectId's counter")]
    TooLarge {
        scale: f64,
        collection: &'static str,
        count: u64,
    },
}

/// One generated document and what it must become.
#[derive(Debug, Clone)]
pub struct GeneratedDoc {
    pub collection: Collection,
    pub index: u64,
    pub id: ObjectId,
    pub doc: Document,
    /// Rows of the collection's own table (1) and of its junction and child tables, with
    /// junction duplicates collapsed. They land only if the document is not rejected.
    pub rows: Vec<(&'static str, u64)>,
    /// Dangling references kept by their `keep` policy, by `table.column`.
    pub kept: Vec<(&'static str, u64)>,
    /// The fault put into this document.
    pub fault: Option<(Fault, Applied)>,
}

impl GeneratedDoc {
    /// Whether the migration must reject this document.
    pub fn rejected(&self) -> bool {
        self.fault.as_ref().is_some_and(|(f, _)| f.kind.rejects())
    }
}

/// Generates the example application's documents.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    pop: Population,
    streams: Vec<Streams>,
    fault_streams: Streams,
    plan: FaultPlan,
}

impl Generator {
    pub fn new(config: GeneratorConfig) -> Result<Self, GeneratorError> {
        if !(config.scale.is_finite() && config.scale > 0.0) {
            return Err(GeneratorError::Scale(config.scale));
        }
        let mut counts = [0u64; 26];
        for c in Collection::ALL {
            let count = c.count_at(config.scale);
            if count > u64::from(u32::MAX) {
                return Err(GeneratorError::TooLarge {
                    scale: config.scale,
                    collection: c.name(),
                    count,
                });
            }
            counts[usize::from(c.number())] = count;
        }
        let mut pop = Population::new(config.seed, counts);
        let plan = FaultPlan::choose(config.seed, config.faults, &mut pop);
        let streams = Collection::ALL
            .iter()
            .map(|c| Streams::new(config.seed, u64::from(c.number())))
            .collect();
        Ok(Generator {
            config,
            pop,
            streams,
            fault_streams: Streams::new(config.seed, 0x2_0000),
            plan,
        })
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    pub fn population(&self) -> &Population {
        &self.pop
    }

    /// Every planned fault.
    pub fn faults(&self) -> &[Fault] {
        self.plan.faults()
    }

    /// The fault planned for document `index` of `c`, if any.
    pub fn fault(&self, c: Collection, index: u64) -> Option<&Fault> {
        self.plan.get(c, index)
    }

    pub fn count(&self, c: Collection) -> u64 {
        self.pop.count(c)
    }

    /// Every collection with its document count, in load order.
    pub fn collections(&self) -> impl Iterator<Item = (Collection, u64)> + '_ {
        Collection::ALL.into_iter().map(|c| (c, self.count(c)))
    }

    /// Document `index` of `c`, with its fault applied.
    pub fn document(&self, c: Collection, index: u64) -> GeneratedDoc {
        let rng = self.streams[usize::from(c.number())].stream(index);
        let mut cx = documents::Cx::new(&self.pop, rng, c, index);
        let mut doc = documents::build(&mut cx);
        let mut rows = vec![(c.table(), 1)];
        rows.append(&mut cx.rows);
        let fault = self.plan.get(c, index).map(|fault| {
            let mut rng = self
                .fault_streams
                .stream(u64::from(c.number()) << 40 | index);
            let applied = faults::apply(fault, &mut doc, &self.pop, &mut rng);
            (fault.clone(), applied)
        });
        GeneratedDoc {
            collection: c,
            index,
            id: self.pop.id(c, index),
            doc,
            rows,
            kept: cx.kept,
            fault,
        }
    }

    /// Every document of `c` in `_id` order, generated one at a time.
    pub fn documents(&self, c: Collection) -> impl Iterator<Item = GeneratedDoc> + '_ {
        (0..self.count(c)).map(move |i| self.document(c, i))
    }
}
