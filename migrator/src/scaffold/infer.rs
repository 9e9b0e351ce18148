//! From the census and profiles to models: a field per key, the narrowest type every value fits,
//! `Option` where a value is absent or null, child structs for arrays of subdocuments, nested
//! paths for subdocuments of a stable shape, jsonb for the rest, enums where the labels are few
//! and used often, references and junctions where [`references`](super::references) found them.
//! Every choice leaves its evidence in the field's doc comment.

use std::collections::BTreeMap;

use super::enums;
use super::model::{Crate, EnumDef, Field, Model, WithFn};
use super::names::{field_ident, type_ident, variant_ident, Names};
use super::references::References;
use super::scan::{CollectionScan, Profile, SourceScan};
use crate::census::{parent_path, KeyStats};

const GEO_KINDS: &[&str] = &[
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
];
/// A subdocument with more keys than this is kept whole (jsonb).
const MAX_NESTED_KEYS: usize = 20;

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

fn non_null_types(stats: &KeyStats) -> BTreeMap<&str, u64> {
    stats
        .types
        .iter()
        .filter(|(t, _)| !matches!(t.as_str(), "null" | "undefined"))
        .map(|(t, c)| (t.as_str(), *c))
        .collect()
}

fn types_text(stats: &KeyStats) -> String {
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
struct Scope<'a> {
    c: &'a CollectionScan,
    /// The census path of the struct's documents: `""` or `items[]`.
    prefix: String,
    /// How many documents (subdocuments) the struct is made from.
    count: u64,
    ident: String,
    table: String,
}

impl Scope<'_> {
    fn stats(&self, path: &str) -> KeyStats {
        self.c.census.keys.get(path).cloned().unwrap_or_default()
    }

    /// The key path below the struct's documents: `a.b` for `items[].a.b`.
    fn relative<'p>(&self, path: &'p str) -> &'p str {
        if self.prefix.is_empty() {
            path
        } else {
            path[self.prefix.len()..].trim_start_matches('.')
        }
    }

    /// The keys directly below `parent`, in the first document's order where known.
    fn children(&self, parent: &str) -> Vec<String> {
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
                "Unique index `{}` on {} in the source's metadata.",
                index.name,
                index.keys.join(", ")
            ));
        }
        model.docs = docs;
        inf.krate.models.push(model);
    }
    krate
}

struct Inferrer<'a> {
    refs: &'a References,
    scan: &'a SourceScan,
    idents: BTreeMap<String, String>,
    types: Names,
    krate: &'a mut Crate,
    sampled: bool,
}

