//! The census's view of a document's bytes: each element's type, key and where its value ends,
//! read from the frame alone.
//!
//! The census counts keys and types, so it reads no value: a string's length is taken from its
//! prefix (not checked as UTF-8), a number is skipped. What it checks is what it needs to stay
//! inside the document: every length fits the enclosing frame, strings and embedded documents
//! end with their NUL, a key is NUL-terminated UTF-8, a boolean is 0 or 1. Where a check fails the
//! document stops being counted (the census of a malformed document ends at the element that
//! breaks its frame; the model's own reading rejects it with `bson`'s error).

use crate::bson_key::key_and_word;
pub(super) use crate::bson_key::word_of;

/// One element: its type byte, its key and its first eight bytes (zero-padded, for comparing
/// keys a word at a time), and its value's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    pub key: &'a [u8],
    pub word: u64,
    pub value: &'a [u8],
}

/// The elements of one document or array, `bytes` being its whole frame (length, elements,
/// NUL), as [`Frame::next`] finds them.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Frame<'a> {
    pub fn of(bytes: &'a [u8]) -> Self {
        Frame { bytes, at: 4 }
    }

    /// The next element, or `None` at the end of the document or where its frame breaks.
    #[inline]
    pub fn next_element(&mut self) -> Option<Element<'a>> {
        let bytes = self.bytes;
        let tag = *bytes.get(self.at)?;
        if tag == 0 {
            return None;
        }
        let (key, word) = key_and_word(bytes.get(self.at + 1..)?)?;
        let v = self.at + 2 + key.len();
        let size = value_size(tag, bytes, v)?;
        // The value ends before the document's own closing NUL.
        let end = v.checked_add(size).filter(|&e| e < bytes.len())?;
        self.at = end;
        Some(Element {
            tag,
            key,
            word,
            value: &bytes[v..end],
        })
    }
}

impl<'a> Frame<'a> {
    /// The next element, expecting its key to be `key` (whose first word is `word`): when it is,
    /// the key is compared in place (no search for its end, no UTF-8 check: it equals a key
    /// already checked) and the flag is true; otherwise this is [`Frame::next_element`].
    #[inline(always)]
    pub fn next_expecting(&mut self, word: u64, key: &[u8]) -> Option<(Element<'a>, bool)> {
        let bytes = self.bytes;
        let tag = *bytes.get(self.at)?;
        if tag == 0 {
            return None;
        }
        let k = self.at + 1;
        let len = key.len();
        if let Some(head) = bytes.get(k..k + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(head);
            let w = u64::from_le_bytes(b);
            let masked = if len >= 8 {
                w
            } else {
                w & ((1u64 << (8 * len)) - 1)
            };
            if masked == word
                && bytes.get(k + len) == Some(&0)
                && (len <= 8 || bytes.get(k + 8..k + len) == key.get(8..))
            {
                let v = k + len + 1;
                let size = value_size(tag, bytes, v)?;
                let end = v.checked_add(size).filter(|&e| e < bytes.len())?;
                self.at = end;
                let element = Element {
                    tag,
                    key: &bytes[k..k + len],
                    word,
                    value: &bytes[v..end],
                };
                return Some((element, true));
            }
        }
        self.next_element().map(|e| (e, false))
    }

    /// The next element of an array: its type and value (its key, an index, is skipped).
    #[inline(always)]
    pub fn next_value(&mut self) -> Option<(u8, &'a [u8])> {
        let bytes = self.bytes;
        let tag = *bytes.get(self.at)?;
        if tag == 0 {
            return None;
        }
        let mut nul = self.at + 1;
        while *bytes.get(nul)? != 0 {
            nul += 1;
        }
        let v = nul + 1;
        let size = value_size(tag, bytes, v)?;
        let end = v.checked_add(size).filter(|&e| e < bytes.len())?;
        self.at = end;
        Some((tag, &bytes[v..end]))
    }
}

/// A little-endian `i32` length at `at`, if it is not negative.
#[inline]
fn len_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 4)?;
    usize::try_from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

