//! `#[migrate(..)]` attributes, plus the subset of `#[serde(..)]` we honour (`rename`, `rename_all`).
//!
//! Parsing is syntax only: which keys are present, with which values. Whether they make sense
//! together is decided by `check.rs`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{self, Symbol};

pub use crate::rename::RenameRule;

/// A value with the span of the attribute key it came from.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// What a key takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `key`
    Flag,
    /// `key = "text"`
    Str,
    /// `key` or `key = "text"`
    OptionalStr,
    /// `key = path::to::item` or `key = "path::to::item"`
    Path,
    /// `key`, `key = path` or `key = "path"`
    OptionalPath,
    /// `key = ["text", ...]`
    StrList,
    /// `key = 123`
    Int,
}

fn shape(key: Symbol) -> Shape {
    use crate::symbol::*;
    match key {
        EMBEDDED | OPTIONAL | ID | SKIP | UNIQUE | INDEX | JSONB | AS_TEXT | POSITION
        | IMPLICIT => Shape::Flag,
        JUNCTION | CHILD | FLATTEN => Shape::OptionalStr,
        WITH | REFERENCES => Shape::Path,
        DEFAULT => Shape::OptionalPath,
        IGNORE => Shape::StrList,
        DIMENSIONS => Shape::Int,
        _ => Shape::Str,
    }
}

fn example(key: Symbol) -> String {
    match shape(key) {
        Shape::Flag => format!("`{key}`"),
        Shape::Str | Shape::OptionalStr => format!("`{key} = \"...\"`"),
        Shape::Path | Shape::OptionalPath => format!("`{key} = path::to::item`"),
        Shape::StrList => format!("`{key} = [\"key\", \"parent.key\"]`"),
        Shape::Int => format!("`{key} = 1536`"),
    }
}

/// A parsed value.
#[derive(Debug, Clone)]
enum Value {
    None,
    Str(LitStr),
    Path(syn::Path),
    StrList(Vec<LitStr>),
    Int(usize),
}

#[derive(Debug, Clone)]
struct Entry {
    key: Symbol,
    span: Span,
    value: Value,
}

/// The `#[migrate(..)]` keys of one item (struct, enum, field or variant) and the serde names.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    entries: Vec<Entry>,
    /// `#[serde(rename = "..")]` (or its `deserialize` name).
    pub serde_rename: Option<Spanned<String>>,
    /// `#[serde(rename_all = "..")]` (or its `deserialize` rule).
    pub serde_rename_all: Option<Spanned<RenameRule>>,
}

impl Attrs {
    /// Parses every `migrate` and `serde` attribute in `attrs`, accepting the `migrate` keys in
    /// `allowed` and reporting any other.
    pub fn parse(cx: &Ctxt, attrs: &[Attribute], allowed: &[Symbol]) -> Attrs {
        let mut out = Attrs::default();
        for attr in attrs {
            if attr.path() == symbol::MIGRATE {
                let result =
                    attr.parse_nested_meta(|meta| out.parse_migrate_key(cx, meta, allowed));
                if let Err(e) = result {
                    cx.syn_error(e);
                }
            } else if attr.path() == symbol::SERDE {
                // Keys we do not honour belong to serde; malformed ones are serde's to report.
                let _ = attr.parse_nested_meta(|meta| out.parse_serde_key(cx, meta));
            }
        }
        out
    }

