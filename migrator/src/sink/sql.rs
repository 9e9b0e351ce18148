//! All SQL text of the project. Identifiers go through [`crate::naming::quote_ident`]; values
//! never enter SQL text (the few literals DDL cannot parameterise, enum labels, go through
//! [`crate::naming::quote_literal`]).

use crate::model::{ColumnDef, EnumDef, EnumRepr, PgType, TableDef};
use crate::naming::{constraint_name, quote_ident, quote_literal, quote_qualified};

/// A place tables live: an optional PostgreSQL schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Namespace<'a>(pub Option<&'a str>);

impl Namespace<'_> {
    pub fn qualify(&self, name: &str) -> String {
        quote_qualified(self.0, name)
    }
}

fn column_type_sql(ns: Namespace<'_>, ty: &PgType) -> String {
    match ty {
        PgType::Enum(e) if e.repr == EnumRepr::Native => ns.qualify(e.name),
        PgType::Array(inner) => format!("{}[]", column_type_sql(ns, inner)),
        other => other.sql(),
    }
}

/// `CREATE TYPE name AS ENUM (...)`.
pub fn create_enum(ns: Namespace<'_>, e: &EnumDef) -> String {
    let labels: Vec<String> = e.values.iter().map(|v| quote_literal(v)).collect();
    format!(
        "CREATE TYPE {} AS ENUM ({})",
        ns.qualify(e.name),
        labels.join(", ")
    )
}

fn check_for(col: &ColumnDef) -> Option<String> {
    let (e, array) = match &col.ty {
        PgType::Enum(e) => (e, false),
        PgType::Array(inner) => match inner.as_ref() {
            PgType::Enum(e) => (e, true),
            _ => return None,
        },
        _ => return None,
    };
    if e.repr != EnumRepr::TextCheck {
        return None;
    }
    let labels: Vec<String> = e.values.iter().map(|v| quote_literal(v)).collect();
    let name = quote_ident(&col.name);
    Some(if array {
        format!("{name} <@ ARRAY[{}]::text[]", labels.join(", "))
    } else {
        format!("{name} IN ({})", labels.join(", "))
    })
}

fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `CREATE TABLE` with columns, primary key, unique constraints and enum CHECKs; no foreign keys.
/// The table as it ends up (the generated DDL, a user's own tables).
pub fn create_table(ns: Namespace<'_>, table: &TableDef) -> String {
    let mut parts = column_clauses(table, ns, false);
    parts.extend(key_clauses(table));
    create_table_of(ns, table, &parts)
}

/// `CREATE TABLE` as a run creates it to load into: columns and enum CHECKs, the primary key's
/// columns `NOT NULL`, no keys yet. [`add_keys`] builds them after the load, by sorting rows
/// that are all there instead of inserting into the indexes row by row.
pub fn create_table_for_load(ns: Namespace<'_>, table: &TableDef) -> String {
    let parts = column_clauses(table, ns, true);
    create_table_of(ns, table, &parts)
}

fn create_table_of(ns: Namespace<'_>, table: &TableDef, parts: &[String]) -> String {
    format!(
        "CREATE TABLE {} (\n    {}\n)",
        ns.qualify(&table.name),
        parts.join(",\n    ")
    )
}

/// Each column with its type, `NOT NULL` and enum CHECK; `key_not_null`: the primary key's
/// columns `NOT NULL` too (the key would make them so).
fn column_clauses(table: &TableDef, ns: Namespace<'_>, key_not_null: bool) -> Vec<String> {
    table
        .columns
        .iter()
        .map(|c| {
            let mut s = format!("{} {}", quote_ident(&c.name), column_type_sql(ns, &c.ty));
            if !c.nullable || (key_not_null && table.primary_key.contains(&c.name)) {
                s.push_str(" NOT NULL");
            }
            if let Some(check) = check_for(c) {
                s.push_str(&format!(
                    " CONSTRAINT {} CHECK ({check})",
                    quote_ident(&constraint_name(&table.name, &[&c.name], "check"))
                ));
            }
            s
        })
        .collect()
}

