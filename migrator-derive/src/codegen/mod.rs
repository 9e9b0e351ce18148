//! Code generation: reads the checked model only and cannot fail.
//!
//! Everything lives in `const _: () = { .. };` and names nothing but `::migrator::__private`.

mod bounds;
mod decode;
mod enums;
mod paths;
mod rows;
mod stub;
mod tables;
mod transcode;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::{Input, Struct, StructKind, UnknownFields};

pub use stub::stub;

/// The path every generated item goes through.
fn private() -> TokenStream {
    quote!(::migrator::__private)
}

pub fn generate(input: &Input<'_>) -> TokenStream {
    let body = match input {
        Input::Struct(s) => match &s.kind {
            StructKind::Collection { collection, table } => collection_impl(s, collection, table),
            StructKind::Embedded => embedded_impl(s),
        },
        Input::Enum(e) => enums::generate(e),
    };
    quote! {
        const _: () = {
            #body
        };
    }
}

pub(crate) fn unknown_fields(s: &Struct<'_>) -> TokenStream {
    let p = private();
    match s.unknown_fields {
        UnknownFields::Report => quote!(#p::UnknownFields::Report),
        UnknownFields::Ignore => quote!(#p::UnknownFields::Ignore),
        UnknownFields::Reject => quote!(#p::UnknownFields::Reject),
    }
}

fn collection_impl(s: &Struct<'_>, collection: &str, table: &str) -> TokenStream {
    let p = private();
    let ident = s.ident;
    let rust_name = ident.to_string();
    let Some(id) = s.id() else {
        // `check::model` reports a collection without an id; nothing to generate.
        return TokenStream::new();
    };
    let id_member = id.ident;
    let id_ty = id.ty;
    let strategy = tables::strategy(id);
    let where_clause = bounds::where_clause(s);
    let assertions = bounds::assertions(s);
    let model_body = tables::collection(s, table, collection);
    let decode_body = decode::body(s);
    let emit_body = rows::collection(s);
    let transcode_body = transcode::collection(s);
    let unknown = unknown_fields(s);
    let may_be_absent = s.may_be_absent;
    let column_check = tables::column_check(s);
    quote! {
        #[automatically_derived]
        impl #p::Migrate for #ident #where_clause {
            type Id = #id_ty;
            const ID_STRATEGY: #p::IdStrategy = #strategy;

            fn model() -> #p::ModelDef {
                #model_body
                #p::ModelDef {
                    rust_name: #rust_name,
                    type_id: #p::TypeId::of::<Self>(),
                    collection: #p::String::from(#collection),
                    id_strategy: Self::ID_STRATEGY,
                    unknown_fields: #unknown,
                    may_be_absent: #may_be_absent,
                    tables: __tables,
                }
            }

            fn decode(
                __doc: &#p::RawDocument,
            ) -> #p::Result<Self, #p::FieldError> {
                #decode_body
            }

            fn id(&self) -> &Self::Id {
                &self.#id_member
            }

            fn emit(&self, __out: &mut dyn #p::RowSink) {
                #emit_body
            }

            fn transcode<__S: #p::RowSink>(
                __doc: &#p::RawDocument,
                __out: &mut __S,
            ) -> #p::Result<(), #p::FieldError> {
                #transcode_body
            }
        }

        #assertions
        #column_check
    }
}

fn embedded_impl(s: &Struct<'_>) -> TokenStream {
    let p = private();
    let ident = s.ident;
    let where_clause = bounds::where_clause(s);
    let assertions = bounds::assertions(s);
    let table_count = tables::table_count(s);
    let tables_body = tables::embedded(s);
    let decode_body = decode::body(s);
    let emit_body = rows::embedded(s);
    let transcode_body = transcode::embedded(s);
    let flat_columns = tables::flat_columns(s);
    let flat_body = tables::flat(s);
    let emit_flat = rows::values(s);
    let (collect, slots) = transcode::slots(s);
    let transcode_flat = transcode::values(s, &slots);
    let column_check = tables::column_check(s);
    quote! {
        #[automatically_derived]
        impl #p::Embedded for #ident #where_clause {
            const TABLE_COUNT: usize = #table_count;

            fn tables(
                __parent: &#p::TableDef,
                __parent_index: usize,
                __index: usize,
                __field: &str,
                __table_name: &str,
                __parent_column: &str,
            ) -> #p::Vec<#p::TableDef> {
                #tables_body
            }

            fn decode(
                __doc: &#p::RawDocument,
            ) -> #p::Result<Self, #p::FieldError> {
                #decode_body
            }

            const FLAT_COLUMNS: &'static [#p::FlatColumn] = #flat_columns;

            fn flat(__own: &mut #p::TableDef, __path: &str, __flat: &#p::Flat) {
                #flat_body
            }

            fn emit_flat(&self, __out: &mut dyn #p::RowSink) {
                #(#emit_flat)*
            }

            #[allow(unused_variables)]
            fn transcode_flat<__S: #p::RowSink>(
                __doc: &#p::RawDocument,
                __out: &mut __S,
            ) -> #p::Result<(), #p::FieldError> {
                #[allow(unused_imports)]
                use #p::views::*;
                #collect
                #(#transcode_flat)*
                #p::Ok(())
            }

            fn emit_child(
                &self,
                __parent: &#p::Key,
                __field: &'static str,
                __position: i32,
                __base: usize,
                __out: &mut dyn #p::RowSink,
            ) {
                #emit_body
            }

            fn transcode_child<__S: #p::RowSink>(
                __doc: &#p::RawDocument,
                __parent: &#p::Key,
                __field: &'static str,
                __position: i32,
                __base: usize,
                __out: &mut __S,
            ) -> #p::Result<(), #p::FieldError> {
                #transcode_body
            }
        }

        #[automatically_derived]
        impl #p::FromBson for #ident #where_clause {
            fn from_bson(
                __value: #p::RawBsonRef<'_>,
            ) -> #p::Result<Self, #p::FieldError> {
                #p::embedded::<Self>(__value)
            }
        }

        #assertions
        #column_check
    }
}
