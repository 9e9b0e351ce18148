//! Why a scaffold and hand-written models differ, in words: the scaffold's evidence (the doc
//! comment of the field reading the key, or of the field holding it whole; the share of values
//! a reference target holds; an enum's verdict) beside how the hand-written model reads the key.

use std::collections::BTreeMap;

use super::compare::{At, Feature, HandColumn};
use super::enums;
use super::model::Field;
use super::references::Found;
use super::Scaffold;
use crate::census::parent_path;

/// `1 value`, `2 values`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        super::infer::count(n),
        if n == 1 { one } else { many }
    )
}

/// How much of a reference dangles: values and the documents holding them (counted by the
/// second read, [`super::confirm`]), and distinct values: `4 dangling values in 3 documents (2
/// distinct)`. Without the second read's counts, the distinct values only.
pub(super) fn dangling(f: &Found) -> String {
    match f.confirmed {
        Some(c) => format!(
            "{} in {} ({} distinct, of {} values in all)",
            counted(c.dangling_values, "dangling value", "dangling values"),
            counted(c.dangling_documents, "document", "documents"),
            super::infer::count(c.dangling),
            super::infer::count(c.values),
        ),
        None => format!(
            "{} (the documents holding them were not counted: the second read could not count this path exactly)",
            counted(f.dangling() as u64, "distinct value dangles", "distinct values dangle"),
        ),
    }
}

pub(super) struct Explain<'a> {
    pub(super) scaffold: &'a Scaffold,
    pub(super) fields: &'a BTreeMap<At, &'a Field>,
    pub(super) hand: &'a BTreeMap<At, HandColumn<'a>>,
}

/// The entry for `at`, else for its nearest ancestor path, with the path found.
fn nearest<'m, T>(map: &'m BTreeMap<At, T>, at: &At) -> Option<(String, &'m T)> {
    let mut path = at.1.as_str();
    loop {
        if let Some(found) = map.get(&(at.0.clone(), path.to_string())) {
            return Some((path.to_string(), found));
        }
        if path.is_empty() {
            return None;
        }
        path = parent_path(path);
    }
}

impl Explain<'_> {
    /// What the scaffold's field reading `at` (or holding it) says.
    fn evidence(&self, at: &At) -> String {
        match nearest(self.fields, at) {
            Some((path, f)) if path == at.1 => f.docs.join(" "),
            Some((path, f)) => format!("kept inside `{path}` ({}): {}", f.ty, f.docs.join(" ")),
            None => format!("no document has the key `{}`", at.1),
        }
    }

    /// How the hand-written models read `at`.
    fn hand_reads(&self, at: &At) -> String {
        match nearest(self.hand, at) {
            Some((path, h)) => {
                let c = h.column;
                let mut how = format!(
                    "`{}.{}` {}{}",
                    h.table,
                    c.name,
                    c.ty.sql(),
                    if c.nullable { " null" } else { " not null" }
                );
                if let Some(with) = &c.read.with {
                    how.push_str(&format!(", read with `{with}`"));
                }
                if c.read.default.is_some() {
                    how.push_str(", a default when absent");
                }
                if path == at.1 {
                    format!("the hand-written model reads it into {how}")
                } else {
                    format!("the hand-written model keeps it inside {how}")
                }
            }
            None => "the hand-written model reads no column there".into(),
        }
    }

    /// The share of the values at `at` that the hand-written target `collection.key` holds.
    fn containment(&self, at: &At, target: &str, junction: bool) -> String {
        let path = if junction {
            format!("{}[]", at.1)
        } else {
            at.1.clone()
        };
        let scan = &self.scaffold.scan;
        let keys = |c: &str, p: &str| {
            scan.collection(c)
                .and_then(|c| c.profile(p))
                .and_then(|p| p.keys.as_ref())
        };
        let chose = match self.scaffold.refs.found.get(&(at.0.clone(), path.clone())) {
            Some(f) => format!(
                "; the scaffold chose `{}.{}` ({})",
                f.target,
                f.key,
                f.confidence()
            ),
            None => String::new(),
        };
        let Some((tc, tk)) = target.split_once('.') else {
            return format!("the target `{target}` is no collection key{chose}");
        };
        match (keys(&at.0, &path), keys(tc, tk)) {
            (Some(mine), Some(theirs)) => {
                let (found, total) = mine.contained_in(theirs);
                format!("{found} of {total} distinct values are `{target}` values{chose}")
            }
            (None, _) => format!("no key-like values at `{path}` to compare{chose}"),
            (_, None) => format!("no key-like values at `{target}` to compare with{chose}"),
        }
    }

    /// Why the scaffold lacks (or differs on) what the hand-written models have at `at`.
    pub(super) fn missed(&self, feature: Feature, at: &At, detail: &str) -> String {
        let mut why = Vec::new();
        match feature {
            Feature::Reference | Feature::Junction => {
                why.push(self.containment(at, detail, feature == Feature::Junction));
            }
            Feature::Enum => {
                let profile = self
                    .scaffold
                    .scan
                    .collection(&at.0)
                    .and_then(|c| c.profile(&at.1));
                why.push(match profile {
                    Some(p) => match enums::verdict(&p.labels, p.labels_overflow, &at.1) {
                        Err(reason) => format!("no enum: {reason}"),
                        Ok(()) => {
                            "the labels make an enum, but the key is a reference or unique".into()
                        }
                    },
                    None => "no string values".into(),
                });
            }
            _ => {}
        }
        why.push(format!("scaffold: {}", self.evidence(at)));
        why.push(self.hand_reads(at));
        why.join("; ")
    }

    /// Why the scaffold has what the hand-written models lack at `at`.
    pub(super) fn added(&self, _feature: Feature, at: &At) -> String {
        format!("scaffold: {}; {}", self.evidence(at), self.hand_reads(at))
    }
}