/// The names of a table's primary key and unique constraints, in [`add_keys`]'s order.
pub fn key_names(table: &TableDef) -> Vec<String> {
    keys_of(table).into_iter().map(|(name, _)| name).collect()
}

/// `CONSTRAINT .. PRIMARY KEY (..)` and `CONSTRAINT .. UNIQUE (..)` of a table.
fn key_clauses(table: &TableDef) -> Vec<String> {
    keys_of(table)
        .into_iter()
        .map(|(name, clause)| format!("CONSTRAINT {} {clause}", quote_ident(&name)))
        .collect()
}

fn keys_of(table: &TableDef) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    if !table.primary_key.is_empty() {
        keys.push((
            constraint_name(&table.name, &[], "pkey"),
            format!("PRIMARY KEY ({})", column_list(&table.primary_key)),
        ));
    }
    for unique in &table.uniques {
        let cols: Vec<&str> = unique.iter().map(String::as_str).collect();
        keys.push((
            constraint_name(&table.name, &cols, "key"),
            format!("UNIQUE ({})", column_list(unique)),
        ));
    }
    keys
}

/// `ALTER TABLE .. ADD CONSTRAINT .. PRIMARY KEY (..), ADD CONSTRAINT .. UNIQUE (..)`: every key
/// of a table in one statement (one lock, one commit); `None` for a table without keys.
pub fn add_keys(ns: Namespace<'_>, table: &TableDef) -> Option<String> {
    let clauses = key_clauses(table);
    (!clauses.is_empty()).then(|| {
        let adds: Vec<String> = clauses.iter().map(|c| format!("ADD {c}")).collect();
        format!(
            "ALTER TABLE {} {}",
            ns.qualify(&table.name),
            adds.join(", ")
        )
    })
}

/// The name of the foreign-key constraint on `table.column`.
pub fn foreign_key_name(table: &str, column: &str) -> String {
    constraint_name(table, &[column], "fkey")
}

/// `ALTER TABLE .. ADD CONSTRAINT .. FOREIGN KEY`.
pub fn add_foreign_key(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    target_table: &str,
    target_column: &str,
) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        ns.qualify(table),
        quote_ident(&foreign_key_name(table, column)),
        quote_ident(column),
        ns.qualify(target_table),
        quote_ident(target_column)
    )
}

/// `CREATE INDEX` on some columns of a table.
pub fn create_index(ns: Namespace<'_>, table: &str, columns: &[String]) -> String {
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    format!(
        "CREATE INDEX {} ON {} ({})",
        quote_ident(&constraint_name(table, &cols, "idx")),
        ns.qualify(table),
        column_list(columns)
    )
}

/// `CREATE SCHEMA IF NOT EXISTS`.
pub fn create_schema(name: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(name))
}

// ---------------------------------------------------------------------------------------------
// The migration's own state, in a schema of the target database (default `_migrator`).
// ---------------------------------------------------------------------------------------------

/// Statements that create the state tables (idempotent).
pub fn create_state(state: &str) -> Vec<String> {
    let s = quote_ident(state);
    vec![
        create_schema(state),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.run (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint jsonb NOT NULL,
    stage text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.checkpoints (
    collection text NOT NULL,
    partition integer NOT NULL,
    bounds jsonb NOT NULL,
    position jsonb NOT NULL,
    documents bigint NOT NULL DEFAULT 0,
    rows_written bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    seconds double precision NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, partition)
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.table_rows (
    table_name text PRIMARY KEY,
    rows_written bigint NOT NULL DEFAULT 0
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    id bigserial PRIMARY KEY,
    collection text NOT NULL,
    document_id text NOT NULL,
    stage text NOT NULL,
    field text NOT NULL,
    class text NOT NULL,
    message text NOT NULL,
    document text,
    created_at timestamptz NOT NULL DEFAULT now()
)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS dead_letters_collection_idx ON {s}.dead_letters (collection, class)"
        ),
        create_object_id_function(state),
        format!(
            "CREATE TABLE IF NOT EXISTS {s}.reference_issues (
    id bigserial PRIMARY KEY,
    collection text NOT NULL,
    document_key text NOT NULL,
    table_name text NOT NULL,
    column_name text NOT NULL,
    value text NOT NULL,
    action text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"
        ),
    ]
}

