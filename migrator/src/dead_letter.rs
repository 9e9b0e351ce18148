//! Rejected documents: which collection, which `_id`, at which stage and field, why, and the
//! original document, so every rejection can be explained and replayed.

use std::io::Write;
use std::path::{Path, PathBuf};

use bson::RawDocument;
use serde::{Deserialize, Serialize};

use crate::error::DocumentError;

/// Where in the run a document was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// It did not fit its model (types, missing fields, enums, custom conversions).
    Transform,
    /// PostgreSQL refused its rows (unique keys, checks).
    Load,
    /// A reference under the `reject` policy points at nothing.
    Reference,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Transform => "transform",
            Stage::Load => "load",
            Stage::Reference => "reference",
        }
    }
}

/// One rejected document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub collection: String,
    /// The document's `_id` as relaxed Extended JSON.
    pub document_id: String,
    pub stage: Stage,
    /// The field path (`items[3].price`), or the column for load errors; empty if unknown.
    pub field: String,
    /// A short stable class for grouping (`wrong_type`, `unique_violation`, `missing_reference`).
    pub class: String,
    pub message: String,
    /// The original document as canonical Extended JSON (exact types kept), if available.
    pub document: Option<String>,
    /// Every field error of a document that failed its model (at most
    /// [`crate::error::MAX_FIELD_ERRORS`]; the first is also `field`, `class` and `message`).
    /// Empty for a single error and for the other stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldIssue>,
    /// Class [`CASCADE_CLASS`]: the `_id` of the document of the referenced collection whose own
    /// rejection (for its true reason) started the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_id: Option<String>,
}

/// The class of a document rejected because a document it references was rejected itself.
pub const CASCADE_CLASS: &str = "rejected_reference";

/// One field error of a rejected document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub field: String,
    pub class: String,
    pub message: String,
}

impl DeadLetter {
    /// A document that failed its transformation, with every field error its model found.
    pub fn from_transform(error: &DocumentError, doc: &RawDocument) -> DeadLetter {
        let errors: Vec<FieldIssue> = error
            .error
            .all()
            .map(|e| FieldIssue {
                field: e.path(),
                class: e.kind().class().to_string(),
                message: e.kind().to_string(),
            })
            .collect();
        DeadLetter {
            collection: error.collection.clone(),
            document_id: error.id.clone(),
            stage: Stage::Transform,
            field: error.error.path(),
            class: error.error.kind().class().to_string(),
            message: error.error.kind().to_string(),
            document: document_json(doc),
            errors: if errors.len() > 1 { errors } else { Vec::new() },
            root_id: None,
        }
    }

    /// Every error of the letter: its field errors, or its one error.
    pub fn issues(&self) -> Vec<FieldIssue> {
        if self.errors.is_empty() {
            vec![FieldIssue {
                field: self.field.clone(),
                class: self.class.clone(),
                message: self.message.clone(),
            }]
        } else {
            self.errors.clone()
        }
    }
}

/// A document as canonical Extended JSON text, or `None` if it cannot be read.
pub fn document_json(doc: &RawDocument) -> Option<String> {
    let doc = bson::Document::try_from(doc).ok()?;
    Some(
        bson::Bson::Document(doc)
            .into_canonical_extjson()
            .to_string(),
    )
}

/// The name PostgreSQL's SQLSTATE codes for document-level errors go by in reports.
pub fn sqlstate_class(code: &str) -> &'static str {
    match code {
        "23505" => "unique_violation",
        "23503" => "foreign_key_violation",
        "23502" => "not_null_violation",
        "23514" => "check_violation",
        "22P05" => "untranslatable_character",
        "22021" => "invalid_byte_sequence",
        "22003" => "numeric_value_out_of_range",
        "22008" => "datetime_field_overflow",
        "54000" => "program_limit_exceeded",
        c if c.starts_with("23") => "integrity_constraint_violation",
        c if c.starts_with("22") => "data_exception",
        _ => "database_error",
    }
}

