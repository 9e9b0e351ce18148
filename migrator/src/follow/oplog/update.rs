//! An oplog update applied to a document: the `$set`/`$unset` form of older servers (dotted
//! paths, `$v: 1` or no `$v`) and the `$v: 2` delta form (`diff`: `d` fields removed, `u`
//! fields updated in place, `i` fields inserted, `s<field>` a sub-diff of a nested document or
//! of an array, whose own sections are `a: true`, `l` its new length, `u<n>` an element set and
//! `s<n>` an element's sub-diff).
//!
//! An oplog entry is applied to a document that may already show later changes (the dump's
//! collection files are read while the application writes): like a server applying its oplog,
//! a sub-diff whose field is missing or holds another type is passed over; the later entries
//! that made the field what it is set it again.

use bson::{Bson, Document};

/// An update, its structure checked when the entry was read.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Update {
    /// `$set` and `$unset` of dotted paths.
    Fields {
        set: Vec<(String, Bson)>,
        unset: Vec<String>,
    },
    /// A `$v: 2` delta.
    Diff(Document),
}

impl Update {
    /// Reads an update entry's `o` (a replacement document is not an update: `None`).
    pub(super) fn parse(o: &Document) -> Result<Option<Update>, String> {
        let version = o.get("$v");
        if let Some(diff) = o.get("diff") {
            if !matches!(version, Some(Bson::Int32(2) | Bson::Int64(2))) {
                return Err(format!("an update with a `diff` but `$v` {version:?}"));
            }
            let Bson::Document(diff) = diff else {
                return Err("`diff` is not a document".into());
            };
            check_document_diff(diff, "")?;
            return Ok(Some(Update::Diff(diff.clone())));
        }
        if !o.keys().any(|k| k.starts_with('$')) {
            return Ok(None);
        }
        let (mut set, mut unset) = (Vec::new(), Vec::new());
        for (key, value) in o {
            match (key.as_str(), value) {
                ("$v", Bson::Int32(1) | Bson::Int64(1)) => {}
                ("$set", Bson::Document(fields)) => {
                    set.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                ("$unset", Bson::Document(fields)) => unset.extend(fields.keys().cloned()),
                (key, _) => {
                    return Err(format!(
                        "update operator `{key}` is not supported in an oplog replay (expected \
                         `$set`, `$unset` or a `$v: 2` `diff`)"
                    ))
                }
            }
        }
        Ok(Some(Update::Fields { set, unset }))
    }

    /// Applies the update to `doc`.
    pub(super) fn apply(&self, doc: &mut Document) -> Result<(), String> {
        match self {
            Update::Fields { set, unset } => {
                for (path, value) in set {
                    set_path(doc, path, value.clone())?;
                }
                for path in unset {
                    unset_path(doc, path);
                }
                Ok(())
            }
            Update::Diff(diff) => apply_document_diff(doc, diff),
        }
    }
}

/// Checks a document diff's sections (`at`: the path, for messages).
fn check_document_diff(diff: &Document, at: &str) -> Result<(), String> {
    for (key, value) in diff {
        match (key.as_str(), value) {
            ("d" | "u" | "i", Bson::Document(_)) => {}
            (sub, Bson::Document(inner)) if sub.len() > 1 && sub.starts_with('s') => {
                let path = join(at, &sub[1..]);
                if is_array_diff(inner) {
                    check_array_diff(inner, &path)?;
                } else {
                    check_document_diff(inner, &path)?;
                }
            }
            (other, _) => {
                return Err(format!(
                    "unknown `$v: 2` diff section `{other}` at `{}` (expected `d`, `u`, `i` or \
                     `s<field>`)",
                    if at.is_empty() { "the top" } else { at }
                ))
            }
        }
    }
    Ok(())
}

fn check_array_diff(diff: &Document, at: &str) -> Result<(), String> {
    for (key, value) in diff {
        match key.as_str() {
            "a" => {}
            "l" if index_of(value).is_some() => {}
            other => match (other.split_at_checked(1), value) {
                (Some(("u", n)), _) if n.parse::<usize>().is_ok() => {}
                (Some(("s", n)), Bson::Document(inner)) if n.parse::<usize>().is_ok() => {
                    let path = join(at, n);
                    if is_array_diff(inner) {
                        check_array_diff(inner, &path)?;
                    } else {
                        check_document_diff(inner, &path)?;
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown `$v: 2` array diff section `{other}` at `{at}` (expected `a`, \
                         `l`, `u<index>` or `s<index>`)"
                    ))
                }
            },
        }
    }
    Ok(())
}

fn join(at: &str, field: &str) -> String {
    if at.is_empty() {
        field.to_string()
    } else {
        format!("{at}.{field}")
    }
}

fn is_array_diff(diff: &Document) -> bool {
    matches!(diff.get("a"), Some(Bson::Boolean(true)))
}

fn index_of(value: &Bson) -> Option<usize> {
    match value {
        Bson::Int32(n) => usize::try_from(*n).ok(),
        Bson::Int64(n) => usize::try_from(*n).ok(),
        _ => None,
    }
}

