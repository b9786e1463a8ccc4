//! Reaching the server: the connection string parsed once and described without its password,
//! and every way a connection or a query fails turned into a [`StateError`] that names the
//! setting to change.

use std::error::Error as _;
use std::time::Duration;

use matihnet_state::StateError;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

/// How long a connection attempt waits for a host when the connection string sets no
/// `connect_timeout`: a server that is not there fails the command in seconds, not minutes.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The startup and authentication exchange after the TCP connection, which `connect_timeout`
/// does not cover: a server that accepts and then never answers must not hang the command.
const HANDSHAKE_ALLOWANCE: Duration = Duration::from_secs(20);

const CONN_STR_HINT: &str = "write [state] conn_str as key=value pairs (host=db.example.com port=5432 user=matihnet dbname=matihnet) or as a URL (postgres://matihnet@db.example.com:5432/matihnet)";

/// The parsed connection string and what messages call the server.
pub(crate) struct Target {
    config: Config,
    /// `user@host:port/db`, never the password.
    endpoint: String,
    /// `host:port`, for "cannot reach" messages.
    address: String,
    user: String,
    dbname: String,
    /// `postgres://user@host:port/db schema S name N`: the location every error names.
    location: String,
}

impl Target {
    /// `fallback_location` names the state in errors about the connection string itself, which
    /// has no parsed server to name yet.
    pub(crate) fn parse(
        conn_str: &str,
        schema: &str,
        name: &str,
        fallback_location: &str,
    ) -> Result<Target, StateError> {
        let unavailable = |message: String, hint: &str| StateError::Unavailable {
            location: fallback_location.to_string(),
            message,
            hint: hint.to_string(),
        };
        if conn_str.trim().is_empty() {
            return Err(unavailable(
                "[state] conn_str is empty".into(),
                CONN_STR_HINT,
            ));
        }
        let mut config: Config = match conn_str.parse() {
            Ok(c) => c,
            // The modes that verify certificates are TLS too; tokio-postgres does not parse
            // them, and "invalid value" would hide that the real gap is TLS.
            Err(_) if conn_str.contains("sslmode=verify") => return Err(no_tls(fallback_location)),
            Err(e) => {
                // The cause names the option, never its value: the password stays out.
                let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
                return Err(unavailable(
                    format!("[state] conn_str is not a PostgreSQL connection string{cause}"),
                    CONN_STR_HINT,
                ));
            }
        };
        match config.get_ssl_mode() {
            SslMode::Disable | SslMode::Prefer => {}
            _ => return Err(no_tls(fallback_location)),
        }
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(unavailable(
                "[state] conn_str names no host".into(),
                "add host=... (a name, an address, or the directory of the server's Unix socket) to [state] conn_str",
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("matihnet");
        }
        let user = match config.get_user() {
            Some(u) => u.to_string(),
            None => os_user().unwrap_or_else(|| "unknown".to_string()),
        };
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        let address = addresses(&config);
        let endpoint = format!("{user}@{address}/{dbname}");
        let location = format!("postgres://{endpoint} schema {schema} name {name}");
        Ok(Target {
            config,
            endpoint,
            address,
            user,
            dbname,
            location,
        })
    }

    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// A new session; its connection task runs until the returned client is dropped, and then
    /// the server ends the session (and drops every advisory lock it held).
    pub(crate) async fn connect(&self) -> Result<Client, StateError> {
        let hosts = self
            .config
            .get_hosts()
            .len()
            .max(self.config.get_hostaddrs().len())
            .max(1);
        let per_host = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let limit = per_host * hosts as u32 + HANDSHAKE_ALLOWANCE;
        let (client, connection) =
            match tokio::time::timeout(limit, self.config.connect(NoTls)).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => return Err(self.connect_error(&e)),
                Err(_) => {
                    return Err(self.unavailable(
                        format!(
                            "PostgreSQL at {} did not finish the connection handshake within {}s",
                            self.address,
                            limit.as_secs()
                        ),
                        "is PostgreSQL running and reachable from here? Check host and port in [state] conn_str".into(),
                    ))
                }
            };
        // The error, if any, surfaces as a closed client on the next query.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    fn unavailable(&self, message: String, hint: String) -> StateError {
        StateError::Unavailable {
            location: self.location.clone(),
            message,
            hint,
        }
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> StateError {
        let credentials_hint = "check the user and password in [state] conn_str".to_string();
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            return if *code == SqlState::INVALID_PASSWORD {
                self.unavailable(
                    format!(
                        "PostgreSQL at {} refused the password of user \"{}\"",
                        self.address, self.user
                    ),
                    credentials_hint,
                )
            } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
                self.unavailable(
                    format!(
                        "PostgreSQL at {} refused user \"{}\": {}",
                        self.address,
                        self.user,
                        db.message()
                    ),
                    format!("{credentials_hint}, and that the server's pg_hba.conf admits that user from this host"),
                )
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                self.unavailable(
                    format!(
                        "database \"{}\" does not exist on PostgreSQL at {}",
                        self.dbname, self.address
                    ),
                    format!(
                        "create it (`createdb {}` or CREATE DATABASE), or fix dbname in [state] conn_str",
                        self.dbname
                    ),
                )
            } else {
                self.unavailable(
                    format!(
                        "PostgreSQL at {} refused the connection: {} ({})",
                        self.address,
                        db.message(),
                        code.code()
                    ),
                    "run the command again once the server accepts connections; check [state] conn_str".into(),
                )
            };
        }
        let cause = e.source().map(|s| s.to_string()).unwrap_or_default();
        if e.source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some()
        {
            return self.unavailable(
                format!("cannot reach PostgreSQL at {}: {cause}", self.address),
                "is PostgreSQL running and reachable from here? Check host and port in [state] conn_str".into(),
            );
        }
        // tokio-postgres types neither of these beyond its message; both mean the credentials.
        if cause == "password missing" {
            return self.unavailable(
                format!(
                    "PostgreSQL at {} asks user \"{}\" for a password, and [state] conn_str gives none",
                    self.address, self.user
                ),
                format!("{credentials_hint} (password=...)"),
            );
        }
        if e.to_string() == "authentication error" {
            return self.unavailable(
                format!(
                    "authentication of user \"{}\" at {} failed: {cause}",
                    self.user, self.address
                ),
                credentials_hint,
            );
        }
        self.unavailable(
            format!(
                "cannot connect to PostgreSQL at {}: {}",
                self.address,
                chain(e)
            ),
            "check [state] conn_str".into(),
        )
    }

    /// A query that failed on an open session: a lost connection, missing privileges, or
    /// tables someone altered.
    pub(crate) fn query_error(&self, what: &str, e: &tokio_postgres::Error) -> StateError {
        if e.is_closed()
            || e.source()
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .is_some()
        {
            return self.unavailable(
                format!(
                    "lost the connection to PostgreSQL at {} while trying to {what}",
                    self.address
                ),
                "is PostgreSQL running and reachable from here? Run the command again".into(),
            );
        }
        if let Some(db) = e.as_db_error() {
            if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE {
                return self.unavailable(
                    format!("cannot {what}: {}", db.message()),
                    format!(
                        "grant user \"{}\" CREATE on database \"{}\" (or create the schema for it), and USAGE on the schema and SELECT, INSERT, UPDATE, DELETE on its tables",
                        self.user, self.dbname
                    ),
                );
            }
            return self.unavailable(
                format!("cannot {what}: {} ({})", db.message(), db.code().code()),
                format!(
                    "the tables in PostgreSQL {} are not as matihnet made them; check [state] schema",
                    self.endpoint
                ),
            );
        }
        self.unavailable(
            format!("cannot {what}: {}", chain(e)),
            "run the command again; check [state] conn_str and schema".into(),
        )
    }
}

