//! `manifest.json`: exactly which documents were broken and why, and how many rows every table
//! must hold after the migration.
//!
//! ```json
//! {
//!   "format": 1, "seed": 42, "scale": 1.0, "documents": 100058, "bytes": 61234567,
//!   "collections": { "tasks": { "documents": 28000, "bytes": 30123456,
//!                               "rejected_at_transform": 9, "rejected_at_reference": 1 } },
//!   "tables": { "task_labels": 41876, "tasks": 27990 },
//!   "kept_references": { "audit_events.actor_email": 91 },
//!   "faults": [ { "collection": "tasks", "index": 1234, "id": "{\"$oid\":\"...\"}",
//!                 "field": "status", "column": "status", "kind": "not_in_enum",
//!                 "class": "not_in_enum", "stage": "transform", "detail": "`status` is `archived`" } ]
//! }
//! ```
//!
//! `tables` counts only rows that land: a rejected document (at either stage) gives no row in any
//! table, and junction rows are counted after duplicates collapse. No document references a
//! rejected one, so no rejection cascades.

use std::collections::BTreeMap;
use std::path::Path;

use migrator::bson::Bson;
use serde::{Deserialize, Serialize};

use super::faults::{FaultKind, Stage};
use super::{Collection, GeneratedDoc, Generator};

/// The manifest format version.
pub const FORMAT: u32 = 1;

/// Per-collection totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionCounts {
    pub documents: u64,
    /// Bytes of BSON written.
    pub bytes: u64,
    pub rejected_at_transform: u64,
    pub rejected_at_reference: u64,
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub collection: String,
    /// The document's position in its collection (and in its `.bson` file).
    pub index: u64,
    /// `_id` as relaxed Extended JSON, as dead letters and `DocumentError` print it.
    pub id: String,
    /// The document key (for duplicates, the junction array's key).
    pub field: String,
    /// The column, or the junction table for duplicates.
    pub column: String,
    pub kind: FaultKind,
    /// The error class expected, if the document is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    pub stage: Stage,
    pub detail: String,
    /// Repeated junction elements, which collapse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u64>,
    /// The encoded document size, for oversized documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// Everything a run over the generated data must reproduce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub seed: u64,
    pub scale: f64,
    pub documents: u64,
    pub bytes: u64,
    pub collections: BTreeMap<String, CollectionCounts>,
    /// Rows every table must hold at the end.
    pub tables: BTreeMap<String, u64>,
    /// Dangling references that their `keep` policy keeps, by `table.column`.
    pub kept_references: BTreeMap<String, u64>,
    pub faults: Vec<FaultRecord>,
}

/// Why a manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("reading or writing {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a manifest: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ManifestError::Json {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes the manifest to `path` (its folder created if needed) through a temporary file
    /// renamed over it, so a reader never sees half a manifest.
    pub fn write(&self, path: &Path) -> Result<(), ManifestError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| ManifestError::Io { path, source }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_json()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    pub fn to_json(&self) -> String {
        // Every map key is a string and every value serializable: this cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// How many documents a migration rejects: every fault that rejects its document.
    pub fn rejections(&self) -> usize {
        self.faults
            .iter()
            .filter(|f| f.stage != Stage::None)
            .count()
    }

    /// The faults whose documents are rejected at `stage`.
    pub fn rejected_at(&self, stage: Stage) -> impl Iterator<Item = &FaultRecord> {
        self.faults.iter().filter(move |f| f.stage == stage)
    }
}

/// Builds the manifest while documents stream past.
#[derive(Debug, Clone)]
pub struct ManifestBuilder {
    manifest: Manifest,
}

impl ManifestBuilder {
    pub fn new(generator: &Generator) -> Self {
        let config = generator.config();
        let mut tables = BTreeMap::new();
        let mut collections = BTreeMap::new();
        for c in Collection::ALL {
            for table in c.spec().tables {
                tables.insert(table.to_string(), 0);
            }
            collections.insert(c.name().to_string(), CollectionCounts::default());
        }
        ManifestBuilder {
            manifest: Manifest {
                format: FORMAT,
                seed: config.seed,
                scale: config.scale,
                documents: 0,
                bytes: 0,
                collections,
                tables,
                kept_references: BTreeMap::new(),
                faults: Vec::new(),
            },
        }
    }

    /// Accounts for one document, `bytes` long once encoded.
    pub fn record(&mut self, doc: &GeneratedDoc, bytes: u64) {
        let m = &mut self.manifest;
        m.documents += 1;
        m.bytes += bytes;
        let counts = m
            .collections
            .entry(doc.collection.name().to_string())
            .or_default();
        counts.documents += 1;
        counts.bytes += bytes;
        if let Some((fault, applied)) = &doc.fault {
            match fault.kind.stage() {
                Stage::Transform => counts.rejected_at_transform += 1,
                Stage::Reference => counts.rejected_at_reference += 1,
                Stage::None => {}
            }
            m.faults.push(FaultRecord {
                collection: doc.collection.name().to_string(),
                index: doc.index,
                id: Bson::ObjectId(doc.id).into_relaxed_extjson().to_string(),
                field: fault.field.to_string(),
                column: fault.column.to_string(),
                kind: fault.kind,
                class: fault.kind.class().map(str::to_string),
                stage: fault.kind.stage(),
                detail: applied.detail.clone(),
                duplicates: applied.duplicates,
                bytes: (fault.kind == FaultKind::Oversized).then_some(bytes),
            });
        }
        if doc.rejected() {
            return;
        }
        for (table, n) in &doc.rows {
            *m.tables.entry(table.to_string()).or_default() += n;
        }
        for (label, n) in &doc.kept {
            *m.kept_references.entry(label.to_string()).or_default() += n;
        }
    }

    pub fn finish(self) -> Manifest {
        self.manifest
    }
}
