//! The values of a few chosen key paths ([`Columns`]), read straight from each document's frame
//! ([`crate::census::frame`]): a tree of the paths is followed, and every other element is
//! skipped by its length without being read. Values are given as [`exact`] has them.

use sha1::Digest;

use crate::census::frame::Frame;

const DOCUMENT: u8 = 0x03;
const ARRAY: u8 = 0x04;

#[derive(Debug, Default)]
struct Node {
    /// The keys below, each with its node.
    keys: Vec<(Box<[u8]>, usize)>,
    /// The node of this path's array elements.
    elements: Option<usize>,
    /// The columns whose path ends here.
    columns: Vec<usize>,
}

/// Key paths of one collection (census names: `a.b`, `items[].sku`, `ids[]`), numbered in the
/// order added.
#[derive(Debug)]
pub(super) struct Columns {
    nodes: Vec<Node>,
    len: usize,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            nodes: vec![Node::default()],
            len: 0,
        }
    }
}

impl Columns {
    /// Adds a path; returns its column number.
    pub fn add(&mut self, path: &str) -> usize {
        let mut node = 0;
        for part in path.split('.') {
            let mut key = part;
            let mut elements = 0;
            while let Some(k) = key.strip_suffix("[]") {
                key = k;
                elements += 1;
            }
            node = self.key(node, key.as_bytes());
            for _ in 0..elements {
                node = match self.nodes[node].elements {
                    Some(e) => e,
                    None => {
                        let e = self.push();
                        self.nodes[node].elements = Some(e);
                        e
                    }
                };
            }
        }
        self.nodes[node].columns.push(self.len);
        self.len += 1;
        self.len - 1
    }

    fn key(&mut self, node: usize, key: &[u8]) -> usize {
        if let Some((_, n)) = self.nodes[node].keys.iter().find(|(k, _)| **k == *key) {
            return *n;
        }
        let n = self.push();
        self.nodes[node].keys.push((key.into(), n));
        n
    }

    fn push(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    /// Calls `out(column, value)` for every key value (integer, ObjectId, string) of `doc` (a
    /// document's bytes) at a path added; other values (nulls, doubles) are not given, as the
    /// scan's key sets hold none.
    pub fn read(&self, doc: &[u8], out: &mut dyn FnMut(usize, u128)) {
        self.document(0, doc, out);
    }

    fn document(&self, node: usize, bytes: &[u8], out: &mut dyn FnMut(usize, u128)) {
        let keys = &self.nodes[node].keys;
        let mut frame = Frame::of(bytes);
        while let Some(e) = frame.next_element() {
            if let Some((_, child)) = keys.iter().find(|(k, _)| **k == *e.key) {
                self.value(*child, e.tag, e.value, out);
            }
        }
    }

    fn value(&self, node: usize, tag: u8, bytes: &[u8], out: &mut dyn FnMut(usize, u128)) {
        let n = &self.nodes[node];
        match tag {
            DOCUMENT if !n.keys.is_empty() => self.document(node, bytes, out),
            ARRAY => {
                if let Some(e) = n.elements {
                    let mut frame = Frame::of(bytes);
                    while let Some((tag, v)) = frame.next_value() {
                        self.value(e, tag, v, out);
                    }
                }
            }
            _ => {
                if let (false, Some(x)) = (n.columns.is_empty(), exact(tag, bytes)) {
                    for c in &n.columns {
                        out(*c, x);
                    }
                }
            }
        }
    }
}

/// A key value as compared, from its BSON type and bytes: the kind in the top byte, then the
/// value itself (integers, ObjectIds, strings of up to 14 bytes with their length) or 120 bits of
/// a longer string's SHA-1. int32 and int64 holding one number are one value.
pub(super) fn exact(tag: u8, bytes: &[u8]) -> Option<u128> {
    let kind = |k: u128| k << 120;
    let mut b = [0u8; 16];
    match tag {
        0x10 => {
            let mut w = [0u8; 4];
            w.copy_from_slice(bytes.get(..4)?);
            Some(kind(3) | u128::from(i64::from(i32::from_le_bytes(w)) as u64))
        }
        0x12 => {
            let mut w = [0u8; 8];
            w.copy_from_slice(bytes.get(..8)?);
            Some(kind(3) | u128::from(i64::from_le_bytes(w) as u64))
        }
        0x07 => {
            b[4..].copy_from_slice(bytes.get(..12)?);
            Some(kind(1) | u128::from_be_bytes(b))
        }
        0x02 => {
            // A length prefix counting the closing NUL (the frame checked both).
            let s = bytes.get(4..bytes.len().checked_sub(1)?)?;
            if s.len() <= 14 {
                b[1] = s.len() as u8;
                b[2..2 + s.len()].copy_from_slice(s);
                Some(kind(2) | u128::from_be_bytes(b))
            } else {
                let digest = sha1::Sha1::digest(s);
                b[1..].copy_from_slice(&digest[..15]);
                Some(kind(4) | u128::from_be_bytes(b))
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_where_the_scan_names_them() {
        let doc = bson::rawdoc! {
            "_id": 1, "items": [ { "sku": "a" }, { "sku": 7_i64 }, { "x": 1 }, 5 ],
            "ids": [[1, 2], [3]], "n": null, "d": 1.5, "sub": { "k": "v", "m": { "k": "w" } },
        };
        let mut columns = Columns::default();
        let paths = [
            "items[].sku",
            "ids[][]",
            "n",
            "items",
            "d",
            "sub.k",
            "_id",
            "sub.m.k",
        ];
        for p in paths {
            columns.add(p);
        }
        let mut seen = vec![Vec::new(); paths.len()];
        columns.read(doc.as_bytes(), &mut |c, v| seen[c].push(v));
        let counts: Vec<usize> = seen.iter().map(Vec::len).collect();
        assert_eq!(counts, [2, 3, 0, 0, 0, 1, 1, 1]);
        let str_of = |s: &str| {
            let mut b = (s.len() as u32 + 1).to_le_bytes().to_vec();
            b.extend_from_slice(s.as_bytes());
            b.push(0);
            exact(0x02, &b)
        };
        assert_eq!(
            seen[0],
            [
                str_of("a").expect("a"),
                exact(0x12, &7_i64.to_le_bytes()).expect("7")
            ]
        );
        assert_eq!(seen[5], [str_of("v").expect("v")]);
        assert_eq!(seen[7], [str_of("w").expect("w")]);
    }

    #[test]
    fn values_compare_exactly() {
        let s = |t: &str| {
            let mut b = (t.len() as u32 + 1).to_le_bytes().to_vec();
            b.extend_from_slice(t.as_bytes());
            b.push(0);
            exact(0x02, &b)
        };
        assert_eq!(
            exact(0x10, &7_i32.to_le_bytes()),
            exact(0x12, &7_i64.to_le_bytes())
        );
        assert_eq!(
            exact(0x10, &(-1_i32).to_le_bytes()),
            exact(0x12, &(-1_i64).to_le_bytes())
        );
        assert_ne!(exact(0x12, &7_i64.to_le_bytes()), s("7"));
        assert_ne!(s("ab"), s("ab\0"));
        let long = "x".repeat(40);
        assert_eq!(s(&long), s(&long.clone()));
        assert_ne!(s(&long), s(&"x".repeat(41)));
        assert_eq!(exact(0x01, &1.0_f64.to_le_bytes()), None);
    }
}
