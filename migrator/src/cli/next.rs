//! What to run next, printed under a summary: commands that work as printed, against the
//! database the run wrote to (or, after a dry run, one it could write to).

use super::options::DEFAULT_PG_URL;
use crate::state::redact_url;
use crate::testing::url_with_database;

/// ` --pg-url '<url>'` unless `pg_url` is the default every command assumes.
fn pg_url_flag(pg_url: &str) -> String {
    if pg_url == DEFAULT_PG_URL {
        String::new()
    } else {
        format!(" --pg-url '{}'", redact_url(pg_url))
    }
}

/// After a run: the tables and the rejected documents of the target it wrote to.
pub fn after_run(program: &str, pg_url: &str, state_schema: &str) -> String {
    let url = redact_url(pg_url);
    format!(
        "\nNext:\n  psql '{url}' -c '\\dt'\n  {program}{flag} errors list          # rejected documents, grouped\n  \
         {program}{flag} references           # dangling references nulled, skipped or kept, by _id\n  \
         psql '{url}' -c 'SELECT collection, class, field, message FROM {state_schema}.dead_letters LIMIT 20'\n",
        flag = pg_url_flag(pg_url)
    )
}

/// After a dry run: the real run. A target on the server's `postgres` database (the default)
/// becomes a database of its own, named after the source, created first.
pub fn after_dry_run(program: &str, source: &str, pg_url: &str) -> String {
    let mut out = String::from("\nNext: the real run (add --validate to compare afterwards):\n");
    let target = if database_of(pg_url) == Some("postgres") {
        let name = database_name(source);
        out.push_str(&format!(
            "  psql '{}' -c 'CREATE DATABASE {name}'\n",
            redact_url(pg_url)
        ));
        url_with_database(pg_url, &name)
    } else {
        pg_url.to_string()
    };
    out.push_str(&format!(
        "  {program} migrate --source '{source}' --pg-url '{}'\n",
        redact_url(&target)
    ));
    out
}

/// The database a `postgres://` URL names (`None` without one).
fn database_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let database = path.split('?').next()?;
    Some(if database.is_empty() {
        "postgres"
    } else {
        database
    })
}

/// A database name for a source: its database or file name in lowercase letters, digits and
/// underscores (`./dump/shop` -> `shop`), else `migrated`.
fn database_name(source: &str) -> String {
    let last = source
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let stem = last.split('.').next().unwrap_or_default();
    let name = crate::naming::plain_identifier(stem);
    match name.chars().next() {
        Some(c) if c.is_ascii_lowercase() && name != "postgres" => name,
        _ => "migrated".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_points_at_a_database_of_its_own() {
        let next = after_dry_run("my-schema", "./dump/shop", DEFAULT_PG_URL);
        let run = next.lines().last().unwrap_or_default();
        assert!(!run.contains("/postgres'"), "{next}");
        assert!(
            next.contains(
                "psql 'postgres://postgres@127.0.0.1:5432/postgres' -c 'CREATE DATABASE shop'"
            ),
            "{next}"
        );
        assert!(
            next.contains("my-schema migrate --source './dump/shop' --pg-url 'postgres://postgres@127.0.0.1:5432/shop'"),
            "{next}"
        );
        // A target of its own is kept as it is.
        let chosen = after_dry_run(
            "x",
            "mongodb://h/app",
            "postgres://u:secret@h/app_pg?sslmode=disable",
        );
        assert!(!chosen.contains("CREATE DATABASE"), "{chosen}");
        assert!(
            chosen.contains("--pg-url 'postgres://u:***@h/app_pg?sslmode=disable'"),
            "{chosen}"
        );
    }

    #[test]
    fn database_names_come_from_the_source() {
        for (source, name) in [
            ("./dump/shop/", "shop"),
            ("mongodb://127.0.0.1:27017/App-1?replicaSet=r", "app_1"),
            ("backup.archive.gz", "backup"),
            ("./dump/123", "migrated"),
            ("/data/postgres", "migrated"),
            ("", "migrated"),
        ] {
            assert_eq!(database_name(source), name, "{source}");
        }
    }

    #[test]
    fn after_a_run_the_commands_name_the_target() {
        let url = "postgres://postgres@127.0.0.1:5432/app";
        let next = after_run("my-schema", url, "_migrator");
        assert!(
            next.contains(&format!("my-schema --pg-url '{url}' errors list")),
            "{next}"
        );
        let default = after_run("my-schema", DEFAULT_PG_URL, "_migrator");
        assert!(default.contains("my-schema errors list"), "{default}");
    }
}
