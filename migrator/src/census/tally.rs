//! [`Tally`]: the census of raw documents on one thread, as a tree of key paths.
//!
//! Each document is walked once, straight from its bytes, reading each element's type, key and
//! length and no value ([`super::frame`]). Every node of the tree is a path; a key is looked up
//! among its parent's children starting after the last one found (documents mostly keep their
//! keys in one order, so a lookup is usually one comparison of a word and a length), and nothing
//! is allocated unless a path is new.
//!
//! Keys that are data rather than names (a map keyed by ids: all digits, 16 or more hex digits,
//! a UUID; see [`is_data_key`]) are counted together under one path `*`, whatever the order the
//! documents come in, so every partition, batch and resumed run names the same paths. Past
//! [`MAX_CHILDREN`] distinct keys under one path (a map keyed by other data), further keys go to
//! `*` too: only then do the paths depend on the order the documents were read in.

use bson::RawDocument;

use super::frame::{word_of, Element, Frame};
use super::{type_name, KeyCensus, KeyStats};
use crate::transform::describe_id;

/// Distinct keys tracked below one path; further keys are counted together as `*`.
pub const MAX_CHILDREN: usize = 1000;

/// Levels of nesting counted; anything deeper counts as the value it is in (MongoDB stores at
/// most 100 levels; this only keeps a crafted file from exhausting the stack).
const MAX_DEPTH: u32 = 200;

/// Whether a key is data rather than a name: all ASCII digits, 16 or more hex digits (an
/// ObjectId, a hash), or a UUID in its text form.
pub fn is_data_key(key: &[u8]) -> bool {
    let hex = |b: &u8| b.is_ascii_hexdigit();
    match key {
        [] => false,
        k if k.iter().all(u8::is_ascii_digit) => true,
        k if k.len() >= 16 && k.iter().all(hex) => true,
        k if k.len() == 36 => k.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => hex(b),
        }),
        _ => false,
    }
}

/// The key of the node counting the elements of an array.
const ELEMENTS: &[u8] = b"[]";
/// The key counting the keys past [`MAX_CHILDREN`].
const OTHERS: &[u8] = b"*";
/// BSON element types are 0x01..=0x13, MinKey 0xFF and MaxKey 0x7F.
const TYPE_SLOTS: usize = 0x15;
const DOCUMENT: u8 = 0x03;
const ARRAY: u8 = 0x04;

#[derive(Debug)]
struct Node {
    key: Box<[u8]>,
    /// Documents with the path since the last [`Tally::take`].
    documents: u64,
    /// The document that last counted here (so one document counts once).
    last_doc: u64,
    types: [u64; TYPE_SLOTS],
    children: Vec<Child>,
    /// The node counting this path's array elements, once it held an array (0: none yet; the
    /// root is no one's elements).
    elements: u32,
    /// The `_id` of the document that created the node, until it is handed out.
    example_id: Option<String>,
}

/// A child as its parent looks it up: the key's first eight bytes and length, then the node.
#[derive(Debug, Clone, Copy)]
struct Child {
    word: u64,
    len: u32,
    node: u32,
}

impl Node {
    fn new(key: &[u8], example_id: Option<String>) -> Node {
        Node {
            key: key.into(),
            documents: 0,
            last_doc: 0,
            types: [0; TYPE_SLOTS],
            children: Vec::new(),
            elements: 0,
            example_id,
        }
    }
}

/// The slot of a type byte in [`Node::types`].
#[inline]
fn slot(tag: u8) -> usize {
    match tag {
        0xFF => 0,
        0x7F => 0x14,
        t => usize::from(t).min(TYPE_SLOTS - 1),
    }
}

fn slot_name(slot: usize) -> &'static str {
    use bson::spec::ElementType;
    let byte = match slot {
        0 => 0xFF,
        0x14 => 0x7F,
        s => u8::try_from(s).unwrap_or(0x0A),
    };
    ElementType::from(byte).map_or("unknown", type_name)
}

