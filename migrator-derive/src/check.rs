//! The rules: which attribute combinations mean something, and what must hold for the whole model.
//!
//! Each rule reports a spanned error to the [`Ctxt`] and the derive goes on, so every misuse is
//! reported at once. Rules that need type information (a reference whose type is not the
//! target's id, a field type with no column mapping) are where-bounds in the generated code.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;
use syn::DeriveInput;

use crate::attr::{Attrs, Spanned};
use crate::ctxt::Ctxt;
use crate::model::{Field, FieldKind, Input, Role, Struct, StructKind};
use crate::symbol::{self, Symbol};
use crate::types;

/// PostgreSQL truncates longer identifiers, which would make distinct names collide.
const MAX_IDENT_LEN: usize = 63;

pub fn generics(cx: &Ctxt, input: &DeriveInput) {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &input.generics,
            "`Migrate` cannot be derived for a generic type: a model maps to fixed tables and columns",
        );
    }
}

pub fn container(cx: &Ctxt, attrs: &Attrs, embedded: bool) {
    if !embedded {
        return;
    }
    for key in [symbol::COLLECTION, symbol::TABLE, symbol::OPTIONAL] {
        if let Some(span) = attrs.span(key) {
            cx.error_at(
                span,
                format!(
                    "`{key}` does not apply to an embedded struct: it is stored in the table named by the parent's `child = \"...\"`"
                ),
            );
        }
    }
}

/// A dotted `rename` would read a key literally named `a.b`, never the path `a` -> `b`.
pub fn dotted_key(cx: &Ctxt, attrs: &Attrs) {
    let rename = attrs
        .string(symbol::RENAME)
        .or_else(|| attrs.serde_rename.clone());
    if let Some(rename) = rename.filter(|r| r.value.contains('.')) {
        let parent = rename.value.split('.').next().unwrap_or_default();
        cx.error_at(
            rename.span,
            format!(
                "`rename = \"{}\"` names a nested path, but a key is read literally (MongoDB documents \
                 almost never have a key with a `.`); to read below `{parent}`, write \
                 `path = \"{}\"`",
                rename.value, rename.value
            ),
        );
    }
}

/// `path = "a.b.0"`: dotted keys (array positions as numbers), each non-empty; not with `rename`.
pub fn path(cx: &Ctxt, attrs: &Attrs) {
    let Some(path) = attrs.string(symbol::PATH) else {
        return;
    };
    if let Some(span) = attrs.span(symbol::RENAME) {
        cx.error_at(
            span,
            "`rename` cannot be combined with `path`: both name the document key; keep `path`",
        );
    }
    if path.value.split('.').any(str::is_empty) {
        cx.error_at(
            path.span,
            format!(
                "`path = \"{}\"` has an empty key; write keys separated by single dots, as in `author.handle` or `loc.0`",
                path.value
            ),
        );
    }
}

/// Whether `path` is `above` or below it (dotted paths).
pub fn at_or_below(path: &str, above: &str) -> bool {
    path == above
        || path
            .strip_prefix(above)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// `ignore = [..]`: each entry names a key the struct does not read, once.
pub fn ignored(cx: &Ctxt, s: &Struct<'_>, ignored: &[Spanned<String>]) {
    for (i, entry) in ignored.iter().enumerate() {
        // Ignoring a path a field reads, or a key above one, contradicts the field.
        let read = s.fields.iter().find(|f| at_or_below(&f.key, &entry.value));
        if let Some(field) = read {
            let reads = if field.key == entry.value {
                String::new()
            } else {
                format!(" (below it, `{}`)", field.key)
            };
            cx.error_at(
                entry.span,
                format!(
                    "`ignore` names `{}`, which field `{}` reads{reads}; remove it from `ignore` (or `skip` the field)",
                    entry.value, field.ident
                ),
            );
        } else if entry.value.split('.').any(str::is_empty) {
            cx.error_at(
                entry.span,
                format!("`ignore` entry `{}` has an empty key", entry.value),
            );
        } else if ignored[..i].iter().any(|e| e.value == entry.value) {
            cx.error_at(
                entry.span,
                format!("`ignore` names `{}` twice", entry.value),
            );
        }
    }
}

/// The keys each role accepts (besides the key that gives the role).
fn accepted(role: Role) -> &'static [Symbol] {
    use crate::symbol::*;
    match role {
        Role::Skip => &[],
        Role::Id => &[STRATEGY, COLUMN],
        Role::Child => &[RENAME, PATH, DEFAULT, WITH, PARENT_COLUMN],
        Role::Flatten => &[RENAME, PATH],
        Role::Junction => &[
            RENAME,
            PATH,
            DEFAULT,
            WITH,
            REFERENCES,
            KEY,
            ON_MISSING,
            OWNER_COLUMN,
            TARGET_COLUMN,
            POSITION,
            IMPLICIT,
        ],
        Role::Value => &[
            RENAME, PATH, COLUMN, DEFAULT, WITH, UNIQUE, INDEX, JSONB, AS_TEXT, REFERENCES, KEY,
            ON_MISSING, DIMENSIONS,
        ],
    }
}

