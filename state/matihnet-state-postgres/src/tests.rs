//! The PostgreSQL backend against a real throwaway server: the backend conformance suite, then
//! what is particular to PostgreSQL (schema versions, connection errors, the backup column,
//! session locks).

use std::time::{Duration, Instant};

use crate::test_server::TestServer;
use crate::{PostgresBackend, PostgresSettings};
use async_trait::async_trait;
use matihnet_state::conformance::{self, HolderGone};
use matihnet_state::{Backend, LockInfo, LockRequest, State, StateError};
use tokio_postgres::{Client, NoTls};

/// Fails (never skips) when no server can be started, with what is missing.
fn server() -> TestServer {
    TestServer::start().unwrap_or_else(|e| panic!("cannot start a PostgreSQL test server: {e}"))
}

async fn admin(conn_str: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(conn_str, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn settings(conn_str: &str, schema: &str, name: &str) -> PostgresSettings {
    PostgresSettings {
        conn_str: conn_str.to_string(),
        schema: schema.to_string(),
        name: name.to_string(),
    }
}

async fn open(conn_str: &str, schema: &str, name: &str) -> PostgresBackend {
    PostgresBackend::open(settings(conn_str, schema, name))
        .await
        .unwrap_or_else(|e| panic!("open: {e}"))
}

fn unavailable(err: StateError) -> (String, String) {
    match err {
        StateError::Unavailable { message, hint, .. } => (message, hint),
        other => panic!("expected Unavailable, got {other}"),
    }
}

async fn open_err(settings: PostgresSettings) -> StateError {
    match PostgresBackend::open(settings).await {
        Ok(_) => panic!("open succeeded"),
        Err(e) => e,
    }
}

struct Pg {
    conn_str: String,
    schema: String,
    name: String,
    admin: Client,
}

#[async_trait]
impl conformance::Harness for Pg {
    type Backend = PostgresBackend;

    async fn open(&self) -> PostgresBackend {
        open(&self.conn_str, &self.schema, &self.name).await
    }

    async fn plant(&self, bytes: &[u8]) {
        let body = std::str::from_utf8(bytes).unwrap();
        self.admin
            .execute(
                &format!(
                    "INSERT INTO \"{}\".states (name, serial, lineage, body) VALUES ($1, 0, '', $2) \
                     ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body",
                    self.schema
                ),
                &[&self.name, &body],
            )
            .await
            .unwrap();
    }

    async fn stored(&self) -> Option<Vec<u8>> {
        self.admin
            .query_opt(
                &format!(
                    "SELECT body FROM \"{}\".states WHERE name = $1",
                    self.schema
                ),
                &[&self.name],
            )
            .await
            .unwrap()
            .map(|row| row.get::<_, String>(0).into_bytes())
    }

    fn holder_gone(&self) -> HolderGone {
        HolderGone::Released
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_backend_conformance_suite() {
    let server = server();
    let conn_str = server.conn_str();
    // The harness's first open creates the tables, as a first run would.
    let harness = Pg {
        admin: admin(&conn_str).await,
        conn_str,
        schema: "matihnet".into(),
        name: "conformance".into(),
    };
    conformance::run(&harness).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_of_other_names_and_schemas_are_apart() {
    let server = server();
    let conn_str = server.conn_str();
    let a = open(&conn_str, "matihnet", "prod").await;
    let b = open(&conn_str, "matihnet", "staging").await;
    let c = open(&conn_str, "Other \"Schema\"", "prod").await;
    let mut s = State::new();
    s.serial = 1;
    a.write(&s).await.unwrap();
    assert!(b.read().await.unwrap().is_none());
    assert!(c.read().await.unwrap().is_none());
    let id = a
        .lock(LockRequest::new("apply", Duration::from_secs(1)))
        .await
        .unwrap();
    let ib = b
        .lock(LockRequest::new("apply", Duration::ZERO))
        .await
        .unwrap();
    let ic = c
        .lock(LockRequest::new("apply", Duration::ZERO))
        .await
        .unwrap();
    for (backend, id) in [(&a, id), (&b, ib), (&c, ic)] {
        backend.unlock(&id).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_version_newer_than_ours_is_refused_and_nothing_is_changed() {
    let server = server();
    let conn_str = server.conn_str();
    let first = open(&conn_str, "matihnet", "prod").await;
    let mut s = State::new();
    s.serial = 3;
    first.write(&s).await.unwrap();
    drop(first);

    let db = admin(&conn_str).await;
    db.batch_execute(
        "UPDATE matihnet.meta SET value = '2' WHERE key = 'schema_version'; DROP TABLE matihnet.locks;",
    )
    .await
    .unwrap();
    let before: String = db
        .query_one("SELECT body FROM matihnet.states WHERE name = 'prod'", &[])
        .await
        .unwrap()
        .get(0);

    let (message, hint) = unavailable(open_err(settings(&conn_str, "matihnet", "prod")).await);
    assert!(message.contains("written by a newer matihnet"), "{message}");
    assert!(message.contains("schema version 2"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert!(hint.contains("upgrade"), "{hint}");

    let version: String = db
        .query_one(
            "SELECT value FROM matihnet.meta WHERE key = 'schema_version'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, "2");
    let locks: Option<String> = db
        .query_one("SELECT to_regclass('matihnet.locks')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(locks, None, "the missing table was not created");
    let after: String = db
        .query_one("SELECT body FROM matihnet.states WHERE name = 'prod'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_first_opens_at_once_create_the_tables_once() {
    let server = server();
    let conn_str = server.conn_str();
    let opens: Vec<_> = (0..8)
        .map(|i| {
            let conn_str = conn_str.clone();
            tokio::spawn(async move {
                PostgresBackend::open(settings(&conn_str, "fresh", &format!("s{i}"))).await
            })
        })
        .collect();
    for open in opens {
        open.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    }
    let db = admin(&conn_str).await;
    let versions: i64 = db
        .query_one("SELECT count(*) FROM fresh.meta", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_conn_str_is_unavailable_naming_conn_str() {
    for bad in [
        "host=127.0.0.1 port=fivefour",
        "host='127.0.0.1",
        "hots=127.0.0.1",
        "postgres://user:secret@[::1/db",
    ] {
        let err = open_err(settings(bad, "matihnet", "prod")).await;
        let text = err.to_string();
        let (message, hint) = unavailable(err);
        assert!(message.contains("[state] conn_str"), "{bad}: {message}");
        assert!(!message.contains('\n'), "one line: {message}");
        assert!(hint.contains("conn_str"), "{hint}");
        assert!(!text.contains("secret"), "{text}");
    }
    let (message, hint) =
        unavailable(open_err(settings("host=db.example.com sslmode=require", "m", "p")).await);
    assert!(
        message.contains("TLS") && message.contains("[state] conn_str"),
        "{message}"
    );
    assert!(hint.contains("sslmode"), "{hint}");
    let (message, _) = unavailable(open_err(settings("host=x", "m", "")).await);
    assert!(message.contains("[state] name"), "{message}");
    let (message, _) = unavailable(open_err(settings("host=x", "", "p")).await);
    assert!(message.contains("[state] schema"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable_quickly() {
    // A port nobody listens on: bound, read, released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = open_err(settings(
        &format!("host=127.0.0.1 port={port} user=ci password=secret connect_timeout=2"),
        "matihnet",
        "prod",
    ))
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(!text.contains("secret"), "{text}");
    let (message, hint) = unavailable(err);
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(
        hint.contains("is PostgreSQL running and reachable from here?"),
        "{hint}"
    );
    assert!(text.contains("postgres://ci@127.0.0.1"), "{text}");

    // An address that drops packets rather than refusing: the connect timeout ends the wait.
    let started = Instant::now();
    let err = open_err(settings(
        "host=10.255.255.1 port=5432 user=ci connect_timeout=1",
        "matihnet",
        "prod",
    ))
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let (message, hint) = unavailable(err);
    assert!(message.contains("10.255.255.1:5432"), "{message}");
    assert!(hint.contains("is PostgreSQL running"), "{hint}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_and_wrong_credentials_are_named() {
    let server = server();
    let port = server.port();
    let (message, hint) = unavailable(
        open_err(settings(
            &format!("host=127.0.0.1 port={port} user=postgres dbname=nope"),
            "matihnet",
            "prod",
        ))
        .await,
    );
    assert!(
        message.contains("database \"nope\" does not exist"),
        "{message}"
    );
    assert!(hint.contains("dbname"), "{hint}");

    // Trust for the superuser (this test's own connections), passwords for everyone else.
    let hba = server.data_dir().join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    server
        .psql("CREATE ROLE ci LOGIN PASSWORD 'right'; SELECT pg_reload_conf();")
        .unwrap();

    let wrong = format!("host=127.0.0.1 port={port} user=ci password=wrong dbname=postgres");
    let err = open_err(settings(&wrong, "matihnet", "prod")).await;
    assert!(!err.to_string().contains("wrong"), "{err}");
    let (message, hint) = unavailable(err);
    assert!(
        message.contains("refused the password of user \"ci\""),
        "{message}"
    );
    assert!(
        hint.contains("check the user and password in [state] conn_str"),
        "{hint}"
    );

    let none = format!("host=127.0.0.1 port={port} user=ci dbname=postgres");
    let (message, hint) = unavailable(open_err(settings(&none, "matihnet", "prod")).await);
    assert!(message.contains("gives none"), "{message}");
    assert!(hint.contains("user and password"), "{hint}");

    let unknown = format!("host=127.0.0.1 port={port} user=nobody password=x dbname=postgres");
    let (_, hint) = unavailable(open_err(settings(&unknown, "matihnet", "prod")).await);
    assert!(hint.contains("user and password"), "{hint}");

    // The right password, without the rights to create the schema.
    let right = format!("host=127.0.0.1 port={port} user=ci password=right dbname=postgres");
    let (message, hint) = unavailable(open_err(settings(&right, "ci_state", "prod")).await);
    assert!(message.contains("permission denied"), "{message}");
    assert!(hint.contains("grant user \"ci\""), "{hint}");
    server
        .psql("GRANT CREATE ON DATABASE postgres TO ci")
        .unwrap();
    let backend = open(&right, "ci_state", "prod").await;
    assert!(backend.read().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_never_shows_the_password() {
    let server = server();
    let conn_str = format!("{} password=secret", server.conn_str());
    let backend = open(&conn_str, "matihnet", "prod").await;
    let described = backend.describe();
    assert_eq!(
        described,
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres schema matihnet name prod",
            server.port()
        )
    );
    let id = backend
        .lock(LockRequest::new("apply", Duration::from_secs(1)))
        .await
        .unwrap();
    let other = open(&conn_str, "matihnet", "prod").await;
    let err = other
        .lock(LockRequest::new("plan", Duration::ZERO))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&described), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert_eq!(
        other.lock_holder().await.unwrap().map(|h| h.path),
        Some(described.clone()),
        "the holder's path is where the state lives, without the password"
    );
    let url = format!(
        "postgres://postgres:secret@127.0.0.1:{}/postgres",
        server.port()
    );
    let by_url = open(&url, "matihnet", "prod").await;
    assert_eq!(by_url.describe(), described);
    backend.unlock(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_keeps_the_body_before_the_last_write() {
    let server = server();
    let conn_str = server.conn_str();
    let db = admin(&conn_str).await;
    let backend = open(&conn_str, "matihnet", "prod").await;
    let row = || async {
        let row = db
            .query_one(
                "SELECT body, previous, serial, lineage FROM matihnet.states WHERE name = 'prod'",
                &[],
            )
            .await
            .unwrap();
        (
            row.get::<_, String>(0),
            row.get::<_, Option<String>>(1),
            row.get::<_, i64>(2),
            row.get::<_, String>(3),
        )
    };

    let mut s = State::new();
    s.serial = 1;
    backend.write(&s).await.unwrap();
    let (first, previous, serial, lineage) = row().await;
    assert_eq!(
        first.as_bytes(),
        matihnet_state::format::encode(&s).as_slice(),
        "the body is the file format's exact bytes"
    );
    assert_eq!(previous, None);
    assert_eq!((serial, lineage), (1, s.lineage.clone()));

    s.serial = 2;
    s.outputs.insert(
        "zone".into(),
        matihnet_state::OutputValue {
            value: "example.com".into(),
            sensitive: false,
        },
    );
    backend.write(&s).await.unwrap();
    let (second, previous, serial, _) = row().await;
    assert_eq!(previous.as_deref(), Some(first.as_str()));
    assert_eq!(serial, 2);

    s.serial = 3;
    backend.write(&s).await.unwrap();
    let (_, previous, _, _) = row().await;
    assert_eq!(previous.as_deref(), Some(second.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_holders_lock_is_free_at_once() {
    let server = server();
    let conn_str = server.conn_str();
    let holder = open(&conn_str, "matihnet", "prod").await;
    let id = holder
        .lock(LockRequest::new("apply", Duration::from_secs(1)))
        .await
        .unwrap();
    let next = open(&conn_str, "matihnet", "prod").await;
    assert_eq!(
        next.lock_holder().await.unwrap().map(|h| h.id),
        Some(id.clone())
    );
    drop(holder);

    let started = Instant::now();
    let id2 = next
        .lock(LockRequest::new("apply", Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        next.lock_holder().await.unwrap().map(|h| h.id),
        Some(id2.clone())
    );
    next.unlock(&id2).await.unwrap();
    assert_eq!(next.lock_holder().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_unlock_removes_only_a_dead_sessions_row() {
    let server = server();
    let conn_str = server.conn_str();
    let holder = open(&conn_str, "matihnet", "prod").await;
    let other = open(&conn_str, "matihnet", "prod").await;
    let id = holder
        .lock(LockRequest::new("apply", Duration::from_secs(1)))
        .await
        .unwrap();

    match other.force_unlock(&id).await {
        Err(StateError::HolderAlive { holder }) => assert_eq!(holder.id, id),
        other => panic!("expected HolderAlive, got {other:?}"),
    }
    match other.force_unlock("no-such-id").await {
        Err(StateError::NoSuchLock { current, .. }) => {
            assert_eq!(current.map(|c| c.id), Some(id.clone()))
        }
        other => panic!("expected NoSuchLock, got {other:?}"),
    }
    match other.unlock(&id).await {
        Err(StateError::NoSuchLock { .. }) => {}
        other => panic!("only the holder's instance unlocks, got {other:?}"),
    }
    holder.unlock(&id).await.unwrap();

    // A row whose session holds no lock: left by a session the server ended.
    let db = admin(&conn_str).await;
    let dead = LockInfo::for_this_process("apply");
    db.execute(
        "INSERT INTO matihnet.locks (name, info, backend_pid) VALUES ('prod', ($1::text)::jsonb, pg_backend_pid())",
        &[&serde_json::to_string(&dead).unwrap()],
    )
    .await
    .unwrap();
    assert_eq!(
        other.lock_holder().await.unwrap(),
        None,
        "a dead row is no holder"
    );
    other.force_unlock(&dead.id).await.unwrap();
    let rows: i64 = db
        .query_one("SELECT count(*) FROM matihnet.locks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    match other.force_unlock(&dead.id).await {
        Err(StateError::NoSuchLock { current: None, .. }) => {}
        other => panic!("expected NoSuchLock, got {other:?}"),
    }

    // A waiter that finds only a dead row says the holder is unknown rather than naming it.
    db.execute(
        "INSERT INTO matihnet.locks (name, info, backend_pid) VALUES ('prod', ($1::text)::jsonb, pg_backend_pid())",
        &[&serde_json::to_string(&dead).unwrap()],
    )
    .await
    .unwrap();
    let id = other
        .lock(LockRequest::new("apply", Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(
        other.lock_holder().await.unwrap().map(|h| h.id),
        Some(id.clone())
    );
    other.unlock(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_session_is_reopened() {
    let server = server();
    let conn_str = server.conn_str();
    let backend = open(&conn_str, "matihnet", "prod").await;
    let mut s = State::new();
    s.serial = 1;
    backend.write(&s).await.unwrap();
    server
        .psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'matihnet'")
        .unwrap();
    // The first call after the server ended the session may see it lost; the next reconnects.
    let mut read = backend.read().await;
    if read.is_err() {
        read = backend.read().await;
    }
    assert_eq!(read.unwrap(), Some(s.clone()));
    s.serial = 2;
    backend.write(&s).await.unwrap();
}
