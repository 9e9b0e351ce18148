//! `transcode` and `Embedded::transcode_child`: `decode` and `emit` in one pass, the rows written
//! as the fields are read. A field stored as itself is read as a borrowed view where its type
//! has one (`ViewOf`); any other field is read as `decode` reads it and stored as `emit` stores
//! it. Junction and child rows come straight from the document's arrays.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::decode::{default_fn, read};
use super::paths::{Layout, Slot};
use super::private;
use super::rows::{child_row_head, stored};
use super::tables::offset;
use crate::model::{Field, FieldKind, Reference, Storage, Struct, Value};

/// The statements binding every field's raw value, and the variable each field reads: a top-level
/// key's node, or for a nested path its value once the intermediates are known to be right.
pub fn slots(s: &Struct<'_>) -> (TokenStream, Vec<syn::Ident>) {
    let p = private();
    let layout = Layout::of(s);
    let mut collect = layout.collect(s);
    let mut slots = Vec::new();
    for (i, f) in s.fields.iter().enumerate() {
        match layout.slot(i) {
            Slot::Top(slot) => slots.push(slot),
            Slot::Nested(found) => {
                let slot = format_ident!("__s{}", i);
                let key = &f.key;
                collect.extend(quote!(let #slot = #p::found(#found, #key)?;));
                slots.push(slot);
            }
        }
    }
    (collect, slots)
}

pub fn collection(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let (collect, slots) = slots(s);
    let id = s
        .fields
        .iter()
        .zip(&slots)
        .find(|(f, _)| matches!(f.kind, FieldKind::Id { .. }))
        .map(|(f, slot)| {
            let ty = f.ty;
            let read = read(f, slot);
            quote! {
                let __id: #ty = #read?;
                let __key = #p::IdKey::key(&__id, <Self as #p::Migrate>::ID_STRATEGY);
            }
        });
    let values = values(s, &slots);
    let nested = nested(s, &slots, &quote!(0usize));
    quote! {
        #[allow(unused_imports)]
        use #p::views::*;
        #collect
        #id
        __out.begin_row(0usize);
        __out.value(&__key);
        #(#values)*
        __out.end_row();
        #(#nested)*
        #p::Ok(())
    }
}

pub fn embedded(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let (collect, slots) = slots(s);
    let values = values(s, &slots);
    let nested = nested(s, &slots, &quote!(__base));
    let head = child_row_head();
    quote! {
        #[allow(unused_imports)]
        use #p::views::*;
        #collect
        #head
        #(#values)*
        __out.end_row();
        #(#nested)*
        #p::Ok(())
    }
}

/// One block per stored field, in column order, reading the field and writing its value (a
/// flattened struct writes all of its own).
pub fn values(s: &Struct<'_>, slots: &[syn::Ident]) -> Vec<TokenStream> {
    let p = private();
    s.fields
        .iter()
        .zip(slots)
        .filter_map(|(f, slot)| match &f.kind {
            FieldKind::Value(v) => Some(value(f, v, slot)),
            FieldKind::Flatten(_) => {
                let ty = f.ty;
                let key = &f.key;
                Some(quote!(#p::transcode_flat::<#ty, _>(#slot, #key, __out)?;))
            }
            _ => None,
        })
        .collect()
}

fn value(f: &Field<'_>, v: &Value<'_>, slot: &syn::Ident) -> TokenStream {
    let p = private();
    let ty = f.ty;
    let key = &f.key;
    let as_itself = matches!(
        v.storage,
        Storage::Native | Storage::Reference(Reference { key: Some(_), .. })
    );
    if v.with.is_some() || !as_itself || v.dimensions.is_some() {
        let read = read(f, slot);
        let stored = stored(v, &quote!(&__x));
        return quote! {{
            let __x: #ty = #read?;
            __out.value(#stored);
        }};
    }
    let view = quote! {{
        let __x = (&#p::ViewOf::<#ty>::NEW).view(#slot, #key)?;
        __out.value(&__x);
    }};
    match &v.default {
        None => view,
        Some(default) => {
            let default = default_fn(default, ty);
            quote! {
                match #slot {
                    #p::None => __out.value(&#default()),
                    #p::Some(_) => #view,
                }
            }
        }
    }
}

/// The rows of each junction and child field; `base` is the own table's index.
fn nested(s: &Struct<'_>, slots: &[syn::Ident], base: &TokenStream) -> Vec<TokenStream> {
    let p = private();
    s.fields
        .iter()
        .zip(slots)
        .filter(|(f, _)| matches!(f.kind, FieldKind::Junction(_) | FieldKind::Child(_)))
        .map(|(f, slot)| {
            let ty = f.ty;
            let key = &f.key;
            let table = offset(s, f);
            let read_whole = match &f.kind {
                FieldKind::Junction(j) => j.with.is_some(),
                FieldKind::Child(c) => c.with.is_some(),
                _ => false,
            };
            if read_whole {
                // A `with` function gives the elements: read them (with any default), then
                // write them as `emit` does.
                let read = read(f, slot);
                let emit = super::rows::table_rows(s, f, &quote!(&__items), base);
                return quote! {{
                    let __items: #ty = #read?;
                    #emit
                }};
            }
            let (from_array, default) = match &f.kind {
                FieldKind::Junction(j) => {
                    let r = &j.reference;
                    let target = &r.target;
                    let elem = r.elem;
                    let position = j.position;
                    let (convert, targets) = match &r.key {
                        None => (
                            quote!(|__e: #elem| #p::reference::<#target, #elem>(&__e)),
                            quote!(.map(#p::reference::<#target, #elem>)),
                        ),
                        Some(_) => (quote!(|__e: #elem| __e), quote!(.map(#p::ByRef))),
                    };
                    let from_array = quote! {
                        #p::transcode_junction::<#ty, _, _>(
                            __out, #base + #table, &__key, #slot, #key, #convert, #position,
                        )?;
                    };
                    let default = j.default.as_ref().map(|d| {
                        let default = default_fn(d, ty);
                        quote! {
                            let __items: #ty = #default();
                            #p::emit_junction(
                                __out,
                                #base + #table,
                                &__key,
                                <#ty as #p::ArrayField>::items(&__items).iter() #targets,
                                #position,
                            );
                        }
                    });
                    (from_array, default)
                }
                FieldKind::Child(c) => {
                    let from_array = quote! {
                        #p::transcode_children::<#ty, _>(__out, #base + #table, &__key, #key, #slot)?;
                    };
                    let default = c.default.as_ref().map(|d| {
                        let default = default_fn(d, ty);
                        quote! {
                            let __items: #ty = #default();
                            #p::emit_children(
                                __out,
                                #base + #table,
                                &__key,
                                #key,
                                <#ty as #p::ArrayField>::items(&__items),
                            );
                        }
                    });
                    (from_array, default)
                }
                FieldKind::Id { .. } | FieldKind::Value(_) | FieldKind::Flatten(_) => {
                    (TokenStream::new(), None)
                }
            };
            match default {
                None => from_array,
                Some(default) => quote! {
                    match #slot {
                        #p::None => { #default }
                        #p::Some(_) => { #from_array }
                    }
                },
            }
        })
        .collect()
}
