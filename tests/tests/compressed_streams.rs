//! A damaged byte in a `.bson.gz` of a generated dump: the decompressed garbage used to be
//! committed as dead letters ("malformed BSON") before the gzip checksum failed at the end of
//! the stream. Now the file is checked whole before a document of it becomes a dead letter: the
//! run stops naming the file and where its compressed stream is corrupt, and nothing of the batch
//! that held the garbage is committed.

use std::io::{Read, Write};
use std::sync::Arc;

use bson::RawDocument;
use migrator::source::DumpSource;
use migrator_e2e::data::{bson_bytes, read_file};
use migrator_e2e::example;
use migrator_e2e::pg::{TestDb, STATE};
use schema::generator::FaultConfig;

/// gzip's header as flate2 writes it (no name, no extra fields), and its trailer.
const HEADER: usize = 10;
const TRAILER: usize = 8;

/// What the deflate data of `gz` decompresses to, checksum ignored (`None`: it does not
/// decompress).
fn inflate(gz: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&gz[HEADER..gz.len() - TRAILER])
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// Whether `bytes` are sound frames (every length prefix leads to the next) with a document
/// malformed inside among them: what a reader turns into a dead letter.
fn frames_with_a_malformed_document(bytes: &[u8]) -> bool {
    let mut at = 0;
    let mut malformed = false;
    while at < bytes.len() {
        let Some(prefix) = bytes.get(at..at + 4) else {
            return false;
        };
        let len = i32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let Some(doc) = usize::try_from(len)
            .ok()
            .filter(|l| *l >= 5)
            .and_then(|l| bytes.get(at..at + l))
        else {
            return false;
        };
        match RawDocument::from_bytes(doc) {
            Ok(raw) => malformed |= bson::Document::try_from(raw).is_err(),
            Err(_) => return false,
        }
        at += doc.len();
    }
    malformed
}

#[test]
fn a_damaged_byte_in_a_bson_gz_commits_no_garbage_and_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = example::generator(
        42,
        0.05,
        FaultConfig {
            per_kind: 0,
            oversized: 0,
        },
    );
    example::write_dump(&generator, dir.path());
    let plain = dir.path().join("tasks.bson");
    let tasks = read_file(&plain);
    let original = bson_bytes(&tasks);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&original).expect("compress");
    let mut gz = encoder.finish().expect("gzip");
    std::fs::remove_file(&plain).expect("the plain file goes");

    // A byte in the second half of the deflate data whose flip still decompresses, to frames
    // that hold a document malformed inside: only the checksum at the end says it is garbage.
    let body = HEADER..gz.len() - TRAILER;
    let flipped = (body.start + body.len() / 2..body.end)
        .find(|&at| {
            gz[at] ^= 0x10;
            let found = inflate(&gz).is_some_and(|out| {
                out.len() == original.len() && frames_with_a_malformed_document(&out)
            });
            gz[at] ^= 0x10;
            found
        })
        .expect("a byte whose flip decompresses to malformed documents");
    gz[flipped] ^= 0x10;
    let file = dir.path().join("tasks.bson.gz");
    std::fs::write(&file, &gz).expect("write tasks.bson.gz");

    let db = TestDb::create("compressed_damage");
    let mut config = db.config();
    config.batch_documents = 50;
    let source = Arc::new(DumpSource::open(dir.path()).expect("the dump opens"));
    let error = db
        .run(&example::schema(), source, config)
        .expect_err("a damaged file stops the run")
        .to_string();
    let letters = db.count(&format!(
        "SELECT 1 FROM {STATE}.dead_letters WHERE collection = 'tasks'"
    ));
    assert_eq!(letters, 0, "dead letters made of garbage were committed");
    assert!(
        error.starts_with(&format!(
            "corrupt compressed stream in {} at byte ",
            file.display()
        )),
        "{error}"
    );
}
