//! Subdocuments and arrays: a GeoJSON geometry, a map keyed by data or an irregular shape kept
//! as jsonb, a stable shape flattened (`flatten`) or read key by key (`path = "a.b"`), an array
//! of subdocuments as a child table, an array of scalars as a `Vec` (a junction when its values
//! are references).

use super::infer::{count as n, non_null_types, types_text, Inferrer, Scalar, Scope};
use super::model::Field;
use super::names::{type_ident, Names};
use crate::census::KeyStats;

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

impl Inferrer<'_> {
    pub(super) fn object(
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
        if let Some(data) = keys.iter().find(|k| k.ends_with(".*")) {
            let folded = scope.stats(data);
            field.docs.push(format!(
                "A map keyed by data (ids, numbers, hashes: {} such keys in {} of {} documents, counted together as `*`): one jsonb column, not a column per key.",
                n(folded.types.values().sum()),
                n(folded.documents),
                n(scope.c.census.documents),
            ));
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
        let widest = keys
            .iter()
            .map(|k| scope.stats(k).types.values().sum::<u64>())
            .max()
            .unwrap_or(0);
        if keys.len() > MAX_NESTED_KEYS && rare * 2 > keys.len() {
            field.docs.push(format!(
                "A map with dynamic keys: {} distinct keys, each in at most {} of {} subdocuments ({rare} in fewer than half): one jsonb column, not a column per key.",
                keys.len(),
                n(widest),
                n(objects)
            ));
            return Some("Document".into());
        }
        if keys.len() > MAX_NESTED_KEYS || (keys.len() > 4 && rare * 2 > keys.len()) {
            field.docs.push(format!(
                "{} keys, {rare} of them in fewer than half the subdocuments: an irregular shape, kept as jsonb.",
                keys.len()
            ));
            return Some("Document".into());
        }
        // A stable shape: an embedded struct flattened into the row, unless something below
        // becomes a table or a reference (a flattened struct holds neither) or the key is itself
        // read by path; then a column per key, read by path.
        let below = format!("{path}.");
        let tables = scope.c.census.keys.iter().any(|(k, stats)| {
            k.starts_with(&below) && k.ends_with("[]") && stats.types.contains_key("object")
        });
        let refs = self
            .refs
            .found
            .keys()
            .any(|(c, k)| *c == scope.c.name && k.starts_with(&below));
        if keys.len() < 2 || tables || refs || scope.relative(path).contains('.') {
            for key in keys {
                self.field(scope, &key, names, out);
            }
            return None;
        }
        // Named after the key as it is (`awards` -> `MovieAwards`): one subdocument, not many.
        let ident = self.types.unique_type(format!(
            "{}{}",
            scope.ident,
            heck::ToUpperCamelCase::to_upper_camel_case(field.ident.as_str())
        ));
        let sub = Scope {
            c: scope.c,
            prefix: path.to_string(),
            count: objects,
            ident: ident.clone(),
            table: scope.table.clone(),
            noun: "subdocuments",
        };
        let mut model = self.structure(&sub);
        model.docs = vec![format!(
            "`{path}` of `{}`: a subdocument of a stable shape ({} keys), flattened into the rows of `{}`.",
            scope.c.name,
            keys.len(),
            scope.table
        )];
        self.krate.models.push(model);
        field.attrs.push("flatten".into());
        field
            .docs
            .push(format!("Flattened: columns `{}_*`.", field.ident));
        Some(ident)
    }

    pub(super) fn array(&mut self, scope: &Scope<'_>, path: &str, field: &mut Field) -> String {
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
                noun: "elements",
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
}
