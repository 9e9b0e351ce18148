//! Fieldless enums: read from a string label, stored as a PostgreSQL enum or as checked text.

use proc_macro2::TokenStream;
use quote::quote;

use super::private;
use crate::model::Enum;

pub fn generate(e: &Enum<'_>) -> TokenStream {
    let p = private();
    let ident = e.ident;
    let pg_name = &e.pg_name;
    let labels: Vec<&String> = e.variants.iter().map(|v| &v.label).collect();
    let variants: Vec<_> = e.variants.iter().map(|v| v.ident).collect();
    let repr = if e.text {
        quote!(#p::EnumRepr::TextCheck)
    } else {
        quote!(#p::EnumRepr::Native)
    };
    // Only text-stored enums can be array elements: a native enum array's element OID is only
    // known once the type exists in the database.
    let array_element = if e.text {
        quote! {
            #[automatically_derived]
            impl #p::ArrayElement for #ident {
                const ELEMENT_OID: u32 = 25;
            }
        }
    } else {
        TokenStream::new()
    };
    quote! {
        const __LABELS: &[&str] = &[#(#labels),*];

        fn __label(value: &#ident) -> &'static str {
            match value {
                #(#ident::#variants => #labels,)*
            }
        }

        #[automatically_derived]
        impl #p::FromBson for #ident {
            fn from_bson(
                __value: #p::RawBsonRef<'_>,
            ) -> #p::Result<Self, #p::FieldError> {
                match #p::enum_label(__value)? {
                    #(#labels => #p::Ok(#ident::#variants),)*
                    __other => #p::Err(#p::not_in_enum(__other, __LABELS)),
                }
            }
        }

        #[automatically_derived]
        impl #p::PgValue for #ident {
            fn column_type() -> (#p::PgType, bool) {
                let def = #p::EnumDef {
                    name: #pg_name,
                    values: __LABELS,
                    repr: #repr,
                };
                (#p::PgType::Enum(def), false)
            }

            fn encode(&self, __buf: &mut #p::Vec<u8>) {
                #p::encode_text(__label(self), __buf)
            }

            fn to_cell(&self) -> #p::Cell {
                #p::Cell::Enum(#p::String::from(__label(self)))
            }
        }

        #array_element
    }
}
