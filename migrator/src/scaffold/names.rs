//! Rust names for what a source calls its collections, keys and labels: structs in
//! UpperCamelCase (singular), fields in snake_case, with the document's key kept by `rename`
//! (or `path`) wherever the two differ; keys that are no identifier (`Content-Type`,
//! `orderStatus:`, `$type`, `2fa`) and Rust keywords get a usable name.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A snake_case identifier for a key: `orderStatus:` -> `order_status`, `$type` -> `type_`,
/// `2fa` -> `f_2fa`, `type` -> `type_`.
pub fn field_ident(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let mut name = cleaned.to_snake_case();
    name.retain(|c| c.is_ascii_alphanumeric() || c == '_');
    if name.is_empty() {
        name = "field".into();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("f_{name}");
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// An UpperCamelCase type name: `mongomart_item` -> `MongomartItem`, `categories` -> `Category`.
pub fn type_ident(name: &str) -> String {
    let words: String = name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let mut camel = singular(&words).to_upper_camel_case();
    camel.retain(|c| c.is_ascii_alphanumeric());
    if camel.is_empty() || camel.starts_with(|c: char| c.is_ascii_digit()) {
        camel = format!("T{camel}");
    }
    if KEYWORDS.contains(&camel.as_str()) {
        camel.push('_');
    }
    camel
}

/// An enum variant for a label (`in progress` -> `InProgress`), if the label gives one.
pub fn variant_ident(label: &str) -> Option<String> {
    let cleaned: String = label
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut v = cleaned.to_upper_camel_case();
    v.retain(|c| c.is_ascii_alphanumeric());
    if v.is_empty() {
        return None;
    }
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        v = format!("V{v}");
    }
    if KEYWORDS.contains(&v.as_str()) {
        v.push('_');
    }
    Some(v)
}

/// English plural to singular, for the usual cases only (`users`, `categories`, `boxes`);
/// words ending in `ss`, `us`, `is` stay.
fn singular(name: &str) -> String {
    let (head, last) = match name.rfind('_') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => ("", name),
    };
    // Nouns whose singular ends in `ie` (`movies`, `cookies`), not in `y`.
    const IE: &[&str] = &[
        "movies", "cookies", "zombies", "rookies", "selfies", "calories",
    ];
    let one = if IE.contains(&last) {
        last[..last.len() - 1].to_string()
    } else if let Some(stem) = last.strip_suffix("ies").filter(|s| s.len() > 1) {
        format!("{stem}y")
    } else if let Some(stem) = ["sses", "xes", "ches", "shes"]
        .iter()
        .find_map(|s| last.strip_suffix(s).map(|stem| (stem, s)))
    {
        format!("{}{}", stem.0, &stem.1[..stem.1.len() - 2])
    } else if last.len() > 3
        && last.ends_with('s')
        && !["ss", "us", "is"].iter().any(|s| last.ends_with(s))
    {
        last[..last.len() - 1].to_string()
    } else {
        last.to_string()
    };
    format!("{head}{one}")
}

/// Hands out names, making each one unique in its scope (`name`, `name_2`, ...).
#[derive(Debug, Default)]
pub struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    pub fn unique(&mut self, wanted: String) -> String {
        let mut name = wanted.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        name
    }

    /// Like [`Names::unique`] for type names (`Name2`).
    pub fn unique_type(&mut self, wanted: String) -> String {
        let mut name = wanted.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{wanted}{n}");
            n += 1;
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_identifiers() {
        for (key, ident) in [
            ("orderStatus:", "order_status"),
            ("Content-Type", "content_type"),
            ("$type", "type_"),
            ("type", "type_"),
            ("2fa", "f_2fa"),
            ("_id", "id"),
            ("theaterId", "theater_id"),
            ("num_mflix_comments", "num_mflix_comments"),
            ("€", "field"),
        ] {
            assert_eq!(field_ident(key), ident, "{key}");
        }
    }

    #[test]
    fn collections_become_singular_types() {
        for (c, t) in [
            ("users", "User"),
            ("categories", "Category"),
            ("movies", "Movie"),
            ("mongomart_item", "MongomartItem"),
            ("addresses", "Address"),
            ("status", "Status"),
            ("analysis", "Analysis"),
            ("api_keys", "ApiKey"),
            ("self", "Self_"),
        ] {
            assert_eq!(type_ident(c), t, "{c}");
        }
        assert_eq!(variant_ident("in progress").as_deref(), Some("InProgress"));
        assert_eq!(variant_ident("PG-13").as_deref(), Some("Pg13"));
        assert_eq!(variant_ident("-"), None);
    }
}