/// SQL that creates `<schema>.object_id(uuid) RETURNS text`, the inverse of the ordered mapping
/// inside PostgreSQL (for example `SELECT _migrator.object_id(id) FROM users`). `{schema}` is
/// replaced by the quoted schema name.
const OBJECT_ID_SQL_FUNCTION: &str =
    "CREATE OR REPLACE FUNCTION {schema}.object_id(u uuid) RETURNS text \
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ \
SELECT lpad(to_hex((('x' || substr(h, 1, 12))::bit(48)::bigint / 1000)), 8, '0') \
|| substr(h, 14, 3) || substr(h, 20, 13) \
FROM (SELECT replace(u::text, '-', '') AS h) AS s $$";

/// `CREATE OR REPLACE FUNCTION <state>.object_id(uuid) RETURNS text`: ordered UUID -> ObjectId hex.
pub fn create_object_id_function(state: &str) -> String {
    OBJECT_ID_SQL_FUNCTION.replace("{schema}", &quote_ident(state))
}

/// Drops the state schema and everything in it.
pub fn drop_state(state: &str) -> String {
    format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(state))
}

/// `SELECT pg_try_advisory_lock($1)`: one run per target at a time.
/// Savepoints of a refused batch's isolation ([`crate::sink::isolate`]): one around all of it,
/// one around each piece tried. Fixed names, never nested deeper than these two.
pub const SAVEPOINT_ISOLATION: &str = "SAVEPOINT migrator_isolation";
pub const ROLLBACK_ISOLATION: &str = "ROLLBACK TO SAVEPOINT migrator_isolation";
pub const RELEASE_ISOLATION: &str = "RELEASE SAVEPOINT migrator_isolation";
pub const SAVEPOINT_PIECE: &str = "SAVEPOINT migrator_piece";
pub const ROLLBACK_PIECE: &str = "ROLLBACK TO SAVEPOINT migrator_piece";
pub const RELEASE_PIECE: &str = "RELEASE SAVEPOINT migrator_piece";

pub const TRY_ADVISORY_LOCK: &str = "SELECT pg_try_advisory_lock($1)";
/// `SELECT pg_advisory_unlock($1)`.
pub const ADVISORY_UNLOCK: &str = "SELECT pg_advisory_unlock($1)";

pub fn select_run(state: &str) -> String {
    format!("SELECT fingerprint, stage FROM {}.run", quote_ident(state))
}

pub fn insert_run(state: &str) -> String {
    format!(
        "INSERT INTO {}.run (fingerprint, stage) VALUES ($1, $2)",
        quote_ident(state)
    )
}

pub fn update_stage(state: &str) -> String {
    format!(
        "UPDATE {}.run SET stage = $1, updated_at = now()",
        quote_ident(state)
    )
}

pub fn select_checkpoints(state: &str) -> String {
    format!(
        "SELECT collection, partition, bounds, position, documents, rows_written, dead_letters, \
         batches, done, seconds FROM {}.checkpoints ORDER BY collection, partition",
        quote_ident(state)
    )
}

/// Records a partition before it starts (position `$4`, nothing done yet); a partition already
/// recorded is left as it is.
pub fn insert_planned_checkpoint(state: &str) -> String {
    format!(
        "INSERT INTO {}.checkpoints (collection, partition, bounds, position, batches) \
         VALUES ($1, $2, $3, $4, 0) ON CONFLICT (collection, partition) DO NOTHING",
        quote_ident(state)
    )
}