    fn parse_migrate_key(
        &mut self,
        cx: &Ctxt,
        meta: ParseNestedMeta<'_>,
        allowed: &[Symbol],
    ) -> syn::Result<()> {
        let span = meta.path.span();
        let Some(key) = allowed.iter().copied().find(|s| meta.path == *s) else {
            let name = path_text(&meta.path);
            cx.error_at(
                span,
                format!(
                    "unknown `migrate` key `{name}`; expected one of {}",
                    symbol::list(allowed)
                ),
            );
            return skip_value(&meta);
        };
        if self.entries.iter().any(|e| e.key == key) {
            cx.error_at(span, format!("duplicate `migrate` key `{key}`"));
            return skip_value(&meta);
        }
        let has_value = meta.input.peek(Token![=]);
        let value = match (shape(key), has_value) {
            (Shape::Flag, false) | (Shape::OptionalStr | Shape::OptionalPath, false) => Value::None,
            (Shape::Flag, true) => {
                cx.error_at(span, format!("`{key}` takes no value; write just `{key}`"));
                skip_value(&meta)?;
                return Ok(());
            }
            (Shape::Str | Shape::Path | Shape::StrList | Shape::Int, false) => {
                cx.error_at(span, format!("`{key}` needs a value: {}", example(key)));
                skip_value(&meta)?;
                return Ok(());
            }
            (Shape::Str | Shape::OptionalStr, true) => {
                let expr: Expr = meta.value()?.parse()?;
                match expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(lit), ..
                    }) => {
                        if let Some(accepted) = choices(key) {
                            if !accepted.contains(&lit.value().as_str()) {
                                cx.error_at(
                                    lit.span(),
                                    format!(
                                        "invalid `{key}` value `{}`; expected one of {}",
                                        lit.value(),
                                        quoted(accepted.iter().copied())
                                    ),
                                );
                                return Ok(());
                            }
                        }
                        // An empty `flatten` prefix keeps the struct's own column names.
                        if lit.value().is_empty()
                            && ![symbol::RENAME, symbol::FLATTEN].contains(&key)
                        {
                            cx.error_at(lit.span(), format!("`{key}` cannot be empty"));
                            return Ok(());
                        }
                        Value::Str(lit)
                    }
                    other => {
                        cx.error_spanned_by(
                            other,
                            format!("`{key}` expects a string literal: {}", example(key)),
                        );
                        return Ok(());
                    }
                }
            }
            (Shape::StrList, true) => {
                let expr: Expr = meta.value()?.parse()?;
                match string_list(&expr) {
                    Some(list) if list.iter().all(|l| !l.value().is_empty()) => {
                        Value::StrList(list)
                    }
                    _ => {
                        cx.error_spanned_by(
                            expr,
                            format!(
                                "`{key}` expects a list of non-empty string literals: {}",
                                example(key)
                            ),
                        );
                        return Ok(());
                    }
                }
            }
            (Shape::Int, true) => {
                let expr: Expr = meta.value()?.parse()?;
                let parsed = match &expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(lit), ..
                    }) => lit.base10_parse::<usize>().ok().filter(|n| *n > 0),
                    _ => None,
                };
                match parsed {
                    Some(n) => Value::Int(n),
                    None => {
                        cx.error_spanned_by(
                            expr,
                            format!("`{key}` expects a positive integer: {}", example(key)),
                        );
                        return Ok(());
                    }
                }
            }
            (Shape::Path | Shape::OptionalPath, true) => {
                let expr: Expr = meta.value()?.parse()?;
                match path_value(&expr) {
                    Some(path) => Value::Path(path),
                    None => {
                        cx.error_spanned_by(
                            expr,
                            format!("`{key}` expects a path: {}", example(key)),
                        );
                        return Ok(());
                    }
                }
            }
        };
        if meta.input.peek(syn::token::Paren) {
            cx.error_at(
                span,
                format!("`{key}` takes no list; write {}", example(key)),
            );
            return skip_value(&meta);
        }
        self.entries.push(Entry { key, span, value });
        Ok(())
    }

    fn parse_serde_key(&mut self, cx: &Ctxt, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        if meta.path == symbol::RENAME {
            if let Some(lit) = serde_name(&meta)? {
                self.serde_rename = Some(Spanned {
                    value: lit.value(),
                    span: lit.span(),
                });
            }
        } else if meta.path == symbol::RENAME_ALL {
            if let Some(lit) = serde_name(&meta)? {
                match RenameRule::from_name(&lit.value()) {
                    Some(rule) => {
                        self.serde_rename_all = Some(Spanned {
                            value: rule,
                            span: lit.span(),
                        })
                    }
                    None => cx.error_at(
                        lit.span(),
                        format!(
                            "invalid `serde` `rename_all` value `{}`; expected one of {}",
                            lit.value(),
                            quoted(RenameRule::NAMES.iter().copied())
                        ),
                    ),
                }
            }
        } else {
            skip_value(&meta)?;
        }
        Ok(())
    }

    fn entry(&self, key: Symbol) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Every `migrate` key present, with its span, in the order written.
    pub fn keys(&self) -> impl Iterator<Item = (Symbol, Span)> + '_ {
        self.entries.iter().map(|e| (e.key, e.span))
    }

    /// The span of a key that is present.
    pub fn span(&self, key: Symbol) -> Option<Span> {
        self.entry(key).map(|e| e.span)
    }

    pub fn has(&self, key: Symbol) -> bool {
        self.entry(key).is_some()
    }

    /// The text of `key = "text"`.
    pub fn string(&self, key: Symbol) -> Option<Spanned<String>> {
        let entry = self.entry(key)?;
        match &entry.value {
            Value::Str(lit) => Some(Spanned {
                value: lit.value(),
                span: lit.span(),
            }),
            _ => None,
        }
    }

    /// The texts of `key = ["a", "b"]`, each with its span.
    pub fn strings(&self, key: Symbol) -> Vec<Spanned<String>> {
        match self.entry(key).map(|e| &e.value) {
            Some(Value::StrList(list)) => list
                .iter()
                .map(|lit| Spanned {
                    value: lit.value(),
                    span: lit.span(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The path of `key = path`.
    pub fn int(&self, key: Symbol) -> Option<usize> {
        self.entries
            .iter()
            .find_map(|e| match (&e.value, e.key == key) {
                (Value::Int(n), true) => Some(*n),
                _ => None,
            })
    }

    pub fn path(&self, key: Symbol) -> Option<&syn::Path> {
        match &self.entry(key)?.value {
            Value::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The document key naming rule: `migrate(rename_all)` first, then `serde(rename_all)`.
    pub fn rename_all(&self) -> Option<RenameRule> {
        match self.string(symbol::RENAME_ALL) {
            Some(s) => RenameRule::from_name(&s.value),
            None => self.serde_rename_all.as_ref().map(|r| r.value),
        }
    }

    /// The document key: `migrate(rename)` first, then `serde(rename)`.
    pub fn rename(&self) -> Option<String> {
        self.string(symbol::RENAME)
            .or_else(|| self.serde_rename.clone())
            .map(|s| s.value)
    }
}

/// Whether a `#[migrate(..)]` attribute among `attrs` names `key`; reports nothing. For decisions
/// that must be made even when the attributes have errors (which stub to emit).
pub fn mentions(attrs: &[Attribute], key: Symbol) -> bool {
    attrs
        .iter()
        .filter(|a| a.path() == symbol::MIGRATE)
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                found |= meta.path == key;
                skip_value(&meta)
            });
            found
        })
}

/// `"a"` or `rename(deserialize = "a", serialize = "b")`: the name used when reading documents.
fn serde_name(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    let mut found = None;
    if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| {
            if inner.path == symbol::DESERIALIZE {
                found = Some(inner.value()?.parse()?);
            } else if inner.path == symbol::SERIALIZE {
                let _: LitStr = inner.value()?.parse()?;
            } else {
                skip_value(&inner)?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// The string literals of `["a", "b"]`; `None` if it is anything else.
fn string_list(expr: &Expr) -> Option<Vec<LitStr>> {
    let Expr::Array(array) = expr else {
        return None;
    };
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => Some(lit.clone()),
            _ => None,
        })
        .collect()
}

/// Consumes whatever follows a key (`= expr` or `(..)`) so parsing goes on with the next key.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.input.parse::<Token![=]>()?;
        meta.input.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// The accepted values of keys that name one of a few choices.
pub fn choices(key: Symbol) -> Option<&'static [&'static str]> {
    use crate::symbol::*;
    match key {
        STRATEGY => Some(&["ordered", "v5", "keep"]),
        ON_MISSING => Some(&["reject", "null", "skip", "keep"]),
        REPR => Some(&["native", "text"]),
        UNKNOWN_FIELDS => Some(&["ignore", "reject"]),
        RENAME_ALL => Some(RenameRule::NAMES),
        NAMING => Some(&["snake_case", "prisma"]),
        _ => None,
    }
}

fn path_value(expr: &Expr) -> Option<syn::Path> {
    match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.parse::<syn::Path>().ok(),
        _ => None,
    }
}

fn path_text(path: &syn::Path) -> String {
    let mut out = String::new();
    for (i, seg) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push_str("::");
        }
        out.push_str(&seg.ident.to_string());
    }
    out
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
