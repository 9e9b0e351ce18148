//! The one naming rule from Rust and MongoDB names to PostgreSQL names, and identifier quoting.
//!
//! The derive applies the same rule at compile time (it depends on `heck` too); this module is
//! what the runtime, the DDL and validation use.

use heck::ToSnakeCase;

/// Maps a Rust or MongoDB name to a PostgreSQL identifier: snake_case (`orderItems` -> `order_items`).
pub fn pg_name(name: &str) -> String {
    name.to_snake_case()
}

/// `name` in lowercase ASCII letters and digits, anything else as `_` (for names made up from
/// labels and paths: test databases, a database named after a source).
pub fn plain_identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Quotes an identifier for SQL text: always double-quoted, embedded quotes doubled.
///
/// Every identifier that enters SQL goes through this function; values never enter SQL text.
pub fn quote_ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes a possibly schema-qualified name (`schema.table`), each part on its own.
pub fn quote_qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(name)),
        None => quote_ident(name),
    }
}

/// Quotes a string literal for DDL text that cannot take parameters (enum labels, CHECK lists).
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_snake_case() {
        for (rust, pg) in [
            ("orderItems", "order_items"),
            ("OrderItem", "order_item"),
            ("account_id", "account_id"),
            ("imdbRating", "imdb_rating"),
            ("HTTPRequest", "http_request"),
        ] {
            assert_eq!(pg_name(rust), pg, "{rust}");
        }
    }

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(quote_ident("users"), "\"users\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            quote_qualified(Some("_migrator"), "runs"),
            "\"_migrator\".\"runs\""
        );
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}

/// PostgreSQL's identifier limit in bytes.
pub const MAX_IDENT_LEN: usize = 63;

/// A constraint or index name `{table}_{columns}_{suffix}` that fits PostgreSQL's 63-byte limit:
/// longer names are cut and end in a short hash of the full name, so they stay unique and stable.
pub fn constraint_name(table: &str, columns: &[&str], suffix: &str) -> String {
    let mut full = String::from(table);
    for c in columns {
        full.push('_');
        full.push_str(c);
    }
    full.push('_');
    full.push_str(suffix);
    if full.len() <= MAX_IDENT_LEN {
        return full;
    }
    // FNV-1a: tiny, stable across platforms and releases.
    let mut hash: u32 = 0x811c_9dc5;
    for b in full.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let tail = format!("_{hash:08x}_{suffix}");
    let mut cut = MAX_IDENT_LEN - tail.len();
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tail}", &full[..cut])
}

#[cfg(test)]
mod constraint_tests {
    use super::*;

    #[test]
    fn long_constraint_names_fit_and_stay_distinct() {
        assert_eq!(
            constraint_name("posts", &["author_id"], "fkey"),
            "posts_author_id_fkey"
        );
        let long_table = "organization_subscription_invoice_line_items";
        let a = constraint_name(long_table, &["subscription_invoice_id"], "fkey");
        let b = constraint_name(long_table, &["subscription_invoice_idx"], "fkey");
        assert!(
            a.len() <= MAX_IDENT_LEN && b.len() <= MAX_IDENT_LEN,
            "{a} {b}"
        );
        assert_ne!(a, b);
        assert!(a.ends_with("_fkey"));
    }
}
