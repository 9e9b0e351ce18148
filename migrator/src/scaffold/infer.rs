//! From the census and profiles to models: a field per key, the narrowest type every value fits,
//! `Option` where a value is absent or null, child structs for arrays of subdocuments, nested
//! paths for subdocuments of a stable shape, jsonb for the rest, enums where the labels are few
//! and used often, references and junctions where [`references`](super::references) found them.
//! Every choice leaves its evidence in the field's doc comment.

use std::collections::BTreeMap;

use super::model::{Crate, Field, Model, WithFn};
use super::names::{field_ident, type_ident, Names};
use super::references::References;
use super::scan::{CollectionScan, Profile, SourceScan};
use crate::census::{parent_path, KeyStats};

fn n(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn non_null_types(stats: &KeyStats) -> BTreeMap<&str, u64> {
    stats
        .types
        .iter()
        .filter(|(t, _)| !matches!(t.as_str(), "null" | "undefined"))
        .map(|(t, c)| (t.as_str(), *c))
        .collect()
}

pub(super) fn types_text(stats: &KeyStats) -> String {
    stats
        .types
        .iter()
        .map(|(t, c)| format!("{t} {}", n(*c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A scalar's type, or why it has none.
pub(super) enum Scalar {
    Rust(String, Vec<String>),
    With(WithFn),
    Json(String),
}

/// One collection (or one array of subdocuments) being turned into a struct.
pub(super) struct Scope<'a> {
    pub(super) c: &'a CollectionScan,
    /// The census path of the struct's documents: `""` or `items[]`.
    pub(super) prefix: String,
    /// How many documents (subdocuments) the struct is made from.
    pub(super) count: u64,
    pub(super) ident: String,
    pub(super) table: String,
    /// What the struct's rows are made of: `documents`, `elements` (a child table's array),
    /// `subdocuments` (a flattened subdocument).
    pub(super) noun: &'static str,
}

impl Scope<'_> {
    pub(super) fn stats(&self, path: &str) -> KeyStats {
        self.c.census.keys.get(path).cloned().unwrap_or_default()
    }

    /// The key path below the struct's documents: `a.b` for `items[].a.b`.
    pub(super) fn relative<'p>(&self, path: &'p str) -> &'p str {
        if self.prefix.is_empty() {
            path
        } else {
            path[self.prefix.len()..].trim_start_matches('.')
        }
    }

    /// The keys directly below `parent`, in the first document's order where known.
    pub(super) fn children(&self, parent: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .c
            .census
            .keys
            .keys()
            .filter(|p| parent_path(p) == parent && !p.ends_with("[]"))
            .cloned()
            .collect();
        if parent.is_empty() {
            if let Some(first) = &self.c.first {
                let order: Vec<String> =
                    first.iter().flatten().map(|(k, _)| k.to_string()).collect();
                keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(usize::MAX));
            }
        }
        keys
    }
}

/// Builds every model of a scanned source.
pub fn infer(scan: &SourceScan, refs: &References) -> Crate {
    let mut krate = Crate::default();
    let mut types = Names::default();
    let idents: BTreeMap<String, String> = scan
        .collections
        .iter()
        .map(|c| (c.name.clone(), types.unique_type(type_ident(&c.name))))
        .collect();
    let mut inf = Inferrer {
        refs,
        scan,
        idents,
        types,
        krate: &mut krate,
        sampled: scan.sample.is_some(),
    };
    for c in &scan.collections {
        let ident = inf.idents[&c.name].clone();
        let scope = Scope {
            c,
            prefix: String::new(),
            count: c.census.documents,
            ident,
            table: heck::ToSnakeCase::to_snake_case(c.name.as_str()),
            noun: "documents",
        };
        let mut model = inf.structure(&scope);
        model.collection = Some(c.name.clone());
        let mut docs = vec![format!(
            "`{}`: {} documents{}.",
            c.name,
            n(c.census.documents),
            if c.sampled {
                " read (a sample: `--sample`)"
            } else {
                ""
            }
        )];
        for index in &c.unique_indexes {
            docs.push(format!(
                "Unique index `{}` on {}, declared in the source.",
                index.name,
                index.keys.join(", ")
            ));
        }
        model.docs = docs;
        inf.krate.models.push(model);
    }
    krate
}

pub(super) struct Inferrer<'a> {
    pub(super) refs: &'a References,
    pub(super) scan: &'a SourceScan,
    pub(super) idents: BTreeMap<String, String>,
    pub(super) types: Names,
    pub(super) krate: &'a mut Crate,
    pub(super) sampled: bool,
}