fn apply_document_diff(doc: &mut Document, diff: &Document) -> Result<(), String> {
    if let Some(Bson::Document(removed)) = diff.get("d") {
        for field in removed.keys() {
            doc.remove(field);
        }
    }
    if let Some(Bson::Document(updated)) = diff.get("u") {
        for (field, value) in updated {
            // In place when the field is there (a Document keeps a field's position).
            doc.insert(field.clone(), value.clone());
        }
    }
    if let Some(Bson::Document(inserted)) = diff.get("i") {
        for (field, value) in inserted {
            doc.remove(field);
            doc.insert(field.clone(), value.clone());
        }
    }
    for (key, value) in diff {
        let (Some(field), Bson::Document(sub)) = (key.strip_prefix('s'), value) else {
            continue;
        };
        if field.is_empty() {
            continue;
        }
        apply_sub_diff(doc.get_mut(field), sub)?;
    }
    Ok(())
}

/// A sub-diff applied to a value, if the value is of the kind the sub-diff changes.
fn apply_sub_diff(value: Option<&mut Bson>, sub: &Document) -> Result<(), String> {
    match (value, is_array_diff(sub)) {
        (Some(Bson::Array(items)), true) => apply_array_diff(items, sub),
        (Some(Bson::Document(inner)), false) => apply_document_diff(inner, sub),
        // Missing, or of another type: a later entry sets it (see the module's comment).
        _ => Ok(()),
    }
}

fn apply_array_diff(items: &mut Vec<Bson>, diff: &Document) -> Result<(), String> {
    if let Some(length) = diff.get("l").and_then(index_of) {
        items.resize(length, Bson::Null);
    }
    for (key, value) in diff {
        let Some((section, index)) = key.split_at_checked(1) else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        match (section, value) {
            ("u", value) => {
                if index >= items.len() {
                    items.resize(index + 1, Bson::Null);
                }
                items[index] = value.clone();
            }
            ("s", Bson::Document(sub)) => apply_sub_diff(items.get_mut(index), sub)?,
            _ => {}
        }
    }
    Ok(())
}

/// `$set` of a dotted path: missing documents on the way are created, array elements are
/// addressed by their index (the array padded with nulls, as the server does).
fn set_path(doc: &mut Document, path: &str, value: Bson) -> Result<(), String> {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return Err(format!("`$set` of an empty path `{path}`"));
    };
    let rest: Vec<&str> = parts.collect();
    let Some((last, middle)) = rest.split_last() else {
        doc.insert(first, value);
        return Ok(());
    };
    let mut at = doc
        .entry(first.to_string())
        .or_insert_with(|| Bson::Document(Document::new()));
    for part in middle {
        at = step(at, part, path)?;
    }
    match at {
        Bson::Document(d) => {
            d.insert(*last, value);
        }
        Bson::Array(items) => {
            let index = array_index(last, path)?;
            if index >= items.len() {
                items.resize(index + 1, Bson::Null);
            }
            items[index] = value;
        }
        other => return Err(cannot_set(path, other)),
    }
    Ok(())
}

/// One step down a `$set` path, creating a missing document.
fn step<'a>(at: &'a mut Bson, part: &str, path: &str) -> Result<&'a mut Bson, String> {
    match at {
        Bson::Document(d) => Ok(d
            .entry(part.to_string())
            .or_insert_with(|| Bson::Document(Document::new()))),
        Bson::Array(items) => {
            let index = array_index(part, path)?;
            if index >= items.len() {
                items.resize(index + 1, Bson::Null);
            }
            if items[index] == Bson::Null {
                items[index] = Bson::Document(Document::new());
            }
            Ok(&mut items[index])
        }
        other => Err(cannot_set(path, other)),
    }
}

fn array_index(part: &str, path: &str) -> Result<usize, String> {
    part.parse::<usize>()
        .map_err(|_| format!("`$set` of `{path}`: `{part}` is not an index of the array there"))
}

fn cannot_set(path: &str, found: &Bson) -> String {
    format!(
        "`$set` of `{path}` goes through a {:?} value, not a document or an array",
        found.element_type()
    )
}

/// `$unset` of a dotted path: a field removed, an array element set to null; a path that is not
/// there changes nothing.
fn unset_path(doc: &mut Document, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    unset_in_document(doc, &parts);
}

fn unset_in_document(doc: &mut Document, parts: &[&str]) {
    match parts {
        [] => {}
        [last] => {
            doc.remove(*last);
        }
        [first, rest @ ..] => {
            if let Some(value) = doc.get_mut(*first) {
                unset_in_value(value, rest);
            }
        }
    }
}