/// Records a committed batch in one statement; runs in the batch's transaction. The checkpoint
/// only moves if the partition is still where the batch started (`$10`): a batch never lands
/// twice, even if an earlier process's last commit arrived late. The written-row counts of the
/// tables grow by `$12` (counts) for the tables `$11` (names). Returns the number of checkpoints
/// moved (1, or 0 when the partition moved on without this batch).
pub fn record_batch(state: &str) -> String {
    let s = quote_ident(state);
    format!(
        "WITH checkpoint AS (\
         INSERT INTO {s}.checkpoints AS c (collection, partition, bounds, position, documents, \
         rows_written, dead_letters, batches, done, seconds) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9) \
         ON CONFLICT (collection, partition) DO UPDATE SET position = EXCLUDED.position, \
         documents = c.documents + EXCLUDED.documents, rows_written = c.rows_written + EXCLUDED.rows_written, \
         dead_letters = c.dead_letters + EXCLUDED.dead_letters, batches = c.batches + 1, \
         done = EXCLUDED.done, seconds = c.seconds + EXCLUDED.seconds, updated_at = now() \
         WHERE c.position = $10 RETURNING 1), \
         tables AS (\
         INSERT INTO {s}.table_rows AS t (table_name, rows_written) \
         SELECT * FROM unnest($11::text[], $12::bigint[]) \
         ON CONFLICT (table_name) DO UPDATE SET rows_written = t.rows_written + EXCLUDED.rows_written) \
         SELECT count(*) FROM checkpoint"
    )
}

pub fn select_table_rows(state: &str) -> String {
    format!(
        "SELECT table_name, rows_written FROM {}.table_rows ORDER BY table_name",
        quote_ident(state)
    )
}

/// Forgets what the load of some collections recorded (`$1`: collections), so it can run again
/// from the start: their checkpoints and dead letters.
pub fn forget_loads(state: &str) -> [String; 2] {
    let s = quote_ident(state);
    [
        format!("DELETE FROM {s}.checkpoints WHERE collection = ANY($1)"),
        format!("DELETE FROM {s}.dead_letters WHERE collection = ANY($1)"),
    ]
}

/// Forgets the written-row counts of some tables (`$1`: tables).
pub fn forget_table_rows(state: &str) -> String {
    format!(
        "DELETE FROM {}.table_rows WHERE table_name = ANY($1)",
        quote_ident(state)
    )
}

pub fn insert_dead_letter(state: &str) -> String {
    format!(
        "INSERT INTO {}.dead_letters (collection, document_id, stage, field, class, message, document) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        quote_ident(state)
    )
}

pub fn select_dead_letters(state: &str) -> String {
    format!(
        "SELECT id, collection, document_id, stage, field, class, message, document \
         FROM {}.dead_letters ORDER BY id",
        quote_ident(state)
    )
}

/// Records the dangling references of one column in one statement; `$1`: collection, `$2`:
/// document keys, `$3`: table, `$4`: column, `$5`: values (one per key), `$6`: action.
pub fn insert_reference_issues(state: &str) -> String {
    format!(
        "INSERT INTO {}.reference_issues (collection, document_key, table_name, column_name, value, action) \
         SELECT $1, k, $3, $4, v, $6 FROM unnest($2::text[], $5::text[]) AS u(k, v)",
        quote_ident(state)
    )
}

/// Forgets the recorded dangling references of one column and action; `$1`: collection,
/// `$2`: table, `$3`: column, `$4`: action.
pub fn delete_reference_issues(state: &str) -> String {
    format!(
        "DELETE FROM {}.reference_issues WHERE collection = $1 AND table_name = $2 \
         AND column_name = $3 AND action = $4",
        quote_ident(state)
    )
}

pub fn select_reference_issues(state: &str) -> String {
    format!(
        "SELECT collection, document_key, table_name, column_name, value, action \
         FROM {}.reference_issues ORDER BY id",
        quote_ident(state)
    )
}

