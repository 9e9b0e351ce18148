//! `model()` and `Embedded::tables()`: the struct's own table, then one table per junction field
//! and the tables of each child field, in declaration order.
//!
//! Table indexes are const arithmetic shared with `rows.rs` ([`offset`]), so the rows a document
//! produces always land in the tables `model()` describes.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::private;
use super::rows;
use crate::model::{
    DefaultValue, Field, FieldKind, OnMissing, Reference, Storage, Strategy, Struct, Value,
};
use crate::types;

pub fn strategy(id: &Field<'_>) -> TokenStream {
    let p = private();
    match id.kind {
        FieldKind::Id {
            strategy: Strategy::Ordered,
        } => quote!(#p::IdStrategy::Ordered),
        FieldKind::Id {
            strategy: Strategy::V5,
        } => quote!(#p::IdStrategy::V5),
        _ => quote!(#p::IdStrategy::Keep),
    }
}

/// How many tables a field writes: one for a junction, the embedded struct's count for a child.
fn size(f: &Field<'_>) -> TokenStream {
    let p = private();
    match &f.kind {
        FieldKind::Child(c) => {
            let elem = c.elem;
            quote!(<#elem as #p::Embedded>::TABLE_COUNT)
        }
        _ => quote!(1usize),
    }
}

/// The index of the first table of `s`'s table field `field`, relative to `s`'s own table.
pub fn offset(s: &Struct<'_>, field: &Field<'_>) -> TokenStream {
    let before = s
        .table_fields()
        .take_while(|f| !std::ptr::eq(*f, field))
        .map(size);
    quote!((1usize #(+ #before)*))
}

/// `Embedded::TABLE_COUNT`: the own table plus every table field's tables.
pub fn table_count(s: &Struct<'_>) -> TokenStream {
    let sizes = s.table_fields().map(size);
    quote!(1usize #(+ #sizes)*)
}

pub fn collection(s: &Struct<'_>, table: &str, collection: &str) -> TokenStream {
    let p = private();
    let own = match s.id() {
        Some(id) => {
            let ty = id.ty;
            let column = &id.column;
            quote! {
                #p::collection_table(
                    #table,
                    #collection,
                    #p::id_column::<#ty>(#column, Self::ID_STRATEGY),
                )
            }
        }
        None => TokenStream::new(),
    };
    assemble(s, own, quote!(0usize))
}

pub fn embedded(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let own = quote! {
        #p::child_table(__parent, __parent_index, __field, __table_name, __parent_column)
    };
    let tables = assemble(s, own, quote!(__index));
    quote! {
        #tables
        __tables
    }
}

/// Binds `__tables`: the own table made by `own` and completed with the fields' columns, then the
/// nested tables. `index` is the own table's index in the model.
fn assemble(s: &Struct<'_>, own: TokenStream, index: TokenStream) -> TokenStream {
    let p = private();
    let columns = own_columns(s, Names::Own);
    let unread = unread(s);
    // The unread keys first: flattened structs add theirs with their columns.
    let own_table = quote! {
        let mut __own = #own;
        let __prefix = #p::row_path(&__own);
        __own.unread = #unread;
        #(#columns)*
    };
    let nested: Vec<_> = s.table_fields().map(|f| nested(s, f, &index)).collect();
    let tables = if nested.is_empty() {
        quote!(let __tables = #p::Vec::from([__own]);)
    } else {
        quote! {
            let mut __nested: #p::Vec<#p::TableDef> = #p::Vec::new();
            #(#nested)*
            let mut __tables = #p::Vec::from([__own]);
            __tables.append(&mut __nested);
        }
    };
    quote! {
        #own_table
        #tables
    }
}

/// The keys the struct names without reading them (`skip` fields, `ignore = [..]`) and its rule
/// for undeclared keys: what the key census reports as skipped, ignored or dropped.
fn unread(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let skipped = s.skipped.iter().map(|k| &k.key);
    let ignored = &s.ignored;
    let unknown = super::unknown_fields(s);
    quote! {
        #p::unread_keys(&__prefix, &[#(#skipped),*], &[#(#ignored),*], #unknown)
    }
}

/// How the columns a struct adds to a row are named.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// In the struct's own table, as they are.
    Own,
    /// Flattened into a parent's row: through `__flat` (a `&Flat`).
    Flat,
}

impl Names {
    fn name(self, column: &str) -> TokenStream {
        match self {
            Names::Own => quote!(#column),
            Names::Flat => quote!(&__flat.name(#column)),
        }
    }
}

/// Statements adding each stored field's column, constraints and reference to `__own` (a
/// `TableDef` or a `&mut` of one), in column order; a flattened struct adds its own.
pub fn own_columns(s: &Struct<'_>, names: Names) -> Vec<TokenStream> {
    let p = private();
    let mut out = Vec::new();
    for f in s.columns() {
        let ty = f.ty;
        let column = &f.column;
        let key = &f.key;
        let source = quote!(#p::path(&__prefix, #key));
        let v = match &f.kind {
            FieldKind::Value(v) => v,
            FieldKind::Flatten(flat) => {
                let prefix = &flat.prefix;
                let (table, parent) = match names {
                    Names::Own => (quote!(&mut __own), quote!(&#p::Flat::ROOT)),
                    Names::Flat => (quote!(__own), quote!(__flat)),
                };
                out.push(quote! {
                    <#ty as #p::FlatField>::flat(#table, &#source, #parent, #prefix);
                });
                continue;
            }
            _ => continue,
        };
        let def = match &v.storage {
            Storage::Native => quote!(#p::column::<#ty>(#column, #source)),
            Storage::Jsonb => match types::option_inner(ty).filter(|_| v.optional) {
                Some(inner) => {
                    quote!(#p::column::<#p::Option<#p::SerdeJson<'static, #inner>>>(#column, #source))
                }
                None => quote!(#p::column::<#p::SerdeJson<'static, #ty>>(#column, #source)),
            },
            Storage::AsText => {
                quote!(#p::column::<#p::ObjectIdText<'static, #ty>>(#column, #source))
            }
            Storage::Reference(r) => match &r.key {
                None => {
                    let target = &r.target;
                    let nullable = v.optional;
                    quote!(#p::reference_column::<#target>(#column, #nullable, #source))
                }
                Some(_) => quote!(#p::column::<#ty>(#column, #source)),
            },
        };
        let mut def = described(f, v, def);
        if names == Names::Flat {
            def = quote!(__flat.column(#def));
        }
        let name = names.name(column);
        out.push(quote!(__own.columns.push(#def);));
        if v.unique {
            out.push(quote!(__own.uniques.push(#p::names(&[#name]));));
        }
        if v.index {
            out.push(quote!(__own.indexes.push(#p::names(&[#name]));));
        }
        if let Storage::Reference(r) = &v.storage {
            let target = target(r);
            let policy = policy(r.on_missing);
            out.push(quote! {
                __own.references.push(#p::reference_def(#name, #target, #policy));
            });
        }
    }
    out
}

/// `Embedded::FLAT_COLUMNS`: the names of the columns the struct stores in a parent's row.
pub fn flat_columns(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let columns = s.columns().map(|f| match &f.kind {
        FieldKind::Flatten(flat) => {
            let prefix = &flat.prefix;
            let elem = flat.elem;
            quote!(#p::FlatColumn::Flattened(#prefix, <#elem as #p::Embedded>::FLAT_COLUMNS))
        }
        _ => {
            let column = &f.column;
            quote!(#p::FlatColumn::Column(#column))
        }
    });
    quote!(&[#(#columns),*])
}

/// The body of `Embedded::flat`: the columns added to `__own` below the path `__path`.
pub fn flat(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let columns = own_columns(s, Names::Flat);
    let skipped = s.skipped.iter().map(|k| &k.key);
    let ignored = &s.ignored;
    let unknown = super::unknown_fields(s);
    quote! {
        let __prefix = #p::String::from(__path);
        #p::flat_unread(__own, &__prefix, &[#(#skipped),*], &[#(#ignored),*], #unknown);
        #(#columns)*
    }
}

/// A `const` that fails to compile when the row's column names (its own and those of the
/// structs it flattens) clash, or one is too long; nothing when the struct flattens nothing.
pub fn column_check(s: &Struct<'_>) -> TokenStream {
    let p = private();
    if !s.has_flatten() {
        return TokenStream::new();
    }
    let generated: &[&str] = match s.id() {
        Some(id) => &[id.column.as_str()][..],
        None if s.is_embedded() => &["id", "position"],
        None => &[],
    };
    let generated = generated.iter().map(|c| quote!(#p::FlatColumn::Column(#c)));
    let columns = flat_columns(s);
    let no_tables = s.columns().filter_map(|f| match &f.kind {
        FieldKind::Flatten(flat) => {
            let elem = flat.elem;
            let message = format!(
                "`{}` cannot be flattened into `{}`: its `child` and `junction` fields write tables of their own; use `child` or `path`s instead",
                type_text(elem),
                s.ident
            );
            Some(quote!(::core::assert!(<#elem as #p::Embedded>::TABLE_COUNT == 1, #message);))
        }
        _ => None,
    });
    // Reported at the first `flatten`: the names it adds are the ones that can clash.
    let span = s
        .columns()
        .find(|f| matches!(f.kind, FieldKind::Flatten(_)))
        .map_or_else(proc_macro2::Span::call_site, |f| f.span);
    let panic = quote_spanned!(span=> ::core::panic!("{}", __clash.as_str()));
    quote! {
        const _: () = {
            #(#no_tables)*
            let __columns: &[#p::FlatColumn] = &[#(#generated,)* #p::FlatColumn::Flattened("", #columns)];
            if let #p::Some(__clash) = #p::column_clash(__columns) {
                #panic;
            }
        };
    }
}

/// The statement adding the tables of one junction or child field to `__nested`.
fn nested(s: &Struct<'_>, f: &Field<'_>, index: &TokenStream) -> TokenStream {
    let p = private();
    let key = &f.key;
    let column = &f.column;
    let table_name = |explicit: &Option<String>| match explicit {
        Some(name) => quote!(#name),
        None => quote!(&#p::nested_name(&__own, #column)),
    };
    match &f.kind {
        FieldKind::Junction(j) => {
            let name = table_name(&j.table);
            let owner_column = &j.owner_column;
            let target_column = &j.target_column;
            let r = &j.reference;
            let target_type = match &r.key {
                None => {
                    let target = &r.target;
                    quote!(#p::key_type::<#target>())
                }
                Some(_) => {
                    let elem = r.elem;
                    quote!(<#elem as #p::PgValue>::column_type().0)
                }
            };
            let target = target(r);
            let policy = policy(r.on_missing);
            let position = j.position;
            let implicit = j
                .implicit
                .then(|| quote!(#p::implicit_junction(&mut __nested);));
            quote! {
                __nested.push(#p::junction_table(
                    &__own,
                    #index,
                    #p::Junction {
                        table: #name,
                        field: #key,
                        owner_column: #owner_column,
                        target_column: #target_column,
                        target_type: #target_type,
                        target: #target,
                        on_missing: #policy,
                        position: #position,
                    },
                ));
                #implicit
            }
        }
        FieldKind::Child(c) => {
            let name = table_name(&c.table);
            let elem = c.elem;
            let parent_column = &c.parent_column;
            let offset = offset(s, f);
            quote! {
                __nested.extend(<#elem as #p::Embedded>::tables(
                    &__own,
                    #index,
                    #index + #offset,
                    #key,
                    #name,
                    #parent_column,
                ));
            }
        }
        FieldKind::Id { .. } | FieldKind::Value(_) | FieldKind::Flatten(_) => TokenStream::new(),
    }
}

/// Wraps a column definition with what the field's attributes add to reading it (`with`,
/// `default`, `jsonb`, `as_text`), for the model's mapping.
fn described(f: &Field<'_>, v: &Value<'_>, def: TokenStream) -> TokenStream {
    let p = private();
    let ty = f.ty;
    let mut def = def;
    if let Some(with) = &v.with {
        let text = path_text(with);
        def = quote!(#p::read_with_fn(#def, #text));
    }
    if let Some(default) = &v.default {
        let make = match default {
            DefaultValue::Trait => quote!(<#ty as #p::Default>::default),
            DefaultValue::Path(path) => quote!(#path),
        };
        let value = rows::stored(v, &quote!(__default));
        def = quote! {
            #p::read_default(
                #def,
                #p::default_cell(#make, |__default: &#ty| #p::PgValue::to_cell(#value)),
            )
        };
    }
    match &v.storage {
        Storage::Jsonb => {
            let inner = types::option_inner(ty).filter(|_| v.optional).unwrap_or(ty);
            let name = type_text(inner);
            def = quote!(#p::read_serde::<#inner>(#def, #name));
        }
        Storage::AsText => def = quote!(#p::read_as_text(#def)),
        Storage::Native | Storage::Reference(_) => {}
    }
    def
}

/// A path as written, without spaces (`convert::flexible_date`).
fn path_text(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let lead = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{lead}{}", segments.join("::"))
}

/// A type's name for messages: the last segment of a path (`OrgSettings`), else its tokens.
fn type_text(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => types::last_ident(&p.path),
        other => quote!(#other).to_string(),
    }
}

fn target(r: &Reference<'_>) -> TokenStream {
    let p = private();
    let target = &r.target;
    let rust_name = types::last_ident(target);
    let key = match &r.key {
        Some(k) => quote!(#p::Some(#k)),
        None => quote!(#p::None),
    };
    quote!(#p::target::<#target>(#rust_name, #key))
}

fn policy(on_missing: OnMissing) -> TokenStream {
    let p = private();
    match on_missing {
        OnMissing::Reject => quote!(#p::MissingPolicy::Reject),
        OnMissing::Null => quote!(#p::MissingPolicy::SetNull),
        OnMissing::Skip => quote!(#p::MissingPolicy::Skip),
        OnMissing::Keep => quote!(#p::MissingPolicy::Keep),
    }
}