/// A C string's length with its NUL, from `at`.
fn cstring_at(bytes: &[u8], at: usize) -> Option<usize> {
    Some(bytes.get(at..)?.iter().position(|&b| b == 0)? + 1)
}

/// The bytes a value of type `tag` takes from `v`, checked to end in `bytes` (with its NUL for
/// strings and documents).
#[inline]
fn value_size(tag: u8, bytes: &[u8], v: usize) -> Option<usize> {
    // A length-prefixed string: the prefix counts the NUL, which must end it.
    let string = |at: usize| -> Option<usize> {
        let len = len_at(bytes, at)?;
        (len >= 1 && bytes.get(at + 4 + len - 1) == Some(&0)).then_some(len + 4)
    };
    match tag {
        // double, date, timestamp, int64
        0x01 | 0x09 | 0x11 | 0x12 => Some(8),
        // string, code, symbol
        0x02 | 0x0D | 0x0E => string(v),
        // document, array, code with scope: a length that counts itself
        0x03 | 0x04 | 0x0F => {
            let len = len_at(bytes, v)?;
            (len >= 5 && bytes.get(v + len - 1) == Some(&0)).then_some(len)
        }
        0x05 => Some(len_at(bytes, v)?.checked_add(5)?),
        0x06 | 0x0A | 0x7F | 0xFF => Some(0),
        0x07 => Some(12),
        0x08 => matches!(bytes.get(v), Some(0 | 1)).then_some(1),
        0x0B => {
            let pattern = cstring_at(bytes, v)?;
            Some(pattern + cstring_at(bytes, v + pattern)?)
        }
        0x0C => Some(string(v)? + 12),
        0x10 => Some(4),
        0x13 => Some(16),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{doc, oid::ObjectId, Binary, Bson, JavaScriptCodeWithScope, Regex, Timestamp};

    use super::*;

    fn every_type() -> bson::Document {
        doc! {
            "_id": ObjectId::from_bytes([7; 12]),
            "double": 1.5,
            "string": "héllo wörld",
            "empty": "",
            "doc": { "a": 1, "b": [1, "two", { "c": null }] },
            "array": [1_i64, 2.5, "x", true, Bson::Null],
            "generic": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![4, 5] },
            "undefined": Bson::Undefined,
            "bool": false,
            "date": bson::DateTime::from_millis(1_600_000_000_000),
            "null": Bson::Null,
            "regex": Regex { pattern: "^a".try_into().expect("pattern"), options: "i".try_into().expect("options") },
            "code": Bson::JavaScriptCode("f()".into()),
            "symbol": Bson::Symbol("sym".into()),
            "scope": JavaScriptCodeWithScope { code: "g()".into(), scope: doc! { "x": 1 } },
            "int32": 7,
            "ts": Timestamp { time: 3, increment: 4 },
            "int64": 8_i64,
            "decimal": "1.25".parse::<bson::Decimal128>().expect("decimal"),
            "min": Bson::MinKey,
            "max": Bson::MaxKey,
            "ключ": "unicode key",
            "a_key_longer_than_eight": 1,
            "k": Bson::Null,
        }
    }

    fn read(bytes: &[u8]) -> Vec<(u8, Vec<u8>, u64, Vec<u8>)> {
        let mut frame = Frame::of(bytes);
        std::iter::from_fn(|| frame.next_element())
            .map(|e| (e.tag, e.key.to_vec(), e.word, e.value.to_vec()))
            .collect()
    }

    thread_local! {
        /// Keys [`read_expecting`] found equal in place.
        static MATCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// The same elements read expecting each key (right, then wrong).
    fn read_expecting(
        bytes: &[u8],
        keys: &[Vec<u8>],
        right: bool,
    ) -> Vec<(u8, Vec<u8>, u64, Vec<u8>)> {
        let mut frame = Frame::of(bytes);
        let mut out = Vec::new();
        let mut keys = keys.iter();
        loop {
            let expected = match keys.next() {
                Some(k) if right => k.clone(),
                Some(k) => [k.as_slice(), b"x"].concat(),
                None => b"none".to_vec(),
            };
            let Some((e, matched)) = frame.next_expecting(word_of(&expected), &expected) else {
                break;
            };
            // Matched only when equal (near the end of a document, an equal key may be found
            // the slow way).
            assert!(!matched || e.key == expected.as_slice(), "{:?}", e.key);
            MATCHED.with(|m| m.set(m.get() + usize::from(matched)));
            out.push((e.tag, e.key.to_vec(), e.word, e.value.to_vec()));
        }
        out
    }

    /// The elements read as an array's values.
    fn read_values(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut frame = Frame::of(bytes);
        std::iter::from_fn(|| frame.next_value())
            .map(|(t, v)| (t, v.to_vec()))
            .collect()
    }

    /// Every type, its key and its value's bytes, as `bson` reads them.
    #[test]
    fn reads_every_element_as_bson_frames_it() {
        let raw = bson::RawDocumentBuf::try_from(&every_type()).expect("encodes");
        let got = read(raw.as_bytes());
        let bytes = raw.as_bytes();
        let mut at = 4;
        let expected: Vec<(u8, Vec<u8>, u64, Vec<u8>)> = raw
            .iter_elements()
            .map(|e| {
                let e = e.expect("valid");
                let key = e.key().as_str().as_bytes().to_vec();
                let v = at + 2 + key.len();
                at = v + e.size();
                let value = bytes[v..at].to_vec();
                (e.element_type() as u8, key.clone(), word_of(&key), value)
            })
            .collect();
        assert_eq!(got.len(), every_type().len());
        assert_eq!(got, expected);
        let keys: Vec<Vec<u8>> = got.iter().map(|e| e.1.clone()).collect();
        MATCHED.with(|m| m.set(0));
        assert_eq!(read_expecting(bytes, &keys, true), expected);
        // All but the last key, which ends less than a word before the document does.
        assert_eq!(MATCHED.with(|m| m.get()), keys.len() - 1);
        assert_eq!(read_expecting(bytes, &keys, false), expected);
        assert_eq!(
            MATCHED.with(|m| m.get()),
            keys.len() - 1,
            "no wrong key matches"
        );
        let values: Vec<(u8, Vec<u8>)> = expected.iter().map(|e| (e.0, e.3.clone())).collect();
        assert_eq!(read_values(bytes), values);
    }

    /// Every single-byte change of a document: the walk never reads outside it, and what it
    /// reads of an intact prefix is what `bson` reads.
    #[test]
    fn damaged_documents_stop_where_their_frame_breaks() {
        let original = bson::RawDocumentBuf::try_from(&every_type())
            .expect("encodes")
            .into_bytes();
        let intact = read(&original);
        let keys: Vec<Vec<u8>> = intact.iter().map(|e| e.1.clone()).collect();
        for at in 4..original.len() {
            for value in [0x00, 0x01, 0x02, 0x04, 0x05, 0x7f, 0x80, 0xc3, 0xff] {
                let mut bytes = original.clone();
                bytes[at] = value;
                let got = read(&bytes);
                // Elements wholly before the change are read as they were.
                let before = intact
                    .iter()
                    .scan(4usize, |end, e| {
                        *end += 2 + e.1.len() + e.3.len();
                        Some(*end)
                    })
                    .take_while(|&end| end <= at)
                    .count();
                let expecting = read_expecting(&bytes, &keys, true);
                assert!(expecting.len() >= before, "byte {at} set to {value:#x}");
                assert_eq!(
                    expecting[..before],
                    intact[..before],
                    "byte {at} set to {value:#x}"
                );
                assert!(
                    read_values(&bytes).len() >= before,
                    "byte {at} set to {value:#x}"
                );
                assert!(got.len() >= before, "byte {at} set to {value:#x}");
                assert_eq!(
                    got[..before],
                    intact[..before],
                    "byte {at} set to {value:#x}"
                );
            }
        }
        // Cut short anywhere: never past the end.
        for len in 0..original.len() {
            let _ = read(&original[..len]);
            let _ = read_expecting(&original[..len], &keys, true);
            let _ = read_values(&original[..len]);
        }
    }
}