/// `COPY table (columns) FROM STDIN (FORMAT binary)`.
pub fn copy_in(ns: Namespace<'_>, table: &TableDef) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        ns.qualify(&table.name),
        column_list(&cols)
    )
}

/// Whether a constraint exists (foreign keys are added idempotently after a resume).
pub const CONSTRAINT_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND connamespace = to_regnamespace($2))";

/// The names of every constraint in a schema; `$1`: schema.
pub const CONSTRAINT_NAMES: &str =
    "SELECT conname::text FROM pg_constraint WHERE connamespace = to_regnamespace($1)";

/// Every table of a schema with its size in bytes but one; `$1`: schema, `$2`: the table left
/// out (reading a size waits for any lock that excludes readers, held by the table's builds).
pub const TABLE_SIZES: &str = "SELECT relname::text, pg_relation_size(oid) FROM pg_class \
     WHERE relnamespace = to_regnamespace($1) AND relkind = 'r' AND relname <> $2";

/// The table of a constraint, as (schema, table); `$1`: constraint name, `$2`: schema.
pub const CONSTRAINT_TABLE: &str = "SELECT n.nspname::text, c.relname::text FROM pg_constraint k \
     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE k.conname = $1 AND k.connamespace = to_regnamespace($2)";

/// `ALTER TABLE .. DROP CONSTRAINT IF EXISTS ..`.
pub fn drop_constraint(schema: &str, table: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
        crate::naming::quote_qualified(Some(schema), table),
        quote_ident(name)
    )
}

/// Whether an index exists.
pub const INDEX_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = $1 AND schemaname = $2)";

/// Which of the relations named in $2 (text[]) exist in schema $1.
pub const EXISTING_TABLES: &str = "SELECT c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2) \
     ORDER BY 1";

/// Whether a table exists in a schema.
pub const TABLE_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)";

/// The columns of a table: name, udt_name, nullable.
pub const TABLE_COLUMNS: &str = "SELECT column_name::text, udt_name::text, is_nullable = 'YES' \
     FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position";

/// `SELECT count(*) FROM table`.
pub fn count_rows(ns: Namespace<'_>, table: &str) -> String {
    format!("SELECT count(*) FROM {}", ns.qualify(table))
}

/// Dead letters grouped by collection, class and field pattern (`items[].price`), largest first.
pub fn group_dead_letters(state: &str) -> String {
    format!(
        "SELECT collection, class, regexp_replace(field, '\\[[0-9]+\\]', '[]', 'g') AS pattern, count(*), \
         min(document_id), min(message) FROM {}.dead_letters GROUP BY 1, 2, 3 \
         ORDER BY 4 DESC, 1, 2, 3 LIMIT $1",
        quote_ident(state)
    )
}

/// Dead letters, newest first, optionally filtered by collection and class.
pub fn select_dead_letters_filtered(state: &str) -> String {
    format!(
        "SELECT id, collection, document_id, stage, field, class, message, document \
         FROM {}.dead_letters WHERE ($1::text IS NULL OR collection = $1) \
         AND ($2::text IS NULL OR class = $2) ORDER BY id DESC LIMIT $3",
        quote_ident(state)
    )
}

/// One dead letter by id.
pub fn select_dead_letter(state: &str) -> String {
    format!(
        "SELECT id, collection, document_id, stage, field, class, message, document \
         FROM {}.dead_letters WHERE id = $1",
        quote_ident(state)
    )
}

pub fn drop_table(ns: Namespace<'_>, table: &str) -> String {
    format!("DROP TABLE IF EXISTS {} CASCADE", ns.qualify(table))
}

pub fn truncate_table(ns: Namespace<'_>, table: &str) -> String {
    format!("TRUNCATE {} CASCADE", ns.qualify(table))
}

/// `TRUNCATE a, b, ..` without CASCADE: refused if a table outside the list references one.
pub fn truncate_tables(ns: Namespace<'_>, tables: &[&str]) -> String {
    let names: Vec<String> = tables.iter().map(|t| ns.qualify(t)).collect();
    format!("TRUNCATE {}", names.join(", "))
}