/// The key a key only makes sense with.
fn requires(key: Symbol) -> Option<Symbol> {
    use crate::symbol::*;
    match key {
        STRATEGY => Some(ID),
        PARENT_COLUMN => Some(CHILD),
        OWNER_COLUMN | TARGET_COLUMN | POSITION | IMPLICIT => Some(JUNCTION),
        KEY | ON_MISSING => Some(REFERENCES),
        _ => None,
    }
}

/// Whether the keys on one field fit together and fit its type. `false`: the field is not modelled.
pub fn field(cx: &Ctxt, field: &syn::Field, attrs: &Attrs, role: Role) -> bool {
    let before = cx.error_count();
    let role_key = role.key();
    for (key, span) in attrs.keys() {
        if Some(key) == role_key {
            continue;
        }
        if role == Role::Skip {
            cx.error_at(
                span,
                format!("`{key}` cannot be combined with `skip`: a skipped field is neither read nor stored"),
            );
            continue;
        }
        if role == Role::Id && key == symbol::PATH {
            cx.error_at(
                span,
                "`path` cannot be used on the `id` field: it is always read from `_id`",
            );
            continue;
        }
        if let Some(needed) = requires(key).filter(|needed| !attrs.has(*needed)) {
            cx.error_at(span, needs(key, needed));
            continue;
        }
        if let (false, Some(role_key)) = (accepted(role).contains(&key), role_key) {
            cx.error_at(
                span,
                format!(
                    "`{key}` cannot be combined with `{role_key}`; a `{role_key}` field accepts {}",
                    symbol::list(accepted(role))
                ),
            );
        }
    }
    match role {
        Role::Skip => {}
        Role::Id => id_strategy(cx, field, attrs),
        Role::Child | Role::Junction => {
            if types::array_element(&field.ty).is_none() {
                let key = role_key.unwrap_or(symbol::CHILD);
                cx.error_spanned_by(
                    &field.ty,
                    format!(
                        "`{key}` needs a field of type `Vec<T>` or `Option<Vec<T>>`, found `{}`",
                        type_text(&field.ty)
                    ),
                );
            }
            if role == Role::Junction {
                junction(cx, attrs);
            }
        }
        Role::Flatten => {
            if types::array_element(&field.ty).is_some() {
                cx.error_spanned_by(
                    &field.ty,
                    format!(
                        "`flatten` needs an embedded struct (or an `Option` of one), found `{}`; an array of subdocuments is stored with `child`",
                        type_text(&field.ty)
                    ),
                );
            }
        }
        Role::Value => value(cx, field, attrs),
    }
    cx.error_count() == before
}

fn needs(key: Symbol, needed: Symbol) -> String {
    match needed {
        symbol::ID => format!("`{key}` applies only to the `id` field"),
        symbol::REFERENCES => format!("`{key}` needs `references = Model` on the same field"),
        other => format!("`{key}` applies only to `{other}` fields"),
    }
}

fn id_strategy(cx: &Ctxt, field: &syn::Field, attrs: &Attrs) {
    let Some(strategy) = attrs.string(symbol::STRATEGY) else {
        return;
    };
    let ty = types::peel(&field.ty).to_token_stream().to_string();
    if strategy.value != "keep" && ["i32", "i64", "String", "Uuid"].contains(&ty.as_str()) {
        cx.error_at(
            strategy.span,
            format!(
                "`strategy = \"{}\"` maps ObjectIds to UUIDs; a `{ty}` id is stored as it is: use `strategy = \"keep\"` or leave `strategy` out",
                strategy.value
            ),
        );
    }
}

fn junction(cx: &Ctxt, attrs: &Attrs) {
    crate::naming::check_implicit(cx, attrs);
    if !attrs.has(symbol::REFERENCES) {
        if let Some(span) = attrs.span(symbol::JUNCTION) {
            cx.error_at(
                span,
                "`junction` needs `references = Model`: the model the array's elements refer to",
            );
        }
    }
    if let Some(on_missing) = attrs.string(symbol::ON_MISSING) {
        if on_missing.value == "null" {
            cx.error_at(
                on_missing.span,
                "`on_missing = \"null\"` cannot apply to a junction, whose rows have no nullable column; use `skip` to drop rows whose target is missing",
            );
        }
    }
}

