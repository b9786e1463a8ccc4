//! The state in PostgreSQL, for teams that already run a database their CI can reach.
//!
//! - Each state is one row of `<schema>.states`, keyed by its name, holding the exact bytes of
//!   the state file format as text (not jsonb, which would reorder and reformat them), and
//!   beside them `previous`, the body before the last write: the backup.
//! - A write runs in one transaction that locks the row (`SELECT ... FOR UPDATE`) and goes on
//!   only if the row is still what this instance last read or wrote, down to the row version
//!   (`xmin`), so a writer that lost its lock, or never read, cannot overwrite newer state.
//! - The writers' lock is a session-level advisory lock held on a connection of its own until
//!   unlock: the server drops it with the session, so a killed process never leaves a stuck
//!   lock. A row of `<schema>.locks` says who holds it, and counts only while that row's
//!   session still holds the advisory lock.
//! - The tables are created on first use, under an advisory transaction lock; a schema laid out
//!   by a newer matihnet (`<schema>.meta`'s `schema_version`) is refused and left untouched.
//!
//! TLS is not built in yet: a connection string that asks for it is refused with a message
//! that says so.

mod connect;
mod lock;
mod schema;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use matihnet_state::{
    check_successor, format, Backend, LastSeen, LockInfo, LockRequest, Seen, State, StateError,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::connect::Target;
use crate::schema::Tables;

pub use crate::connect::is_on_this_machine;
pub use crate::schema::{ddl, SCHEMA_VERSION};

/// The schema the tables live in when the `[state]` section names none.
pub const DEFAULT_SCHEMA: &str = "matihnet";

/// Where the state lives in PostgreSQL.
#[derive(Clone)]
pub struct PostgresSettings {
    /// A libpq-style connection string, `key=value` pairs or a `postgres://` URL. Only
    /// `sslmode=disable` and `prefer` (which then connects without TLS) are accepted.
    pub conn_str: String,
    /// The schema holding the tables, created on first use.
    pub schema: String,
    /// The state's name: one schema holds many states (one per environment, say).
    pub name: String,
}

impl PostgresSettings {
    /// Settings for the state `name` in the default schema.
    pub fn new(conn_str: impl Into<String>, name: impl Into<String>) -> PostgresSettings {
        PostgresSettings {
            conn_str: conn_str.into(),
            schema: DEFAULT_SCHEMA.to_string(),
            name: name.into(),
        }
    }
}

// The connection string may carry a password: Debug shows everything else.
impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("conn_str", &"<redacted>")
            .field("schema", &self.schema)
            .field("name", &self.name)
            .finish()
    }
}

pub struct PostgresBackend {
    target: Target,
    tables: Tables,
    name: String,
    /// The advisory lock's key, derived from schema and name.
    key: i64,
    /// Reads and writes share one session, reopened when it is lost; the mutex also keeps one
    /// instance's transactions from interleaving on it.
    main: tokio::sync::Mutex<Option<Client>>,
    /// The row as this instance last read or wrote it; `version` is the row's `xmin`, which
    /// every update of the row changes.
    seen: LastSeen,
    held: tokio::sync::Mutex<Option<Held>>,
}

/// A lock this instance holds: the session holding the advisory lock. Dropping it ends the
/// session, and the server releases the lock with it.
struct Held {
    id: String,
    client: Client,
}

/// How long a waiter keeps looking for the holder's row, which the holder writes just after it
/// takes the advisory lock, before calling the holder unknown.
const HOLDER_INFO_GRACE: Duration = Duration::from_secs(2);

/// How often a waiter tries the lock again.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// What a write finds in the row it locked.
enum Stored {
    Nothing,
    State(Seen),
    Undecodable,
}

impl PostgresBackend {
    /// Connects, creates the schema and tables where they are missing, and checks that they are
    /// not from a newer matihnet. Every failure is a [`StateError::Unavailable`] that names the
    /// `[state]` setting to fix.
    pub async fn open(settings: PostgresSettings) -> Result<PostgresBackend, StateError> {
        let PostgresSettings {
            conn_str,
            schema,
            name,
        } = settings;
        let fallback = format!("postgres schema {schema} name {name}");
        let invalid = |message: String, hint: &str| StateError::Unavailable {
            location: fallback.clone(),
            message,
            hint: hint.to_string(),
        };
        if name.is_empty() {
            return Err(invalid(
                "[state] name is empty".into(),
                "name the state (name = \"prod\", say): one schema holds many states",
            ));
        }
        // PostgreSQL cuts longer names to 63 bytes, and two schemas would then share tables.
        if schema.is_empty() || schema.len() > 63 || schema.contains('\0') {
            return Err(invalid(
                format!("[state] schema {schema:?} is not a PostgreSQL schema name"),
                "use 1 to 63 bytes, without NUL (the default is \"matihnet\")",
            ));
        }
        let target = Target::parse(&conn_str, &schema, &name, &fallback)?;
        let tables = Tables::new(&schema);
        let mut client = target.connect().await?;
        schema::ensure(&mut client, &tables, &target).await?;
        Ok(PostgresBackend {
            key: lock::key(&format!("{schema}/{name}")),
            target,
            tables,
            name,
            main: tokio::sync::Mutex::new(Some(client)),
            seen: LastSeen::default(),
            held: tokio::sync::Mutex::new(None),
        })
    }

