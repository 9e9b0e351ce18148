//! The mapping: what every column of every table is made from, as JSON, for programs outside Rust
//! that must produce the same tables (the benchmark's Python and Node baselines read it).
//!
//! It is generated from the models' [`ModelDef`]s, so it cannot drift from what the derived code
//! does. Each column has a `kind`:
//!
//! | kind              | value                                                                   |
//! |-------------------|-------------------------------------------------------------------------|
//! | `id`              | `_id` under `strategy` (`ordered`, `v5`, `keep`)                        |
//! | `reference`       | the document value as a key of `target` (its `strategy`, or a natural key as it is) |
//! | `parent_key`      | the key of the row this child or junction row hangs off                 |
//! | `position`        | the element's index in its array (0-based, duplicates counted)          |
//! | `child_row_id`    | v5 UUID of the parent key, the array's key and the position (`conventions`) |
//! | `scalar`          | the value converted to `type`                                           |
//! | `array`           | an array of `element` values                                            |
//! | `enum`            | the label (a string of `labels`)                                        |
//! | `jsonb`           | relaxed Extended JSON of the value, or with `serde` the serde type's own JSON |
//! | `object_id_text`  | ObjectIds as 24-digit lowercase hex                                     |
//!
//! `with` names a conversion function of the model (`convert::flexible_date`); `default` is the
//! value stored when the key is absent. A missing optional key, or `null`, is SQL NULL.

use serde_json::{json, Map, Value};

use crate::id::{CHILD_ROW_NAMESPACE, OBJECT_ID_NAMESPACE};
use crate::model::{ColumnDef, IdStrategy, ModelDef, PgType, RefTarget, TableDef, TableRole};
use crate::plan::LoadPlan;
use crate::schema::Schema;
use crate::sink::ddl::Ddl;

/// The version written in `format`; bumped when the meaning of a field changes.
pub const FORMAT: &str = "migrator-mapping/1";

/// The mapping of `schema`, with its DDL qualified by `pg_schema` if given.
pub fn mapping(schema: &Schema, pg_schema: Option<&str>) -> Value {
    let plan = LoadPlan::new(schema);
    let collections: Vec<Value> = plan
        .order()
        .map(|m| collection(schema, schema.models()[m].def()))
        .collect();
    let ddl = Ddl::new(schema, pg_schema);
    let enums: Map<String, Value> = schema
        .enum_types()
        .into_iter()
        .map(|(name, e)| {
            let repr = match e.repr {
                crate::model::EnumRepr::Native => "native",
                crate::model::EnumRepr::TextCheck => "text",
            };
            (name.to_string(), json!({"repr": repr, "labels": e.values}))
        })
        .collect();
    json!({
        "format": FORMAT,
        "conventions": {
            "ordered_uuid": "ObjectId TTTTTTTT RRRRRRRRRRRRRRRR (T: seconds, R: 8 other bytes) -> UUID MMMMMMMM-MMMM-7RRR-800R-RRRRRRRRRRRR (M: T * 1000, 48 bits; then the 4-bit version 7, the top 12 bits of R, the bits 10 and ten zero bits, the low 52 bits of R)",
            "v5_namespace": OBJECT_ID_NAMESPACE.to_string(),
            "v5_name": "the ObjectId's 12 bytes",
            "child_row_namespace": CHILD_ROW_NAMESPACE.to_string(),
            "child_row_name": "the parent key's bytes ('u' + 16 bytes for a uuid, 's' + UTF-8 for text, 'i' + big-endian i32, 'l' + big-endian i64), 0x00, the array's document key in UTF-8, 0x00, the position as big-endian i32",
            "junction_rows": "one per distinct element, the first occurrence kept; `position` is the element's index in the whole array",
            "relaxed_extended_json": "MongoDB relaxed Extended JSON v2: plain JSON for strings, booleans, int32, int64 and finite doubles (a double is written with its shortest round-trip digits, `2.0` for an integral one below 1e16); {\"$oid\": hex}, {\"$date\": RFC 3339 UTC with milliseconds only when not zero} for years 1970..=9999 else {\"$date\": {\"$numberLong\": ms}}, {\"$numberDecimal\": text}, {\"$binary\": {\"base64\": ..., \"subType\": two hex digits}}, {\"$numberDouble\": \"NaN\"|\"Infinity\"|\"-Infinity\"}",
            "serde_struct": "every key of `fields` is written, its value as plain JSON, null when absent; other keys of the document are dropped",
            "missing": "an absent key or null is SQL NULL for a nullable column; `default` is used when the key is absent"
        },
        "enums": enums,
        "collections": collections,
        "ddl": {
            "types": ddl.types,
            "tables": ddl.tables,
            "foreign_keys": ddl.foreign_keys.iter().map(|(_, s)| s).collect::<Vec<_>>(),
            "indexes": ddl.indexes,
        },
    })
}

fn collection(schema: &Schema, def: &ModelDef) -> Value {
    let tables: Vec<Value> = def.tables.iter().map(|t| table(schema, def, t)).collect();
    json!({
        "collection": def.collection,
        "model": def.rust_name,
        "id_strategy": def.id_strategy.as_str(),
        "unknown_fields": def.unknown_fields.as_str(),
        "tables": tables,
    })
}