fn value(cx: &Ctxt, field: &syn::Field, attrs: &Attrs) {
    let exclusive = [
        symbol::REFERENCES,
        symbol::JSONB,
        symbol::AS_TEXT,
        symbol::DIMENSIONS,
    ];
    let present: Vec<Symbol> = exclusive.into_iter().filter(|k| attrs.has(*k)).collect();
    for extra in present.iter().skip(1) {
        if let (Some(first), Some(span)) = (present.first(), attrs.span(*extra)) {
            cx.error_at(span, format!("`{extra}` cannot be combined with `{first}`"));
        }
    }
    if let (Some(_), Some(span)) = (attrs.span(symbol::JSONB), attrs.span(symbol::WITH)) {
        cx.error_at(
            span,
            "`with` cannot be combined with `jsonb`: `jsonb` fields are read with serde",
        );
    }
    if attrs.has(symbol::REFERENCES) && types::array_element(&field.ty).is_some() {
        if let Some(span) = attrs.span(symbol::REFERENCES) {
            cx.error_at(
                span,
                format!(
                    "a `references` field of type `{}` needs `junction`: an array of references is stored as rows of a junction table",
                    type_text(&field.ty)
                ),
            );
        }
    }
    if let Some(on_missing) = attrs.string(symbol::ON_MISSING) {
        if on_missing.value == "null" && types::option_inner(&field.ty).is_none() {
            cx.error_at(
                on_missing.span,
                format!(
                    "`on_missing = \"null\"` needs an `Option<..>` field to store NULL in, found `{}`",
                    type_text(&field.ty)
                ),
            );
        }
    }
}

/// Rules about the whole model: one id, unique keys, columns and tables.
pub fn model(cx: &Ctxt, input: &Input<'_>) {
    match input {
        Input::Struct(s) => {
            ids(cx, s);
            unique_keys(cx, s);
            unique_columns(cx, s);
            junction_columns(cx, s);
            recursive_children(cx, s);
            if let StructKind::Collection { table, .. } = &s.kind {
                unique_tables(cx, s, table);
            }
        }
        Input::Enum(e) => {
            let mut seen: HashMap<&str, &syn::Ident> = HashMap::new();
            for v in &e.variants {
                if let Some(first) = seen.insert(&v.label, v.ident) {
                    cx.error_at(
                        v.span,
                        format!(
                            "enum label `{}` is used by both `{first}` and `{}`; rename one with `#[migrate(rename = \"...\")]`",
                            v.label, v.ident
                        ),
                    );
                }
            }
            long_name(cx, &e.pg_name, e.ident.span(), "enum type");
        }
    }
}

fn ids(cx: &Ctxt, s: &Struct<'_>) {
    let ids: Vec<_> = s
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::Id { .. }))
        .collect();
    if s.is_embedded() {
        for id in ids {
            cx.error_at(
                id.span,
                "an embedded struct has no `_id`: each child row gets a generated `id`; remove `#[migrate(id)]`",
            );
        }
        return;
    }
    match ids.as_slice() {
        [] if s.rejected_id => {}
        [] => cx.error_spanned_by(
            s.ident,
            "a collection struct needs one field marked `#[migrate(id)]`, read from `_id`",
        ),
        [_] => {}
        [first, rest @ ..] => {
            for id in rest {
                cx.error_at(
                    id.span,
                    format!(
                        "only one field can be `#[migrate(id)]`, and `{}` already is",
                        first.ident
                    ),
                );
            }
        }
    }
}

/// The fields name checks look at: all but the id fields `ids` already reported (any id of an
/// embedded struct, every id after the first), so one mistake is not reported again as a clash.
fn checked_fields<'s, 'a>(s: &'s Struct<'a>) -> impl Iterator<Item = &'s Field<'a>> {
    let mut ids = 0;
    let embedded = s.is_embedded();
    s.fields.iter().filter(move |f| {
        if !matches!(f.kind, FieldKind::Id { .. }) {
            return true;
        }
        ids += 1;
        !embedded && ids == 1
    })
}

