//! `scaffold`: a schema crate written from a source's documents.
//!
//! [`scan`] reads every document (or a sample) once, counting the key census and a profile of
//! each key's values; [`references`] finds the keys whose values are another collection's `_id`s
//! or unique values, and [`confirm`] counts exactly, by a second read of only the key paths
//! concerned, what was decided on a hash sample; [`infer`] chooses a type per key and explains
//! it; [`write`] renders the crate and writes it without overwriting edits.

mod columns;
pub mod compare;
pub mod confirm;
mod enums;
mod explain;
pub mod infer;
mod keys;
pub mod model;
pub mod names;
pub mod origin;
mod profile;
pub mod references;
pub mod scan;
mod shapes;
mod types;
mod walk;
pub mod write;

pub use model::Crate;
pub use references::References;
pub use scan::{scan, SourceScan};
pub use write::{CrateSpec, Dependency, Written};

use crate::source::{Source, SourceError};

/// A scanned source and the crate inferred from it.
#[derive(Debug, Clone)]
pub struct Scaffold {
    pub scan: SourceScan,
    pub refs: References,
    pub krate: Crate,
    /// What the second read for the guesses a hash sample decided did.
    pub confirmation: confirm::Confirmation,
}

/// Infers the models of a scanned source, reading `source` (the one scanned) again for the
/// guesses a hash sample decided ([`confirm`]); `progress` hears that read as [`scan`]'s.
pub fn scaffold(
    scan: SourceScan,
    source: &dyn Source,
    progress: &mut dyn FnMut(&str, u64, bool),
) -> Result<Scaffold, SourceError> {
    let mut refs = references::find(&scan);
    let confirmation = confirm::confirm(source, &scan, &mut refs, progress)?;
    let krate = infer::infer(&scan, &refs);
    Ok(Scaffold {
        scan,
        refs,
        krate,
        confirmation,
    })
}

impl Scaffold {
    /// References and unique keys decided on a hash sample and counted exactly since.
    pub fn confirmed(&self) -> usize {
        let refs = (self.refs.found.values()).filter(|f| f.confirmed.is_some() && !f.exact);
        let keys = self.refs.unique.values().filter(|u| u.confirmed);
        refs.count() + keys.count()
    }

    /// One line per collection: what its model holds.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for m in self.krate.models.iter().filter(|m| m.collection.is_some()) {
            let c = m.collection.as_deref().unwrap_or_default();
            let count = |what: &str| {
                self.krate
                    .models
                    .iter()
                    .filter(|x| {
                        x.ident == m.ident
                            || x.ident.starts_with(&m.ident) && x.collection.is_none()
                    })
                    .flat_map(|x| &x.fields)
                    .filter(|f| {
                        f.attrs
                            .iter()
                            .any(|a| a == what || a.starts_with(&format!("{what} ")))
                    })
                    .count()
            };
            let optional = m
                .fields
                .iter()
                .filter(|f| f.ty.starts_with("Option<"))
                .count();
            lines.push(format!(
                "{c}: {} fields ({optional} optional), {} references, {} junctions, {} child tables, {} unique, {} with functions",
                m.fields.len(),
                count("references") - count("junction"),
                count("junction"),
                count("child"),
                count("unique"),
                count("with"),
            ));
        }
        lines
    }

    /// What a dry run of the new models is expected to reject, from the evidence: every field
    /// comment that says documents will be rejected.
    pub fn forecast(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for m in &self.krate.models {
            for f in &m.fields {
                for d in &f.docs {
                    if d.contains("rejected") {
                        lines.push(format!("{}.{}: {d}", m.ident, f.ident));
                    }
                }
            }
        }
        // (A `with` function's comment is its field's too: said once, by the field.)
        lines
    }
}