fn unset_in_value(value: &mut Bson, parts: &[&str]) {
    match value {
        Bson::Document(d) => unset_in_document(d, parts),
        Bson::Array(items) => {
            let Some((first, rest)) = parts.split_first() else {
                return;
            };
            let Some(item) = first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) else {
                return;
            };
            if rest.is_empty() {
                *item = Bson::Null;
            } else {
                unset_in_value(item, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn applied(before: Document, o: Document) -> Document {
        let update = Update::parse(&o)
            .expect("an update")
            .expect("not a replacement");
        let mut doc = before;
        update.apply(&mut doc).expect("applied");
        doc
    }

    #[test]
    fn set_and_unset_of_dotted_paths() {
        let before = doc! {"_id": 1, "a": {"b": 1, "c": 2}, "items": [{"q": 1}, {"q": 2}], "x": 1};
        let cases = [
            (
                doc! {"$v": 1, "$set": {"a.b": 5, "n": "new"}},
                doc! {"_id": 1, "a": {"b": 5, "c": 2}, "items": [{"q": 1}, {"q": 2}], "x": 1, "n": "new"},
            ),
            (
                doc! {"$set": {"items.1.q": 9, "deep.er": true}},
                doc! {"_id": 1, "a": {"b": 1, "c": 2}, "items": [{"q": 1}, {"q": 9}], "x": 1, "deep": {"er": true}},
            ),
            (
                doc! {"$set": {"items.3": {"q": 4}}},
                doc! {"_id": 1, "a": {"b": 1, "c": 2}, "items": [{"q": 1}, {"q": 2}, null, {"q": 4}], "x": 1},
            ),
            (
                doc! {"$unset": {"a.c": true, "x": 1, "items.0": true, "not.there": true}},
                doc! {"_id": 1, "a": {"b": 1}, "items": [null, {"q": 2}]},
            ),
        ];
        for (o, expected) in cases {
            assert_eq!(applied(before.clone(), o.clone()), expected, "{o}");
        }
    }

    #[test]
    fn v2_diffs_update_insert_delete_and_descend() {
        let before = doc! {"_id": 1, "status": "pending", "gone": 1,
        "addr": {"city": "Oslo", "zip": "0150"}, "lines": [{"q": 1}, {"q": 2}, {"q": 3}]};
        let cases = [
            (
                doc! {"$v": 2, "diff": {"u": {"status": "shipped"}, "i": {"at": 5}, "d": {"gone": false}}},
                doc! {"_id": 1, "status": "shipped", "addr": {"city": "Oslo", "zip": "0150"},
                "lines": [{"q": 1}, {"q": 2}, {"q": 3}], "at": 5},
            ),
            (
                doc! {"$v": 2, "diff": {"saddr": {"u": {"city": "Bergen"}, "d": {"zip": false}}}},
                doc! {"_id": 1, "status": "pending", "gone": 1, "addr": {"city": "Bergen"},
                "lines": [{"q": 1}, {"q": 2}, {"q": 3}]},
            ),
            (
                // An element changed inside, the array cut to two.
                doc! {"$v": 2, "diff": {"slines": {"a": true, "l": 2, "s0": {"u": {"q": 7}}}}},
                doc! {"_id": 1, "status": "pending", "gone": 1, "addr": {"city": "Oslo", "zip": "0150"},
                "lines": [{"q": 7}, {"q": 2}]},
            ),
            (
                // Elements set past the end: the array grows.
                doc! {"$v": 2, "diff": {"slines": {"a": true, "u3": {"q": 4}, "u4": {"q": 5}}}},
                doc! {"_id": 1, "status": "pending", "gone": 1, "addr": {"city": "Oslo", "zip": "0150"},
                "lines": [{"q": 1}, {"q": 2}, {"q": 3}, {"q": 4}, {"q": 5}]},
            ),
            (
                // A sub-diff of a field that is not a document (a later state): passed over.
                doc! {"$v": 2, "diff": {"sstatus": {"u": {"x": 1}}, "smissing": {"a": true, "u0": 1}}},
                before.clone(),
            ),
        ];
        for (o, expected) in cases {
            assert_eq!(applied(before.clone(), o.clone()), expected, "{o}");
        }
    }

    #[test]
    fn replacements_are_not_updates_and_unknown_forms_are_refused() {
        assert_eq!(Update::parse(&doc! {"_id": 1, "a": 2}), Ok(None));
        for (o, says) in [
            (
                doc! {"$inc": {"a": 1}},
                "update operator `$inc` is not supported",
            ),
            (doc! {"$v": 1, "diff": {"u": {"a": 1}}}, "a `diff` but `$v`"),
            (
                doc! {"$v": 2, "diff": {"x": {"a": 1}}},
                "unknown `$v: 2` diff section `x`",
            ),
            (
                doc! {"$v": 2, "diff": {"sa": {"a": true, "q1": 1}}},
                "unknown `$v: 2` array diff section `q1` at `a`",
            ),
        ] {
            let error = Update::parse(&o).expect_err("refused");
            assert!(error.contains(says), "{o}: {error}");
        }
        let mut doc = doc! {"_id": 1, "a": "text"};
        let update = Update::parse(&doc! {"$set": {"a.b": 1}})
            .expect("parsed")
            .expect("an update");
        let error = update.apply(&mut doc).expect_err("through a string");
        assert!(
            error.contains("`$set` of `a.b` goes through a String"),
            "{error}"
        );
    }
}
