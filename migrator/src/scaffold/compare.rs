//! A scaffold against hand-written models of the same data: per feature (references, junctions,
//! child tables, natural keys, enums, optional fields) the share of the hand-written instances
//! the scaffold found, what it added, and every difference with the evidence behind it. An
//! instance on a key no document holds is counted apart (`unseen`): the data cannot show it.
//!
//! Both sides are read as descriptions keyed by document path (`organizationId`,
//! `lines[].adjustments`): the hand-written models through their [`ModelDef`]s, the description
//! DDL, `plan` and the key census read; the scaffold through its inferred fields, each of which
//! records the path it reads. A reference is found only with the same target collection and key.

use std::collections::BTreeMap;

use super::model::Field;
use super::Scaffold;
use crate::census::parent_path;
use crate::model::{ColumnDef, ModelDef, PgType, RefTarget, TableRole};
use crate::schema::Schema;

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    Reference,
    Junction,
    Child,
    NaturalKey,
    Enum,
    Optional,
}

impl Feature {
    pub const ALL: [Feature; 6] = [
        Feature::Reference,
        Feature::Junction,
        Feature::Child,
        Feature::NaturalKey,
        Feature::Enum,
        Feature::Optional,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::Reference => "references",
            Feature::Junction => "junctions",
            Feature::Child => "child tables",
            Feature::NaturalKey => "natural keys",
            Feature::Enum => "enums",
            Feature::Optional => "optional fields",
        }
    }
}

/// Where a feature is: a collection and a document path in it.
pub type At = (String, String);

/// Every instance of each feature, with its detail (a reference's `collection.key`, else empty).
pub type Features = BTreeMap<Feature, BTreeMap<At, String>>;

/// One feature's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub feature: Feature,
    /// Instances in the hand-written models.
    pub hand: usize,
    /// Of those, found by the scaffold (same path, same target).
    pub found: usize,
    /// Of those, on a key no document holds: nothing in the data to find them from.
    pub unseen: usize,
    /// Instances the scaffold has that the hand-written models do not.
    pub added: usize,
}

/// A difference and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub feature: Feature,
    pub at: At,
    /// `true`: the hand-written models have it, the scaffold not; `false`: the other way.
    pub missed: bool,
    /// Missed because no document holds the key.
    pub unseen: bool,
    pub detail: String,
    pub why: String,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    pub differences: Vec<Difference>,
}

impl Comparison {
    pub fn row(&self, feature: Feature) -> Option<&Row> {
        self.rows.iter().find(|r| r.feature == feature)
    }

    /// The differences of one feature, missed (`true`) or added (`false`).
    pub fn of(&self, feature: Feature, missed: bool) -> Vec<&Difference> {
        self.differences
            .iter()
            .filter(|d| d.feature == feature && d.missed == missed)
            .collect()
    }

    /// The table, then every difference with its explanation.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{:<16} {:>5} {:>7} {:>6} {:>7} {:>6}",
            "feature", "hand", "in data", "found", "share", "added"
        )];
        for r in &self.rows {
            out.push(format!(
                "{:<16} {:>5} {:>7} {:>6} {:>6.1}% {:>6}",
                r.feature.name(),
                r.hand,
                r.hand - r.unseen,
                r.found,
                100.0 * r.found as f64 / (r.hand - r.unseen).max(1) as f64,
                r.added
            ));
        }
        for d in &self.differences {
            let detail = if d.detail.is_empty() {
                String::new()
            } else {
                format!(" -> {}", d.detail)
            };
            out.push(format!(
                "{} {} {}.{}{detail}: {}",
                match (d.missed, d.unseen) {
                    (true, true) => "unseen",
                    (true, false) => "missed",
                    (false, _) => "added ",
                },
                d.feature.name(),
                d.at.0,
                d.at.1,
                d.why
            ));
        }
        out
    }
}

/// A column of the hand-written models, by where it reads.
pub(super) struct HandColumn<'a> {
    pub(super) table: &'a str,
    pub(super) column: &'a ColumnDef,
}

/// The hand-written side: its features and its columns by document path.
struct Hand<'a> {
    features: Features,
    columns: BTreeMap<At, HandColumn<'a>>,
}

fn target_of(schema: &Schema, target: &RefTarget) -> Option<String> {
    let RefTarget::Model { type_id, key, .. } = target else {
        return None;
    };
    let def = schema
        .models()
        .iter()
        .map(|m| m.def())
        .find(|d| d.type_id == *type_id)?;
    let key = match key {
        None => "_id".to_string(),
        Some(column) => def.table().column(column)?.source.clone(),
    };
    Some(format!("{}.{key}", def.collection))
}

fn is_enum(ty: &PgType) -> bool {
    match ty {
        PgType::Enum(_) => true,
        PgType::Array(inner) => is_enum(inner),
        _ => false,
    }
}

fn hand(schema: &Schema) -> Hand<'_> {
    let mut features = Features::new();
    let mut columns = BTreeMap::new();
    let mut add = |f: Feature, at: At, detail: String| {
        features.entry(f).or_default().insert(at, detail);
    };
    for def in schema.models().iter().map(|m| m.def()) {
        let at = |path: &str| (def.collection.clone(), path.to_string());
        for table in &def.tables {
            match &table.role {
                TableRole::Junction { field } => {
                    let target = table
                        .references
                        .iter()
                        .find_map(|r| target_of(schema, &r.target));
                    add(Feature::Junction, at(field), target.unwrap_or_default());
                    continue;
                }
                TableRole::Child { field } => add(Feature::Child, at(field), String::new()),
                TableRole::Collection => {}
            }
            for r in &table.references {
                if let (Some(target), Some(c)) =
                    (target_of(schema, &r.target), table.column(&r.column))
                {
                    add(Feature::Reference, at(&c.source), target);
                }
            }
            if table.role == TableRole::Collection {
                for unique in table.uniques.iter().filter(|u| u.len() == 1) {
                    if let Some(c) = table.column(&unique[0]) {
                        add(Feature::NaturalKey, at(&c.source), String::new());
                    }
                }
            }
            for c in columns_read(def, table) {
                if is_enum(&c.ty) {
                    add(Feature::Enum, at(&c.source), String::new());
                }
                if c.nullable {
                    add(Feature::Optional, at(&c.source), String::new());
                }
                columns.insert(
                    at(&c.source),
                    HandColumn {
                        table: &table.name,
                        column: c,
                    },
                );
            }
        }
    }
    Hand { features, columns }
}

