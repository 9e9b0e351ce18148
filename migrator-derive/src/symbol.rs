//! One constant per attribute key, so parsing, checks and messages spell each key once.

use std::fmt;

use syn::Path;

/// The name of an attribute or of a key inside one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol(pub &'static str);

impl Symbol {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, symbol: &Symbol) -> bool {
        self.is_ident(symbol.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, symbol: &Symbol) -> bool {
        self.is_ident(symbol.0)
    }
}

// Attributes.
pub const MIGRATE: Symbol = Symbol("migrate");
pub const SERDE: Symbol = Symbol("serde");

// Container keys.
pub const COLLECTION: Symbol = Symbol("collection");
pub const TABLE: Symbol = Symbol("table");
pub const EMBEDDED: Symbol = Symbol("embedded");
pub const UNKNOWN_FIELDS: Symbol = Symbol("unknown_fields");
pub const IGNORE: Symbol = Symbol("ignore");
pub const OPTIONAL: Symbol = Symbol("optional");
pub const RENAME_ALL: Symbol = Symbol("rename_all");
pub const NAME: Symbol = Symbol("name");
pub const REPR: Symbol = Symbol("repr");
pub const NAMING: Symbol = Symbol("naming");

// Field and variant keys.
pub const ID: Symbol = Symbol("id");
pub const STRATEGY: Symbol = Symbol("strategy");
pub const RENAME: Symbol = Symbol("rename");
pub const COLUMN: Symbol = Symbol("column");
pub const SKIP: Symbol = Symbol("skip");
pub const DEFAULT: Symbol = Symbol("default");
pub const WITH: Symbol = Symbol("with");
pub const UNIQUE: Symbol = Symbol("unique");
pub const INDEX: Symbol = Symbol("index");
pub const JSONB: Symbol = Symbol("jsonb");
pub const AS_TEXT: Symbol = Symbol("as_text");
pub const REFERENCES: Symbol = Symbol("references");
pub const KEY: Symbol = Symbol("key");
pub const ON_MISSING: Symbol = Symbol("on_missing");
pub const JUNCTION: Symbol = Symbol("junction");
pub const OWNER_COLUMN: Symbol = Symbol("owner_column");
pub const TARGET_COLUMN: Symbol = Symbol("target_column");
pub const POSITION: Symbol = Symbol("position");
pub const CHILD: Symbol = Symbol("child");
pub const PARENT_COLUMN: Symbol = Symbol("parent_column");
pub const DIMENSIONS: Symbol = Symbol("dimensions");
pub const IMPLICIT: Symbol = Symbol("implicit");
pub const PATH: Symbol = Symbol("path");
pub const FLATTEN: Symbol = Symbol("flatten");

// Serde's own keys inside `rename(..)` and `rename_all(..)`.
pub const SERIALIZE: Symbol = Symbol("serialize");
pub const DESERIALIZE: Symbol = Symbol("deserialize");

/// Keys accepted on a struct.
pub const STRUCT_KEYS: &[Symbol] = &[
    COLLECTION,
    TABLE,
    EMBEDDED,
    UNKNOWN_FIELDS,
    IGNORE,
    RENAME_ALL,
    OPTIONAL,
    NAMING,
];
/// Keys accepted on a fieldless enum.
pub const ENUM_KEYS: &[Symbol] = &[NAME, REPR, RENAME_ALL];
/// Keys accepted on a field.
pub const FIELD_KEYS: &[Symbol] = &[
    ID,
    STRATEGY,
    RENAME,
    PATH,
    COLUMN,
    SKIP,
    DEFAULT,
    WITH,
    UNIQUE,
    INDEX,
    JSONB,
    AS_TEXT,
    REFERENCES,
    KEY,
    ON_MISSING,
    JUNCTION,
    OWNER_COLUMN,
    TARGET_COLUMN,
    POSITION,
    CHILD,
    PARENT_COLUMN,
    FLATTEN,
    DIMENSIONS,
    IMPLICIT,
];
/// Keys accepted on an enum variant.
pub const VARIANT_KEYS: &[Symbol] = &[RENAME];

/// `` `a`, `b` or `c` `` for messages.
pub fn list(symbols: &[Symbol]) -> String {
    let mut out = String::new();
    for (i, s) in symbols.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(s.0);
        out.push('`');
    }
    out
}
