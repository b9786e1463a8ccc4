//! The tables, created on first use inside the configured schema, and the schema version that
//! keeps an older matihnet away from tables a newer one laid out.

use matihnet_state::StateError;
use tokio_postgres::Client;

use crate::connect::Target;

/// The table layout this build reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// The tables' names, quoted and qualified by the schema, ready to splice into SQL.
pub(crate) struct Tables {
    schema: String,
    pub(crate) meta: String,
    pub(crate) states: String,
    pub(crate) locks: String,
}

const META: &str = "meta";
const STATES: &str = "states";
const LOCKS: &str = "locks";

impl Tables {
    pub(crate) fn new(schema: &str) -> Tables {
        let q = quote_ident(schema);
        Tables {
            schema: schema.to_string(),
            meta: format!("{q}.{META}"),
            states: format!("{q}.{STATES}"),
            locks: format!("{q}.{LOCKS}"),
        }
    }

    fn ddl(&self, table: &str) -> String {
        match table {
            META => format!(
                "CREATE TABLE {} (\n    key text PRIMARY KEY,\n    value text NOT NULL\n)",
                self.meta
            ),
            STATES => format!(
                "CREATE TABLE {} (\n    name text PRIMARY KEY,\n    serial bigint NOT NULL,\n    lineage text NOT NULL,\n    body text NOT NULL,\n    previous text,\n    updated_at timestamptz NOT NULL DEFAULT now()\n)",
                self.states
            ),
            _ => format!(
                "CREATE TABLE {} (\n    name text PRIMARY KEY,\n    info jsonb NOT NULL,\n    backend_pid integer NOT NULL,\n    locked_at timestamptz NOT NULL DEFAULT now()\n)",
                self.locks
            ),
        }
    }
}

/// `"name"`, with inner quotes doubled: any schema name is taken literally, never as SQL.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates what is missing and checks the version, in one transaction under an advisory lock
/// so that instances opening a fresh database at once do not race to create the same tables.
/// Tables of a newer layout are refused before anything is created.
pub(crate) async fn ensure(
    client: &mut Client,
    tables: &Tables,
    target: &Target,
) -> Result<(), StateError> {
    let err = |what: &'static str| move |e: tokio_postgres::Error| target.query_error(what, &e);
    let tx = client
        .transaction()
        .await
        .map_err(err("prepare the state tables"))?;
    let key = crate::lock::key(&format!("matihnet-schema-setup/{}", tables.schema));
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .await
        .map_err(err("prepare the state tables"))?;
    let schema_exists = tx
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
            &[&tables.schema],
        )
        .await
        .map_err(err("look for the state schema"))?
        .is_some();
    let present: Vec<String> = if schema_exists {
        tx.query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            &[&tables.schema],
        )
        .await
        .map_err(err("look for the state tables"))?
        .iter()
        .filter_map(|r| r.try_get::<_, String>(0).ok())
        .collect()
    } else {
        Vec::new()
    };
    let has = |t: &str| present.iter().any(|p| p == t);

    let stored_version = if has(META) {
        let row = tx
            .query_opt(
                &format!(
                    "SELECT value FROM {} WHERE key = 'schema_version'",
                    tables.meta
                ),
                &[],
            )
            .await
            .map_err(err("read the schema version"))?;
        match row {
            None => None,
            Some(row) => {
                let text: String = row
                    .try_get(0)
                    .map_err(|e| target.query_error("read the schema version", &e))?;
                match text.trim().parse::<i64>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        return Err(StateError::Unavailable {
                            location: target.location().to_string(),
                            message: format!(
                                "{} holds schema_version {text:?}, which is not a number; nothing was changed",
                                tables.meta
                            ),
                            hint: "restore that row (matihnet wrote a whole number), or point [state] schema at another schema".into(),
                        })
                    }
                }
            }
        }
    } else {
        None
    };
    if let Some(found) = stored_version.filter(|v| *v > SCHEMA_VERSION) {
        // Dropping the transaction rolls it back; nothing was created before this check.
        return Err(StateError::Unavailable {
            location: target.location().to_string(),
            message: format!(
                "the state tables in schema {} were written by a newer matihnet (schema version {found}; this build knows up to {SCHEMA_VERSION}); nothing was changed",
                quote_ident(&tables.schema)
            ),
            hint: "upgrade matihnet to the version that laid out these tables".into(),
        });
    }

    if !schema_exists {
        tx.batch_execute(&format!("CREATE SCHEMA {}", quote_ident(&tables.schema)))
            .await
            .map_err(err("create the state schema"))?;
    }
    for table in [META, STATES, LOCKS] {
        if !has(table) {
            tx.batch_execute(&tables.ddl(table))
                .await
                .map_err(err("create the state tables"))?;
        }
    }
    if stored_version.is_none() {
        tx.execute(
            &format!(
                "INSERT INTO {} (key, value) VALUES ('schema_version', $1)",
                tables.meta
            ),
            &[&SCHEMA_VERSION.to_string()],
        )
        .await
        .map_err(err("record the schema version"))?;
    }
    tx.commit().await.map_err(err("create the state tables"))?;
    Ok(())
}

/// The DDL of this layout, for documentation and for operators who create the tables
/// themselves; `schema` is quoted as [`crate::PostgresBackend::open`] quotes it.
pub fn ddl(schema: &str) -> String {
    let t = Tables::new(schema);
    format!(
        "CREATE SCHEMA IF NOT EXISTS {};\n{};\n{};\n{};\nINSERT INTO {} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');\n",
        quote_ident(schema),
        t.ddl(META),
        t.ddl(STATES),
        t.ddl(LOCKS),
        t.meta
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_literally() {
        assert_eq!(quote_ident("matihnet"), "\"matihnet\"");
        assert_eq!(quote_ident("a\"b; DROP"), "\"a\"\"b; DROP\"");
        assert_eq!(Tables::new("x").states, "\"x\".states");
    }
}
