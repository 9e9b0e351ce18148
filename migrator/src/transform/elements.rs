//! [`Elements`]: a document's elements read straight from its bytes, the inner loop of every
//! transformation.
//!
//! `bson`'s own iterator reads every element twice (its size, then its value) and builds a
//! checked `&str` for every key. This reader walks the bytes once and hands keys over as bytes
//! (checked as UTF-8 with an ASCII shortcut), which the derived code compares with the declared
//! keys. Values come out as [`RawBsonRef`], checked exactly as `bson` checks them (strings are
//! valid UTF-8, lengths agree, booleans are 0 or 1): a document reads the same either way.
//!
//! Anything this reader does not read itself (the rare types: regular expressions, DB pointers,
//! code with scope, timestamps, the old binary subtype) and anything that is not well formed
//! hands the rest of the document over to `bson`'s iterator, so a malformed document fails with
//! `bson`'s own error, word for word, at the same key.

use bson::raw::RawIter;
use bson::spec::BinarySubtype;
use bson::{oid::ObjectId, DateTime, Decimal128, RawArray, RawBinaryRef, RawBsonRef, RawDocument};

use crate::bson_key::key_and_word;
use crate::error::FieldError;

/// The elements of one document (or array), each as its key's bytes and its value.
pub struct Elements<'a> {
    /// The document's bytes (empty if there is no document to read).
    bytes: &'a [u8],
    doc: Option<&'a RawDocument>,
    /// Where the next element's type byte is.
    at: usize,
    /// Elements handed out by the fast path, which the fallback skips.
    read: usize,
    /// `bson`'s iterator, once the fast path gave up.
    fallback: Option<RawIter<'a>>,
    done: bool,
    /// Whether errors name the element's key (an array's keys are its indexes, which the
    /// caller's path already has).
    keyed: bool,
}

impl std::fmt::Debug for Elements<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elements")
            .field("at", &self.at)
            .field("read", &self.read)
            .field("fallback", &self.fallback.is_some())
            .finish_non_exhaustive()
    }
}

/// What the fast path made of the next element.
enum Step<'a> {
    Element(&'a [u8], RawBsonRef<'a>),
    End,
    /// Not read here: `bson` reads the rest.
    Fallback,
}

impl<'a> Elements<'a> {
    pub fn of(doc: &'a RawDocument) -> Self {
        Elements {
            bytes: doc.as_bytes(),
            doc: Some(doc),
            at: 4,
            read: 0,
            fallback: None,
            done: false,
            keyed: true,
        }
    }

    /// The values of an array, each with its key (`"0"`, `"1"`, ...) as bytes.
    pub fn of_array(array: &'a RawArray) -> Self {
        // An array is a document whose keys are indexes; its bytes passed `bson`'s checks when
        // the array was read, so this cannot fail (it would read as empty).
        match RawDocument::from_bytes(array.as_bytes()) {
            Ok(doc) => Elements {
                keyed: false,
                ..Self::of(doc)
            },
            Err(_) => Elements {
                bytes: &[],
                doc: None,
                at: 0,
                read: 0,
                fallback: None,
                done: true,
                keyed: false,
            },
        }
    }

