//! The binary with its state in S3 (moto) and in PostgreSQL (a throwaway server): two applies on
//! one state, a holder killed with SIGKILL, an interrupted command releasing its lock, `state
//! migrate` between backends, and the refusals that keep a rehearsal or a broken backend from
//! touching anything.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use matihnet_e2e::moto::Moto;
use matihnet_e2e::Sandbox;
use matihnet_state::{Backend, LockInfo};
use matihnet_state_postgres::test_server::TestServer;
use matihnet_state_postgres::{PostgresBackend, PostgresSettings};
use matihnet_state_s3::{S3Backend, S3Settings};

const BUCKET: &str = "matih-state";
const KEY: &str = "test/matihnet.state.json";
/// Short, so that the killed-holder case does not wait a minute.
const TTL_SECS: u64 = 3;

struct OnS3 {
    moto: Moto,
    runtime: tokio::runtime::Runtime,
}

struct OnPostgres {
    server: TestServer,
    runtime: tokio::runtime::Runtime,
}

/// Where a test keeps the state, as the binary and the test itself see it.
trait Remote {
    fn section(&self) -> String;
    fn runtime(&self) -> &tokio::runtime::Runtime;
    fn backend(&self) -> Box<dyn Backend>;

    fn sandbox(&self) -> Sandbox {
        let text = std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml"))
            .expect("example");
        Sandbox::with_config(&(text + &self.section()))
    }

    fn holder(&self) -> Option<LockInfo> {
        let b = self.backend();
        self.runtime()
            .block_on(b.lock_holder())
            .expect("read the lock")
    }

    fn state_addresses(&self) -> Vec<String> {
        let b = self.backend();
        let state = self
            .runtime()
            .block_on(b.read())
            .expect("read")
            .expect("state");
        state.resources.keys().map(|a| a.to_string()).collect()
    }

