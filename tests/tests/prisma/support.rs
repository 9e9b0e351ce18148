//! What the Prisma tests share: the dump's documents, ids as the tables hold them, the team's
//! tables and a check of their foreign keys.

use std::path::Path;
use std::sync::Mutex;

use bson::{oid::ObjectId, Bson, Document};
use migrator::progress::{Event, Observer};
use migrator_e2e::pg::TestDb;
use migrator_e2e::prisma::PrismaProject;

/// The notes of a run (the adaptations among them).
#[derive(Default)]
pub struct Notes(pub Mutex<Vec<String>>);

impl Observer for Notes {
    fn event(&self, event: &Event) {
        if let Event::Note { message } = event {
            self.0.lock().expect("notes").push(message.clone());
        }
    }
}

/// The documents of one collection of a dump directory.
pub fn documents(dir: &Path, collection: &str) -> Vec<Document> {
    let path = dir.join(format!("{collection}.bson"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut docs = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = i32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let doc = Document::from_reader(&bytes[at..at + len]).expect("a document");
        docs.push(doc);
        at += len;
    }
    docs
}

pub fn uuid_of(id: &ObjectId) -> String {
    migrator::id::object_id_to_ordered_uuid(id).to_string()
}

pub fn oid(doc: &Document, key: &str) -> Option<ObjectId> {
    doc.get_object_id(key).ok()
}

/// A decimal as Decimal.js prints it: no trailing zeros after the point.
pub fn decimal_text(value: &Bson) -> String {
    let text = match value {
        Bson::Decimal128(d) => d.to_string(),
        other => other.to_string(),
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    text
}

pub fn millis(value: &Bson) -> Option<i64> {
    match value {
        Bson::DateTime(d) => Some(d.timestamp_millis()),
        _ => None,
    }
}

/// The team's `schema.prisma` in a project of its own, its tables created in a new database.
pub fn team_tables(test: &str) -> (PrismaProject, TestDb) {
    let team_schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/schema.prisma"),
    )
    .expect("schema/schema.prisma");
    let project = PrismaProject::new(&team_schema);
    let db = TestDb::create(test);
    project.create_tables(&db);
    (project, db)
}

/// Every foreign key of the target holds: each is dropped and added again (which checks every
/// row) in a transaction that is rolled back. Returns how many there are.
pub fn check_foreign_keys(db: &TestDb) -> usize {
    let keys = db.rows(
        "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1, 2",
    );
    let mut conn = db.connect();
    for key in &keys {
        let [Some(table), Some(name), Some(def)] = &key[..] else {
            panic!("a foreign key without a name: {key:?}");
        };
        let statements = [
            "BEGIN".to_string(),
            format!("ALTER TABLE {table} DROP CONSTRAINT {name}"),
            format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"),
        ];
        let checked = db.block_on(async {
            for s in &statements {
                sqlx::query(s).execute(&mut conn).await?;
            }
            Ok::<_, sqlx::Error>(())
        });
        db.block_on(sqlx::query("ROLLBACK").execute(&mut conn))
            .expect("rolled back");
        if let Err(e) = checked {
            panic!("foreign key {name} of {table} does not hold: {e}");
        }
    }
    keys.len()
}