pub fn drop_type(ns: Namespace<'_>, name: &str) -> String {
    format!("DROP TYPE IF EXISTS {} CASCADE", ns.qualify(name))
}

// ---------------------------------------------------------------------------------------------
// Validation (see `crate::validate`): counts, orphaned references, sampled round trips.
// ---------------------------------------------------------------------------------------------

/// Where validation puts the expected rows of sampled documents: the session's temporary schema.
pub const TEMP: Namespace<'static> = Namespace(Some("pg_temp"));

/// The distinct `_id`s (relaxed Extended JSON) of a collection's dead letters; `$1`: collection.
pub fn select_dead_letter_ids(state: &str) -> String {
    format!(
        "SELECT DISTINCT document_id FROM {}.dead_letters WHERE collection = $1",
        quote_ident(state)
    )
}

/// A collection's recorded reference actions of some kinds; `$1`: collection, `$2`: text[].
pub fn select_reference_actions(state: &str) -> String {
    format!(
        "SELECT document_key, table_name, column_name, value, action FROM {}.reference_issues \
         WHERE collection = $1 AND action = ANY($2)",
        quote_ident(state)
    )
}

/// `ANALYZE` a temp table, so comparisons joining it get sensible plans.
pub fn analyze_temp(temp: &str) -> String {
    format!("ANALYZE {}", TEMP.qualify(temp))
}

/// Rows of `table` whose `column` holds a value (for an array column: an element) that
/// `target_table.target_column` does not have.
pub fn count_orphans(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    array: bool,
    target_table: &str,
    target_column: &str,
) -> String {
    let col = quote_ident(column);
    let missing = |value: &str| {
        format!(
            "{value} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS x WHERE x.{} = {value})",
            ns.qualify(target_table),
            quote_ident(target_column)
        )
    };
    let condition = if array {
        format!(
            "EXISTS (SELECT 1 FROM unnest(t.{col}) AS v(value) WHERE {})",
            missing("v.value")
        )
    } else {
        missing(&format!("t.{col}"))
    };
    format!(
        "SELECT count(*) FROM {} AS t WHERE {condition}",
        ns.qualify(table)
    )
}

/// `CREATE TEMP TABLE` shaped like a target table (columns, types, NOT NULL).
pub fn create_temp_like(temp: &str, ns: Namespace<'_>, table: &str) -> String {
    format!(
        "CREATE TEMP TABLE {} (LIKE {})",
        TEMP.qualify(temp),
        ns.qualify(table)
    )
}

/// `DROP TABLE` of temporary tables.
pub fn drop_temp(temps: &[String]) -> String {
    let names: Vec<String> = temps.iter().map(|t| TEMP.qualify(t)).collect();
    format!("DROP TABLE IF EXISTS {}", names.join(", "))
}

/// `COPY temp (the model's columns of table) FROM STDIN (FORMAT binary)`.
pub fn copy_in_temp(temp: &str, table: &TableDef) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        TEMP.qualify(temp),
        column_list(&cols)
    )
}

/// Every column of every expected row of a collection table that differs from the target row
/// with the same primary key: `(key text, column index, expected text, actual text)`. A target
/// row that is missing gives one line with column index -1.
pub fn compare_columns(temp: &str, ns: Namespace<'_>, table: &TableDef) -> String {
    let pk: Vec<String> = table.primary_key.iter().map(|c| quote_ident(c)).collect();
    let first = pk.first().cloned().unwrap_or_else(|| quote_ident("id"));
    let join: Vec<String> = pk.iter().map(|c| format!("a.{c} = e.{c}")).collect();
    let values: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = quote_ident(&c.name);
            format!("({i}, e.{c}::text, a.{c}::text, e.{c} IS DISTINCT FROM a.{c})")
        })
        .collect();
    format!(
        "SELECT e.{first}::text, CASE WHEN a.{first} IS NULL THEN -1 ELSE d.i END, d.expected, d.actual \
         FROM {} AS e LEFT JOIN {} AS a ON {} \
         CROSS JOIN LATERAL (VALUES {}) AS d(i, expected, actual, differs) \
         WHERE (a.{first} IS NULL AND d.i = 0) OR (a.{first} IS NOT NULL AND d.differs) \
         ORDER BY 1, 2",
        TEMP.qualify(temp),
        ns.qualify(&table.name),
        join.join(" AND "),
        values.join(", ")
    )
}

