//! What is emitted next to the errors when the input is wrong: the traits the derive would have
//! implemented, with bodies that are never run, so one mistake is reported once and not again at
//! every use of the type.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

use super::private;
use crate::attr;
use crate::model::Intent;
use crate::symbol;

pub fn stub(input: &DeriveInput) -> TokenStream {
    // A generic stub would add errors of its own (lifetimes, bounds): the generics error stands alone.
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return TokenStream::new();
    }
    let p = private();
    let ident = &input.ident;
    let body = match Intent::of(input) {
        Intent::Collection => {
            let id_ty = id_type(input).unwrap_or_else(|| quote!(#p::String));
            quote! {
                impl #p::Migrate for #ident {
                    type Id = #id_ty;
                    const ID_STRATEGY: #p::IdStrategy = #p::IdStrategy::Keep;
                    fn model() -> #p::ModelDef {
                        ::core::unimplemented!()
                    }
                    fn decode(_: &#p::RawDocument) -> #p::Result<Self, #p::FieldError> {
                        ::core::unimplemented!()
                    }
                    fn id(&self) -> &Self::Id {
                        ::core::unimplemented!()
                    }
                    fn emit(&self, _: &mut dyn #p::RowSink) {}
                }
            }
        }
        Intent::Embedded => quote! {
            impl #p::Embedded for #ident {
                const TABLE_COUNT: usize = 1usize;
                fn tables(
                    _: &#p::TableDef,
                    _: usize,
                    _: usize,
                    _: &str,
                    _: &str,
                    _: &str,
                ) -> #p::Vec<#p::TableDef> {
                    #p::Vec::new()
                }
                fn decode(_: &#p::RawDocument) -> #p::Result<Self, #p::FieldError> {
                    ::core::unimplemented!()
                }
                fn emit_child(&self, _: &#p::Key, _: &'static str, _: i32, _: usize, _: &mut dyn #p::RowSink) {}
                const FLAT_COLUMNS: &'static [#p::FlatColumn] = &[];
                fn flat(_: &mut #p::TableDef, _: &str, _: &#p::Flat) {}
                fn emit_flat(&self, _: &mut dyn #p::RowSink) {}
            }
            impl #p::FromBson for #ident {
                fn from_bson(_: #p::RawBsonRef<'_>) -> #p::Result<Self, #p::FieldError> {
                    ::core::unimplemented!()
                }
            }
        },
        Intent::Enum => quote! {
            impl #p::FromBson for #ident {
                fn from_bson(_: #p::RawBsonRef<'_>) -> #p::Result<Self, #p::FieldError> {
                    ::core::unimplemented!()
                }
            }
            impl #p::PgValue for #ident {
                fn column_type() -> (#p::PgType, bool) {
                    (#p::PgType::Text, false)
                }
                fn encode(&self, _: &mut #p::Vec<u8>) {}
                fn to_cell(&self) -> #p::Cell {
                    #p::Cell::Null
                }
            }
            impl #p::ArrayElement for #ident {
                const ELEMENT_OID: u32 = 25;
            }
        },
    };
    quote! {
        const _: () = {
            #body
        };
    }
}

/// The type of the first field marked `#[migrate(id)]`, if any.
fn id_type(input: &DeriveInput) -> Option<TokenStream> {
    let Data::Struct(data) = &input.data else {
        return None;
    };
    let Fields::Named(fields) = &data.fields else {
        return None;
    };
    fields
        .named
        .iter()
        .find(|f| attr::mentions(&f.attrs, symbol::ID))
        .map(|f| {
            let ty = &f.ty;
            quote!(#ty)
        })
}
