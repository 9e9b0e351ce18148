//! `decode`: one pass over the raw document keeps each declared key's value, then every field is
//! converted in declaration order, its errors prefixed with its document key.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::private;
use crate::model::{DefaultValue, Field, FieldKind, Storage, Struct};

///
/// Every field is read even after one fails, so the error lists each bad field (the first one
/// leads, see `FieldError::all`).
pub fn body(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let slots = slot_idents(s);
    let collect = collect_slots(s);
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
    let reads = s.fields.iter().zip(&slots).map(|(f, slot)| {
        let read = read(f, slot);
        quote!(let #slot = __errors.keep(#read);)
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

/// The slot holding each field's value (`__v0`, `__v1`, ...), in field order.
pub fn slot_idents(s: &Struct<'_>) -> Vec<syn::Ident> {
    (0..s.fields.len())
        .map(|i| format_ident!("__v{}", i))
        .collect()
}

/// `let [__v0, ..] = fields(..)?;`: the one pass over the document's elements.
pub fn collect_slots(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let slots = slot_idents(s);
    let keys = s
        .fields
        .iter()
        .map(|f| syn::LitByteStr::new(f.key.as_bytes(), proc_macro2::Span::call_site()));
    let mut skipped_keys: Vec<&String> = Vec::new();
    // Keys the model names without reading them: accepted under `reject`.
    let unread = s.skipped.iter().map(|k| &k.key).chain(&s.ignored);
    for key in unread {
        if !key.contains('.') && !skipped_keys.contains(&key) {
            skipped_keys.push(key);
        }
    }
    let skipped_keys = skipped_keys
        .iter()
        .map(|k| syn::LitByteStr::new(k.as_bytes(), proc_macro2::Span::call_site()));
    let unknown = super::unknown_fields(s);
    quote! {
        let [#(#slots),*] = #p::fields(__doc, &[#(#keys),*], &[#(#skipped_keys),*], #unknown)?;
    }
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
            let default = default_fn(default, ty);
            quote!(#p::or_default(#slot, |#slot| #plain, #default))
        }
    }
}