    fn location(&self) -> String {
        self.target.location().to_string()
    }

    fn query_error(&self, what: &str) -> impl Fn(tokio_postgres::Error) -> StateError + '_ {
        let what = what.to_string();
        move |e| self.target.query_error(&what, &e)
    }

    /// The shared session, reconnected if the last one was lost.
    async fn main(&self) -> Result<tokio::sync::MappedMutexGuard<'_, Client>, StateError> {
        let mut guard = self.main.lock().await;
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = None;
            *guard = Some(self.target.connect().await?);
        }
        tokio::sync::MutexGuard::try_map(guard, |slot| slot.as_mut()).map_err(|_| {
            StateError::Unavailable {
                location: self.location(),
                message: "no connection to PostgreSQL".into(),
                hint: "run the command again".into(),
            }
        })
    }

    fn decode(&self, body: &str) -> Result<State, StateError> {
        format::decode(body.as_bytes()).map_err(|reason| StateError::Corrupt {
            location: self.location(),
            reason,
        })
    }

    async fn live_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let client = self.main().await?;
        lock::live_holder(&client, &self.tables, &self.name, self.key)
            .await
            .map_err(self.query_error("read the lock"))
    }

    /// The holder as a waiter reports it, looking again for a moment while the holder's row is
    /// not yet written (or is one a dead session left).
    async fn holder_info(&self) -> Option<Box<LockInfo>> {
        let deadline = Instant::now() + HOLDER_INFO_GRACE;
        loop {
            match self.live_holder().await {
                Ok(Some(info)) => return Some(Box::new(info)),
                Ok(None) if Instant::now() < deadline => tokio::time::sleep(LOCK_RETRY / 2).await,
                _ => return None,
            }
        }
    }

    /// Whether the locked row is still what this instance saw; `Err` carries what was found.
    fn check_stored(&self, seen: Option<&Seen>, stored: &Stored) -> Result<(), StateError> {
        let found = match (seen, stored) {
            (None, Stored::Nothing) => return Ok(()),
            (Some(s), Stored::State(t)) if s == t => return Ok(()),
            (_, Stored::Nothing) => "no state: the row is gone".to_string(),
            (_, Stored::Undecodable) => "a stored state that does not decode".to_string(),
            (Some(s), Stored::State(t)) if s.lineage == t.lineage && s.serial == t.serial => {
                format!("{}, rewritten since", Seen::describe(Some(t)))
            }
            (_, Stored::State(t)) => Seen::describe(Some(t)),
        };
        Err(StateError::Conflict {
            location: self.location(),
            expected: Seen::describe(seen),
            found,
        })
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    fn describe(&self) -> String {
        self.location()
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        self.seen.set(None);
        let row = {
            let client = self.main().await?;
            client
                .query_opt(
                    &format!(
                        "SELECT body, xmin::text FROM {} WHERE name = $1",
                        self.tables.states
                    ),
                    &[&self.name],
                )
                .await
                .map_err(self.query_error("read the state"))?
        };
        let Some(row) = row else { return Ok(None) };
        let body: String = row.try_get(0).map_err(self.query_error("read the state"))?;
        let version: String = row.try_get(1).map_err(self.query_error("read the state"))?;
        let state = self.decode(&body)?;
        self.seen.set(Some(Seen::of(&state, version)));
        Ok(Some(state))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let seen = self.seen.get();
        check_successor(&self.location(), seen.as_ref(), state)?;
        let serial = i64::try_from(state.serial).map_err(|_| StateError::Refused {
            location: self.location(),
            reason: format!(
                "the state to write has serial {}, beyond what PostgreSQL's bigint holds",
                state.serial
            ),
        })?;
        // The format writes JSON, which is UTF-8; the check keeps a bug from storing mangled bytes.
        let body = String::from_utf8(format::encode(state)).map_err(|_| StateError::Refused {
            location: self.location(),
            reason: "its encoding is not UTF-8 text".into(),
        })?;
        let what = "write the state";

        let mut client = self.main().await?;
        let tx = client.transaction().await.map_err(self.query_error(what))?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT body, xmin::text FROM {} WHERE name = $1 FOR UPDATE",
                    self.tables.states
                ),
                &[&self.name],
            )
            .await
            .map_err(self.query_error(what))?;
        let stored = match &row {
            None => Stored::Nothing,
            Some(row) => {
                let body: String = row.try_get(0).map_err(self.query_error(what))?;
                let version: String = row.try_get(1).map_err(self.query_error(what))?;
                match format::decode(body.as_bytes()) {
                    Ok(s) => Stored::State(Seen::of(&s, version)),
                    Err(_) => Stored::Undecodable,
                }
            }
        };
        if let Err(conflict) = self.check_stored(seen.as_ref(), &stored) {
            let _ = tx.rollback().await;
            return Err(conflict);
        }
        let written = if matches!(stored, Stored::Nothing) {
            tx.query_one(
                &format!(
                    "INSERT INTO {} (name, serial, lineage, body, previous, updated_at) \
                     VALUES ($1, $2, $3, $4, NULL, now()) RETURNING xmin::text",
                    self.tables.states
                ),
                &[&self.name, &serial, &state.lineage, &body],
            )
            .await
        } else {
            tx.query_one(
                &format!(
                    "UPDATE {} SET serial = $2, lineage = $3, previous = body, body = $4, updated_at = now() \
                     WHERE name = $1 RETURNING xmin::text",
                    self.tables.states
                ),
                &[&self.name, &serial, &state.lineage, &body],
            )
            .await
        };
        let row = match written {
            Ok(row) => row,
            // Another writer that also saw no row inserted it first.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                let _ = tx.rollback().await;
                return Err(StateError::Conflict {
                    location: self.location(),
                    expected: Seen::describe(None),
                    found: "a state another writer created meanwhile".into(),
                });
            }
            Err(e) => return Err(self.target.query_error(what, &e)),
        };
        let version: String = row.try_get(0).map_err(self.query_error(what))?;
        // A commit whose answer is lost may or may not have happened: what this instance saw
        // stays as it was, so its next write is checked against the row as it really is.
        tx.commit().await.map_err(self.query_error(what))?;
        drop(client);
        self.seen.set(Some(Seen::of(state, version)));
        Ok(())
    }

    async fn lock(&self, request: LockRequest) -> Result<String, StateError> {
        let LockRequest {
            mut info, timeout, ..
        } = request;
        // break_stale does not apply: an advisory lock ends with its session and cannot go
        // stale.
        info.path = self.location();
        let what = "take the lock";
        let client = self.target.connect().await?;
        let started = Instant::now();
        loop {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&self.key])
                .await
                .map_err(self.query_error(what))?;
            let taken: bool = row.try_get(0).map_err(self.query_error(what))?;
            if taken {
                break;
            }
            let waited = started.elapsed();
            if waited >= timeout {
                // The wait asked for, as the other backends report it, not its nanoseconds.
                return Err(StateError::Locked {
                    location: self.location(),
                    holder: self.holder_info().await,
                    waited: timeout,
                });
            }
            tokio::time::sleep(LOCK_RETRY.min(timeout - waited)).await;
        }
        // Dropping `client` on the error path ends the session and so releases the lock.
        lock::record(&client, &self.tables, &self.name, &info)
            .await
            .map_err(self.query_error("record the lock holder"))?;
        let id = info.id.clone();
        *self.held.lock().await = Some(Held {
            id: id.clone(),
            client,
        });
        Ok(id)
    }

    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        let taken = {
            let mut held = self.held.lock().await;
            match held.as_ref() {
                Some(h) if h.id == id => held.take(),
                _ => None,
            }
        };
        let Some(held) = taken else {
            return Err(StateError::NoSuchLock {
                location: self.location(),
                id: id.to_string(),
                current: self.live_holder().await.ok().flatten().map(Box::new),
            });
        };
        // The row goes first, while the lock still keeps the next holder from writing its own.
        // Failures change nothing: the session ends below, and the lock with it; a row it left
        // names a dead session, which counts as no holder.
        let _ = held
            .client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE name = $1 AND backend_pid = pg_backend_pid()",
                    self.tables.locks
                ),
                &[&self.name],
            )
            .await;
        let _ = held
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
            .await;
        drop(held);
        Ok(())
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let what = "remove the lock";
        let current = {
            let client = self.main().await?;
            lock::row(&client, &self.tables, &self.name, self.key)
                .await
                .map_err(self.query_error(what))?
        };
        match current {
            Some((Some(info), true)) if info.id == id => Err(StateError::HolderAlive {
                holder: Box::new(info),
            }),
            Some((Some(info), false)) if info.id == id => {
                let client = self.main().await?;
                let removed = lock::remove_dead(&client, &self.tables, &self.name, self.key, id)
                    .await
                    .map_err(self.query_error(what))?;
                if removed {
                    return Ok(());
                }
                drop(client);
                // A new holder took the lock between the two statements.
                Err(StateError::NoSuchLock {
                    location: self.location(),
                    id: id.to_string(),
                    current: self.live_holder().await.ok().flatten().map(Box::new),
                })
            }
            other => Err(StateError::NoSuchLock {
                location: self.location(),
                id: id.to_string(),
                current: match other {
                    Some((info, true)) => info.map(Box::new),
                    _ => None,
                },
            }),
        }
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        self.live_holder().await
    }
}