    fn step(&mut self) -> Step<'a> {
        let bytes = self.bytes;
        let Some(&tag) = bytes.get(self.at) else {
            return Step::Fallback;
        };
        if self.at + 1 == bytes.len() {
            return if tag == 0 { Step::End } else { Step::Fallback };
        }
        let key_start = self.at + 1;
        let Some((key, _)) = key_and_word(&bytes[key_start..]) else {
            return Step::Fallback;
        };
        let v = key_start + key.len() + 1;
        let (value, size) = match tag {
            0x01 => match fixed::<8>(bytes, v) {
                Some(b) => (RawBsonRef::Double(f64::from_le_bytes(b)), 8),
                None => return Step::Fallback,
            },
            0x02 | 0x0D | 0x0E => {
                let Some((s, size)) = string(bytes, v) else {
                    return Step::Fallback;
                };
                let value = match tag {
                    0x02 => RawBsonRef::String(s),
                    0x0D => RawBsonRef::JavaScriptCode(s),
                    _ => RawBsonRef::Symbol(s),
                };
                (value, size)
            }
            0x03 | 0x04 => {
                let Some(size) = document_len(bytes, v) else {
                    return Step::Fallback;
                };
                let Ok(doc) = RawDocument::from_bytes(&bytes[v..v + size]) else {
                    return Step::Fallback;
                };
                let value = if tag == 0x03 {
                    RawBsonRef::Document(doc)
                } else {
                    match as_array(doc) {
                        Some(array) => RawBsonRef::Array(array),
                        None => return Step::Fallback,
                    }
                };
                (value, size)
            }
            0x05 => {
                let Some(len) = fixed::<4>(bytes, v)
                    .map(i32::from_le_bytes)
                    .and_then(|l| usize::try_from(l).ok())
                else {
                    return Step::Fallback;
                };
                let Some(&subtype) = bytes.get(v + 4) else {
                    return Step::Fallback;
                };
                let data = v + 5;
                // The old subtype carries a second length inside: `bson` reads it.
                if subtype == 0x02 || len >= i32::MAX as usize - 5 {
                    return Step::Fallback;
                }
                let Some(data) = bytes.get(data..data + len) else {
                    return Step::Fallback;
                };
                let value = RawBsonRef::Binary(RawBinaryRef {
                    subtype: BinarySubtype::from(subtype),
                    bytes: data,
                });
                (value, len + 5)
            }
            0x06 => (RawBsonRef::Undefined, 0),
            0x07 => match fixed::<12>(bytes, v) {
                Some(b) => (RawBsonRef::ObjectId(ObjectId::from_bytes(b)), 12),
                None => return Step::Fallback,
            },
            0x08 => match bytes.get(v) {
                Some(0) => (RawBsonRef::Boolean(false), 1),
                Some(1) => (RawBsonRef::Boolean(true), 1),
                _ => return Step::Fallback,
            },
            0x09 => match fixed::<8>(bytes, v) {
                Some(b) => (
                    RawBsonRef::DateTime(DateTime::from_millis(i64::from_le_bytes(b))),
                    8,
                ),
                None => return Step::Fallback,
            },
            0x0A => (RawBsonRef::Null, 0),
            0x10 => match fixed::<4>(bytes, v) {
                Some(b) => (RawBsonRef::Int32(i32::from_le_bytes(b)), 4),
                None => return Step::Fallback,
            },
            0x12 => match fixed::<8>(bytes, v) {
                Some(b) => (RawBsonRef::Int64(i64::from_le_bytes(b)), 8),
                None => return Step::Fallback,
            },
            0x13 => match fixed::<16>(bytes, v) {
                Some(b) => (RawBsonRef::Decimal128(Decimal128::from_bytes(b)), 16),
                None => return Step::Fallback,
            },
            0x7F => (RawBsonRef::MaxKey, 0),
            0xFF => (RawBsonRef::MinKey, 0),
            _ => return Step::Fallback,
        };
        self.at = v + size;
        Step::Element(key, value)
    }

    /// `bson`'s iterator past the elements already read.
    fn start_fallback(doc: &'a RawDocument, read: usize) -> RawIter<'a> {
        let mut iter = doc.iter_elements();
        for _ in 0..read {
            match iter.next() {
                Some(Ok(_)) => {}
                // An element the fast path accepted that `bson` refuses (a key that is not
                // UTF-8): start over, so that its error comes out next.
                _ => return doc.iter_elements(),
            }
        }
        iter
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<(&'a [u8], RawBsonRef<'a>), FieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.fallback.is_none() {
            match self.step() {
                Step::Element(key, value) => {
                    self.read += 1;
                    return Some(Ok((key, value)));
                }
                Step::End => {
                    self.done = true;
                    return None;
                }
                Step::Fallback => {
                    let doc = self.doc?;
                    self.fallback = Some(Self::start_fallback(doc, self.read));
                }
            }
        }
        let keyed = self.keyed;
        let item = self.fallback.as_mut()?.next()?;
        let result = item
            .and_then(|element| {
                let key = element.key().as_str();
                element
                    .value()
                    .map(|value| (key.as_bytes(), value))
                    .map_err(|mut e| {
                        e.key = Some(key.to_string());
                        e
                    })
            })
            .map_err(|mut e| {
                if !keyed {
                    e.key = None;
                }
                malformed(e)
            });
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

/// The error for a document that is not valid BSON, at the key where reading it failed.
pub fn malformed(error: bson::error::Error) -> FieldError {
    let mut message = format!("malformed BSON: {}", error.kind);
    if let Some(detail) = &error.message {
        message.push_str(": ");
        message.push_str(detail);
    }
    let e = FieldError::invalid(message);
    match error.key {
        Some(key) => e.at_key(key),
        None => e,
    }
}

/// `N` bytes at `at`.
fn fixed<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// A length-prefixed, NUL-terminated UTF-8 string at `at`, and the bytes it takes.
fn string(bytes: &[u8], at: usize) -> Option<(&str, usize)> {
    let len = usize::try_from(i32::from_le_bytes(fixed::<4>(bytes, at)?)).ok()?;
    if len == 0 {
        return None;
    }
    let body = bytes.get(at + 4..at + 4 + len)?;
    let (text, nul) = body.split_at(len - 1);
    if nul != [0] {
        return None;
    }
    let text = simdutf8::basic::from_utf8(text).ok()?;
    Some((text, len + 4))
}

/// The length of an embedded document (or array) at `at`, if it is well framed.
fn document_len(bytes: &[u8], at: usize) -> Option<usize> {
    let len = usize::try_from(i32::from_le_bytes(fixed::<4>(bytes, at)?)).ok()?;
    (len >= 5 && bytes.get(at + len - 1) == Some(&0)).then_some(len)
}

/// The array whose bytes are `doc`'s. `bson` makes a borrowed [`RawArray`] only while reading a
/// document; its serde support makes one from borrowed bytes, without copying them.
fn as_array(doc: &RawDocument) -> Option<&RawArray> {
    use serde::Deserialize;
    let bytes =
        serde::de::value::BorrowedBytesDeserializer::<serde::de::value::Error>::new(doc.as_bytes());
    <&RawArray>::deserialize(bytes).ok()
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{doc, oid::ObjectId, Binary, Bson, JavaScriptCodeWithScope, Regex, Timestamp};

    use super::*;

    type Item = Result<(Vec<u8>, String), FieldError>;

    /// What `bson`'s own iterator reads, up to and including its first error.
    fn reference(doc: &RawDocument) -> Vec<Item> {
        let mut out = Vec::new();
        for element in doc.iter_elements() {
            let item = element.map_err(malformed).and_then(|element| {
                let key = element.key().as_str();
                element
                    .value()
                    .map(|value| (key.as_bytes().to_vec(), format!("{value:?}")))
                    .map_err(|mut e| {
                        e.key = Some(key.to_string());
                        malformed(e)
                    })
            });
            let failed = item.is_err();
            out.push(item);
            if failed {
                break;
            }
        }
        out
    }

    fn fast(doc: &RawDocument) -> Vec<Item> {
        let mut out = Vec::new();
        for item in Elements::of(doc) {
            let failed = item.is_err();
            out.push(item.map(|(k, v)| (k.to_vec(), format!("{v:?}"))));
            if failed {
                break;
            }
        }
        out
    }

    /// Every type this reader reads itself, nested documents and arrays included.
    fn read_here() -> bson::Document {
        doc! {
            "_id": ObjectId::from_bytes([7; 12]),
            "double": 1.5,
            "string": "héllo wörld",
            "empty": "",
            "doc": { "a": 1, "b": [1, "two", { "c": null }] },
            "array": [1_i64, 2.5, "x", true, Bson::Null],
            "generic": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![9; 16] },
            "undefined": Bson::Undefined,
            "bool": false,
            "true": true,
            "date": bson::DateTime::from_millis(1_600_000_000_000),
            "null": Bson::Null,
            "code": Bson::JavaScriptCode("f()".into()),
            "int32": 7,
            "int64": 8_i64,
            "decimal": "1.25".parse::<bson::Decimal128>().expect("decimal"),
            "symbol": Bson::Symbol("sym".into()),
            "min": Bson::MinKey,
            "max": Bson::MaxKey,
            "ключ": "unicode key",
            "last": 1,
        }
    }

    /// The types `bson` reads for it, each in the middle of a document.
    fn handed_over() -> Vec<bson::Document> {
        let rare = [
            Bson::Binary(Binary {
                subtype: BinarySubtype::BinaryOld,
                bytes: vec![4, 5],
            }),
            Bson::RegularExpression(Regex {
                pattern: "^a".try_into().expect("pattern"),
                options: "i".try_into().expect("options"),
            }),
            Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                code: "g()".into(),
                scope: doc! { "x": 1 },
            }),
            Bson::Timestamp(Timestamp {
                time: 3,
                increment: 4,
            }),
        ];
        rare.into_iter()
            .map(|value| doc! { "before": "a", "rare": value, "after": [1, "b"] })
            .collect()
    }

    fn bytes_of(doc: &bson::Document) -> Vec<u8> {
        bson::RawDocumentBuf::try_from(doc)
            .expect("encodes")
            .into_bytes()
    }

    #[test]
    fn reads_every_type_as_bson_does() {
        let documents = std::iter::once(read_here()).chain(handed_over());
        for document in documents {
            let bytes = bytes_of(&document);
            let doc = RawDocument::from_bytes(&bytes).expect("valid");
            let expected = reference(doc);
            assert_eq!(expected.len(), document.len());
            assert!(expected.iter().all(Result::is_ok));
            assert_eq!(fast(doc), expected);
        }
    }

    /// Every single-byte change of a document (its frame kept, so that it is still a document)
    /// reads the same, values and first error alike.
    #[test]
    fn damaged_documents_read_as_bson_reads_them() {
        let mut checked = 0;
        for document in std::iter::once(read_here()).chain(handed_over()) {
            let original = bytes_of(&document);
            for at in 4..original.len() - 1 {
                let values = [
                    0x00,
                    0x01,
                    0x02,
                    0x04,
                    0x05,
                    0x7f,
                    0x80,
                    0xc3,
                    0xff,
                    original[at] ^ 0x10,
                ];
                for value in values {
                    let mut bytes = original.clone();
                    bytes[at] = value;
                    let doc = RawDocument::from_bytes(&bytes).expect("the frame is kept");
                    assert_eq!(fast(doc), reference(doc), "byte {at} set to {value:#x}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 3000, "{checked}");
    }

    #[test]
    fn arrays_read_as_bsons_iterator_reads_them() {
        let doc = doc! { "a": [1, "two", { "three": 3 }, [4], Bson::Null, 6.5] };
        let bytes = bytes_of(&doc);
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            if at > 4 && at < bytes.len() - 1 {
                damaged[at] ^= 0x41;
            }
            let Ok(doc) = RawDocument::from_bytes(&damaged) else {
                continue;
            };
            let Ok(Some(RawBsonRef::Array(array))) = doc.get("a") else {
                continue;
            };
            let expected: Vec<Result<String, FieldError>> = array
                .into_iter()
                .map(|v| {
                    v.map(|v| format!("{v:?}")).map_err(|mut e| {
                        e.key = None;
                        malformed(e)
                    })
                })
                .scan(false, |failed, item| {
                    (!*failed).then(|| {
                        *failed = item.is_err();
                        item
                    })
                })
                .collect();
            let got: Vec<Result<String, FieldError>> = Elements::of_array(array)
                .map(|item| item.map(|(_, v)| format!("{v:?}")))
                .collect();
            assert_eq!(got, expected, "byte {at}");
        }
    }

    #[test]
    fn keys_that_are_not_utf8_fail_as_in_bson() {
        let mut bytes = bytes_of(&doc! { "ok": 1, "ké": 2 });
        let at = bytes.iter().position(|&b| b == 0xc3).expect("é");
        bytes[at + 1] = 0x28;
        let doc = RawDocument::from_bytes(&bytes).expect("the frame is kept");
        let read = fast(doc);
        assert_eq!(read, reference(doc));
        assert!(read.last().expect("two items").is_err());
    }
}