/// One step from a row to its parent row: the parent table (already qualified), the parent's
/// key column, and the column of the child that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    pub parent: String,
    pub key: String,
    pub column: String,
}

/// `FROM table AS t JOIN parent AS p1 ON .. JOIN ..` along `links` (nearest parent first), and
/// the root row's key as text.
fn from_up_to_root(table: &str, links: &[ParentLink]) -> (String, String) {
    let mut from = format!("{table} AS t");
    let mut alias = "t".to_string();
    let mut root = "NULL".to_string();
    for (n, link) in links.iter().enumerate() {
        let next = format!("p{}", n + 1);
        from.push_str(&format!(
            " JOIN {} AS {next} ON {next}.{} = {alias}.{}",
            link.parent,
            quote_ident(&link.key),
            quote_ident(&link.column)
        ));
        root = format!("{next}.{}", quote_ident(&link.key));
        alias = next;
    }
    (from, root)
}

/// A junction or child table of sampled documents, seen from both sides.
#[derive(Debug, Clone, Copy)]
pub struct SampledRows<'a> {
    pub table: &'a TableDef,
    /// Where the target table lives.
    pub ns: Namespace<'a>,
    /// The temp table holding the expected rows, and its parents up to the root (temp tables).
    pub expected: &'a str,
    pub expected_links: &'a [ParentLink],
    /// The target table's parents up to the root.
    pub actual_links: &'a [ParentLink],
    /// The temp table holding the sampled documents' collection rows, and its key column.
    pub roots: &'a str,
    pub root_key: &'a str,
}

/// The rows one side has and the other has not, among rows that belong to the sampled documents:
/// the root key as text, then every column of the table as text. `missing = true`: expected rows
/// the target lacks; `false`: target rows nobody expects.
pub fn except_rows(rows: &SampledRows<'_>, missing: bool) -> String {
    let cols: Vec<String> = rows
        .table
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let select = |qualified: &str, links: &[ParentLink]| {
        let (from, root) = from_up_to_root(qualified, links);
        let values: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
        (
            format!("SELECT {root}::text, {} FROM {from}", values.join(", ")),
            root,
        )
    };
    let (expected, _) = select(&TEMP.qualify(rows.expected), rows.expected_links);
    let (actual, actual_root) = select(&rows.ns.qualify(&rows.table.name), rows.actual_links);
    let actual = format!(
        "{actual} WHERE {actual_root} IN (SELECT {} FROM {})",
        quote_ident(rows.root_key),
        TEMP.qualify(rows.roots)
    );
    let (first, second) = if missing {
        (expected, actual)
    } else {
        (actual, expected)
    };
    let names: Vec<String> = (0..=cols.len()).map(|i| format!("c{i}")).collect();
    let texts: Vec<String> = names.iter().map(|n| format!("d.{n}::text")).collect();
    format!(
        "SELECT {} FROM ({first} EXCEPT ALL {second}) AS d({}) ORDER BY 1",
        texts.join(", "),
        names.join(", ")
    )
}

/// Dead letters per collection.
pub fn count_dead_letters(state: &str) -> String {
    format!(
        "SELECT collection, count(*) FROM {}.dead_letters GROUP BY collection",
        quote_ident(state)
    )
}

