//! `prisma`: the PostgreSQL `schema.prisma` that matches the models, for a team whose
//! application reads the migrated data through Prisma Client.
//!
//! One `model` per table: a collection's table is named after its Rust model, junction and
//! child tables after their table. Fields are the columns in camelCase (`@map` where the
//! column differs), with `@id`, `@unique`, `@@id`, `@@unique` and `@@index` as the DDL makes
//! them, and every foreign key as a relation both ways. Prisma's implicit many-to-many tables
//! (`implicit` junctions: `_AToB`) become list fields on both models; other junctions are
//! explicit relation models. Enums (native or text) are Prisma enums named after the Rust
//! name's PostgreSQL name in PascalCase (`@@map` to the type name). The column types are those
//! the models write (`@db.Uuid`, `@db.Timestamptz`, `@db.Decimal`), so a load into the tables
//! Prisma makes from this file writes every column as it is (see `--schema-mode existing`).
//!
//! The output is deterministic: models in the schema's load order, fields in column order.

use std::collections::{BTreeMap, BTreeSet};

use heck::{ToLowerCamelCase, ToUpperCamelCase};

use crate::model::{EnumDef, MissingPolicy, PgType, TableDef, TableRole};
use crate::plan::LoadPlan;
use crate::schema::Schema;

/// The `schema.prisma` text of `schema` (see the module's documentation).
pub fn schema_prisma(schema: &Schema) -> String {
    let printer = Printer::new(schema);
    printer.print()
}

/// One table as a Prisma model.
struct Model<'a> {
    name: String,
    table: &'a TableDef,
    /// The model index and table index of the table in the schema.
    at: (usize, usize),
}

/// A foreign key as a relation: `from` holds `column`, which points at `to`'s `key`.
struct Relation {
    from: usize,
    column: String,
    to: usize,
    key: String,
    optional: bool,
    /// The relation field on `from`, and its name when the pair of models needs one.
    field: String,
    name: Option<String>,
    /// Whether `column` alone is unique in `from` (a one-to-one relation).
    unique: bool,
}

/// Implicit many-to-many: the table's `A` and `B` models.
struct Implicit {
    a: usize,
    b: usize,
}

struct Printer<'a> {
    models: Vec<Model<'a>>,
    relations: Vec<Relation>,
    implicit: Vec<Implicit>,
    enums: BTreeMap<&'static str, EnumDef>,
}