impl Inferrer<'_> {
    pub(super) fn structure(&mut self, scope: &Scope<'_>) -> Model {
        let mut names = Names::default();
        // A child table's own columns (the derive keeps them from every embedded struct).
        if !scope.prefix.is_empty() {
            for taken in ["id", "parent_id", "position"] {
                names.unique(taken.to_string());
            }
        }
        let mut fields = Vec::new();
        for key in scope.children(&scope.prefix) {
            self.field(scope, &key, &mut names, &mut fields);
        }
        Model {
            collection: None,
            from: scope.c.name.clone(),
            ident: scope.ident.clone(),
            docs: Vec::new(),
            fields,
        }
    }

    /// The field(s) for the key at `path` (nested subdocuments give several).
    pub(super) fn field(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        names: &mut Names,
        out: &mut Vec<Field>,
    ) {
        let stats = scope.stats(path);
        let rel = scope.relative(path).to_string();
        let nested = rel.contains('.');
        let key = rel.rsplit('.').next().unwrap_or(&rel).to_string();
        let present: u64 = stats.types.values().sum();
        let nulls = stats.types.get("null").copied().unwrap_or(0)
            + stats.types.get("undefined").copied().unwrap_or(0);
        let missing = scope.count.saturating_sub(present - nulls);
        let absent = scope.count.saturating_sub(present);
        let kinds = non_null_types(&stats);
        let is_root_id = scope.prefix.is_empty() && rel == "_id";

        let wanted = if is_root_id {
            "id".to_string()
        } else if key == "_id" {
            match self
                .refs
                .found
                .get(&(scope.c.name.clone(), path.to_string()))
            {
                Some(f) => format!("{}_id", field_ident(&type_ident(&f.target))),
                None => "original_id".to_string(),
            }
        } else {
            field_ident(&rel.replace('.', "_"))
        };
        let ident = names.unique(wanted);
        let mut field = Field {
            ident: ident.clone(),
            source: path.to_string(),
            ty: String::new(),
            attrs: Vec::new(),
            docs: vec![format!(
                "`{rel}`: {} in {} of {} {}{}.",
                types_text(&stats),
                n(present),
                n(scope.count),
                scope.noun,
                match (absent, nulls) {
                    (0, 0) => String::new(),
                    (a, u) => format!(" (absent in {}, null in {})", n(a), n(u)),
                }
            )],
        };
        if is_root_id {
            field.attrs.push("id".into());
        } else if nested {
            field.attrs.push(format!("path = {rel:?}"));
        } else if ident != key {
            field.attrs.push(format!("rename = {key:?}"));
        }

        let only = |t: &str| kinds.len() == 1 && kinds.contains_key(t);
        let ty = if kinds.is_empty() {
            field.docs.push("No value but null: kept as jsonb.".into());
            "Bson".to_string()
        } else if only("object") {
            match self.object(scope, path, &stats, &mut field, names, out) {
                Some(ty) => ty,
                None => return,
            }
        } else if only("array") {
            self.array(scope, path, &mut field)
        } else if kinds.contains_key("object") || kinds.contains_key("array") {
            field
                .docs
                .push("Documents, arrays and scalars mixed: kept as jsonb.".into());
            "Bson".to_string()
        } else {
            let ty = self.scalar_field(scope, path, &stats, &mut field);
            self.why_no_enum(scope, path, &ty, &mut field);
            ty
        };
        let optional = missing > 0 && !ty.starts_with("Option<");
        field.ty = if optional && !is_root_id {
            format!("Option<{ty}>")
        } else {
            ty
        };
        out.push(field);
    }

    /// A text key with few distinct strings that did not become an enum says why (the labels
    /// and the rule they fail), so that the reader sees the guess not made.
    fn why_no_enum(&self, scope: &Scope<'_>, path: &str, ty: &str, field: &mut Field) {
        let plain = ty == "String" || ty == "Option<String>";
        let keyed = field
            .attrs
            .iter()
            .any(|a| a == "unique" || a.starts_with("references"));
        let Some(p) = scope.c.profile(path) else {
            return;
        };
        // (Labels each used once are plainly text: nothing to explain.)
        let total: u64 = p.labels.values().sum();
        let few = (2..=super::enums::MAX_LABELS).contains(&p.labels.len());
        if !plain || keyed || p.labels_overflow || !few || total <= p.labels.len() as u64 {
            return;
        }
        if let Err(why) = super::enums::verdict(&p.labels, p.labels_overflow, path) {
            let labels = p
                .labels
                .iter()
                .map(|(l, c)| format!("`{l}` {}", n(*c)))
                .collect::<Vec<_>>()
                .join(", ");
            field
                .docs
                .push(format!("Text, not an enum: {why} ({labels})."));
        }
    }

    /// A subdocument: a geometry, jsonb, or a field per key by path (returns `None` then).
    pub(super) fn profile<'s>(&self, scope: &Scope<'s>, path: &str) -> Option<&'s Profile> {
        scope.c.profile(path)
    }

    /// The plain Rust type of a key (no `with`, no enum), for a reference target.
    pub(super) fn scalar_plain(
        &self,
        c: &CollectionScan,
        path: &str,
        stats: &KeyStats,
    ) -> Option<String> {
        let scope = Scope {
            c,
            prefix: String::new(),
            count: c.census.documents,
            ident: String::new(),
            table: String::new(),
            noun: "documents",
        };
        match self.scalar(&scope, path, stats, false) {
            Scalar::Rust(ty, _) => Some(ty),
            _ => None,
        }
    }

    pub(super) fn scalar(
        &self,
        scope: &Scope<'_>,
        path: &str,
        stats: &KeyStats,
        _enums: bool,
    ) -> Scalar {
        super::types::scalar(
            scope.c.profile(path),
            &non_null_types(stats),
            scope.relative(path),
        )
    }
}

pub(super) fn is_int(t: &str) -> bool {
    t == "i32" || t == "i64"
}

pub(super) fn rust(ty: &str, notes: Vec<String>) -> Scalar {
    Scalar::Rust(ty.to_string(), notes)
}

pub(super) fn with(w: WithFn) -> Scalar {
    Scalar::With(w)
}

pub(super) fn json(why: String) -> Scalar {
    Scalar::Json(why)
}

pub(super) fn count(x: u64) -> String {
    n(x)
}