/// The OS user tokio-postgres logs in as when the connection string names none: its account
/// name, which `$USER` usually holds and `/etc/passwd` always does.
fn os_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if let Some(user) = ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| !u.is_empty())
    {
        return Some(user);
    }
    // `/proc/self` belongs to this process's effective user.
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    })
}

fn no_tls(location: &str) -> StateError {
    StateError::Unavailable {
        location: location.to_string(),
        message: "[state] conn_str asks for TLS (sslmode), which this build of matihnet does not have built in yet".into(),
        hint: "set sslmode=disable or sslmode=prefer in [state] conn_str and reach the server over a trusted network or an SSH tunnel".into(),
    }
}

/// `host:port`, every host when there are several; a Unix socket directory stands for its host.
fn addresses(config: &Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| {
        ports
            .get(i)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432)
    };
    let hosts: Vec<String> = if config.get_hosts().is_empty() {
        config
            .get_hostaddrs()
            .iter()
            .map(|a| a.to_string())
            .collect()
    } else {
        config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect()
    };
    hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.contains(':') && !h.starts_with('/') {
                format!("[{h}]:{}", port(i))
            } else {
                format!("{h}:{}", port(i))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The error with its causes, which tokio-postgres's own message leaves out.
fn chain(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable(conn_str: &str) -> (String, String) {
        match Target::parse(conn_str, "matihnet", "prod", "postgres state prod") {
            Err(StateError::Unavailable { message, hint, .. }) => (message, hint),
            Err(other) => panic!("expected Unavailable, got {other}"),
            Ok(_) => panic!("{conn_str:?} parsed"),
        }
    }

    #[test]
    fn describes_without_the_password() {
        let t = Target::parse(
            "host=db.example.com port=6432 user=ci password=secret dbname=infra",
            "matihnet",
            "prod",
            "-",
        )
        .unwrap();
        assert_eq!(
            t.location(),
            "postgres://ci@db.example.com:6432/infra schema matihnet name prod"
        );
        let url =
            Target::parse("postgres://ci:secret@db.example.com/infra", "s", "n", "-").unwrap();
        assert_eq!(
            url.location(),
            "postgres://ci@db.example.com:5432/infra schema s name n"
        );
    }

    #[test]
    fn a_bad_conn_str_names_the_setting_in_one_line() {
        for bad in [
            "host=a port=notaport",
            "host='unterminated",
            "frobnicate=1",
            "",
        ] {
            let (message, hint) = unavailable(bad);
            assert!(message.contains("[state] conn_str"), "{bad:?}: {message}");
            assert!(!message.contains('\n'), "{message}");
            assert!(hint.contains("conn_str"), "{hint}");
        }
        let (message, _) = unavailable("user=x password=secret");
        assert!(message.contains("names no host"), "{message}");
    }

    #[test]
    fn tls_is_refused_clearly() {
        for tls in [
            "host=a sslmode=require",
            "host=a sslmode=verify-full",
            "postgres://a/b?sslmode=require",
        ] {
            let (message, hint) = unavailable(tls);
            assert!(message.contains("TLS"), "{message}");
            assert!(message.contains("[state] conn_str"), "{message}");
            assert!(hint.contains("sslmode=disable"), "{hint}");
        }
        Target::parse("host=a sslmode=prefer", "s", "n", "-").unwrap();
        Target::parse("host=a sslmode=disable", "s", "n", "-").unwrap();
    }
}

/// Whether every host `conn_str` names is this machine (a Unix socket, `localhost` or a
/// loopback address): `--local-cloud` allows only such a database. A string that does not parse
/// is not known to be local.
pub fn is_on_this_machine(conn_str: &str) -> bool {
    use tokio_postgres::config::Host;
    let Ok(config) = conn_str.parse::<tokio_postgres::Config>() else {
        return false;
    };
    let hosts_local = config.get_hosts().iter().all(|h| match h {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    });
    let addrs_local = config.get_hostaddrs().iter().all(|ip| ip.is_loopback());
    let any = !config.get_hosts().is_empty() || !config.get_hostaddrs().is_empty();
    any && hosts_local && addrs_local
}

#[cfg(test)]
mod locality {
    #[test]
    fn only_loopback_and_sockets_are_this_machine() {
        use super::is_on_this_machine as local;
        assert!(local("host=127.0.0.1 port=5432 user=u"));
        assert!(local("postgres://u@localhost/db"));
        assert!(local("host=/var/run/postgresql user=u"));
        assert!(!local("host=db.internal user=u"));
        assert!(!local("host=127.0.0.1,db.internal user=u"));
        assert!(!local("not a conn str ==="));
    }
}