impl Inferrer<'_> {
    fn structure(&mut self, scope: &Scope<'_>) -> Model {
        let mut names = Names::default();
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
            ident: scope.ident.clone(),
            docs: Vec::new(),
            fields,
        }
    }

    /// The field(s) for the key at `path` (nested subdocuments give several).
    fn field(&mut self, scope: &Scope<'_>, path: &str, names: &mut Names, out: &mut Vec<Field>) {
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
            ty: String::new(),
            attrs: Vec::new(),
            docs: vec![format!(
                "`{rel}`: {} in {} of {} {}{}.",
                types_text(&stats),
                n(present),
                n(scope.count),
                if scope.prefix.is_empty() {
                    "documents"
                } else {
                    "elements"
                },
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
            self.scalar_field(scope, path, &stats, &mut field)
        };
        let optional = missing > 0 && !ty.starts_with("Option<");
        field.ty = if optional && !is_root_id {
            format!("Option<{ty}>")
        } else {
            ty
        };
        out.push(field);
    }

    /// A subdocument: a geometry, jsonb, or a field per key by path (returns `None` then).
    fn object(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        stats: &KeyStats,
        field: &mut Field,
        names: &mut Names,
        out: &mut Vec<Field>,
    ) -> Option<String> {
        let keys = scope.children(path);
        let objects = stats.types.get("object").copied().unwrap_or(0);
        let leaf = |k: &String| k.rsplit('.').next().unwrap_or(k).to_string();
        let leaves: Vec<String> = keys.iter().map(leaf).collect();
        if leaves.iter().any(|k| k == "type") && leaves.iter().any(|k| k == "coordinates") {
            let labels = self
                .profile(scope, &format!("{path}.type"))
                .map(|p| &p.labels);
            if let Some(labels) = labels
                .filter(|l| !l.is_empty() && l.keys().all(|k| GEO_KINDS.contains(&k.as_str())))
            {
                let kind = if labels.len() == 1 {
                    labels.keys().next().cloned().unwrap_or_default()
                } else {
                    "Geometry".into()
                };
                field.docs.push(format!(
                    "GeoJSON ({}): a PostGIS geometry.",
                    labels
                        .iter()
                        .map(|(k, c)| format!("{k} {}", n(*c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                return Some(format!("migrator::geo::{kind}"));
            }
        }
        if keys.iter().any(|k| k.ends_with(".*")) {
            field.docs.push(
                "A map keyed by data (ids, numbers): one jsonb column, not a column per key."
                    .into(),
            );
            return Some("Document".into());
        }
        if keys.is_empty() {
            field.docs.push("Always an empty document: jsonb.".into());
            return Some("Document".into());
        }
        let rare = keys
            .iter()
            .filter(|k| scope.stats(k).types.values().sum::<u64>() * 2 < objects)
            .count();
        if keys.len() > MAX_NESTED_KEYS || (keys.len() > 4 && rare * 2 > keys.len()) {
            field.docs.push(format!(
                "{} keys, {rare} of them in fewer than half the subdocuments: an irregular shape, kept as jsonb.",
                keys.len()
            ));
            return Some("Document".into());
        }
        // A stable shape: a column per key, read by path.
        for key in keys {
            self.field(scope, &key, names, out);
        }
        None
    }

    fn array(&mut self, scope: &Scope<'_>, path: &str, field: &mut Field) -> String {
        let elements = format!("{path}[]");
        let stats = scope.stats(&elements);
        let kinds = non_null_types(&stats);
        let nulls = stats.types.len() - kinds.len();
        if kinds.is_empty() {
            field.docs.push("Always an empty array: jsonb.".into());
            return "Bson".into();
        }
        let elems: u64 = kinds.values().sum();
        field.docs.push(format!(
            "Elements: {} ({} in all).",
            types_text(&stats),
            n(elems)
        ));
        if nulls > 0 || kinds.len() > 1 {
            field
                .docs
                .push("Elements of mixed types or null: jsonb.".into());
            return "Bson".into();
        }
        if kinds.contains_key("object") {
            if scope.children(&elements).iter().any(|k| k.ends_with(".*")) {
                field.docs.push("Subdocuments keyed by data: jsonb.".into());
                return "Bson".into();
            }
            let ident =
                self.types
                    .unique_type(format!("{}{}", scope.ident, type_ident(&field.ident)));
            let child = Scope {
                c: scope.c,
                prefix: elements.clone(),
                count: elems,
                ident: ident.clone(),
                table: format!("{}_{}", scope.table, field.ident),
            };
            let mut model = self.structure(&child);
            model.docs = vec![format!(
                "An element of `{}`: {} subdocuments, rows of the child table `{}`.",
                scope.relative(path),
                n(elems),
                child.table
            )];
            self.krate.models.push(model);
            field.attrs.push("child".into());
            field
                .docs
                .push(format!("Subdocuments: child table `{}`.", child.table));
            return format!("Vec<{ident}>");
        }
        if kinds.contains_key("array") {
            field.docs.push("Arrays of arrays: jsonb.".into());
            return "Bson".into();
        }
        match self.scalar(scope, &elements, &stats, false) {
            Scalar::Rust(ty, notes) => {
                field.docs.extend(notes);
                if let Some(ty) = self.reference(scope, &elements, &ty, field, true) {
                    return format!("Vec<{ty}>");
                }
                format!("Vec<{ty}>")
            }
            Scalar::With(_) | Scalar::Json(_) => {
                field.docs.push("Elements of mixed types: jsonb.".into());
                "Bson".into()
            }
        }
    }

    fn profile<'s>(&self, scope: &Scope<'s>, path: &str) -> Option<&'s Profile> {
        scope.c.profile(path)
    }

    fn scalar_field(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        stats: &KeyStats,
        field: &mut Field,
    ) -> String {
        let referenced = self
            .refs
            .found
            .contains_key(&(scope.c.name.clone(), path.to_string()));
        match self.scalar(scope, path, stats, !referenced) {
            Scalar::Rust(ty, notes) => {
                field.docs.extend(notes);
                let ty = self.reference(scope, path, &ty, field, false).unwrap_or(ty);
                if let Some(p) = self
                    .profile(scope, path)
                    .filter(|p| p.hex24_strings > 0 && p.hex24_strings == p.strings)
                {
                    field.docs.push(format!("Every value is 24 hexadecimal digits ({}): an ObjectId written as text? Kept as text.", n(p.strings)));
                }
                self.unique(scope, path, field);
                if ty == "String" && !referenced && !field.attrs.iter().any(|a| a == "unique") {
                    if let Some(e) = self.enumeration(scope, path, field) {
                        return e;
                    }
                }
                ty
            }
            Scalar::With(with) => {
                field.docs.extend(with.docs.clone());
                let name = format!(
                    "{}_{}",
                    field_ident(&scope.ident),
                    field.ident.trim_end_matches('_')
                );
                field.attrs.push(format!("with = convert::{name}"));
                let ty = with.ty.clone();
                self.krate.withs.push(WithFn {
                    ident: name,
                    ..with
                });
                ty
            }
            Scalar::Json(why) => {
                field.docs.push(why);
                "Bson".into()
            }
        }
    }

    fn unique(&mut self, scope: &Scope<'_>, path: &str, field: &mut Field) {
        let Some(u) = self
            .refs
            .unique
            .get(&(scope.c.name.clone(), path.to_string()))
        else {
            return;
        };
        let referenced = self.refs.is_referenced_key(&scope.c.name, path);
        let how = if u.exact { "exact" } else { "on a hash sample" };
        let mut line = format!("{} distinct values ({how})", n(u.distinct as u64));
        let marked = u.index.is_some() || referenced;
        if u.repeats > 0 {
            line.push_str(&format!(", {} repeated", n(u.repeats)));
            if marked {
                line.push_str(": those documents will be rejected as repeated keys");
            }
        }
        match (&u.index, referenced) {
            (Some(index), _) => {
                field.attrs.push("unique".into());
                field.docs.push(format!("Unique: index `{index}`; {line}."));
            }
            (None, true) => {
                field.attrs.push("unique".into());
                field
                    .docs
                    .push(format!("Unique: a natural key other collections reference; {line}."));
            }
            (None, false) => field.docs.push(format!(
                "Every document has a different value ({line}); not marked `unique`: no index says so and nothing references it."
            )),
        }
    }

    /// Adds `references` (and `junction` for arrays); the type becomes the target key's.
    fn reference(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        ty: &str,
        field: &mut Field,
        array: bool,
    ) -> Option<String> {
        let f = self
            .refs
            .found
            .get(&(scope.c.name.clone(), path.to_string()))?;
        let target = self.scan.collection(&f.target)?;
        let tstats = target.census.keys.get(&f.key).cloned().unwrap_or_default();
        let tty = match self.scalar_plain(target, &f.key, &tstats) {
            Some(t) if t == ty || (is_int(&t) && is_int(ty)) => t,
            _ => return None,
        };
        let model = self.idents.get(&f.target)?.clone();
        if array {
            field.attrs.push("junction".into());
        }
        field.attrs.push(format!("references = {model}"));
        if f.key != "_id" {
            field.attrs.push(format!("key = {:?}", field_ident(&f.key)));
        }
        let what = if f.target == scope.c.name {
            " (a self-reference)"
        } else {
            ""
        };
        field.docs.push(format!(
            "References `{}.{}`{what}: {}.",
            f.target,
            f.key,
            f.confidence()
        ));
        if f.dangling() > 0 {
            field.attrs.push("on_missing = \"keep\"".into());
            field.docs.push(format!(
                "{} distinct values dangle{}: `keep` loads them without their target.",
                n(f.dangling() as u64),
                if self.sampled {
                    " (a sample: the targets may be beyond it)"
                } else {
                    ""
                }
            ));
        }
        Some(tty)
    }

    fn enumeration(&mut self, scope: &Scope<'_>, path: &str, field: &mut Field) -> Option<String> {
        let p = self.profile(scope, path)?;
        let total: u64 = p.labels.values().sum();
        let labels = p.labels.len();
        if !enums::evidence(&p.labels, p.labels_overflow, path) {
            return None;
        }
        let mut names = Names::default();
        let mut variants = Vec::new();
        for label in p.labels.keys() {
            let v = variant_ident(label)?;
            if names.unique_type(v.clone()) != v {
                return None;
            }
            variants.push((v, label.clone()));
        }
        let ident = self
            .types
            .unique_type(format!("{}{}", scope.ident, type_ident(&field.ident)));
        let counts = p
            .labels
            .iter()
            .map(|(l, c)| format!("`{l}` {}", n(*c)))
            .collect::<Vec<_>>()
            .join(", ");
        field.docs.push(format!(
            "An enum: {labels} labels over {} values ({counts}).",
            n(total)
        ));
        self.krate.enums.push(EnumDef {
            ident: ident.clone(),
            pg_name: format!("{}_{}", scope.table, field.ident.trim_end_matches('_')),
            variants,
            docs: vec![format!(
                "The labels of `{}` in `{}`.",
                scope.relative(path),
                scope.c.name
            )],
        });
        Some(ident)
    }

    /// The plain Rust type of a key (no `with`, no enum), for a reference target.
    fn scalar_plain(&self, c: &CollectionScan, path: &str, stats: &KeyStats) -> Option<String> {
        let scope = Scope {
            c,
            prefix: String::new(),
            count: c.census.documents,
            ident: String::new(),
            table: String::new(),
        };
        match self.scalar(&scope, path, stats, false) {
            Scalar::Rust(ty, _) => Some(ty),
            _ => None,
        }
    }

    fn scalar(&self, scope: &Scope<'_>, path: &str, stats: &KeyStats, _enums: bool) -> Scalar {
        super::types::scalar(
            scope.c.profile(path),
            &non_null_types(stats),
            scope.relative(path),
        )
    }
}

fn is_int(t: &str) -> bool {
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
