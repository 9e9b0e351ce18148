//! What a scalar key's values mean beyond their type: a reference to another collection's key
//! (`references`, `junction` for arrays, `on_missing` from the dangling share), a unique key
//! (an index says so, or other collections reference it), an enum (few labels, much used).

use super::enums;
use super::infer::{count as n, is_int, Inferrer, Scalar, Scope};
use super::model::{EnumDef, Field, WithFn};
use super::names::{field_ident, type_ident, variant_ident, Names};
use crate::census::KeyStats;

impl Inferrer<'_> {
    pub(super) fn scalar_field(
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

    pub(super) fn unique(&mut self, scope: &Scope<'_>, path: &str, field: &mut Field) {
        let Some(u) = self
            .refs
            .unique
            .get(&(scope.c.name.clone(), path.to_string()))
        else {
            return;
        };
        let referenced = self.refs.is_referenced_key(&scope.c.name, path);
        let how = match (u.confirmed, u.exact) {
            (true, _) => "confirmed exactly by a second read after a hash sample",
            (false, true) => "exact",
            (false, false) => "on a hash sample",
        };
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
                field.docs.push(format!(
                    "Unique: a natural key other collections reference; {line}."
                ));
            }
            (None, false) => field.docs.push(format!(
                "{} ({line}); not marked `unique`: no index says so and nothing references it.",
                if u.repeats > 0 {
                    "Nearly every document has a different value"
                } else {
                    "Every document has a different value"
                }
            )),
        }
    }

    /// Adds `references` (and `junction` for arrays); the type becomes the target key's.
    pub(super) fn reference(
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
        // A collection's junction to itself: both columns would be named after the collection
        // (`task_id`); the target's is named after the field.
        if array && f.target == scope.c.name && scope.noun == "documents" {
            let name = field.ident.trim_end_matches('_');
            let name = name
                .strip_suffix("_ids")
                .or_else(|| name.strip_suffix("_id"))
                .unwrap_or(name);
            let own = scope.table.trim_end_matches('s');
            let column = if name.trim_end_matches('s') == own {
                format!("{name}_target_id")
            } else {
                format!("{name}_id")
            };
            field.attrs.push(format!("target_column = {column:?}"));
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
                "{}{}: `keep` loads them without their target.",
                super::explain::dangling(f),
                if self.sampled {
                    " (a sample: the targets may be beyond it)"
                } else {
                    ""
                }
            ));
        }
        Some(tty)
    }

    pub(super) fn enumeration(
        &mut self,
        scope: &Scope<'_>,
        path: &str,
        field: &mut Field,
    ) -> Option<String> {
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
}
