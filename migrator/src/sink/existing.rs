//! `--schema-mode existing`: a user's own tables (made by Prisma, by hand, by another tool)
//! checked against the models before anything is written.
//!
//! Every column the models write must exist. Its type is either the one the model writes, or
//! one the value can be written into without loss through an [`Adapter`] (or with the same
//! bytes: an enum type of another name with the labels, a text column for an enum), which
//! the check lists. Its foreign keys must be references the models resolve (see
//! [`super::foreign_keys`]). Every problem of every table is reported at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::{PgConnection, Row};

use super::adapt::{Adapter, ModelAdapters};
use super::sql;
use crate::model::{ColumnDef, EnumRepr, PgType, TableDef};
use crate::run_error::RunError;
use crate::schema::Schema;

/// A column of an existing table, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingColumn {
    pub name: String,
    /// `udt_name`: `int4`, `timestamp`, `varchar`, an enum type's name, `_text`.
    pub udt: String,
    /// The type modifier: -1 for none, else precision, scale or length (PostgreSQL's encoding).
    pub typmod: i32,
    /// The type as PostgreSQL writes it (`timestamp(3) without time zone`).
    pub display: String,
    pub nullable: bool,
    /// A default, an identity or a generated column: the column may go without a source.
    pub has_default: bool,
    /// For an enum type, its labels.
    pub labels: Option<Vec<String>>,
}

/// How a model's column goes into an existing column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnFit {
    /// The type the model writes.
    Same,
    /// Adapted without loss; `adapter` rewrites or checks each value (`None`: same bytes).
    Adapted {
        adapter: Option<Adapter>,
        how: String,
    },
    /// Not writable without loss: why.
    Refused(String),
}

/// What the check found: the problems, and the adaptations each model's writes need.
#[derive(Debug, Clone, Default)]
pub struct Fit {
    /// Everything that cannot be written (missing tables and columns, types, nullability).
    pub mismatches: Vec<String>,
    /// Every adapted column: `table.column: how`.
    pub adaptations: Vec<String>,
    /// By collection, the adapters of the models that need any.
    pub adapters: BTreeMap<String, Arc<ModelAdapters>>,
}

/// How `model` (a column the model writes) goes into `existing`.
pub fn fit_column(model: &ColumnDef, existing: &ExistingColumn) -> ColumnFit {
    let want = model.ty.udt_name();
    let shown = &existing.display;
    if let PgType::Enum(e) = &model.ty {
        if let Some(labels) = &existing.labels {
            let missing: Vec<&str> = e
                .values
                .iter()
                .copied()
                .filter(|v| !labels.iter().any(|l| l == v))
                .collect();
            if !missing.is_empty() {
                return ColumnFit::Refused(format!(
                    "enum type {shown} lacks the label(s) `{}` that `{}` may hold",
                    missing.join("`, `"),
                    e.name
                ));
            }
            if e.repr == EnumRepr::Native && e.name == existing.udt {
                return ColumnFit::Same;
            }
            return adapted(
                None,
                format!("labels of `{}` written as enum type {shown}", e.name),
            );
        }
        if e.repr == EnumRepr::Native && matches!(existing.udt.as_str(), "text" | "varchar") {
            return text_fit(
                existing,
                format!("labels of enum `{}` written as text", e.name),
                e.values.iter().map(|v| v.chars().count()).max(),
            );
        }
    }
    if want == existing.udt {
        return match (&model.ty, existing.typmod) {
            (PgType::Timestamptz, p @ 0..=5) => adapted(
                Some(Adapter::Timestamp { precision: p as u8 }),
                format!("into {shown} (a finer value is a dead letter)"),
            ),
            (PgType::Numeric, m) if m >= 4 => numeric_fit(m, shown),
            _ => ColumnFit::Same,
        };
    }
    match (&model.ty, existing.udt.as_str()) {
        (PgType::Uuid, "text") => adapted(
            Some(Adapter::UuidText),
            "uuid written as its canonical text".into(),
        ),
        (PgType::Uuid, "varchar") => match varchar_length(existing) {
            Some(n) if n < 36 => ColumnFit::Refused(format!(
                "column is {shown}, too short for a uuid's 36 characters"
            )),
            _ => adapted(
                Some(Adapter::UuidText),
                format!("uuid written as its canonical text into {shown}"),
            ),
        },
        (PgType::Text, "varchar") => text_fit(existing, format!("text into {shown}"), None),
        (PgType::Timestamptz, "timestamp") => {
            let precision = if existing.typmod < 0 {
                6
            } else {
                existing.typmod
            };
            let adapter = (precision < 6).then_some(Adapter::Timestamp {
                precision: precision as u8,
            });
            adapted(
                adapter,
                format!(
                    "timestamptz written as UTC into {shown}{}",
                    finer(precision)
                ),
            )
        }
        (PgType::Timestamptz, "date") => adapted(
            Some(Adapter::Date),
            format!(
                "timestamptz written as its UTC day into {shown} (a time of day is a dead letter)"
            ),
        ),
        (PgType::SmallInt, "int4") => widen(2, 4, shown),
        (PgType::SmallInt, "int8") => widen(2, 8, shown),
        (PgType::Integer, "int8") => widen(4, 8, shown),
        _ => ColumnFit::Refused(format!(
            "column is {shown}, the model writes {}",
            model.ty.sql()
        )),
    }
}