    /// Waits until some process holds the lock.
    fn wait_for_holder(&self) -> LockInfo {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(h) = self.holder() {
                return h;
            }
            assert!(Instant::now() < deadline, "nobody took the lock");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl OnPostgres {
    fn start() -> OnPostgres {
        OnPostgres {
            server: TestServer::start().unwrap_or_else(|e| panic!("{e}")),
            runtime: tokio::runtime::Runtime::new().expect("runtime"),
        }
    }
}

impl Remote for OnPostgres {
    fn section(&self) -> String {
        format!(
            "\n[state]\nbackend = \"postgres\"\nconn_str = \"{}\"\nname = \"test\"\n",
            self.server.conn_str()
        )
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    fn backend(&self) -> Box<dyn Backend> {
        Box::new(
            self.runtime
                .block_on(PostgresBackend::open(PostgresSettings::new(
                    self.server.conn_str(),
                    "test",
                )))
                .expect("open the PostgreSQL state"),
        )
    }
}

impl Remote for OnS3 {
    fn section(&self) -> String {
        format!(
            "\n[state]\nbackend = \"s3\"\nbucket = \"{BUCKET}\"\nkey = \"{KEY}\"\nregion = \"eu-west-1\"\nendpoint = \"{}\"\nlock_ttl = \"{TTL_SECS}s\"\n",
            self.moto.endpoint()
        )
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    fn backend(&self) -> Box<dyn Backend> {
        Box::new(self.s3_backend())
    }
}

impl OnS3 {
    fn start() -> OnS3 {
        let moto = Moto::start();
        moto.create_bucket(BUCKET);
        OnS3 {
            moto,
            runtime: tokio::runtime::Runtime::new().expect("runtime"),
        }
    }

    fn s3_backend(&self) -> S3Backend {
        self.runtime.block_on(S3Backend::new(S3Settings {
            bucket: BUCKET.into(),
            key: KEY.into(),
            region: Some("eu-west-1".into()),
            endpoint: Some(self.moto.endpoint()),
            lock_ttl: Duration::from_secs(TTL_SECS),
            test_credentials: true,
        }))
    }
}

fn spawn(s: &Sandbox, args: &[&str], latency_ms: &str) -> Child {
    s.command(args)
        .env("MATIHNET_FAKE_LATENCY_MS", latency_ms)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn matihnet")
}

fn no_duplicates_and_state_matches(remote: &dyn Remote, s: &Sandbox) {
    let mut objects: Vec<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    objects.sort();
    let mut unique = objects.clone();
    unique.dedup();
    assert_eq!(objects, unique, "duplicate objects");
    assert_eq!(
        objects,
        remote.state_addresses(),
        "cloud and state disagree"
    );
}

#[test]
fn two_applies_on_one_s3_state_exactly_one_runs_and_the_other_names_it() {
    two_applies(&OnS3::start(), &format!("s3://{BUCKET}/{KEY}"));
}

#[test]
fn two_applies_on_one_postgres_state_exactly_one_runs_and_the_other_names_it() {
    two_applies(&OnPostgres::start(), "schema matihnet name test");
}

fn two_applies(remote: &dyn Remote, location: &str) {
    let s = remote.sandbox();
    let first = spawn(&s, &["apply", "--auto-approve"], "500");
    let holder = remote.wait_for_holder();
    assert_eq!(holder.pid, first.id());
    assert_eq!(holder.operation, "apply");
    let started = Instant::now();
    let second = s
        .run(&["apply", "--auto-approve", "--lock-timeout", "1s"])
        .expect_code(1);
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited");
    let err = second.stderr();
    assert!(err.contains("is locked"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains(location), "{err}");
    let out = first.wait_with_output().expect("first apply");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(remote.holder().is_none(), "the lock was released");
    assert!(
        !s.state_path().exists(),
        "the state lives in S3, not beside the file"
    );
    no_duplicates_and_state_matches(remote, &s);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_killed_holder_leaves_a_stale_lock_that_is_reported_then_broken_and_the_reapply_adopts() {
    let remote = OnS3::start();
    let s = remote.sandbox().with_env("MATIHNET_FAKE_LATENCY_MS", "100");
    s.kill_after_completions(&["apply", "--auto-approve"], 5);
    let dead = remote.holder().expect("the killed run's lock stays behind");

    // Within the TTL the lock looks live: a waiter is told who holds it.
    let err = s.run(&["plan"]).expect_code(1).stderr();
    assert!(err.contains("is locked"), "{err}");

    std::thread::sleep(Duration::from_secs(TTL_SECS + 1));
    let err = s.run(&["apply", "--auto-approve"]).expect_code(1).stderr();
    assert!(err.contains("last heartbeat was"), "{err}");
    assert!(err.contains(&format!("pid {}", dead.pid)), "{err}");
    assert!(err.contains("--break-stale-lock"), "{err}");
    assert!(err.contains(&format!("force-unlock {}", dead.id)), "{err}");

    let out = s
        .run(&["apply", "--auto-approve", "--break-stale-lock"])
        .expect_code(0);
    assert!(out.stdout().contains("Apply complete"), "{}", out.stdout());
    assert!(remote.holder().is_none());
    no_duplicates_and_state_matches(&remote, &s);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn an_interrupted_command_releases_its_s3_lock() {
    interrupted(&OnS3::start());
}

#[test]
fn an_interrupted_command_releases_its_postgres_lock() {
    interrupted(&OnPostgres::start());
}

fn interrupted(remote: &dyn Remote) {
    let s = remote.sandbox();
    // A failed apply releases its lock too, and records what it finished.
    s.run_with(
        &["apply", "--auto-approve"],
        &[("MATIHNET_FAKE_FAIL_ADDRESS", "dns_zone.platform")],
    )
    .expect_code(1);
    assert!(
        remote.holder().is_none(),
        "a failed apply left its lock behind"
    );
    no_duplicates_and_state_matches(remote, &s);

    // An apply, interrupted: in-flight calls finish, the state is saved, the lock released.
    let apply = spawn(
        &s,
        &["apply", "--auto-approve", "--parallelism", "2"],
        "300",
    );
    remote.wait_for_holder();
    std::thread::sleep(Duration::from_millis(900));
    kill(&apply, "-INT");
    let out = apply.wait_with_output().expect("apply");
    assert_eq!(out.status.code(), Some(1));
    assert!(remote.holder().is_none(), "apply left its lock behind");
    no_duplicates_and_state_matches(remote, &s);

    // A plan reading every resource slowly, interrupted: it exits at once, lock released.
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let plan = spawn(&s, &["plan"], "2000");
    remote.wait_for_holder();
    std::thread::sleep(Duration::from_millis(300));
    kill(&plan, "-INT");
    let out = plan.wait_with_output().expect("plan");
    assert_eq!(out.status.code(), Some(1));
    assert!(remote.holder().is_none(), "plan left its lock behind");
}

fn kill(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn state_migrate_copies_the_local_state_into_s3_and_leaves_the_source() {
    let remote = OnS3::start();
    let local = Sandbox::with_example("fake.toml");
    local.run(&["apply", "--auto-approve"]).expect_code(0);
    let before = std::fs::read(local.state_path()).expect("local state");
    let serial = local.state()["serial"].as_u64().expect("serial");

    // The team moves the environment to S3: the file now names the bucket.
    let text = std::fs::read_to_string(local.path("matihnet.toml")).expect("config");
    std::fs::write(local.path("matihnet.toml"), text + &remote.section()).expect("config");
    let out = local.run(&["state", "migrate"]).expect_code(0).stdout();
    assert!(out.contains("Copied the state"), "{out}");
    assert!(out.contains(&format!("serial {serial}")), "{out}");
    assert!(out.contains("was left as it was"), "{out}");
    assert_eq!(
        std::fs::read(local.state_path()).expect("local state"),
        before,
        "the source is untouched"
    );
    let b = remote.backend();
    let copied = remote
        .runtime
        .block_on(b.read())
        .expect("read")
        .expect("state");
    assert_eq!(copied.serial, serial, "the serial is kept");
    assert_eq!(
        copied.lineage,
        local.state()["lineage"].as_str().expect("lineage"),
        "the lineage is kept"
    );
    // The copy is the state: nothing to change, and migrating again changes nothing.
    local.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let again = local.run(&["state", "migrate"]).expect_code(0).stdout();
    assert!(again.contains("already holds this state"), "{again}");
    // A target holding another state is never overwritten.
    let other = Sandbox::with_example("fake.toml");
    other.run(&["apply", "--auto-approve"]).expect_code(0);
    let err = local
        .run(&[
            "state",
            "migrate",
            "--from",
            other.state_path().to_str().expect("path"),
        ])
        .expect_code(1)
        .stderr();
    assert!(err.contains("already holds a state"), "{err}");
    assert!(remote.holder().is_none(), "both locks released");
}

#[test]
fn errors_name_the_setting_and_the_fix_and_touch_no_cloud() {
    let remote = OnS3::start();
    let s = remote.sandbox();
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    std::fs::write(
        s.path("matihnet.toml"),
        text.replace(
            &format!("bucket = \"{BUCKET}\""),
            "bucket = \"no-such-bucket\"",
        ),
    )
    .expect("config");
    let err = s.run(&["apply", "--auto-approve"]).expect_code(1).stderr();
    assert!(
        err.contains("bucket \"no-such-bucket\" does not exist"),
        "{err}"
    );
    assert!(err.contains("aws s3 mb s3://no-such-bucket"), "{err}");
    assert!(
        s.fake_objects().is_empty() && !s.fake_cloud_path().exists(),
        "no provider call before the state is readable and locked"
    );

    // --local-cloud never sends a rehearsal's state to a real bucket.
    let real = Sandbox::with_config(
        &(std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml"))
            .expect("example")
            + "\n[state]\nbackend = \"s3\"\nbucket = \"matih-state\"\n"),
    );
    let err = real
        .command(&["plan", "--local-cloud"])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .output()
        .expect("run");
    assert_eq!(err.status.code(), Some(1));
    let err = String::from_utf8_lossy(&err.stderr);
    assert!(
        err.contains("--local-cloud keeps a rehearsal on this machine"),
        "{err}"
    );
    assert!(err.contains("nothing was contacted"), "{err}");
}

#[test]
fn a_killed_postgres_holder_loses_its_lock_at_once_and_the_reapply_adopts() {
    let remote = OnPostgres::start();
    let s = remote.sandbox().with_env("MATIHNET_FAKE_LATENCY_MS", "100");
    s.kill_after_completions(&["apply", "--auto-approve"], 5);
    // The server drops a dead session's advisory lock: no waiting, no flag, no force-unlock.
    let started = Instant::now();
    let out = s
        .run(&["apply", "--auto-approve", "--lock-timeout", "10s"])
        .expect_code(0);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the lock was free at once, yet apply took {:?}",
        started.elapsed()
    );
    assert!(out.stdout().contains("Apply complete"), "{}", out.stdout());
    assert!(remote.holder().is_none());
    no_duplicates_and_state_matches(&remote, &s);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn state_migrate_from_s3_to_postgres_with_from_config() {
    let s3 = OnS3::start();
    let pg = OnPostgres::start();
    let s = s3.sandbox();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let before = s3
        .runtime
        .block_on(s3.backend().read())
        .expect("read")
        .expect("state");
    // The old [state] goes to a file of its own; the environment file names PostgreSQL.
    std::fs::write(s.path("old-state.toml"), s3.section()).expect("old section");
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    let head = text.split("\n[state]").next().expect("head").to_string();
    std::fs::write(s.path("matihnet.toml"), head + &pg.section()).expect("config");
    let out = s
        .run(&["state", "migrate", "--from-config", "old-state.toml"])
        .expect_code(0)
        .stdout();
    assert!(out.contains(&format!("s3://{BUCKET}/{KEY}")), "{out}");
    assert!(out.contains("schema matihnet name test"), "{out}");
    let copied = pg
        .runtime
        .block_on(pg.backend().read())
        .expect("read")
        .expect("state");
    assert_eq!(
        copied, before,
        "the copy is the state, lineage and serial included"
    );
    let after = s3
        .runtime
        .block_on(s3.backend().read())
        .expect("read")
        .expect("state");
    assert_eq!(after, before, "the source is untouched");
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn postgres_errors_name_conn_str_and_local_cloud_refuses_a_remote_database() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let base = std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml"))
        .expect("example");
    let s = Sandbox::with_config(&format!(
        "{base}\n[state]\nbackend = \"postgres\"\nconn_str = \"host=127.0.0.1 port={port} user=matihnet connect_timeout=2\"\n"
    ));
    let err = s.run(&["apply", "--auto-approve"]).expect_code(1).stderr();
    assert!(err.contains("conn_str"), "{err}");
    assert!(err.contains("is PostgreSQL running"), "{err}");
    assert!(!s.fake_cloud_path().exists(), "no provider call was made");

    let s = Sandbox::with_config(&format!(
        "{base}\n[state]\nbackend = \"postgres\"\nconn_str = \"host=db.internal user=matihnet password=secret\"\n"
    ));
    let err = s.run(&["plan", "--local-cloud"]).expect_code(1).stderr();
    assert!(
        err.contains("--local-cloud keeps a rehearsal on this machine"),
        "{err}"
    );
    assert!(
        !err.contains("secret"),
        "the password is never printed: {err}"
    );
}