// ---------------------------------------------------------------------------------------------
// Reference resolution after the load (see crate::references). Tables are aliased `t` (the table
// holding the reference) and `p1`, `p2`, ... (its parents up to the collection table).
// ---------------------------------------------------------------------------------------------

/// `t.col IS NOT NULL AND NOT EXISTS (target row)`: the reference in `t.col` points at nothing.
pub fn dangling(
    ns: Namespace<'_>,
    column: &str,
    target_table: &str,
    target_column: &str,
) -> String {
    let col = quote_ident(column);
    format!(
        "t.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS x WHERE x.{} = t.{col})",
        ns.qualify(target_table),
        quote_ident(target_column)
    )
}

/// The distinct (root document key, dangling value) pairs of `table.column` (`table` already
/// qualified), joined up `links` to the collection table; at most `limit`.
pub fn select_dangling(
    table: &str,
    links: &[ParentLink],
    root_key: &str,
    column: &str,
    condition: &str,
    limit: i64,
) -> String {
    let (from, root) = from_up_to_root(table, links);
    let root = if links.is_empty() {
        format!("t.{}", quote_ident(root_key))
    } else {
        root
    };
    format!(
        "SELECT DISTINCT {root}::text, t.{}::text FROM {from} WHERE {condition} LIMIT {limit}",
        quote_ident(column)
    )
}

/// `UPDATE table AS t SET column = NULL WHERE condition`.
pub fn set_null_where(ns: Namespace<'_>, table: &str, column: &str, condition: &str) -> String {
    format!(
        "UPDATE {} AS t SET {} = NULL WHERE {condition}",
        ns.qualify(table),
        quote_ident(column)
    )
}

/// `DELETE FROM table AS t WHERE condition [RETURNING t.returning::text]`.
pub fn delete_where(
    ns: Namespace<'_>,
    table: &str,
    condition: &str,
    returning: Option<&str>,
) -> String {
    format!(
        "DELETE FROM {} AS t WHERE {condition}{}",
        ns.qualify(table),
        returning_text(returning)
    )
}

/// `DELETE FROM table AS t WHERE t.column = ANY($1::text[]::type[]) [RETURNING ...]`: rows whose
/// `column` (of SQL type `column_type`) is one of the keys bound as text.
pub fn delete_by_keys(
    ns: Namespace<'_>,
    table: &str,
    column: &str,
    column_type: &str,
    returning: Option<&str>,
) -> String {
    format!(
        "DELETE FROM {} AS t WHERE t.{} = ANY($1::text[]::{column_type}[]){}",
        ns.qualify(table),
        quote_ident(column),
        returning_text(returning)
    )
}

fn returning_text(column: Option<&str>) -> String {
    column.map_or_else(String::new, |c| {
        format!(" RETURNING t.{}::text", quote_ident(c))
    })
}

/// Writer sessions do not wait for the WAL flush of each commit (see `BatchWriter`).
pub const ASYNC_COMMIT: &str = "SET synchronous_commit = off";

/// Renames a session (`application_name`, shown in `pg_stat_activity`).
pub fn set_application_name(name: &str) -> String {
    format!("SET application_name = {}", quote_literal(name))
}

/// Index builds of the session use no parallel workers: for builds that run while the load keeps
/// every core busy, where workers only add their start and their coordination.
pub const SERIAL_BUILDS: &str = "SET max_parallel_maintenance_workers = 0";

/// One transaction does not wait for the WAL flush of its commit.
pub const ASYNC_COMMIT_LOCAL: &str = "SET LOCAL synchronous_commit = off";

/// Disables foreign-key triggers for the session (loading into existing tables that have them).
pub const SET_REPLICA_ROLE: &str = "SET session_replication_role = replica";

/// A [`create_index`] statement made idempotent (`IF NOT EXISTS`), for resumes.
pub fn if_missing(create_index_statement: &str) -> String {
    create_index_statement.replacen("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
}

pub fn create_database(name: &str) -> String {
    format!("CREATE DATABASE {}", quote_ident(name))
}

pub fn drop_database(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
}