fn adapted(adapter: Option<Adapter>, how: String) -> ColumnFit {
    ColumnFit::Adapted { adapter, how }
}

fn finer(precision: i32) -> &'static str {
    if precision < 6 {
        " (a finer value is a dead letter)"
    } else {
        ""
    }
}

fn widen(from: u8, to: u8, shown: &str) -> ColumnFit {
    adapted(
        Some(Adapter::Widen { from, to }),
        format!("widened into {shown}"),
    )
}

/// `varchar(n)`'s `n`; `None` without a limit.
fn varchar_length(existing: &ExistingColumn) -> Option<u32> {
    u32::try_from(existing.typmod - 4).ok()
}

/// Text into `text` or `varchar(n)`: checked per value unless every value fits (`longest`).
fn text_fit(existing: &ExistingColumn, how: String, longest: Option<usize>) -> ColumnFit {
    match varchar_length(existing).filter(|_| existing.udt == "varchar") {
        Some(n) if longest.is_some_and(|l| l > n as usize) => ColumnFit::Refused(format!(
            "column is {}, too short for the longest label",
            existing.display
        )),
        Some(n) if longest.is_none() => adapted(
            Some(Adapter::MaxChars(n)),
            format!("{how} (a longer value is a dead letter)"),
        ),
        _ => adapted(None, how),
    }
}

/// `numeric` into `numeric(p, s)`: PostgreSQL's type modifier is `((p << 16) | s) + 4`, the
/// scale an 11-bit signed number since PostgreSQL 15.
fn numeric_fit(typmod: i32, shown: &str) -> ColumnFit {
    let packed = typmod - 4;
    let precision = ((packed >> 16) & 0xffff) as u16;
    let raw_scale = (packed & 0x7ff) as i16;
    let scale = if raw_scale >= 1024 {
        raw_scale - 2048
    } else {
        raw_scale
    };
    adapted(
        Some(Adapter::Numeric { precision, scale }),
        format!(
            "numeric into {shown} (a value that needs rounding or more digits is a dead letter)"
        ),
    )
}

/// Compares the target's tables with the models (see the module's documentation).
pub async fn check(
    conn: &mut PgConnection,
    schema: &Schema,
    target_schema: &str,
) -> Result<Fit, RunError> {
    let mut fit = Fit::default();
    let mut names = Vec::new();
    for def in schema.models().iter().map(|m| m.def()) {
        names.extend(def.tables.iter().map(|t| t.name.clone()));
        let mut adapters = ModelAdapters::default();
        for table in &def.tables {
            let existing = columns(conn, target_schema, &table.name).await?;
            adapters
                .tables
                .push(check_table(table, target_schema, &existing, &mut fit));
        }
        if !adapters.is_empty() {
            fit.adapters
                .insert(def.collection.clone(), Arc::new(adapters));
        }
    }
    let keys = super::foreign_keys::of_tables(conn, target_schema, &names).await?;
    fit.mismatches.extend(super::foreign_keys::unresolved(
        schema,
        &keys,
        target_schema,
    ));
    Ok(fit)
}

