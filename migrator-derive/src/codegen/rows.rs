//! `emit` and `Embedded::emit_child`: the own row in column order, then junction and child rows
//! at the table indexes `tables.rs` gives them.

use proc_macro2::TokenStream;
use quote::quote;

use super::private;
use super::tables::offset;
use crate::model::{Field, FieldKind, Storage, Struct, Value};

pub fn collection(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let values = values(s);
    let nested = nested(s, &quote!(0usize));
    quote! {
        let __key = <Self as #p::Migrate>::key(self);
        __out.begin_row(0usize);
        __out.value(&__key);
        #(#values)*
        __out.end_row();
        #(#nested)*
    }
}

pub fn embedded(s: &Struct<'_>) -> TokenStream {
    let values = values(s);
    let nested = nested(s, &quote!(__base));
    let head = child_row_head();
    quote! {
        #head
        #(#values)*
        __out.end_row();
        #(#nested)*
    }
}

/// The start of a child row (an embedded document's): its derived key, the parent's key and the
/// position, from `__parent`, `__field` and `__position`, into `__out`'s table `__base`.
pub fn child_row_head() -> TokenStream {
    let p = private();
    quote! {
        let __key = #p::Key::Uuid(#p::child_row_id(__parent, __field, __position));
        __out.begin_row(__base);
        __out.value(&__key);
        __out.value(__parent);
        __out.value(&__position);
    }
}

/// One `__out.value(..)` per stored field, in column order (a flattened struct writes its own).
pub fn values(s: &Struct<'_>) -> Vec<TokenStream> {
    let p = private();
    s.columns()
        .map(|f| {
            let member = f.ident;
            match &f.kind {
                FieldKind::Value(v) => {
                    let value = stored(v, &quote!(&self.#member));
                    quote!(__out.value(#value);)
                }
                _ => quote!(#p::FlatField::emit(&self.#member, __out);),
            }
        })
        .collect()
}

/// The `&impl PgValue` a field's value is written as; `value` is a `&T` expression of the value.
pub fn stored(v: &Value<'_>, value: &TokenStream) -> TokenStream {
    let p = private();
    match &v.storage {
        Storage::Native => quote!(#value),
        Storage::Jsonb if v.optional => {
            quote!(&#p::Option::map(#p::Option::as_ref(#value), #p::SerdeJson))
        }
        Storage::Jsonb => quote!(&#p::SerdeJson(#value)),
        Storage::AsText => quote!(&#p::ObjectIdText(#value)),
        Storage::Reference(r) => {
            let target = &r.target;
            let elem = r.elem;
            match (&r.key, v.optional) {
                (Some(_), _) => quote!(#value),
                (None, false) => quote!(&#p::reference::<#target, #elem>(#value)),
                (None, true) => quote! {
                    &#p::optional_reference::<#target, #elem>(
                        #p::Option::as_ref(#value),
                    )
                },
            }
        }
    }
}

/// The rows of each junction and child field; `base` is the own table's index.
fn nested(s: &Struct<'_>, base: &TokenStream) -> Vec<TokenStream> {
    s.table_fields()
        .map(|f| {
            let member = f.ident;
            table_rows(s, f, &quote!(&self.#member), base)
        })
        .collect()
}

/// The rows of the junction or child field `f` whose value is the `&T` expression `value`.
pub fn table_rows(
    s: &Struct<'_>,
    f: &Field<'_>,
    value: &TokenStream,
    base: &TokenStream,
) -> TokenStream {
    let p = private();
    let ty = f.ty;
    let key = &f.key;
    let table = offset(s, f);
    let items = quote!(<#ty as #p::ArrayField>::items(#value));
    match &f.kind {
        FieldKind::Junction(j) => {
            let r = &j.reference;
            let targets = match &r.key {
                None => {
                    let target = &r.target;
                    let elem = r.elem;
                    quote!(#items.iter().map(#p::reference::<#target, #elem>))
                }
                Some(_) => quote!(#items.iter().map(#p::ByRef)),
            };
            let position = j.position;
            quote! {
                #p::emit_junction(__out, #base + #table, &__key, #targets, #position);
            }
        }
        FieldKind::Child(_) => quote! {
            #p::emit_children(__out, #base + #table, &__key, #key, #items);
        },
        FieldKind::Id { .. } | FieldKind::Value(_) | FieldKind::Flatten(_) => TokenStream::new(),
    }
}
