//! When a string key is an enum: only with evidence. Few labels over many values, most of them
//! used often, every label a word (not free text, a code or a value with punctuation), and a key
//! whose name does not say it holds names, ids or addresses.

use std::collections::BTreeMap;

/// Enums: at most this many labels, each label used this many times on average, and at
/// least this many values in all.
pub const MAX_LABELS: usize = 12;
pub const USES_PER_LABEL: u64 = 30;
pub const MIN_ENUM_VALUES: u64 = 100;
/// Keys whose name says they hold names, identifiers, addresses or free text: never enums,
/// however few their values (a key's last word, lowercased).
const NEVER_ENUM: &[&str] = &[
    "id",
    "ids",
    "name",
    "names",
    "email",
    "slug",
    "url",
    "uri",
    "code",
    "key",
    "token",
    "hash",
    "path",
    "title",
    "description",
    "city",
    "country",
    "address",
    "street",
    "phone",
    "zip",
    "postalcode",
    "color",
    "colour",
    "timezone",
    "locale",
    "language",
];

/// A label that reads like an identifier (`in_progress`, `pastDue`, `PAST_DUE`, `Active`), not
/// free text, a code or a value with punctuation (`Europe/Berlin`, `en-US`, `#eng`, `EUR`).
fn word_label(label: &str) -> bool {
    let mut chars = label.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let identifier = first.is_ascii_alphabetic()
        && label.len() <= 32
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    // Short upper-case codes (`EUR`, `DE`) are codes of an open set, not states.
    let code = label.len() <= 3 && label.chars().all(|c| c.is_ascii_uppercase());
    identifier && !code
}

/// The last word of a key path, lowercased: `billingAddress.city` -> `city`, `user_id` -> `id`.
fn last_word(path: &str) -> String {
    let key = path
        .rsplit('.')
        .next()
        .unwrap_or(path)
        .trim_end_matches("[]");
    let mut word = String::new();
    for c in key.chars() {
        if c == '_' || c == '-' {
            word.clear();
        } else if c.is_ascii_uppercase() {
            word.clear();
            word.push(c.to_ascii_lowercase());
        } else {
            word.push(c);
        }
    }
    word
}

/// Whether the labels seen at `path` (with their counts) make an enum.
pub fn evidence(labels: &BTreeMap<String, u64>, overflow: bool, path: &str) -> bool {
    verdict(labels, overflow, path).is_ok()
}

/// Why the labels seen at `path` make no enum (the first rule they fail), or `Ok`.
pub fn verdict(labels: &BTreeMap<String, u64>, overflow: bool, path: &str) -> Result<(), String> {
    let total: u64 = labels.values().sum();
    let common = labels.values().filter(|&&c| c >= 10).count();
    let word = last_word(path);
    if overflow {
        return Err(format!(
            "more than {} distinct strings",
            super::scan::LABEL_CAP
        ));
    }
    if !(2..=MAX_LABELS).contains(&labels.len()) {
        return Err(format!(
            "{} labels (an enum has 2 to {MAX_LABELS})",
            labels.len()
        ));
    }
    if total < USES_PER_LABEL * labels.len() as u64 || total < MIN_ENUM_VALUES {
        return Err(format!(
            "{total} values for {} labels (an enum needs {USES_PER_LABEL} per label and {MIN_ENUM_VALUES} in all)",
            labels.len()
        ));
    }
    if common < 2 {
        return Err("fewer than two labels used 10 times".into());
    }
    if let Some(l) = labels.keys().find(|l| !word_label(l)) {
        return Err(format!("`{l}` is no word label"));
    }
    if NEVER_ENUM.contains(&word.as_str()) {
        return Err(format!("a key named `{word}` holds names or codes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(l, c)| (l.to_string(), *c)).collect()
    }

    #[test]
    fn enums_need_evidence() {
        let status = labels(&[
            ("todo", 400),
            ("in_progress", 380),
            ("done", 800),
            ("archived", 2),
        ]);
        let cases: &[(&str, BTreeMap<String, u64>, &str, bool)] = &[
            ("statuses with a rare label", status.clone(), "status", true),
            (
                "too few values",
                labels(&[("open", 20), ("closed", 20)]),
                "state",
                false,
            ),
            ("a name", status.clone(), "owner.name", false),
            ("an id", status.clone(), "parentId", false),
            (
                "free text",
                labels(&[("Backup key", 80), ("CI key", 80)]),
                "label",
                false,
            ),
            (
                "time zones",
                labels(&[("Europe/Berlin", 80), ("UTC", 80)]),
                "zone",
                false,
            ),
            (
                "currency codes",
                labels(&[("EUR", 600), ("USD", 600)]),
                "currency",
                false,
            ),
            (
                "cities",
                labels(&[("Austin", 400), ("Berlin", 400)]),
                "billing.city",
                false,
            ),
            (
                "event names",
                labels(&[("task.created", 400), ("invoice.paid", 400)]),
                "event",
                false,
            ),
            (
                "one common label",
                labels(&[("a", 500), ("b", 5)]),
                "kind",
                false,
            ),
            (
                "SCREAMING labels",
                labels(&[("PAST_DUE", 90), ("ACTIVE", 90)]),
                "status",
                true,
            ),
        ];
        for (what, l, path, want) in cases {
            assert_eq!(evidence(l, false, path), *want, "{what}");
        }
        assert!(!evidence(&status, true, "status"), "overflowed labels");
    }

    #[test]
    fn last_words() {
        for (path, word) in [
            ("billingAddress.city", "city"),
            ("user_id", "id"),
            ("postalCode", "code"),
            ("tags[]", "tags"),
        ] {
            assert_eq!(last_word(path), word, "{path}");
        }
    }
}