impl<'a> Printer<'a> {
    fn new(schema: &'a Schema) -> Printer<'a> {
        let plan = LoadPlan::new(schema);
        let mut models: Vec<Model<'a>> = Vec::new();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        let mut implicit_tables = Vec::new();
        for m in plan.order() {
            let def = schema.models()[m].def();
            for (t, table) in def.tables.iter().enumerate() {
                if is_implicit(table) {
                    implicit_tables.push((m, t));
                    continue;
                }
                let base = if t == 0 {
                    def.rust_name.to_string()
                } else {
                    table.name.to_upper_camel_case()
                };
                let mut name = base.clone();
                let mut n = 2;
                while !taken.insert(name.clone()) {
                    name = format!("{base}{n}");
                    n += 1;
                }
                models.push(Model {
                    name,
                    table,
                    at: (m, t),
                });
            }
        }
        let index_of = |at: (usize, usize)| models.iter().position(|x| x.at == at);
        let model_table = |table: &str| {
            models
                .iter()
                .position(|x| x.at.1 == 0 && x.table.name == table)
        };
        let mut relations = Vec::new();
        for (from, model) in models.iter().enumerate() {
            let def = schema.models()[model.at.0].def();
            for r in &model.table.references {
                let Some(target) = schema.resolve(def, &r.target) else {
                    continue;
                };
                if r.on_missing == MissingPolicy::Keep || !target.enforceable {
                    continue;
                }
                let to = match &r.target {
                    crate::model::RefTarget::Table(i) => index_of((model.at.0, *i)),
                    crate::model::RefTarget::Model { .. } => model_table(target.table),
                };
                let Some(to) = to else { continue };
                relations.push(Relation {
                    from,
                    column: r.column.clone(),
                    to,
                    key: target.column.to_string(),
                    optional: model.table.column(&r.column).is_some_and(|c| c.nullable),
                    field: String::new(),
                    name: None,
                    unique: model.table.is_unique_key(&[r.column.as_str()]),
                });
            }
        }
        let implicit = implicit_tables
            .iter()
            .filter_map(|&(m, t)| {
                let def = schema.models()[m].def();
                let table = &def.tables[t];
                let end = |column: &str| {
                    let r = table.references.iter().find(|r| r.column == column)?;
                    let target = schema.resolve(def, &r.target)?;
                    model_table(target.table)
                };
                Some(Implicit {
                    a: end("A")?,
                    b: end("B")?,
                })
            })
            .collect();
        let mut printer = Printer {
            models,
            relations,
            implicit,
            enums: schema
                .enum_types()
                .values()
                .map(|e| (e.name, (*e).clone()))
                .collect(),
        };
        printer.name_relations();
        printer
    }

    /// Relation fields (`organization` for `organizationId`), and relation names where two
    /// relations join the same models (or a model to itself).
    fn name_relations(&mut self) {
        let mut pairs: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        for r in &self.relations {
            *pairs.entry(pair(r.from, r.to)).or_default() += 1;
        }
        for i in 0..self.relations.len() {
            let (from, to) = (self.relations[i].from, self.relations[i].to);
            let model = &self.models[from];
            let column = field_name(&self.relations[i].column);
            let stem = column
                .strip_suffix("Id")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{column}{}", self.models[to].name));
            let mut field = stem.clone();
            let columns: BTreeSet<String> = model
                .table
                .columns
                .iter()
                .map(|c| field_name(&c.name))
                .collect();
            let used: BTreeSet<String> = self.relations[..i]
                .iter()
                .filter(|r| r.from == from)
                .map(|r| r.field.clone())
                .collect();
            while columns.contains(&field) || used.contains(&field) {
                field.push_str("Ref");
            }
            let named = from == to || pairs[&pair(from, to)] > 1;
            let relation = &mut self.relations[i];
            relation.name = named.then(|| format!("{}{}", model.name, field.to_upper_camel_case()));
            relation.field = field;
        }
    }

    fn print(&self) -> String {
        let geometry = self
            .models
            .iter()
            .any(|m| m.table.columns.iter().any(|c| c.ty.is_geometry()));
        let mut out = if geometry {
            // Prisma creates PostGIS with the tables only through its extensions feature.
            HEADER
                .replace(
                    "  engineType = \"client\"\n",
                    "  engineType = \"client\"\n  previewFeatures = [\"postgresqlExtensions\"]\n",
                )
                .replace(
                    "  url      = env(\"DATABASE_URL\")\n",
                    "  url      = env(\"DATABASE_URL\")\n  extensions = [postgis]\n",
                )
        } else {
            String::from(HEADER)
        };
        for e in self.enums.values() {
            out.push('\n');
            out.push_str(&print_enum(e));
        }
        for (i, model) in self.models.iter().enumerate() {
            out.push('\n');
            out.push_str(&self.print_model(i, model));
        }
        out
    }

    fn print_model(&self, index: usize, model: &Model<'_>) -> String {
        let table = model.table;
        let mut lines: Vec<[String; 3]> = Vec::new();
        let single_key = table.primary_key.len() == 1;
        for column in &table.columns {
            let name = field_name(&column.name);
            let (ty, native) = prisma_type(&column.ty, &self.enums);
            let list = matches!(column.ty, PgType::Array(_));
            let optional = column.nullable && !list && !ty.starts_with("Unsupported");
            let mut attrs = Vec::new();
            if single_key && table.primary_key[0] == column.name {
                attrs.push("@id".to_string());
            } else if table
                .uniques
                .iter()
                .any(|u| u.len() == 1 && u[0] == column.name)
            {
                attrs.push("@unique".to_string());
            }
            if let Some(native) = native {
                attrs.push(native);
            }
            if name != column.name {
                attrs.push(format!("@map({})", quoted(&column.name)));
            }
            let unsupported_optional = column.nullable && ty.starts_with("Unsupported");
            let suffix = if optional || unsupported_optional {
                "?"
            } else {
                ""
            };
            lines.push([name, format!("{ty}{suffix}"), attrs.join(" ")]);
        }
        for r in self.relations.iter().filter(|r| r.from == index) {
            let target = &self.models[r.to].name;
            let name = r
                .name
                .as_ref()
                .map(|n| format!("{}, ", quoted(n)))
                .unwrap_or_default();
            lines.push([
                r.field.clone(),
                format!("{target}{}", if r.optional { "?" } else { "" }),
                format!(
                    "@relation({name}fields: [{}], references: [{}])",
                    field_name(&r.column),
                    field_name(&r.key)
                ),
            ]);
        }
        let mut back_names: BTreeSet<String> = lines.iter().map(|l| l[0].clone()).collect();
        for r in self.relations.iter().filter(|r| r.to == index) {
            let source = &self.models[r.from].name;
            let mut field = source.to_lower_camel_case();
            if !r.unique {
                field = plural(&field);
            }
            if r.name.is_some() {
                field.push_str(&r.field.to_upper_camel_case());
            }
            while !back_names.insert(field.clone()) {
                field.push_str("Ref");
            }
            let ty = if r.unique {
                format!("{source}?")
            } else {
                format!("{source}[]")
            };
            let attr = r
                .name
                .as_ref()
                .map(|n| format!("@relation({})", quoted(n)))
                .unwrap_or_default();
            lines.push([field, ty, attr]);
        }
        for m in &self.implicit {
            let other = match (m.a == index, m.b == index) {
                (true, _) => m.b,
                (_, true) => m.a,
                _ => continue,
            };
            let target = &self.models[other].name;
            let mut field = plural(&target.to_lower_camel_case());
            while !back_names.insert(field.clone()) {
                field.push_str("Ref");
            }
            lines.push([field, format!("{target}[]"), String::new()]);
        }
        let mut blocks = Vec::new();
        if !single_key && !table.primary_key.is_empty() {
            blocks.push(format!("@@id([{}])", fields(&table.primary_key)));
        }
        for u in table.uniques.iter().filter(|u| u.len() > 1) {
            blocks.push(format!("@@unique([{}])", fields(u)));
        }
        for ix in &table.indexes {
            blocks.push(format!("@@index([{}])", fields(ix)));
        }
        if model.name != table.name {
            blocks.push(format!("@@map({})", quoted(&table.name)));
        }
        let width = |k: usize| lines.iter().map(|l| l[k].len()).max().unwrap_or(0);
        let (w0, w1) = (width(0), width(1));
        let mut out = format!("/// {}\n", describe(table));
        out.push_str(&format!("model {} {{\n", model.name));
        for [name, ty, attrs] in &lines {
            let line = format!("  {name:w0$} {ty:w1$} {attrs}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !blocks.is_empty() {
            out.push('\n');
            for b in blocks {
                out.push_str(&format!("  {b}\n"));
            }
        }
        out.push_str("}\n");
        out
    }
}

const HEADER: &str = "// The PostgreSQL schema of the models, printed by the `prisma` command: review it, keep it.\n\
// Create the tables with Prisma, then load them with `migrate --schema-mode existing`.\n\
\n\
generator client {\n  provider   = \"prisma-client-js\"\n  engineType = \"client\"\n}\n\
\n\
datasource db {\n  provider = \"postgresql\"\n  url      = env(\"DATABASE_URL\")\n}\n";

/// What a table holds, for the doc comment above its model.
fn describe(table: &TableDef) -> String {
    match &table.role {
        TableRole::Collection => format!("The collection `{}`.", table.source),
        TableRole::Junction { .. } => {
            format!("The references of `{}`, one row each.", table.source)
        }
        TableRole::Child { .. } => format!("The elements of `{}`, one row each.", table.source),
    }
}

/// A table Prisma makes for an implicit many-to-many relation: `_AToB` with columns `A`, `B`.
fn is_implicit(table: &TableDef) -> bool {
    matches!(table.role, TableRole::Junction { .. })
        && table.name.starts_with('_')
        && table.columns.len() == 2
        && table.column("A").is_some()
        && table.column("B").is_some()
}

/// `task` -> `tasks`, `timeEntry` -> `timeEntries`; a name ending in `s` stays as it is.
fn plural(name: &str) -> String {
    if name.ends_with('s') {
        name.to_string()
    } else if let Some(stem) = name
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u']))
    {
        format!("{stem}ies")
    } else {
        format!("{name}s")
    }
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// A column's field name: camelCase (`organization_id` -> `organizationId`); a name that is
/// camelCase already stays as it is.
fn field_name(column: &str) -> String {
    if column.contains('_') || column.chars().next().is_some_and(char::is_uppercase) {
        let camel = column.to_lower_camel_case();
        if camel.is_empty() {
            return column.to_string();
        }
        camel
    } else {
        column.to_string()
    }
}

fn fields(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| field_name(c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The Prisma name of an enum type (`task_status` -> `TaskStatus`).
fn enum_name(e: &EnumDef) -> String {
    e.name.to_upper_camel_case()
}

fn print_enum(e: &EnumDef) -> String {
    let name = enum_name(e);
    let mut out = format!("enum {name} {{\n");
    for label in e.values {
        let ident = enum_value_ident(label);
        if ident == *label {
            out.push_str(&format!("  {ident}\n"));
        } else {
            out.push_str(&format!("  {ident} @map({})\n", quoted(label)));
        }
    }
    if name != e.name {
        out.push_str(&format!("\n  @@map({})\n", quoted(e.name)));
    }
    out.push_str("}\n");
    out
}

/// A label as a Prisma identifier: letters, digits and `_`, not starting with a digit.
fn enum_value_ident(label: &str) -> String {
    let mut ident: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !ident.starts_with(|c: char| c.is_ascii_alphabetic()) {
        ident.insert(0, 'v');
    }
    ident
}

/// The Prisma type of a column and its native type attribute where Prisma's default differs.
fn prisma_type(ty: &PgType, enums: &BTreeMap<&'static str, EnumDef>) -> (String, Option<String>) {
    let (base, native): (String, Option<&str>) = match ty {
        PgType::Text => ("String".into(), None),
        PgType::SmallInt => ("Int".into(), Some("@db.SmallInt")),
        PgType::Integer => ("Int".into(), None),
        PgType::BigInt => ("BigInt".into(), None),
        PgType::Real => ("Float".into(), Some("@db.Real")),
        PgType::Double => ("Float".into(), None),
        PgType::Numeric => ("Decimal".into(), Some("@db.Decimal")),
        PgType::Boolean => ("Boolean".into(), None),
        PgType::Timestamptz => ("DateTime".into(), Some("@db.Timestamptz")),
        PgType::Bytea => ("Bytes".into(), None),
        PgType::Uuid => ("String".into(), Some("@db.Uuid")),
        PgType::Jsonb => ("Json".into(), None),
        PgType::Enum(e) => (
            enums.get(e.name).map_or_else(|| enum_name(e), enum_name),
            None,
        ),
        PgType::Geometry(_) => (format!("Unsupported({})", quoted(&ty.sql())), None),
        PgType::Array(inner) => {
            if inner.is_geometry() || matches!(**inner, PgType::Array(_)) {
                return (format!("Unsupported({})", quoted(&ty.sql())), None);
            }
            let (base, native) = prisma_type(inner, enums);
            return (format!("{base}[]"), native);
        }
    };
    (base, native.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types() {
        assert_eq!(field_name("organization_id"), "organizationId");
        assert_eq!(field_name("createdAt"), "createdAt");
        assert_eq!(field_name("A"), "a");
        assert_eq!(field_name("id"), "id");
        assert_eq!(enum_value_ident("in_progress"), "in_progress");
        assert_eq!(enum_value_ident("in-progress"), "in_progress");
        assert_eq!(enum_value_ident("2fa"), "v2fa");
        let enums = BTreeMap::new();
        for (ty, prisma, native) in [
            (PgType::Uuid, "String", Some("@db.Uuid")),
            (PgType::Array(Box::new(PgType::Text)), "String[]", None),
            (PgType::Numeric, "Decimal", Some("@db.Decimal")),
            (PgType::Jsonb, "Json", None),
            (
                PgType::Geometry(crate::geo::GeometryKind::Point),
                "Unsupported(\"geometry(Point, 4326)\")",
                None,
            ),
        ] {
            let (t, n) = prisma_type(&ty, &enums);
            assert_eq!((t.as_str(), n.as_deref()), (prisma, native), "{ty:?}");
        }
    }
}