/// Fields may read the same key or overlapping paths; a skipped key is read by nothing, and an
/// array gives the rows of one table.
fn unique_keys(cx: &Ctxt, s: &Struct<'_>) {
    for f in checked_fields(s) {
        let skipped = s
            .skipped
            .iter()
            .find(|k| at_or_below(&f.key, &k.key) || at_or_below(&k.key, &f.key));
        if let Some(skipped) = skipped {
            cx.error_at(
                f.key_span,
                format!(
                    "document key `{}` is skipped by `{}`, but `{}` reads `{}`; name another key with `rename` or `path`",
                    skipped.key, skipped.ident, f.ident, f.key
                ),
            );
        }
    }
    let mut rows: HashMap<&str, &syn::Ident> = HashMap::new();
    for f in s.table_fields() {
        if let Some(first) = rows.insert(&f.key, f.ident) {
            cx.error_at(
                f.key_span,
                format!(
                    "the array `{}` already gives the rows of `{first}`'s table; `{}` would write them again: read another path",
                    f.key, f.ident
                ),
            );
        }
    }
}

fn unique_columns(cx: &Ctxt, s: &Struct<'_>) {
    let mut seen: HashMap<&str, String> = HashMap::new();
    if s.is_embedded() {
        for generated in ["id", "position"] {
            seen.insert(
                generated,
                format!("the child table's generated `{generated}` column"),
            );
        }
    }
    for f in checked_fields(s) {
        let stored = matches!(f.kind, FieldKind::Id { .. } | FieldKind::Value(_));
        if !stored {
            continue;
        }
        long_name(cx, &f.column, f.column_span, "column");
        if let Some(first) = seen.insert(&f.column, format!("`{}`", f.ident)) {
            cx.error_at(
                f.column_span,
                format!(
                    "column `{}` is written by both {first} and `{}`; name one with `column = \"...\"`",
                    f.column, f.ident
                ),
            );
        }
    }
    for f in &s.fields {
        if let FieldKind::Child(child) = &f.kind {
            if ["id", "position"].contains(&child.parent_column.as_str()) {
                cx.error_at(
                    f.span,
                    format!(
                        "`parent_column = \"{}\"` clashes with the child table's generated `{}` column",
                        child.parent_column, child.parent_column
                    ),
                );
            }
        }
    }
}

fn junction_columns(cx: &Ctxt, s: &Struct<'_>) {
    for f in &s.fields {
        let FieldKind::Junction(j) = &f.kind else {
            continue;
        };
        if j.owner_column == j.target_column {
            cx.error_at(
                f.span,
                format!(
                    "the junction table of `{}` would have two columns named `{}`; name the target's with `target_column = \"...\"`",
                    f.ident, j.owner_column
                ),
            );
        }
        for column in [&j.owner_column, &j.target_column] {
            long_name(cx, column, f.span, "column");
        }
        if j.position && (j.owner_column == "position" || j.target_column == "position") {
            cx.error_at(
                f.span,
                "a junction column named `position` clashes with the `position` column; rename it",
            );
        }
    }
}

/// A struct holding an array of itself would describe endless tables.
fn recursive_children(cx: &Ctxt, s: &Struct<'_>) {
    for f in &s.fields {
        let FieldKind::Child(child) = &f.kind else {
            continue;
        };
        let syn::Type::Path(path) = types::peel(child.elem) else {
            continue;
        };
        let name = types::last_ident(&path.path);
        if name == "Self" || (path.path.segments.len() == 1 && *s.ident == name) {
            cx.error_spanned_by(
                child.elem,
                format!(
                    "`{}` cannot be a child of itself: its child tables would nest without end; store the array with `#[migrate(jsonb)]`",
                    s.ident
                ),
            );
        }
    }
}

fn unique_tables(cx: &Ctxt, s: &Struct<'_>, own: &str) {
    let mut seen: HashMap<String, String> = HashMap::new();
    long_name(cx, own, s.ident.span(), "table");
    seen.insert(own.to_string(), format!("`{}`", s.ident));
    for f in s.table_fields() {
        let explicit = match &f.kind {
            FieldKind::Junction(j) => j.table.clone(),
            FieldKind::Child(c) => c.table.clone(),
            _ => None,
        };
        let name = explicit.unwrap_or_else(|| format!("{own}_{}", f.column));
        long_name(cx, &name, f.span, "table");
        if let Some(first) = seen.insert(name.clone(), format!("`{}`", f.ident)) {
            cx.error_at(
                f.span,
                format!(
                    "table `{name}` is written by both {first} and `{}`; name one explicitly",
                    f.ident
                ),
            );
        }
    }
}

fn long_name(cx: &Ctxt, name: &str, span: Span, what: &str) {
    if name.len() > MAX_IDENT_LEN {
        cx.error_at(
            span,
            format!(
                "{what} name `{name}` is {} bytes long; PostgreSQL truncates identifiers to {MAX_IDENT_LEN}",
                name.len()
            ),
        );
    }
}

fn type_text(ty: &syn::Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace("< ", "<")
        .replace(" :: ", "::")
}