/// Checks one table (no columns: it does not exist); returns its columns' adapters.
pub fn check_table(
    table: &TableDef,
    target_schema: &str,
    existing: &[ExistingColumn],
    fit: &mut Fit,
) -> Vec<Option<(Adapter, String)>> {
    if existing.is_empty() {
        fit.mismatches.push(format!(
            "table `{target_schema}.{}` does not exist",
            table.name
        ));
        return Vec::new();
    }
    let mut adapters = Vec::with_capacity(table.columns.len());
    for col in &table.columns {
        let mut adapter = None;
        let name = format!("{}.{}", table.name, col.name);
        match existing.iter().find(|e| e.name == col.name) {
            None => fit
                .mismatches
                .push(format!("column `{name}` does not exist")),
            Some(found) => {
                match fit_column(col, found) {
                    ColumnFit::Same => {}
                    ColumnFit::Adapted { adapter: a, how } => {
                        adapter = a.map(|a| (a, col.source.clone()));
                        fit.adaptations.push(format!("`{name}`: {how}"));
                    }
                    ColumnFit::Refused(why) => {
                        fit.mismatches.push(format!("column `{name}`: {why}"))
                    }
                }
                if col.nullable && !found.nullable {
                    fit.mismatches.push(format!(
                        "column `{name}` is NOT NULL, but `{}` may be missing or null",
                        col.source
                    ));
                }
            }
        }
        adapters.push(adapter);
    }
    for e in existing {
        if !e.nullable && !e.has_default && table.column(&e.name).is_none() {
            fit.mismatches.push(format!(
                "column `{}.{}` is NOT NULL without a default and has no source in the model \
                 (give the model a field for it, for example \
                 `#[migrate(default = migrator::load_time)]` for a time of update)",
                table.name, e.name
            ));
        }
    }
    adapters
}

