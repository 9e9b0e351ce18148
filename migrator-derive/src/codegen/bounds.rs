//! What each field's type must implement, stated twice:
//!
//! - as where-bounds on the impls, so the generated bodies type-check on their own and a wrong
//!   type is not reported again deep inside them. They are written `for<'__m> T: Trait`: a bound
//!   with a binder is not checked where the impl is written (a plain bound on a concrete type
//!   is, and rustc reports it at the derive, not at the field);
//! - as calls to `__private::assert` functions spanned at each field's type, in a closure that
//!   is never called: that is where an unmet requirement is reported.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::private;
use crate::model::{FieldKind, Reference, Storage, Struct};
use crate::types;

/// `ty: bound`, checked by `__private::assert::<check>::<ty>()` (`<ty, argument>` when the
/// bound has a type argument).
struct Requirement {
    span: Span,
    ty: TokenStream,
    bound: TokenStream,
    check: &'static str,
    argument: Option<TokenStream>,
    /// Whether it is a where-bound. Requirements on other models are not: as impl bounds they
    /// would make the impls of two models that reference each other depend on each other, which
    /// rustc cannot resolve (E0275 on any reference cycle).
    bound_on_impl: bool,
    /// Whether it is asserted at the field (`false`: implied by another requirement's message).
    asserted: bool,
}

#[derive(Default)]
struct Requirements(Vec<Requirement>);

impl Requirements {
    fn need(&mut self, span: Span, ty: TokenStream, bound: TokenStream, check: &'static str) {
        self.0.push(Requirement {
            span,
            ty,
            bound,
            check,
            argument: None,
            bound_on_impl: true,
            asserted: true,
        });
    }

    /// A reference: the target's id type, or for a natural key a stored value and a model.
    fn reference(&mut self, span: Span, elem: TokenStream, r: &Reference<'_>) {
        let p = private();
        let target = &r.target;
        match &r.key {
            None => {
                // The rows are written with `IdKey::key` of the field's value (an impl bound);
                // that its type is the target's id type is asserted at the field.
                let id = quote!(<#target as #p::Migrate>::Id);
                self.0.push(Requirement {
                    span,
                    ty: elem.clone(),
                    bound: quote!(#p::IdKey),
                    check: "id",
                    argument: None,
                    bound_on_impl: true,
                    asserted: false,
                });
                self.0.push(Requirement {
                    span,
                    ty: elem,
                    bound: quote!(#p::SameType<#id>),
                    check: "same_type",
                    argument: Some(id),
                    bound_on_impl: false,
                    asserted: true,
                });
            }
            Some(_) => {
                self.need(span, elem, quote!(#p::PgValue), "stores");
                self.0.push(Requirement {
                    span: target.span(),
                    ty: quote!(#target),
                    bound: quote!(#p::Migrate),
                    check: "model",
                    argument: None,
                    bound_on_impl: false,
                    asserted: true,
                });
            }
        }
    }
}

fn requirements(s: &Struct<'_>) -> Vec<Requirement> {
    let p = private();
    let mut out = Requirements::default();
    for f in &s.fields {
        let ty = f.ty;
        let span = f.ty_span();
        match &f.kind {
            FieldKind::Id { .. } => out.need(span, quote!(#ty), quote!(#p::IdKey), "id"),
            FieldKind::Value(v) => {
                match (&v.with, &v.storage) {
                    (Some(_), _) => {}
                    (None, Storage::Jsonb) => out.need(
                        span,
                        quote!(#ty),
                        quote!(#p::DeserializeOwned),
                        "reads_json",
                    ),
                    (None, _) => out.need(span, quote!(#ty), quote!(#p::FromBson), "reads"),
                }
                let inner = types::option_inner(ty).filter(|_| v.optional).unwrap_or(ty);
                match &v.storage {
                    Storage::Native => out.need(span, quote!(#ty), quote!(#p::PgValue), "stores"),
                    Storage::Jsonb => {
                        out.need(span, quote!(#inner), quote!(#p::Serialize), "stores_json")
                    }
                    Storage::AsText => out.need(
                        span,
                        quote!(#ty),
                        quote!(#p::ObjectIdTextColumn),
                        "stores_hex",
                    ),
                    Storage::Reference(r) if r.key.is_some() => out.reference(span, quote!(#ty), r),
                    Storage::Reference(r) => out.reference(span, quote!(#inner), r),
                }
            }
            FieldKind::Junction(j) => {
                let elem = j.reference.elem;
                let span = elem.span();
                if j.with.is_none() {
                    out.need(span, quote!(#elem), quote!(#p::FromBson), "reads");
                }
                out.reference(span, quote!(#elem), &j.reference);
            }
            FieldKind::Child(c) => {
                let elem = c.elem;
                out.need(elem.span(), quote!(#elem), quote!(#p::Embedded), "embedded");
            }
            FieldKind::Flatten(_) => {
                out.need(span, quote!(#ty), quote!(#p::FlatField), "flattens");
            }
        }
    }
    for skipped in &s.skipped {
        let ty = skipped.ty;
        out.need(ty.span(), quote!(#ty), quote!(#p::Default), "default");
    }
    out.0
}

/// The where clause of the generated impls.
pub fn where_clause(s: &Struct<'_>) -> TokenStream {
    let bounds: Vec<_> = requirements(s)
        .into_iter()
        .filter(|r| r.bound_on_impl)
        .map(|r| {
            let (ty, bound) = (r.ty, r.bound);
            quote_spanned!(r.span=> for<'__m> #ty: #bound)
        })
        .collect();
    if bounds.is_empty() {
        return TokenStream::new();
    }
    quote!(where #(#bounds,)*)
}

/// A closure that is never called, whose calls report unmet requirements at the fields.
pub fn assertions(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let calls: Vec<_> = requirements(s)
        .into_iter()
        .filter(|r| r.asserted)
        .map(|r| {
            let check = syn::Ident::new(r.check, r.span);
            let ty = r.ty;
            let args = match r.argument {
                Some(argument) => quote!(#ty, #argument),
                None => ty,
            };
            quote_spanned!(r.span=> #p::assert::#check::<#args>();)
        })
        .collect();
    if calls.is_empty() {
        return TokenStream::new();
    }
    quote! {
        const _: fn() = || {
            #(#calls)*
        };
    }
}
