//! Expansion snapshots of representative inputs, and the messages of misuses.
//!
//! The snapshots are the generated code, pretty-printed: review them like code. Compile-time
//! behaviour (trait bounds, spans) is covered by the trybuild tests in `migrator/tests/ui`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

fn pretty(input: TokenStream) -> String {
    let output = expand(input);
    let file: syn::File = syn::parse2(output).expect("the expansion is a list of items");
    prettyplease::unparse(&file)
}

/// The messages of the `compile_error!`s of an expansion.
fn errors(input: TokenStream) -> Vec<String> {
    let output = expand(input);
    let file: syn::File = syn::parse2(output).expect("the expansion is a list of items");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(m)
                if m.mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "compile_error") =>
            {
                m.mac.parse_body::<syn::LitStr>().ok().map(|l| l.value())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn collection_with_scalars_references_and_options() {
    insta::assert_snapshot!(pretty(quote! {
        #[migrate(collection = "comments", unknown_fields = "reject")]
        #[serde(rename_all = "camelCase")]
        struct Comment {
            #[migrate(id)]
            id: ObjectId,
            #[migrate(unique, index)]
            title: String,
            #[migrate(references = User, on_missing = "null")]
            author_id: Option<ObjectId>,
            #[migrate(references = Movie)]
            movie_id: ObjectId,
            #[migrate(references = User, key = "email", column = "email")]
            #[serde(rename = "email")]
            author_email: String,
            #[migrate(with = parse_date, default = "default_date")]
            posted_at: DateTime,
            #[migrate(jsonb)]
            metadata: Option<Metadata>,
            #[migrate(as_text)]
            legacy_ids: Vec<ObjectId>,
            #[migrate(skip)]
            cache: Vec<u8>,
        }
    }));
}

#[test]
fn collection_with_junction_and_child_tables() {
    insta::assert_snapshot!(pretty(quote! {
        struct Order {
            #[migrate(id, strategy = "v5")]
            id: ObjectId,
            #[migrate(junction, references = Tag, position, on_missing = "skip")]
            tags: Vec<ObjectId>,
            #[migrate(child = "order_lines", default)]
            items: Vec<LineItem>,
            #[migrate(junction = "order_watchers", references = User, key = "email", target_column = "email")]
            watchers: Option<Vec<String>>,
        }
    }));
}

#[test]
fn embedded_struct_with_nested_tables() {
    insta::assert_snapshot!(pretty(quote! {
        #[migrate(embedded)]
        struct LineItem {
            sku: String,
            price: f64,
            #[migrate(child, parent_column = "line_item_id")]
            reviews: Option<Vec<Review>>,
            #[migrate(junction, references = Tag)]
            tags: Vec<ObjectId>,
        }
    }));
}

#[test]
fn collection_with_nested_paths_flatten_and_with_arrays() {
    insta::assert_snapshot!(pretty(quote! {
        #[migrate(collection = "companies", ignore = ["rival.founded"])]
        struct Company {
            #[migrate(id)]
            id: ObjectId,
            #[migrate(path = "rival.slug", references = Company, key = "slug")]
            rival_slug: Option<String>,
            #[migrate(path = "rival.name")]
            rival_name: Option<String>,
            #[migrate(path = "loc.0")]
            lng: f64,
            #[migrate(flatten = "hq_", rename = "headquarters")]
            office: Option<Office>,
            #[migrate(child, with = parse_offices, path = "branches.list")]
            branches: Vec<Office>,
        }
    }));
}

#[test]
fn enums_native_and_text() {
    insta::assert_snapshot!(pretty(quote! {
        #[serde(rename_all = "snake_case")]
        enum OrderStatus {
            Pending,
            InTransit,
            #[migrate(rename = "done")]
            Delivered,
        }
    }));
    insta::assert_snapshot!(pretty(quote! {
        #[migrate(name = "role_kind", repr = "text", rename_all = "lowercase")]
        enum Role {
            Admin,
            Member,
        }
    }));
}

#[test]
fn errors_come_with_a_stub() {
    insta::assert_snapshot!(pretty(quote! {
        struct User {
            #[migrate(id, refs = Other)]
            id: ObjectId,
        }
    }));
}

#[test]
fn misuses_are_reported_with_their_rule() {
    let cases: Vec<(TokenStream, &[&str])> = vec![
        (
            quote! { struct A { #[migrate(refs = B)] b: ObjectId, #[migrate(id)] id: i32 } },
            &["unknown `migrate` key `refs`; expected one of `id`, `strategy`"],
        ),
        (
            quote! { struct A { name: String } },
            &["a collection struct needs one field marked `#[migrate(id)]`"],
        ),
        (
            quote! { struct A { #[migrate(id)] a: i32, #[migrate(id)] b: i32 } },
            &["only one field can be `#[migrate(id)]`, and `a` already is"],
        ),
        (
            quote! { #[migrate(embedded)] struct A { #[migrate(id)] a: i32 } },
            &["an embedded struct has no `_id`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(junction)] b: Vec<ObjectId> } },
            &["`junction` needs `references = Model`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(child)] b: Review } },
            &["`child` needs a field of type `Vec<T>` or `Option<Vec<T>>`, found `Review`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(references = B, on_missing = "null")] b: ObjectId } },
            &["`on_missing = \"null\"` needs an `Option<..>` field"],
        ),
        (
            quote! { struct A { #[migrate(id, strategy = "random")] id: ObjectId } },
            &["invalid `strategy` value `random`; expected one of `ordered`, `v5`, `keep`"],
        ),
        (
            quote! { #[migrate(rename_all = "camel")] struct A { #[migrate(id)] id: i32 } },
            &["invalid `rename_all` value `camel`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(child, references = B)] b: Vec<R> } },
            &["`references` cannot be combined with `child`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(skip, rename = "x")] b: u8 } },
            &["`rename` cannot be combined with `skip`"],
        ),
        (
            quote! { struct A(i32); },
            &["`Migrate` needs a struct with named fields"],
        ),
        (
            quote! { struct A<T> { #[migrate(id)] id: T } },
            &["`Migrate` cannot be derived for a generic type"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(column = "id")] other: i32 } },
            &["column `id` is written by both `id` and `other`"],
        ),
        (
            quote! { struct A { #[migrate(id, path = "a.b")] id: i32 } },
            &["`path` cannot be used on the `id` field: it is always read from `_id`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(path = "a..b")] b: i32, #[migrate(path = "c.", rename = "c")] c: i32 } },
            &[
                "`path = \"a..b\"` has an empty key",
                "`rename` cannot be combined with `path`",
                "`path = \"c.\"` has an empty key",
            ],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(child)] items: Vec<I>, #[migrate(child, path = "items")] again: Vec<I> } },
            &["the array `items` already gives the rows of `items`'s table"],
        ),
        (
            quote! { #[migrate(ignore = ["rival"])] struct A { #[migrate(id)] id: i32, #[migrate(skip)] meta: i32, #[migrate(path = "meta.x")] x: i32, #[migrate(path = "rival.slug")] slug: String } },
            &[
                "`ignore` names `rival`, which field `slug` reads (below it, `rival.slug`)",
                "document key `meta` is skipped by `meta`, but `x` reads `meta.x`",
            ],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(flatten)] a: Vec<Address>, #[migrate(flatten, column = "x")] b: Address } },
            &[
                "`flatten` needs an embedded struct (or an `Option` of one), found `Vec<Address>`",
                "`column` cannot be combined with `flatten`",
            ],
        ),
        (
            quote! { enum E { A, B(i32) } },
            &["`Migrate` enums must be fieldless, but variant `B` has fields"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(key = "email")] b: String } },
            &["`key` needs `references = Model` on the same field"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(references = B)] b: Vec<ObjectId> } },
            &["a `references` field of type `Vec<ObjectId>` needs `junction`"],
        ),
        (
            quote! { struct User { #[migrate(id)] id: ObjectId, #[migrate(junction, references = User)] friends: Vec<ObjectId> } },
            &["would have two columns named `user_id`; name the target's with `target_column"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(position)] b: Vec<i32> } },
            &["`position` applies only to `junction` fields"],
        ),
        (
            quote! { struct A { #[migrate(id, strategy = "v5")] id: i32 } },
            &["`strategy = \"v5\"` maps ObjectIds to UUIDs; a `i32` id is stored as it is"],
        ),
        (
            quote! { enum E { A, #[serde(rename = "A")] B } },
            &["enum label `A` is used by both `A` and `B`"],
        ),
        (
            quote! { #[migrate(repr = "int")] enum E { A } },
            &["invalid `repr` value `int`; expected one of `native`, `text`"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(rename)] b: i32, #[migrate(unique = true)] c: i32 } },
            &["`rename` needs a value: `rename = \"...\"`", "`unique` takes no value"],
        ),
        (
            quote! { #[migrate(embedded, table = "x")] struct A { b: i32, position: i32 } },
            &[
                "`table` does not apply to an embedded struct",
                "column `position` is written by both the child table's generated `position` column and `position`",
            ],
        ),
        (
            quote! { #[migrate(embedded)] struct Node { name: String, #[migrate(child)] children: Vec<Node> } },
            &["`Node` cannot be a child of itself"],
        ),
        (
            quote! { union U { a: i32 } },
            &["`Migrate` cannot be derived for a union"],
        ),
        (
            quote! { struct A { #[migrate(id)] id: i32, #[migrate(jsonb, as_text)] b: i32, #[migrate(jsonb, with = f)] c: i32 } },
            &["`as_text` cannot be combined with `jsonb`", "`with` cannot be combined with `jsonb`"],
        ),
    ];
    let mut failures = Vec::new();
    for (input, expected) in cases {
        let text = input.to_string();
        let found = errors(input);
        let matches =
            found.len() == expected.len() && found.iter().zip(expected).all(|(f, e)| f.contains(e));
        if !matches {
            failures.push(format!(
                "{text}\n  expected: {expected:?}\n  found: {found:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_macro_never_panics_on_odd_input() {
    for input in [
        quote! { struct A { #[migrate] id: i32 } },
        quote! { struct A { #[migrate(id = )] id: i32 } },
        quote! { struct A { #[migrate(references = 5)] id: i32 } },
        quote! { struct A { #[migrate(child(x))] id: i32 } },
        quote! { #[migrate(embedded = "yes")] struct A {} },
        quote! { enum E {} },
        quote! { struct A; },
        quote! { fn f() {} },
    ] {
        let text = input.to_string();
        assert!(!errors(input).is_empty(), "{text}");
    }
}
