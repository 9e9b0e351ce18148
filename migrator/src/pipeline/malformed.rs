//! Dead letters for documents whose bytes are not sound BSON, so each can be found again and
//! none is lost without a word.
//!
//! A frame whose length prefix and closing NUL are right but whose inside is not is read past
//! (its prefix says where the next one starts) and rejected. Such a dead letter says where the
//! frame starts in the source file and keeps its bytes (as Extended JSON binary), since the
//! document cannot be written out as JSON. A prefix that is too large can also cover the next
//! document whole, whose own last byte then closes the frame: the frame is searched for
//! documents ending where it ends, and each one found is a dead letter of its own, by its `_id`
//! and its byte offset.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, RawDocument};

use crate::dead_letter::{document_json, DeadLetter, Stage};
use crate::error::DocumentError;
use crate::source::Position;
use crate::transform::describe_id;

/// The dead letters for `doc`, which failed its transformation with `error`; `next` is where
/// the document after it starts (a byte offset for files).
pub fn dead_letters(error: &DocumentError, doc: &RawDocument, next: &Position) -> Vec<DeadLetter> {
    let mut letter = DeadLetter::from_transform(error, doc);
    if letter.document.is_some() {
        return vec![letter];
    }
    let bytes = doc.as_bytes();
    let start = match next {
        Position::Offset { offset } => offset.checked_sub(bytes.len() as u64),
        _ => None,
    };
    let at = |within: usize| {
        start.map_or_else(
            || format!("{within} bytes into the frame"),
            |s| format!("byte {}", s + within as u64),
        )
    };
    letter.document = Some(binary_json(bytes));
    letter.message = format!(
        "{} (the document at {} of `{}`'s source, {} bytes, kept as binary)",
        letter.message,
        at(0),
        letter.collection,
        bytes.len()
    );
    let inner = documents_inside(bytes);
    if inner.is_empty() {
        return vec![letter];
    }
    let listed: Vec<String> = inner
        .iter()
        .map(|(offset, d)| format!("`_id` {} at {}", describe_id(d), at(*offset)))
        .collect();
    letter.message.push_str(&format!(
        "; its length prefix also covers {} whole document{} after it: {}",
        inner.len(),
        if inner.len() == 1 { "" } else { "s" },
        listed.join(", ")
    ));
    let mut letters = vec![letter];
    for (offset, inner_doc) in inner {
        letters.push(DeadLetter {
            collection: error.collection.clone(),
            document_id: describe_id(inner_doc),
            stage: Stage::Transform,
            field: String::new(),
            class: "invalid".to_string(),
            message: format!(
                "a document of {} bytes at {}, inside the frame of the document at {} (`_id` {}), \
                 whose length prefix covers it: read as part of that one, it was not loaded",
                inner_doc.as_bytes().len(),
                at(offset),
                at(0),
                describe_id(doc)
            ),
            document: document_json(inner_doc).or_else(|| Some(binary_json(inner_doc.as_bytes()))),
            errors: Vec::new(),
            root_id: None,
        });
    }
    letters
}

/// Bytes as canonical Extended JSON binary.
fn binary_json(bytes: &[u8]) -> String {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    })
    .into_canonical_extjson()
    .to_string()
}

/// Sound documents inside `frame` after its first byte, back to back up to its end: found from
/// the end, each a length prefix whose document ends where the next one (or the frame) does,
/// after a NUL that could close the document before it. In file order, with their offsets.
pub fn documents_inside(frame: &[u8]) -> Vec<(usize, &RawDocument)> {
    let mut found = Vec::new();
    let mut end = frame.len();
    'outer: while end > 10 {
        // The document before a candidate needs at least 5 bytes.
        for at in 5..=end - 5 {
            if frame[at - 1] != 0 {
                continue;
            }
            let Some(prefix) = frame.get(at..at + 4) else {
                break;
            };
            let len = i32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
            if usize::try_from(len).ok() != Some(end - at) {
                continue;
            }
            let Ok(doc) = RawDocument::from_bytes(&frame[at..end]) else {
                continue;
            };
            if document_json(doc).is_some() {
                found.push((at, doc));
                end = at;
                continue 'outer;
            }
        }
        break;
    }
    found.reverse();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_covered_by_a_length_prefix_are_found_with_their_offsets() {
        let first = bson::rawdoc! { "_id": 1, "name": "first" };
        let second = bson::rawdoc! { "_id": 2, "name": "second", "n": 7 };
        let third = bson::rawdoc! { "_id": 3 };
        // The first document's prefix covers the two after it.
        let mut frame = [first.as_bytes(), second.as_bytes(), third.as_bytes()].concat();
        let total = i32::try_from(frame.len()).expect("small");
        frame[..4].copy_from_slice(&total.to_le_bytes());
        let inner = documents_inside(&frame);
        let found: Vec<(usize, &[u8])> = inner.iter().map(|(at, d)| (*at, d.as_bytes())).collect();
        let second_at = first.as_bytes().len();
        let third_at = second_at + second.as_bytes().len();
        assert_eq!(
            found,
            [(second_at, second.as_bytes()), (third_at, third.as_bytes())]
        );

        // A sound document holds none (its embedded documents do not end where it ends).
        let nested = bson::rawdoc! { "_id": 4, "inner": { "a": 1 } };
        assert!(documents_inside(nested.as_bytes()).is_empty());
    }
}