/// The key census of the documents observed on one thread.
#[derive(Debug)]
pub struct Tally {
    /// `nodes[0]` is the document itself.
    nodes: Vec<Node>,
    /// Documents observed, ever: the current document's number.
    seq: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

/// What a walk hands each scalar value it counts, besides counting it: the node of its path
/// (see [`Tally::paths`]), its type byte and its bytes in the frame (as [`super::frame`] delimits
/// them: checked to fit, not decoded). `scaffold` profiles the values this way in the census's
/// own walk.
pub trait Scalars {
    fn scalar(&mut self, node: usize, tag: u8, value: &[u8]);
}

/// No one listening: the census alone.
impl Scalars for () {
    #[inline(always)]
    fn scalar(&mut self, _: usize, _: u8, _: &[u8]) {}
}

/// The document being walked.
struct Current<'a, S> {
    doc: &'a RawDocument,
    id: Option<String>,
    scalars: &'a mut S,
}

impl<S> Current<'_, S> {
    fn id(&mut self) -> String {
        self.id.get_or_insert_with(|| describe_id(self.doc)).clone()
    }
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            nodes: vec![Node::new(b"", None)],
            seq: 0,
        }
    }

    /// Counts every key path of `doc`. A malformed document is counted up to where its frame
    /// breaks (values are not read: see [`super::frame`]).
    pub fn observe(&mut self, doc: &RawDocument) {
        self.observe_with(doc, &mut ());
    }

    /// [`Tally::observe`], handing every scalar value counted (not nested deeper than the census
    /// walks) to `scalars`.
    pub fn observe_with<S: Scalars>(&mut self, doc: &RawDocument, scalars: &mut S) {
        self.seq += 1;
        let mut current = Current {
            doc,
            id: None,
            scalars,
        };
        let root = &mut self.nodes[0];
        root.documents += 1;
        root.last_doc = self.seq;
        root.types[usize::from(DOCUMENT)] += 1;
        self.walk_document(0, doc.as_bytes(), 0, &mut current);
    }

    /// Counts the elements of the document `bytes` as children of `node`. Each key is first
    /// compared with the child after the last one found (documents mostly keep their keys in
    /// one order), in place.
    fn walk_document<S: Scalars>(
        &mut self,
        node: usize,
        bytes: &[u8],
        depth: u32,
        current: &mut Current<'_, S>,
    ) {
        let mut frame = Frame::of(bytes);
        let mut hint = 0;
        loop {
            let expected = self.nodes[node].children.get(hint).copied();
            let (element, child) = match expected {
                Some(c) => {
                    let key = &self.nodes[c.node as usize].key;
                    let Some((element, matched)) = frame.next_expecting(c.word, key) else {
                        return;
                    };
                    if matched {
                        hint += 1;
                        (element, c.node as usize)
                    } else {
                        let child = self.find_child(node, &element, &mut hint, current);
                        (element, child)
                    }
                }
                None => {
                    let Some(element) = frame.next_element() else {
                        return;
                    };
                    let child = self.find_child(node, &element, &mut hint, current);
                    (element, child)
                }
            };
            self.count(child, element.tag, element.value, depth, current);
        }
    }

    /// Counts one value at `node`, and what it holds.
    #[inline]
    fn count<S: Scalars>(
        &mut self,
        node: usize,
        tag: u8,
        value: &[u8],
        depth: u32,
        current: &mut Current<'_, S>,
    ) {
        let seq = self.seq;
        let n = &mut self.nodes[node];
        n.types[slot(tag)] += 1;
        if n.last_doc != seq {
            n.last_doc = seq;
            n.documents += 1;
        }
        if depth >= MAX_DEPTH {
            return;
        }
        match tag {
            DOCUMENT => self.walk_document(node, value, depth + 1, current),
            ARRAY => {
                let elements = match self.nodes[node].elements {
                    0 => {
                        let e = self.push(ELEMENTS, current);
                        self.nodes[node].elements = e as u32;
                        e
                    }
                    e => e as usize,
                };
                let mut frame = Frame::of(value);
                while let Some((tag, value)) = frame.next_value() {
                    self.count(elements, tag, value, depth + 1, current);
                }
            }
            _ => current.scalars.scalar(node, tag, value),
        }
    }

    /// Whether `child` has `key` (whose first word is `word`).
    #[inline]
    fn same_key(&self, child: &Child, key: &[u8], word: u64) -> bool {
        child.word == word
            && child.len as usize == key.len()
            && (key.len() <= 8 || self.nodes[child.node as usize].key[8..] == key[8..])
    }

    /// The child of `parent` for the element's key past the first guess: the other children
    /// (from `hint` on, then from the first), then a new one.
    fn find_child<S: Scalars>(
        &mut self,
        parent: usize,
        element: &Element<'_>,
        hint: &mut usize,
        current: &mut Current<'_, S>,
    ) -> usize {
        let (key, word) = if is_data_key(element.key) {
            (OTHERS, word_of(OTHERS))
        } else {
            (element.key, element.word)
        };
        let children = &self.nodes[parent].children;
        let n = children.len();
        let start = (*hint).min(n);
        let found = (start..n)
            .chain(0..start)
            .find(|&i| self.same_key(&children[i], key, word));
        if let Some(i) = found {
            *hint = i + 1;
            return children[i].node as usize;
        }
        let key = if n >= MAX_CHILDREN { OTHERS } else { key };
        if key == OTHERS {
            let word = word_of(OTHERS);
            if let Some(c) = children.iter().find(|c| self.same_key(c, OTHERS, word)) {
                return c.node as usize;
            }
        }
        let child = self.push(key, current);
        self.nodes[parent].children.push(Child {
            word: word_of(key),
            len: u32::try_from(key.len()).unwrap_or(u32::MAX),
            node: child as u32,
        });
        *hint = n + 1;
        child
    }

    fn push<S: Scalars>(&mut self, key: &[u8], current: &mut Current<'_, S>) -> usize {
        self.nodes.push(Node::new(key, Some(current.id())));
        self.nodes.len() - 1
    }

    /// Every node's path as [`Tally::take`] names it (the root's is empty), by node number: the
    /// `node` a [`Scalars`] was handed.
    pub fn paths(&self) -> Vec<String> {
        let mut paths = vec![String::new(); self.nodes.len()];
        // A node is made after its parent: its parent's path is known when it is reached.
        for (parent, n) in self.nodes.iter().enumerate() {
            let base = paths[parent].clone();
            if n.elements != 0 {
                paths[n.elements as usize] = format!("{base}[]");
            }
            for c in &n.children {
                let key = String::from_utf8_lossy(&self.nodes[c.node as usize].key);
                paths[c.node as usize] = if base.is_empty() {
                    key.into_owned()
                } else {
                    format!("{base}.{key}")
                };
            }
        }
        paths
    }

    /// What was counted since the last call (every path with a document), and starts again
    /// from zero; the paths stay known.
    pub fn take(&mut self) -> KeyCensus {
        let mut out = KeyCensus {
            documents: std::mem::take(&mut self.nodes[0].documents),
            keys: Default::default(),
        };
        self.nodes[0].types = [0; TYPE_SLOTS];
        let mut path = String::new();
        let children: Vec<u32> = self.nodes[0].children.iter().map(|c| c.node).collect();
        for child in children {
            self.collect(child as usize, &mut path, &mut out);
        }
        out
    }

    fn collect(&mut self, node: usize, path: &mut String, out: &mut KeyCensus) {
        let len = path.len();
        let n = &mut self.nodes[node];
        if &*n.key == ELEMENTS {
            path.push_str("[]");
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&String::from_utf8_lossy(&n.key));
        }
        if n.documents > 0 {
            let types = n
                .types
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(s, c)| (slot_name(s).to_string(), *c))
                .collect();
            out.keys.insert(
                path.clone(),
                KeyStats {
                    documents: std::mem::take(&mut n.documents),
                    types,
                    example_id: n.example_id.take(),
                },
            );
            n.types = [0; TYPE_SLOTS];
        }
        let below: Vec<u32> = (n.elements != 0)
            .then_some(n.elements)
            .into_iter()
            .chain(n.children.iter().map(|c| c.node))
            .collect();
        for child in below {
            self.collect(child as usize, path, out);
        }
        path.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_documents_and_arrays_of_documents_are_counted_per_document() {
        let docs = [
            bson::rawdoc! { "_id": 1, "a": { "b": 1, "c": "x" }, "items": [ { "sku": "p" }, { "sku": "q", "n": null } ] },
            bson::rawdoc! { "_id": 2, "a": null, "items": [ 1, "two" ], "tags": [] },
        ];
        let mut tally = Tally::new();
        for d in &docs {
            tally.observe(d);
        }
        let census = tally.take();
        assert_eq!(census.documents, 2);
        let k = |p: &str| census.keys.get(p).cloned().unwrap_or_default();
        let types = |p: &str| {
            k(p).types
                .into_iter()
                .map(|(t, n)| format!("{t}:{n}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(k("_id").documents, 2);
        assert_eq!(types("_id"), "int:2");
        assert_eq!(types("a"), "null:1,object:1");
        assert_eq!(k("a.b").documents, 1);
        assert_eq!(types("a.c"), "string:1");
        assert_eq!(k("items").documents, 2);
        assert_eq!(k("items[]").documents, 2);
        assert_eq!(types("items[]"), "int:1,object:2,string:1");
        assert_eq!(k("items[].sku").documents, 1);
        assert_eq!(types("items[].sku"), "string:2");
        assert_eq!(types("items[].n"), "null:1");
        assert_eq!(types("tags"), "array:1");
        assert!(!census.keys.contains_key("tags[]"));
        assert_eq!(census.keys.len(), 9, "{:?}", census.keys.keys());
        assert_eq!(k("a.b").example_id.as_deref(), Some("1"));
        assert_eq!(k("tags").example_id.as_deref(), Some("2"));

        // Taken: the next take has only what came after.
        tally.observe(&docs[1]);
        let again = tally.take();
        assert_eq!(again.documents, 1);
        assert!(!again.keys.contains_key("a.b"));
        assert_eq!(again.keys["items[]"].documents, 1);
        assert_eq!(
            again.keys["a"].example_id, None,
            "an example is handed out once"
        );
    }

    #[test]
    fn keys_that_are_data_are_counted_together() {
        for key in [
            "0",
            "2018",
            "06408794cad9415882ad850f606e2215",
            "5aa16ff506ee712b0000003b",
            "123e4567-e89b-12d3-a456-426614174000",
        ] {
            assert!(is_data_key(key.as_bytes()), "{key}");
        }
        for key in [
            "",
            "active",
            "deadbeef",
            "a1",
            "_id",
            "123e4567-e89b-12d3-a456-42661417400g",
            "tier_1",
        ] {
            assert!(!is_data_key(key.as_bytes()), "{key}");
        }
        let doc = bson::rawdoc! { "m": { "0a1b2c3d4e5f60718293a4b5c6d7e8f9": { "tier": "gold" }, "ffffffffffffffff": { "tier": "x", "id": 1 } }, "years": { "2019": 1, "2020": 2 } };
        let mut tally = Tally::new();
        tally.observe(&doc);
        let census = tally.take();
        let paths: Vec<&str> = census.keys.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            ["m", "m.*", "m.*.id", "m.*.tier", "years", "years.*"]
        );
        assert_eq!(census.keys["m.*"].types["object"], 2);
        assert_eq!(census.keys["m.*"].documents, 1);
        assert_eq!(census.keys["years.*"].types["int"], 2);
    }

    #[test]
    fn keys_past_the_limit_are_counted_together() {
        let mut map = bson::Document::new();
        for i in 0..(MAX_CHILDREN + 50) {
            map.insert(format!("k{i}"), i as i32);
        }
        let doc = bson::RawDocumentBuf::try_from(&bson::doc! { "m": map }).expect("a document");
        let mut tally = Tally::new();
        tally.observe(&doc);
        tally.observe(&doc);
        let census = tally.take();
        assert_eq!(census.keys["m.*"].types["int"], 100);
        assert_eq!(census.keys["m.*"].documents, 2);
        assert_eq!(census.keys["m.k0"].documents, 2);
        assert_eq!(census.keys.len(), 1 + MAX_CHILDREN + 1);
    }
}