/// The columns of `table` in `target_schema` (none if it does not exist).
async fn columns(
    conn: &mut PgConnection,
    target_schema: &str,
    table: &str,
) -> Result<Vec<ExistingColumn>, RunError> {
    let rows = sqlx::query(sql::TABLE_COLUMNS)
        .bind(target_schema)
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(RunError::db(format!("reading the columns of {table}")))?;
    Ok(rows
        .iter()
        .map(|r| ExistingColumn {
            name: r.get(0),
            udt: r.get(1),
            typmod: r.get(2),
            display: r.get(3),
            nullable: r.get(4),
            has_default: r.get(5),
            labels: r.get(6),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnumDef, ValueRead};

    fn model(ty: PgType) -> ColumnDef {
        ColumnDef {
            name: "c".into(),
            ty,
            nullable: false,
            source: "field".into(),
            read: ValueRead::default(),
        }
    }

    fn existing(udt: &str, typmod: i32, display: &str) -> ExistingColumn {
        ExistingColumn {
            name: "c".into(),
            udt: udt.into(),
            typmod,
            display: display.into(),
            nullable: false,
            has_default: false,
            labels: None,
        }
    }

    fn enum_column(labels: &[&str]) -> ExistingColumn {
        ExistingColumn {
            labels: Some(labels.iter().map(|l| l.to_string()).collect()),
            ..existing("Role", -1, "\"Role\"")
        }
    }

    const ROLE: EnumDef = EnumDef {
        name: "role",
        values: &["ADMIN", "MEMBER"],
        repr: EnumRepr::Native,
    };

    #[test]
    fn columns_fit_as_they_are_adapted_or_not_at_all() {
        use ColumnFit::Same;
        let adapter = |ty: PgType, col: ExistingColumn| match fit_column(&model(ty), &col) {
            ColumnFit::Adapted { adapter, .. } => Ok(adapter),
            Same => Err("same".to_string()),
            ColumnFit::Refused(why) => Err(why),
        };
        let numeric_10_2 = ((10 << 16) | 2) + 4;
        let cases: Vec<(PgType, ExistingColumn, Result<Option<Adapter>, String>)> = vec![
            (
                PgType::Text,
                existing("text", -1, "text"),
                Err("same".into()),
            ),
            (
                PgType::Uuid,
                existing("text", -1, "text"),
                Ok(Some(Adapter::UuidText)),
            ),
            (
                PgType::Uuid,
                existing("varchar", 40, "character varying(36)"),
                Ok(Some(Adapter::UuidText)),
            ),
            (
                PgType::Text,
                existing("varchar", 28, "character varying(24)"),
                Ok(Some(Adapter::MaxChars(24))),
            ),
            (
                PgType::Text,
                existing("varchar", -1, "character varying"),
                Ok(None),
            ),
            (
                PgType::Timestamptz,
                existing("timestamp", 3, "timestamp(3) without time zone"),
                Ok(Some(Adapter::Timestamp { precision: 3 })),
            ),
            (
                PgType::Timestamptz,
                existing("timestamp", -1, "timestamp without time zone"),
                Ok(None),
            ),
            (
                PgType::Timestamptz,
                existing("timestamptz", 0, "timestamp(0) with time zone"),
                Ok(Some(Adapter::Timestamp { precision: 0 })),
            ),
            (
                PgType::Timestamptz,
                existing("timestamptz", -1, "timestamp with time zone"),
                Err("same".into()),
            ),
            (
                PgType::Numeric,
                existing("numeric", numeric_10_2, "numeric(10,2)"),
                Ok(Some(Adapter::Numeric {
                    precision: 10,
                    scale: 2,
                })),
            ),
            (
                PgType::Numeric,
                existing("numeric", -1, "numeric"),
                Err("same".into()),
            ),
            (
                PgType::Integer,
                existing("int8", -1, "bigint"),
                Ok(Some(Adapter::Widen { from: 4, to: 8 })),
            ),
            (
                PgType::SmallInt,
                existing("int4", -1, "integer"),
                Ok(Some(Adapter::Widen { from: 2, to: 4 })),
            ),
            (
                PgType::Enum(ROLE),
                enum_column(&["ADMIN", "MEMBER", "GUEST"]),
                Ok(None),
            ),
            (
                PgType::Enum(EnumDef {
                    repr: EnumRepr::TextCheck,
                    ..ROLE
                }),
                enum_column(&["MEMBER", "ADMIN"]),
                Ok(None),
            ),
            (PgType::Enum(ROLE), existing("text", -1, "text"), Ok(None)),
            (
                PgType::Timestamptz,
                existing("date", -1, "date"),
                Ok(Some(Adapter::Date)),
            ),
        ];
        for (ty, col, expected) in cases {
            let shown = format!("{} into {}", ty.sql(), col.display);
            assert_eq!(adapter(ty, col), expected, "{shown}");
        }
        for (ty, col, says) in [
            (
                PgType::BigInt,
                existing("int4", -1, "integer"),
                "column is integer, the model writes bigint",
            ),
            (
                PgType::Uuid,
                existing("varchar", 28, "character varying(24)"),
                "too short for a uuid",
            ),
            (
                PgType::Text,
                existing("uuid", -1, "uuid"),
                "column is uuid, the model writes text",
            ),
            (
                PgType::Enum(ROLE),
                enum_column(&["ADMIN"]),
                "enum type \"Role\" lacks the label(s) `MEMBER` that `role` may hold",
            ),
            (
                PgType::Timestamptz,
                existing("time", -1, "time without time zone"),
                "column is time without time zone",
            ),
        ] {
            match fit_column(&model(ty), &col) {
                ColumnFit::Refused(why) => assert!(why.contains(says), "{why}"),
                other => panic!("{} accepted: {other:?}", col.display),
            }
        }
    }

    #[test]
    fn every_problem_of_a_table_is_reported_with_its_adaptations() {
        let mut table = crate::__private::collection_table("User", "users", model(PgType::Uuid));
        table.columns[0].name = "id".into();
        table.columns[0].source = "_id".into();
        table.columns.push(ColumnDef {
            name: "email".into(),
            nullable: true,
            ..model(PgType::Text)
        });
        table.columns.push(ColumnDef {
            name: "age".into(),
            ..model(PgType::BigInt)
        });
        table.columns.push(ColumnDef {
            name: "gone".into(),
            ..model(PgType::Text)
        });
        let cols = vec![
            ExistingColumn {
                name: "id".into(),
                ..existing("text", -1, "text")
            },
            ExistingColumn {
                name: "email".into(),
                ..existing("text", -1, "text")
            },
            ExistingColumn {
                name: "age".into(),
                ..existing("int4", -1, "integer")
            },
            ExistingColumn {
                name: "createdAt".into(),
                has_default: true,
                ..existing("timestamp", 3, "timestamp(3) without time zone")
            },
            ExistingColumn {
                name: "updatedAt".into(),
                ..existing("timestamp", 3, "timestamp(3) without time zone")
            },
        ];
        let mut fit = Fit::default();
        let adapters = check_table(&table, "public", &cols, &mut fit);
        assert_eq!(adapters.len(), 4);
        assert_eq!(adapters[0], Some((Adapter::UuidText, "_id".into())));
        assert_eq!(
            fit.adaptations,
            ["`User.id`: uuid written as its canonical text"]
        );
        let said = fit.mismatches.join("\n");
        for expected in [
            "column `User.email` is NOT NULL, but `field` may be missing or null",
            "column `User.age`: column is integer, the model writes bigint",
            "column `User.gone` does not exist",
            "column `User.updatedAt` is NOT NULL without a default and has no source",
        ] {
            assert!(said.contains(expected), "{expected} not in:\n{said}");
        }
        assert!(!said.contains("createdAt"), "{said}");
        assert_eq!(fit.mismatches.len(), 4, "{said}");
    }
}