/// The columns of a table that read a document key (not the generated key columns).
fn columns_read<'a>(
    def: &ModelDef,
    table: &'a crate::model::TableDef,
) -> impl Iterator<Item = &'a ColumnDef> {
    let id = def.table().key_column().to_string();
    let is_collection = table.role == TableRole::Collection;
    table
        .columns
        .iter()
        .filter(move |c| !(c.source.starts_with('<') || (is_collection && c.name == id)))
}

/// The scaffold's fields by (collection, path), and its features.
fn scaffolded(s: &Scaffold) -> (Features, BTreeMap<At, &Field>) {
    let mut features = Features::new();
    let mut fields = BTreeMap::new();
    let enums: Vec<&str> = s.krate.enums.iter().map(|e| e.ident.as_str()).collect();
    for m in &s.krate.models {
        let collection = &m.from;
        for f in &m.fields {
            let at = (collection.clone(), f.source.clone());
            let has = |a: &str| f.attrs.iter().any(|x| x == a);
            let mut add = |feature: Feature, detail: String| {
                features
                    .entry(feature)
                    .or_default()
                    .insert(at.clone(), detail);
            };
            if f.attrs.iter().any(|a| a.starts_with("references = ")) {
                let key = if has("junction") {
                    format!("{}[]", f.source)
                } else {
                    f.source.clone()
                };
                let target = s
                    .refs
                    .found
                    .get(&(collection.clone(), key))
                    .map(|t| format!("{}.{}", t.target, t.key))
                    .unwrap_or_default();
                let feature = if has("junction") {
                    Feature::Junction
                } else {
                    Feature::Reference
                };
                add(feature, target);
            }
            if has("child") {
                add(Feature::Child, String::new());
            }
            if has("unique") && m.collection.is_some() {
                add(Feature::NaturalKey, String::new());
            }
            if f.ty.split(['<', '>']).any(|t| enums.contains(&t.trim())) {
                add(Feature::Enum, String::new());
            }
            fields.insert(at, f);
        }
    }
    // Optional: an `Option` field, or one inside a flattened `Option` struct (all its columns
    // are NULL when the subdocument is absent).
    let optional = |at: &At, f: &Field| {
        let mut path = at.1.as_str();
        let mut outer = f;
        loop {
            if outer.ty.starts_with("Option<") {
                return true;
            }
            if path.is_empty() {
                return false;
            }
            path = parent_path(path);
            match fields.get(&(at.0.clone(), path.to_string())) {
                Some(parent) if parent.attrs.iter().any(|a| a == "flatten") => outer = parent,
                _ => return false,
            }
        }
    };
    for (at, f) in &fields {
        let table = f.attrs.iter().any(|a| a == "child" || a == "junction");
        if !table && optional(at, f) {
            features
                .entry(Feature::Optional)
                .or_default()
                .insert(at.clone(), String::new());
        }
    }
    (features, fields)
}

/// Compares a scaffold with hand-written models of the same source.
pub fn compare(schema: &Schema, s: &Scaffold) -> Comparison {
    let hand = hand(schema);
    let (mine, fields) = scaffolded(s);
    let explain = super::explain::Explain {
        scaffold: s,
        fields: &fields,
        hand: &hand.columns,
    };
    let empty = BTreeMap::new();
    let mut rows = Vec::new();
    let mut differences = Vec::new();
    for feature in Feature::ALL {
        let theirs = hand.features.get(&feature).unwrap_or(&empty);
        let ours = mine.get(&feature).unwrap_or(&empty);
        // Optional fields compare where both read a column; elsewhere the shapes differ.
        let comparable = |at: &At| {
            feature != Feature::Optional
                || (hand.columns.contains_key(at) && fields.contains_key(at))
        };
        let mut row = Row {
            feature,
            hand: 0,
            found: 0,
            unseen: 0,
            added: 0,
        };
        for (at, detail) in theirs.iter().filter(|(at, _)| comparable(at)) {
            row.hand += 1;
            if ours.get(at) == Some(detail) {
                row.found += 1;
            } else {
                let unseen = !s
                    .scan
                    .collection(&at.0)
                    .is_some_and(|c| c.census.keys.contains_key(&at.1));
                row.unseen += usize::from(unseen);
                differences.push(Difference {
                    feature,
                    at: at.clone(),
                    missed: true,
                    unseen,
                    detail: detail.clone(),
                    why: explain.missed(feature, at, detail),
                });
            }
        }
        for (at, detail) in ours.iter().filter(|(at, _)| comparable(at)) {
            if theirs.get(at) != Some(detail) {
                row.added += 1;
                differences.push(Difference {
                    feature,
                    at: at.clone(),
                    missed: false,
                    unseen: false,
                    detail: detail.clone(),
                    why: explain.added(feature, at),
                });
            }
        }
        rows.push(row);
    }
    Comparison { rows, differences }
}
