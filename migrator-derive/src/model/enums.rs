//! Fieldless enums: the labels a PostgreSQL enum (or a checked text column) holds.

use heck::ToSnakeCase;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{DeriveInput, Fields, Ident};

use crate::attr::Attrs;
use crate::ctxt::Ctxt;
use crate::symbol;

/// A fieldless enum stored as a PostgreSQL enum or as checked text.
#[derive(Debug)]
pub struct Enum<'a> {
    pub ident: &'a Ident,
    pub pg_name: String,
    pub text: bool,
    pub variants: Vec<Variant<'a>>,
}

#[derive(Debug)]
pub struct Variant<'a> {
    pub ident: &'a Ident,
    pub label: String,
    pub span: Span,
}

pub(super) fn build_enum<'a>(
    cx: &Ctxt,
    input: &'a DeriveInput,
    data: &'a syn::DataEnum,
) -> Option<Enum<'a>> {
    let attrs = Attrs::parse(cx, &input.attrs, symbol::ENUM_KEYS);
    let rename_all = attrs.rename_all();
    let mut variants = Vec::new();
    for variant in &data.variants {
        let vattrs = Attrs::parse(cx, &variant.attrs, symbol::VARIANT_KEYS);
        if !matches!(variant.fields, Fields::Unit) {
            cx.error_spanned_by(
                &variant.fields,
                format!(
                    "`Migrate` enums must be fieldless, but variant `{}` has fields; store data-carrying enums with `#[migrate(jsonb)]` on the field instead",
                    variant.ident
                ),
            );
            continue;
        }
        let name = variant.ident.unraw().to_string();
        let label = vattrs.rename().unwrap_or_else(|| {
            rename_all.map_or_else(|| name.clone(), |r| r.apply_to_variant(&name))
        });
        variants.push(Variant {
            ident: &variant.ident,
            label,
            span: vattrs
                .span(symbol::RENAME)
                .unwrap_or_else(|| variant.ident.span()),
        });
    }
    if data.variants.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            "`Migrate` enums need at least one variant: PostgreSQL stores one of its labels",
        );
        return None;
    }
    Some(Enum {
        ident: &input.ident,
        pg_name: attrs.string(symbol::NAME).map_or_else(
            || input.ident.unraw().to_string().to_snake_case(),
            |s| s.value,
        ),
        text: attrs
            .string(symbol::REPR)
            .is_some_and(|s| s.value == "text"),
        variants,
    })
}
