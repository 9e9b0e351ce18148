//! `decode`: one pass over the raw document keeps each declared key's value, then every field is
//! converted in declaration order, its errors prefixed with its document key.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::private;
use crate::model::{DefaultValue, Field, FieldKind, Storage, Struct, UnknownFields};

pub fn body(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let slots: Vec<_> = (0..s.fields.len())
        .map(|i| format_ident!("__v{}", i))
        .collect();
    let keys = s.fields.iter().map(|f| &f.key);
    let mut skipped_keys: Vec<&String> = Vec::new();
    for k in &s.skipped {
        if !skipped_keys.contains(&&k.key) {
            skipped_keys.push(&k.key);
        }
    }
    let skipped_arm = if skipped_keys.is_empty() {
        TokenStream::new()
    } else {
        quote!(#(#skipped_keys)|* => {})
    };
    let unknown = match s.unknown_fields {
        UnknownFields::Ignore => quote!(_ => {}),
        UnknownFields::Reject => quote!(__other => return #p::Err(#p::unknown_field(__other)),),
    };
    let reads = s.fields.iter().zip(&slots).map(|(f, slot)| {
        let member = f.ident;
        let read = read(f, slot);
        quote!(#member: #read?)
    });
    let skipped = s.skipped.iter().map(|k| {
        let member = k.ident;
        let ty = k.ty;
        quote!(#member: <#ty as #p::Default>::default())
    });
    quote! {
        #(let mut #slots: #p::Option<#p::RawBsonRef<'_>> = #p::None;)*
        for __entry in #p::elements(__doc) {
            let (__key, __value) = __entry?;
            match __key {
                #(#keys => {
                    #slots.get_or_insert(__value);
                })*
                #skipped_arm
                #unknown
            }
        }
        #p::Ok(Self {
            #(#reads,)*
            #(#skipped,)*
        })
    }
}

/// The expression reading one field from its slot (a `Result`).
fn read(f: &Field<'_>, slot: &syn::Ident) -> TokenStream {
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
            let read = match (&v.with, &v.storage) {
                (Some(with), _) => quote!(#p::read_with(#slot, #key, #with, #missing)),
                (None, Storage::Jsonb) => quote!(#p::read_json::<#ty>(#slot, #key, #missing)),
                (None, _) => quote!(#p::read::<#ty>(#slot, #key)),
            };
            (read, v.default.as_ref())
        }
        FieldKind::Junction(j) => (
            quote!(#p::read_array::<#ty>(#slot, #key)),
            j.default.as_ref(),
        ),
        FieldKind::Child(c) => (
            quote!(#p::read_children::<#ty>(#slot, #key)),
            c.default.as_ref(),
        ),
    };
    match default {
        None => plain,
        Some(default) => {
            let default = match default {
                DefaultValue::Trait => quote!(<#ty as #p::Default>::default),
                DefaultValue::Path(path) => quote!(#path),
            };
            quote!(#p::or_default(#slot, |#slot| #plain, #default))
        }
    }
}