/// Stores dead letters in the state schema `state` (inside the caller's transaction).
pub async fn insert(
    conn: &mut sqlx::PgConnection,
    state: &str,
    letters: &[DeadLetter],
) -> Result<(), sqlx::Error> {
    let statement = crate::sink::sql::insert_dead_letters(state);
    // One statement per chunk, not per letter (a follow transaction can reject thousands).
    for chunk in letters.chunks(INSERT_CHUNK) {
        let column = |get: fn(&DeadLetter) -> Option<String>| -> Vec<Option<String>> {
            chunk.iter().map(get).collect()
        };
        sqlx::query(&statement)
            .bind(column(|l| Some(l.collection.clone())))
            .bind(column(|l| Some(l.document_id.clone())))
            .bind(column(|l| Some(l.stage.as_str().to_string())))
            .bind(column(|l| Some(l.field.clone())))
            .bind(column(|l| Some(l.class.clone())))
            .bind(column(|l| Some(l.message.clone())))
            .bind(column(|l| l.document.clone()))
            .bind(column(|l| errors_json(l).map(|e| e.to_string())))
            .bind(column(|l| l.root_id.clone()))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The most dead letters one statement records.
const INSERT_CHUNK: usize = 1_000;

/// The field errors as stored (`NULL` for a single error).
fn errors_json(letter: &DeadLetter) -> Option<serde_json::Value> {
    (!letter.errors.is_empty())
        .then(|| serde_json::to_value(&letter.errors).ok())
        .flatten()
}

/// A dead letter read back from the state schema, with its id there.
pub fn from_row(row: &sqlx::postgres::PgRow) -> (i64, DeadLetter) {
    use sqlx::Row;
    let stage: String = row.get(3);
    (
        row.get(0),
        DeadLetter {
            collection: row.get(1),
            document_id: row.get(2),
            stage: match stage.as_str() {
                "load" => Stage::Load,
                "reference" => Stage::Reference,
                _ => Stage::Transform,
            },
            field: row.get(4),
            class: row.get(5),
            message: row.get(6),
            document: row.get(7),
            errors: row
                .get::<Option<serde_json::Value>, _>(8)
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            root_id: row.get(9),
        },
    )
}

/// Every dead letter of the state schema `state`, in the order they were recorded.
pub async fn load_all(
    conn: &mut sqlx::PgConnection,
    state: &str,
) -> Result<Vec<DeadLetter>, sqlx::Error> {
    let rows = sqlx::query(&crate::sink::sql::select_dead_letters(state))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(|r| from_row(r).1).collect())
}

/// Appends dead letters to a JSON-lines file, one object per line.
#[derive(Debug)]
pub struct DeadLetterFile {
    path: PathBuf,
}

impl DeadLetterFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DeadLetterFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `letters` (creating the file and its folder if needed).
    pub fn append(&self, letters: &[DeadLetter]) -> std::io::Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut out = std::io::BufWriter::new(file);
        for letter in letters {
            serde_json::to_writer(&mut out, letter)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Makes the file hold exactly `letters`, replacing it in one step (a temporary file beside
    /// it, then a rename), so a kill leaves either the old file or the new one. Returns whether
    /// the file changed: a file that holds exactly these letters already is not touched.
    pub fn rewrite(&self, letters: &[DeadLetter]) -> std::io::Result<bool> {
        let mut text = Vec::new();
        for letter in letters {
            serde_json::to_writer(&mut text, letter)?;
            text.push(b'\n');
        }
        match std::fs::read(&self.path) {
            Ok(existing) if existing == text => return Ok(false),
            _ => {}
        }
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        let partial = self.path.with_file_name(name);
        {
            let mut out = std::fs::File::create(&partial)?;
            out.write_all(&text)?;
            out.sync_all()?;
        }
        std::fs::rename(&partial, &self.path)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_dead_letters_keep_the_document() {
        let doc = bson::rawdoc! { "_id": 7, "price": "12" };
        let err = DocumentError {
            collection: "items".into(),
            id: "7".into(),
            error: crate::error::FieldError::wrong_type("double", "string", "\"12.5\"")
                .at_key("price"),
        };
        let letter = DeadLetter::from_transform(&err, &doc);
        assert_eq!(letter.field, "price");
        assert_eq!(letter.class, "wrong_type");
        assert!(letter.errors.is_empty(), "one error is the letter's own");
        assert_eq!(letter.issues().len(), 1);
        assert_eq!(
            letter.document.as_deref(),
            Some("{\"_id\":{\"$numberInt\":\"7\"},\"price\":\"12\"}")
        );
    }

    #[test]
    fn dead_letter_file_appends_json_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = DeadLetterFile::new(dir.path().join("sub/dead.jsonl"));
        let letter = DeadLetter {
            collection: "c".into(),
            document_id: "1".into(),
            stage: Stage::Load,
            field: "email".into(),
            class: "unique_violation".into(),
            message: "duplicate".into(),
            document: None,
            errors: Vec::new(),
            root_id: None,
        };
        file.append(std::slice::from_ref(&letter)).expect("append");
        file.append(std::slice::from_ref(&letter)).expect("append");
        let text = std::fs::read_to_string(file.path()).expect("read");
        assert_eq!(text.lines().count(), 2);
        let back: DeadLetter =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(back, letter);
    }

    #[test]
    fn rewrite_replaces_a_different_file_and_leaves_an_equal_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = DeadLetterFile::new(dir.path().join("dead.jsonl"));
        let letter = |id: &str| DeadLetter {
            collection: "c".into(),
            document_id: id.into(),
            stage: Stage::Load,
            field: "email".into(),
            class: "unique_violation".into(),
            message: "duplicate".into(),
            document: None,
            errors: Vec::new(),
            root_id: None,
        };
        let letters = [letter("1"), letter("2")];
        file.append(&letters[..1]).expect("append");
        assert!(
            file.rewrite(&letters).expect("rewrite"),
            "a short file changes"
        );
        assert_eq!(
            std::fs::read_to_string(file.path())
                .expect("read")
                .lines()
                .count(),
            2
        );
        assert!(
            !file.rewrite(&letters).expect("rewrite"),
            "an equal file stays"
        );
        assert!(
            file.rewrite(&[]).expect("rewrite"),
            "no letters: an empty file"
        );
        assert_eq!(std::fs::read(file.path()).expect("read"), b"");
        assert!(
            !dir.path().join("dead.jsonl.partial").exists(),
            "no temporary file is left"
        );
    }
}
