//! `#[derive(Migrate)]`: the document -> rows transformation of one MongoDB collection.
//!
//! The derive runs in four steps: parse the attributes (`attr.rs`), model the input
//! (`model.rs`), check the rules (`check.rs`: per field while modelling, then the whole model)
//! and generate code from the checked model (`codegen/`). Errors are collected in a [`Ctxt`]
//! and all reported at once; on error the output is the errors plus a stub implementation.
//!
//! See the `migrator` crate for the attribute reference.

extern crate proc_macro;

mod attr;
mod check;
mod codegen;
mod ctxt;
mod model;
mod naming;
mod rename;
mod symbol;
mod types;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::ctxt::Ctxt;

/// Derives the document -> rows transformation of a MongoDB collection (`Migrate`), of a
/// subdocument stored as child-table rows (`Embedded`, with `#[migrate(embedded)]`), or of a
/// fieldless enum stored as a PostgreSQL enum (`FromBson` and `PgValue`).
///
/// ```text
/// #[derive(Migrate)]
/// #[migrate(collection = "orders", rename_all = "camelCase")]
/// struct Order {
///     #[migrate(id)]
///     id: ObjectId,
///     #[migrate(references = User)]
///     customer_id: ObjectId,
///     #[migrate(junction, references = Tag, position)]
///     tags: Vec<ObjectId>,
///     #[migrate(child)]
///     items: Vec<LineItem>,
///     status: Status,
/// }
/// ```
///
/// # Struct attributes
///
/// | key | meaning | default |
/// |---|---|---|
/// | `collection = "name"` | the MongoDB collection | the struct name in snake_case |
/// | `table = "name"` | the PostgreSQL table | the collection name in snake_case |
/// | `embedded` | a subdocument stored as rows of a child table (see `child`) | |
/// | `unknown_fields = "ignore"` or `"reject"` | what to do with undeclared keys | dropped and reported (`validate` fails while they hold values) |
/// | `ignore = ["key", "parent.key"]` | keys the struct drops on purpose | |
/// | `rename_all = "camelCase"` | document key naming, with serde's rules | field names |
///
/// # Field attributes
///
/// | key | meaning |
/// |---|---|
/// | `id` | the one field read from `_id`; its column is `id`. Not on embedded structs |
/// | `strategy = "ordered"`, `"v5"` or `"keep"` | with `id`: how `_id` becomes the key (ObjectId: `ordered`; others: `keep`) |
/// | `rename = "key"` | the document key, read literally (a `.` is a compile error pointing at `path`) |
/// | `path = "a.b.0"` | a nested path instead (numbers are array positions); not on `id`, not with `rename` |
/// | `column = "name"` | the column (default: the field name in snake_case) |
/// | `skip` | neither read nor stored; set to `Default::default()`; no other key |
/// | `default` or `default = path` | the value when the key is absent |
/// | `with = path` | read with `fn(RawBsonRef<'_>) -> Result<T, E: Display>` (on `child`/`junction`: the whole array) |
/// | `unique`, `index` | a unique constraint, an index on the column |
/// | `jsonb` | a serde type stored as `jsonb` |
/// | `as_text` | `ObjectId`, `Option<ObjectId>` or `Vec<ObjectId>` stored as hex text |
/// | `references = Model` | a foreign key to `Model`'s primary key (the field has `Model`'s id type) |
/// | `key = "column"` | with `references`: to a natural key of `Model` instead |
/// | `on_missing = "reject"`, `"null"`, `"skip"` or `"keep"` | with `references`: a missing target's fate (`null` on `Option` fields only) |
/// | `junction` or `junction = "table"` | with `references` on `Vec<_>`: rows of a junction table, duplicates collapsed |
/// | `owner_column`, `target_column` | with `junction`: its column names |
/// | `position` | with `junction`: add the array position of each target's first occurrence |
/// | `child` or `child = "table"` | on `Vec<T>` or `Option<Vec<T>>` of an embedded `T`: rows of a child table |
/// | `parent_column = "name"` | with `child`: the column holding the parent's key (default `parent_id`) |
/// | `flatten` or `flatten = "prefix"` | on an embedded `T` or `Option<T>`: its columns in this row, prefixed (default `{column}_`) |
///
/// # Enum attributes
///
/// `name = "pg_type"` (default: the enum name in snake_case), `repr = "native"` or `"text"` (a
/// text column with a CHECK; only text enums can be `Vec` elements), `rename_all`, and
/// `rename = "label"` on variants.
///
/// `#[serde(rename)]` and `#[serde(rename_all)]` are honoured too (`migrate` wins); other serde
/// keys are ignored.
#[proc_macro_derive(Migrate, attributes(migrate, serde))]
pub fn derive_migrate(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand(input.into()).into()
}

/// The whole derive on token streams, callable from tests.
fn expand(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let cx = Ctxt::new();
    let model = model::build(&cx, &input);
    if let Some(model) = &model {
        check::model(&cx, model);
    }
    match model {
        Some(model) if !cx.has_errors() => codegen::generate(&model),
        _ => {
            let mut out = cx.into_compile_errors();
            out.extend(codegen::stub(&input));
            out
        }
    }
}
