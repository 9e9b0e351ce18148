//! [`Walker`]: a [`Profile`] per key path of a collection's documents, kept in a tree of paths
//! as the census keeps its counts ([`crate::census::Tally`]): a key is looked up among its
//! parent's children starting with the one after the last found (documents mostly keep their
//! keys in one order, so a lookup is usually one comparison), so no path is written out nor
//! hashed per value. [`Walker::profiles`] names the paths as the census does: `a.b`, `items[]`,
//! `*` for keys that are data ([`is_data_key`]).

use std::collections::HashMap;

use bson::{RawBsonRef, RawDocument};

use super::profile::{observe, Profile};
use crate::census::is_data_key;
use crate::transform::Elements;

/// Paths profiled per collection (a map with word keys could otherwise make one per key).
const PATH_CAP: usize = 4096;
/// Paths (with subdocuments and arrays) tracked per collection.
const NODE_CAP: usize = 4 * PATH_CAP;
/// Levels of nesting walked; deeper values are not profiled.
const MAX_DEPTH: u32 = 200;

#[derive(Debug)]
struct Node {
    /// The key as the path names it (`*` for a data key); empty for an array's elements.
    name: Box<[u8]>,
    parent: u32,
    /// The node of this path's array elements (0: none yet).
    elements: u32,
    is_elements: bool,
    children: Vec<u32>,
    /// Where the next lookup among `children` starts: after the last child found.
    next: usize,
    profile: Option<Box<Profile>>,
}

impl Node {
    fn new(name: &[u8], parent: u32, is_elements: bool) -> Node {
        Node {
            name: name.into(),
            parent,
            elements: 0,
            is_elements,
            children: Vec::new(),
            next: 0,
            profile: None,
        }
    }
}

/// Walks documents, profiling each path's scalar values.
#[derive(Debug)]
pub(super) struct Walker {
    /// `nodes[0]` is the document itself.
    nodes: Vec<Node>,
    profiled: usize,
}

impl Default for Walker {
    fn default() -> Self {
        Walker {
            nodes: vec![Node::new(b"", 0, false)],
            profiled: 0,
        }
    }
}

impl Walker {
    pub fn document(&mut self, doc: &RawDocument) {
        self.walk(0, doc, 0);
    }

    fn walk(&mut self, node: usize, doc: &RawDocument, depth: u32) {
        for element in Elements::of(doc) {
            let Ok((key, value)) = element else { break };
            if let Some(child) = self.child(node, key) {
                self.value(child, value, depth);
            }
        }
    }

    fn value(&mut self, node: usize, value: RawBsonRef<'_>, depth: u32) {
        if depth >= MAX_DEPTH {
            return;
        }
        match value {
            RawBsonRef::Document(doc) => self.walk(node, doc, depth + 1),
            RawBsonRef::Array(array) => {
                let Some(elements) = self.elements(node) else {
                    return;
                };
                for element in Elements::of_array(array) {
                    let Ok((_, value)) = element else { break };
                    self.value(elements, value, depth + 1);
                }
            }
            RawBsonRef::Null | RawBsonRef::Undefined => {}
            _ => {
                let n = &mut self.nodes[node];
                if n.profile.is_none() {
                    if self.profiled >= PATH_CAP {
                        return;
                    }
                    self.profiled += 1;
                }
                observe(n.profile.get_or_insert_with(Box::default), value);
            }
        }
    }

    /// The child of `node` for `key`, made if new (none past [`NODE_CAP`]).
    #[inline]
    fn child(&mut self, node: usize, key: &[u8]) -> Option<usize> {
        if let Some(found) = self.find(node, key) {
            return Some(found);
        }
        let name: &[u8] = if is_data_key(key) { b"*" } else { key };
        if name != key {
            if let Some(found) = self.find(node, name) {
                return Some(found);
            }
        }
        let id = self.add(Node::new(name, node as u32, false))?;
        let parent = &mut self.nodes[node];
        parent.children.push(id as u32);
        // The next lookup starts after the new child: at the first.
        parent.next = 0;
        Some(id)
    }

    #[inline]
    fn find(&mut self, node: usize, name: &[u8]) -> Option<usize> {
        let parent = &self.nodes[node];
        let n = parent.children.len();
        for i in 0..n {
            let at = (parent.next + i) % n;
            let child = parent.children[at] as usize;
            if &*self.nodes[child].name == name {
                self.nodes[node].next = (at + 1) % n;
                return Some(child);
            }
        }
        None
    }

    fn elements(&mut self, node: usize) -> Option<usize> {
        match self.nodes[node].elements {
            0 => {
                let id = self.add(Node::new(b"", node as u32, true))?;
                self.nodes[node].elements = id as u32;
                Some(id)
            }
            e => Some(e as usize),
        }
    }

    fn add(&mut self, node: Node) -> Option<usize> {
        if self.nodes.len() >= NODE_CAP {
            return None;
        }
        self.nodes.push(node);
        Some(self.nodes.len() - 1)
    }

    /// The profiles by path, named as the census names them.
    pub fn profiles(self) -> HashMap<String, Profile> {
        let mut paths: Vec<String> = Vec::with_capacity(self.nodes.len());
        let mut out = HashMap::new();
        for (i, node) in self.nodes.into_iter().enumerate() {
            // A parent is always made before its children.
            let parent = if i == 0 {
                String::new()
            } else {
                paths[node.parent as usize].clone()
            };
            let path = match (node.is_elements, parent.is_empty() || i == 0) {
                _ if i == 0 => String::new(),
                (true, _) => format!("{parent}[]"),
                (false, true) => String::from_utf8_lossy(&node.name).into_owned(),
                (false, false) => format!("{parent}.{}", String::from_utf8_lossy(&node.name)),
            };
            if let Some(profile) = node.profile {
                out.entry(path.clone()).or_insert(*profile);
            }
            paths.push(path);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_follow_census_paths() {
        let docs = [
            bson::rawdoc! { "_id": 1, "a": { "b": 2.0, "c": "x" }, "items": [ { "sku": "p" } ], "m": { "2019": 1 }, "n": null },
            bson::rawdoc! { "a": { "c": "y", "b": 3.0 }, "_id": 2, "m": { "2020": 2, "2021": 3 }, "ids": [[1, 2]], "items": [] },
        ];
        let mut w = Walker::default();
        for doc in &docs {
            w.document(doc);
        }
        let profiles = w.profiles();
        let mut paths: Vec<&str> = profiles.keys().map(String::as_str).collect();
        paths.sort();
        assert_eq!(
            paths,
            ["_id", "a.b", "a.c", "ids[][]", "items[].sku", "m.*"]
        );
        assert_eq!(profiles["a.b"].integral_doubles, 2);
        assert_eq!(profiles["a.c"].labels["x"], 1);
        assert_eq!(profiles["a.c"].labels["y"], 1);
        assert_eq!(profiles["m.*"].ints, 3);
        assert_eq!(profiles["_id"].keys.as_ref().map(|k| k.values), Some(2));
    }
}