/// The path of a table's rows in the document (`""`, `lineItems[]`, `lineItems[].adjustments[]`).
fn rows_path(table: &TableDef) -> String {
    match &table.role {
        TableRole::Collection => String::new(),
        TableRole::Child { field } | TableRole::Junction { field } => format!("{field}[]"),
    }
}

fn table(schema: &Schema, def: &ModelDef, table: &TableDef) -> Value {
    let parent = table.references.iter().find_map(|r| match r.target {
        RefTarget::Table(p) => def.tables.get(p).map(|t| t.name.clone()),
        RefTarget::Model { .. } => None,
    });
    let (role, array) = match &table.role {
        TableRole::Collection => ("collection", None),
        TableRole::Child { field } => ("child", Some(field.as_str())),
        TableRole::Junction { field } => ("junction", Some(field.as_str())),
    };
    // The array's own key in the parent row: the last segment of its path.
    let array_key = array.map(|a| a.rsplit('.').next().unwrap_or(a));
    let prefix = rows_path(table);
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| column(schema, def, table, c, &prefix, array_key))
        .collect();
    json!({
        "name": table.name,
        "role": role,
        "parent": parent,
        "array": array,
        "array_key": array_key,
        "primary_key": table.primary_key,
        "columns": columns,
    })
}

fn column(
    schema: &Schema,
    def: &ModelDef,
    table: &TableDef,
    c: &ColumnDef,
    prefix: &str,
    array_key: Option<&str>,
) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(c.name));
    out.insert("type".into(), json!(c.ty.sql()));
    out.insert("nullable".into(), json!(c.nullable));
    out.insert("source".into(), json!(c.source));
    let key = document_key(&c.source, prefix);
    let reference = table.references.iter().find(|r| r.column == c.name);
    let kind = match (c.source.as_str(), reference) {
        ("_id", _) if matches!(table.role, TableRole::Collection) => {
            out.insert("key".into(), json!("_id"));
            out.insert("strategy".into(), json!(def.id_strategy.as_str()));
            "id"
        }
        ("<row id>", _) => {
            out.insert("field".into(), json!(array_key));
            "child_row_id"
        }
        ("<parent key>", _) => "parent_key",
        ("<array position>", _) => "position",
        (_, Some(r)) => {
            out.insert("key".into(), json!(key));
            out.insert("on_missing".into(), json!(r.on_missing.as_str()));
            if let Some(target) = schema.resolve(def, &r.target) {
                let strategy = target_strategy(schema, &r.target, target.column);
                out.insert(
                    "target".into(),
                    json!({
                        "table": target.table,
                        "column": target.column,
                        "strategy": strategy.map(IdStrategy::as_str),
                    }),
                );
            }
            "reference"
        }
        _ => {
            out.insert("key".into(), json!(key));
            value_kind(c, &mut out)
        }
    };
    out.insert("kind".into(), json!(kind));
    if let Some(with) = &c.read.with {
        out.insert("with".into(), json!(with));
    }
    if let Some(default) = &c.read.default {
        out.insert("default".into(), json!(default));
    }
    Value::Object(out)
}

/// A value column's kind, with what it needs to know added to `out`.
fn value_kind(c: &ColumnDef, out: &mut Map<String, Value>) -> &'static str {
    if c.read.object_id_text {
        return "object_id_text";
    }
    if let Some(shape) = &c.read.serde {
        out.insert(
            "serde".into(),
            json!({"type": shape.rust_type, "fields": shape.fields}),
        );
        return "jsonb";
    }
    match &c.ty {
        PgType::Jsonb => {
            out.insert("json".into(), json!("relaxed_extended_json"));
            "jsonb"
        }
        PgType::Enum(e) => {
            out.insert("enum".into(), json!(e.name));
            "enum"
        }
        PgType::Array(inner) => {
            out.insert("element".into(), json!(inner.sql()));
            "array"
        }
        _ => "scalar",
    }
}

/// The id strategy of the model a reference points at, when it points at its primary key.
fn target_strategy(schema: &Schema, target: &RefTarget, column: &str) -> Option<IdStrategy> {
    let RefTarget::Model { type_id, .. } = target else {
        return None;
    };
    let def = schema
        .models()
        .iter()
        .map(|m| m.def())
        .find(|d| d.type_id == *type_id)?;
    (def.table().primary_key.first().map(String::as_str) == Some(column)).then_some(def.id_strategy)
}

/// The key of a value inside its row: `lineItems[].amount` in rows at `lineItems[]` is `amount`.
fn document_key(source: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        return source.to_string();
    }
    source
        .strip_prefix(prefix)
        .map(|rest| rest.trim_start_matches('.'))
        .unwrap_or(source)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_keys_are_relative_to_their_rows() {
        for (source, prefix, key) in [
            ("createdAt", "", "createdAt"),
            ("lineItems[].amount", "lineItems[]", "amount"),
            (
                "lineItems[].adjustments[].kind",
                "lineItems[].adjustments[]",
                "kind",
            ),
            ("labelIds[]", "labelIds[]", ""),
        ] {
            assert_eq!(document_key(source, prefix), key, "{source}");
        }
    }
}
