//! `decode`: one pass over the raw document (and one over each subdocument nested paths read
//! into, see `paths.rs`) keeps each declared path's value, then every field is converted in
//! declaration order, its errors prefixed with its document path.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::paths::{Layout, Slot};
use super::private;
use crate::model::{DefaultValue, Field, FieldKind, Storage, Struct};

///
/// Every field is read even after one fails, so the error lists each bad field (the first one
/// leads, see `FieldError::all`).
pub fn body(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let slots = slot_idents(s);
    let layout = Layout::of(s);
    let collect = layout.collect(s);
    let members: Vec<_> = s.fields.iter().map(|f| f.ident).collect();
    let skipped = s.skipped.iter().map(|k| {
        let member = k.ident;
        let ty = k.ty;
        quote!(#member: <#ty as #p::Default>::default())
    });
    if s.fields.is_empty() {
        return quote! {
            #collect
            #p::Ok(Self { #(#skipped,)* })
        };
    }
    let reads = s
        .fields
        .iter()
        .zip(&slots)
        .enumerate()
        .map(|(i, (f, value))| {
            let read = match layout.slot(i) {
                Slot::Top(slot) => read(f, &slot),
                Slot::Nested(slot) => {
                    let key = &f.key;
                    let local = format_ident!("__s");
                    let read = read(f, &local);
                    quote!(#p::through(#slot, #key, |#local| #read))
                }
            };
            quote!(let #value = __errors.keep(#read);)
        });
    quote! {
        #collect
        let mut __errors = #p::Gather::default();
        #(#reads)*
        match (#(#slots,)*) {
            (#(#p::Some(#slots),)*) => #p::Ok(Self {
                #(#members: #slots,)*
                #(#skipped,)*
            }),
            _ => #p::Err(__errors.into_error()),
        }
    }
}

/// The variable holding each field's value (`__v0`, `__v1`, ...), in field order.
pub fn slot_idents(s: &Struct<'_>) -> Vec<syn::Ident> {
    (0..s.fields.len())
        .map(|i| format_ident!("__v{}", i))
        .collect()
}

/// The function giving a field's default value.
pub fn default_fn(default: &DefaultValue, ty: &syn::Type) -> TokenStream {
    let p = private();
    match default {
        DefaultValue::Trait => quote!(<#ty as #p::Default>::default),
        DefaultValue::Path(path) => quote!(#path),
    }
}

/// The expression reading one field from its slot (a `Result`).
pub fn read(f: &Field<'_>, slot: &syn::Ident) -> TokenStream {
    let p = private();
    let ty = f.ty;
    let key = &f.key;
    let (plain, default) = match &f.kind {
        FieldKind::Id { .. } => (quote!(#p::read::<#ty>(#slot, #key)), None),
        FieldKind::Value(v) => {
            let missing = if v.optional {
                quote!(#p::none)
            } else {
                quote!(#p::missing)
            };
            let mut read = match (&v.with, &v.storage) {
                (Some(with), _) => quote!(#p::read_with(#slot, #key, #with, #missing)),
                (None, Storage::Jsonb) => quote!(#p::read_json::<#ty>(#slot, #key, #missing)),
                (None, _) => quote!(#p::read::<#ty>(#slot, #key)),
            };
            if let Some(n) = v.dimensions {
                // Spanned at the type, so a field that is not a vector is reported there.
                let check = quote_spanned!(ty.span()=> #p::dimensions::<#ty>);
                read = quote!(#check(#read, #n, #key));
            }
            (read, v.default.as_ref())
        }
        FieldKind::Junction(j) => (
            match &j.with {
                Some(with) => array_with(ty, slot, key, with),
                None => quote!(#p::read_array::<#ty>(#slot, #key)),
            },
            j.default.as_ref(),
        ),
        FieldKind::Child(c) => (
            match &c.with {
                Some(with) => array_with(ty, slot, key, with),
                None => quote!(#p::read_children::<#ty>(#slot, #key)),
            },
            c.default.as_ref(),
        ),
        FieldKind::Flatten(_) => (quote!(#p::read_flat::<#ty>(#slot, #key)), None),
    };
    match default {
        None => plain,
        Some(default) => {
            let default = default_fn(default, ty);
            quote!(#p::or_default(#slot, |#slot| #plain, #default))
        }
    }
}

/// A `child` or `junction` array read whole by a `with` function (absent: `Option`'s `None`).
fn array_with(ty: &syn::Type, slot: &syn::Ident, key: &str, with: &syn::Path) -> TokenStream {
    let p = private();
    quote!(#p::read_with(#slot, #key, #with, #p::absent_array::<#ty>))
}
