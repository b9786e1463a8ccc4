//! A throwaway PostgreSQL cluster for tests (feature `test-server`): `initdb` into a fresh
//! directory, a server on a free loopback port with trust authentication, stopped and removed
//! on drop. Used by this crate's tests and by the end-to-end tests.
//!
//! ```no_run
//! # async fn demo() {
//! use matihnet_state_postgres::test_server::TestServer;
//! use matihnet_state_postgres::{PostgresBackend, PostgresSettings};
//!
//! let server = TestServer::start().unwrap_or_else(|e| panic!("{e}"));
//! let backend = PostgresBackend::open(PostgresSettings::new(server.conn_str(), "e2e"))
//!     .await
//!     .unwrap();
//! # }
//! ```
//!
//! The server binaries are looked up in `$MATIHNET_PG_BIN`, then `PATH`, then
//! `/usr/lib/postgresql/*/bin` (newest version first). When they are missing,
//! [`TestServer::start`] fails with what is missing and how to install it: a test must fail
//! then, never skip. Run as root, the cluster belongs to the OS user `postgres`, since
//! `initdb` refuses to run as root.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running throwaway cluster; dropping it stops the server and deletes its files.
pub struct TestServer {
    root: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The OS user (uid, gid) the server runs as, when this process is root.
    run_as: Option<(u32, u32)>,
}

/// Tries with a new port when another process took the chosen one first.
const START_ATTEMPTS: usize = 3;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

impl TestServer {
    /// Creates and starts a cluster. Blocks for the second or two `initdb` and the start take.
    pub fn start() -> Result<TestServer, String> {
        let bin = server_bin_dir()?;
        let run_as = if effective_uid() == Some(0) {
            Some(postgres_user()?)
        } else {
            None
        };
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let root = fresh_dir(run_as)?;
            let mut server = TestServer {
                data: root.join("data"),
                root,
                bin: bin.clone(),
                port: 0,
                run_as,
            };
            server.init()?;
            match server.launch() {
                Ok(()) => return Ok(server),
                // Drop removes the directory; the next attempt starts over on another port.
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection string for the superuser `postgres` on the database `postgres`.
    pub fn conn_str(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=10",
            self.port
        )
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Runs `sql` with `psql` as the superuser, stopping at the first error; returns the
    /// unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let psql = [self.bin.join("psql"), PathBuf::from("/usr/bin/psql")]
            .into_iter()
            .find(|p| p.is_file())
            .or_else(|| find_in_path("psql"))
            .ok_or("psql not found beside the server binaries, in /usr/bin or in PATH; install it (`apt-get install -y postgresql-client`)")?;
        let out = Command::new(&psql)
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", psql.display()))?;
        if !out.status.success() {
            return Err(format!(
                "psql failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(&self.root)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Runs a command with its output in a file under the root: pg_ctl's server would hold a
    /// pipe open, and waiting on it would never end.
    fn run(&self, mut cmd: Command, what: &str) -> Result<(), String> {
        let out_path = self.root.join(format!("{what}.out"));
        let out = File::create(&out_path)
            .map_err(|e| format!("cannot create {}: {e}", out_path.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot create {}: {e}", out_path.display()))?;
        let status = cmd
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        if status.success() {
            return Ok(());
        }
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        Err(format!("{what} failed ({status}): {}", output.trim()))
    }

    fn init(&self) -> Result<(), String> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        self.run(cmd, "initdb")
    }

    fn launch(&mut self) -> Result<(), String> {
        self.port = free_port()?;
        let sockets = self.root.join("sock");
        let log = self.root.join("server.log");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            sockets.display()
        );
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        self.run(cmd, "pg_ctl start").map_err(|e| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("{e}\nserver log:\n{}", tail.join("\n"))
        })
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.port != 0 {
            let mut cmd = self.command("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = cmd.status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Where `initdb`, `pg_ctl` and `postgres` are, all three in one directory.
fn server_bin_dir() -> Result<PathBuf, String> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os("MATIHNET_PG_BIN").map(PathBuf::from) {
        return if complete(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "MATIHNET_PG_BIN={} does not hold initdb, pg_ctl and postgres; point it at PostgreSQL's bin directory (e.g. /usr/lib/postgresql/15/bin) or unset it",
                dir.display()
            ))
        };
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
    candidates.into_iter().find(|d| complete(d)).ok_or_else(|| {
        "PostgreSQL server binaries not found: the tests need initdb, pg_ctl and postgres, and none of PATH or /usr/lib/postgresql/*/bin holds all three; install the server (`apt-get install -y postgresql` on Debian and Ubuntu), or set MATIHNET_PG_BIN to its bin directory".to_string()
    })
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// This process's effective uid: `/proc/self` belongs to it. `None` without `/proc`.
fn effective_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// The uid and gid of the OS user `postgres`, from `/etc/passwd`.
fn postgres_user() -> Result<(u32, u32), String> {
    let missing = "this process runs as root, and initdb refuses to: the server runs as the OS user `postgres`, which does not exist; create it (`useradd --system postgres`, or install the server with `apt-get install -y postgresql`, which creates it) or run the tests as another user".to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|_| missing.clone())?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres") && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or(missing)
}

/// A new empty directory under the temp dir, owned by the user the server runs as.
fn fresh_dir(run_as: Option<(u32, u32)>) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let root = std::env::temp_dir().join(format!(
        "matihnet-pg-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::SeqCst)
    ));
    // A directory of the same name is from an earlier run whose pid this one reuses.
    let _ = std::fs::remove_dir_all(&root);
    let sockets = root.join("sock");
    std::fs::create_dir_all(&sockets)
        .map_err(|e| format!("cannot create {}: {e}", sockets.display()))?;
    for dir in [&root, &sockets] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to the postgres user: {e}", dir.display()))?;
        }
    }
    Ok(root)
}

/// A loopback port nobody listens on at this moment.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}
