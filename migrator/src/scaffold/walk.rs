//! [`Walker`]: a [`Profile`] per key path of a collection's documents, filled in the census's own
//! walk ([`Tally::observe_with`]): the census reads each element's type, key and length from the
//! document's frame and hands every scalar value to [`Walker`] with the number of its path's node,
//! so the documents are walked once, no path is written out nor hashed per value, and the
//! profiles are named as the census names its paths ([`Walker::profiles`]: `a.b`, `items[]`, `*`
//! for keys that are data).

use std::collections::HashMap;

use bson::RawDocument;

use super::profile::{observe, Profile};
use crate::census::{Scalars, Tally};

/// Paths profiled per collection (a map with word keys could otherwise make one per key).
const PATH_CAP: usize = 4096;

/// Profiles scalar values by the census node of their path.
#[derive(Debug, Default)]
pub(super) struct Walker {
    /// By node number; `None` until the path holds a value that is not null.
    profiles: Vec<Option<Box<Profile>>>,
    profiled: usize,
}

impl Scalars for Walker {
    #[inline]
    fn scalar(&mut self, node: usize, tag: u8, value: &[u8]) {
        // Nulls (and `undefined`) are no values.
        if matches!(tag, 0x06 | 0x0A) {
            return;
        }
        if node >= self.profiles.len() {
            self.profiles.resize_with(node + 1, || None);
        }
        let slot = &mut self.profiles[node];
        if slot.is_none() {
            if self.profiled >= PATH_CAP {
                return;
            }
            self.profiled += 1;
        }
        observe(slot.get_or_insert_with(Box::default), tag, value);
    }
}

impl Walker {
    /// Counts `doc` in `tally` and profiles its values.
    pub fn document(&mut self, tally: &mut Tally, doc: &RawDocument) {
        tally.observe_with(doc, self);
    }

    /// The profiles by path, named as `tally` (the one that walked the documents) names them.
    pub fn profiles(self, tally: &Tally) -> HashMap<String, Profile> {
        let paths = tally.paths();
        let mut out = HashMap::new();
        for (node, profile) in self.profiles.into_iter().enumerate() {
            if let (Some(mut profile), Some(path)) = (profile, paths.get(node)) {
                if let Some(keys) = profile.keys.as_mut() {
                    keys.freeze();
                }
                out.entry(path.clone()).or_insert(*profile);
            }
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
        let mut tally = Tally::new();
        for doc in &docs {
            w.document(&mut tally, doc);
        }
        let profiles = w.profiles(&tally);
        let mut paths: Vec<&str> = profiles.keys().map(String::as_str).collect();
        paths.sort();
        assert_eq!(
            paths,
            ["_id", "a.b", "a.c", "ids[][]", "items[].sku", "m.*"]
        );
        let census = tally.take();
        assert!(paths.iter().all(|p| census.keys.contains_key(*p)));
        assert_eq!(profiles["a.b"].integral_doubles, 2);
        assert_eq!(profiles["a.c"].labels["x"], 1);
        assert_eq!(profiles["a.c"].labels["y"], 1);
        assert_eq!(profiles["m.*"].ints, 3);
        assert_eq!(profiles["_id"].keys.as_ref().map(|k| k.values), Some(2));
    }
}
