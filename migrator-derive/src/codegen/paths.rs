//! The document paths a struct's fields read, as one tree walked once per document.
//!
//! Every distinct path prefix is a node bound to a variable (`__k0`, `__k1`, ...): the root's
//! keys in one pass over the document (`fields`), the keys below an intermediate in one pass over
//! that subdocument or array (`nested`). Fields reading the same key or overlapping paths
//! (`rival` as jsonb, `rival.slug` as a reference, `rival.name` as a column) share the nodes.
//! A top-level node holds `Option<RawBsonRef>`; a deeper one a `Found` (which may say that an
//! intermediate on the way had the wrong type).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use super::private;
use crate::model::Struct;

struct Node {
    /// The key below the parent (`handle`), the dotted path from the row (`author.handle`).
    key: String,
    path: String,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The nodes of a struct's paths, and the node each field reads.
pub struct Layout {
    nodes: Vec<Node>,
    /// Root nodes in the order of their first field.
    roots: Vec<usize>,
    /// For each field of `s.fields`, its node.
    field_nodes: Vec<usize>,
}

/// Where a field's raw value is.
pub enum Slot {
    /// A top-level key: an `Option<RawBsonRef>`.
    Top(syn::Ident),
    /// A nested path: a `Found`.
    Nested(syn::Ident),
}

impl Layout {
    pub fn of(s: &Struct<'_>) -> Layout {
        let mut layout = Layout {
            nodes: Vec::new(),
            roots: Vec::new(),
            field_nodes: Vec::new(),
        };
        for f in &s.fields {
            let mut parent: Option<usize> = None;
            let mut path = String::new();
            for key in f.key.split('.') {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let siblings = match parent {
                    Some(p) => &layout.nodes[p].children,
                    None => &layout.roots,
                };
                let existing = siblings
                    .iter()
                    .copied()
                    .find(|&n| layout.nodes[n].key == key);
                let node = existing.unwrap_or_else(|| {
                    let n = layout.nodes.len();
                    layout.nodes.push(Node {
                        key: key.to_string(),
                        path: path.clone(),
                        parent,
                        children: Vec::new(),
                    });
                    match parent {
                        Some(p) => layout.nodes[p].children.push(n),
                        None => layout.roots.push(n),
                    }
                    n
                });
                parent = Some(node);
            }
            layout.field_nodes.push(parent.unwrap_or_default());
        }
        layout
    }

    fn ident(n: usize) -> syn::Ident {
        format_ident!("__k{}", n)
    }

    /// The raw value of field `index` (of `s.fields`).
    pub fn slot(&self, index: usize) -> Slot {
        let n = self.field_nodes[index];
        match self.nodes[n].parent {
            None => Slot::Top(Self::ident(n)),
            Some(_) => Slot::Nested(Self::ident(n)),
        }
    }

    /// The statements binding every node: one pass over the document, then one over each
    /// intermediate that fields read below (parents before children).
    pub fn collect(&self, s: &Struct<'_>) -> TokenStream {
        let p = private();
        let unknown = super::unknown_fields(s);
        let roots: Vec<_> = self.roots.iter().map(|&n| Self::ident(n)).collect();
        let keys = self.roots.iter().map(|&n| bytes(&self.nodes[n].key));
        let mut skipped_keys: Vec<&String> = Vec::new();
        // Keys the model names without reading them: accepted under `reject`.
        let unread = s.skipped.iter().map(|k| &k.key).chain(&s.ignored);
        for key in unread {
            if !key.contains('.') && !skipped_keys.contains(&key) {
                skipped_keys.push(key);
            }
        }
        let skipped_keys = skipped_keys.iter().map(|k| bytes(k));
        let mut out = quote! {
            let [#(#roots),*] = #p::fields(__doc, &[#(#keys),*], &[#(#skipped_keys),*], #unknown)?;
        };
        for (n, node) in self.nodes.iter().enumerate() {
            if node.children.is_empty() {
                continue;
            }
            let parent = Self::ident(n);
            let parent = match node.parent {
                None => quote!(#p::Ok(#parent)),
                Some(_) => quote!(#parent),
            };
            let children: Vec<_> = node.children.iter().map(|&c| Self::ident(c)).collect();
            let keys = node.children.iter().map(|&c| bytes(&self.nodes[c].key));
            let prefix = format!("{}.", node.path);
            let ignored = s
                .ignored
                .iter()
                .filter_map(|k| k.strip_prefix(&prefix))
                .filter(|k| !k.contains('.'))
                .map(bytes);
            let at = &node.path;
            out.extend(quote! {
                let [#(#children),*] = #p::nested(#parent, #at, &[#(#keys),*], &[#(#ignored),*], #unknown)?;
            });
        }
        out
    }
}

fn bytes(key: &str) -> syn::LitByteStr {
    syn::LitByteStr::new(key.as_bytes(), Span::call_site())
}
