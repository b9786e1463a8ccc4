//! `[state]`: which backend keeps the state (local file, S3, PostgreSQL) and its settings, each
//! field checked against the backend it belongs to.

use super::*;

const BACKENDS: &[&str] = &["local", "s3", "postgres"];

/// Which keys each backend reads; any other key of `[state]` is an error naming its backend.
fn owner(key: &str) -> Option<&'static str> {
    match key {
        "path" => Some("local"),
        "bucket" | "key" | "region" | "endpoint" | "lock_ttl" => Some("s3"),
        "conn_str" | "schema" | "name" => Some("postgres"),
        _ => None,
    }
}

/// `Err` when `[state]` is present but wrong (already reported).
pub(super) fn read_state(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    environment: Option<&str>,
) -> Result<StateSection, ()> {
    let Some((t, at)) = r.section(root, "state") else {
        return if root.contains_key("state") {
            Err(())
        } else {
            Ok(StateSection::default())
        };
    };
    r.check_keys(t, "state", STATE_KEYS);
    let mut ok = true;
    let backend = match r.opt_str(t, "state", "backend") {
        None => "local".to_string(),
        Some(b) if BACKENDS.contains(&b.as_str()) => b,
        Some(b) => {
            let off = r.spans.get("state.backend").map_or(at, |s| s.start);
            let hint = match spelling::closest(&b, BACKENDS) {
                Some(c) => format!("did you mean \"{c}\"?"),
                None => "write \"local\" (the default), \"s3\" or \"postgres\"".to_string(),
            };
            r.error(
                off,
                "state.backend",
                format!("unknown state backend \"{}\"", shown(&b)),
                hint,
            );
            return Err(());
        }
    };
    for (k, v) in t.iter() {
        let key: &str = k.get_ref();
        let Some(belongs) = owner(key) else { continue };
        if belongs != backend {
            r.error(
                v.span().start,
                &format!("state.{key}"),
                format!("`{key}` is a setting of backend = \"{belongs}\", but [state] backend is \"{backend}\""),
                format!("remove `{key}`, or set backend = \"{belongs}\""),
            );
            ok = false;
        }
    }
    let path = r.opt_str(t, "state", "path");
    let section = match backend.as_str() {
        "s3" => read_s3(r, t, at, environment).map(StateBackend::S3),
        "postgres" => read_postgres(r, t, at, environment).map(StateBackend::Postgres),
        _ => Some(StateBackend::Local),
    };
    match section {
        Some(backend) if ok => Ok(StateSection { path, backend }),
        _ => Err(()),
    }
}

fn read_s3(
    r: &mut Reader<'_>,
    t: &DeTable<'_>,
    at: usize,
    environment: Option<&str>,
) -> Option<S3State> {
    let bucket = r.req_str(
        t,
        at,
        "state",
        "bucket",
        "add bucket = \"...\" (an existing S3 bucket the team's runners can read and write)",
    );
    let bucket = bucket.filter(|b| {
        let problem = bucket_problem(b);
        if let Some(problem) = &problem {
            let off = r.spans.get("state.bucket").map_or(at, |s| s.start);
            r.error(
                off,
                "state.bucket",
                format!("`{}` is not an S3 bucket name: {problem}", shown(b)),
                "write the bucket's name only (no s3:// and no key), such as \"matih-state\""
                    .into(),
            );
        }
        problem.is_none()
    });
    let key = match r.opt_str(t, "state", "key") {
        Some(k) if k.is_empty() || k.starts_with('/') || k.ends_with('/') => {
            let off = r.spans.get("state.key").map_or(at, |s| s.start);
            r.error(
                off,
                "state.key",
                format!("`{}` is not an object key for a state", shown(&k)),
                "write a key such as \"prod/matihnet.state.json\" (no leading or trailing /)"
                    .into(),
            );
            None
        }
        Some(k) => Some(k),
        None => Some(format!(
            "{}/matihnet.state.json",
            environment.unwrap_or("matihnet")
        )),
    };
    let region = r.opt_str(t, "state", "region");
    let endpoint = r.opt_str(t, "state", "endpoint");
    let lock_ttl_secs = match r.opt_str(t, "state", "lock_ttl") {
        None => Some(DEFAULT_S3_LOCK_TTL_SECS),
        Some(text) => match parse_seconds(&text) {
            Some(secs) if (2..=86_400).contains(&secs) => Some(secs),
            _ => {
                let off = r.spans.get("state.lock_ttl").map_or(at, |s| s.start);
                r.error(
                    off,
                    "state.lock_ttl",
                    format!("`{}` is not a lock TTL between 2s and 24h", shown(&text)),
                    format!(
                        "write a duration such as \"{DEFAULT_S3_LOCK_TTL_SECS}s\" or \"5m\" (a lock whose heartbeat is older is stale)"
                    ),
                );
                None
            }
        },
    };
    Some(S3State {
        bucket: bucket?,
        key: key?,
        region,
        endpoint,
        lock_ttl_secs: lock_ttl_secs?,
    })
}

fn read_postgres(
    r: &mut Reader<'_>,
    t: &DeTable<'_>,
    at: usize,
    environment: Option<&str>,
) -> Option<PostgresState> {
    let conn_str = r.req_str(
        t,
        at,
        "state",
        "conn_str",
        "add conn_str = \"${MATIHNET_PG_CONN}\" and set MATIHNET_PG_CONN to a connection string such as postgres://matihnet@db.internal/matihnet",
    );
    let conn_str = conn_str.filter(|c| {
        let empty = c.trim().is_empty();
        if empty {
            let off = r.spans.get("state.conn_str").map_or(at, |s| s.start);
            r.error(
                off,
                "state.conn_str",
                "the connection string is empty".into(),
                "set the variable it names, or write a connection string such as postgres://matihnet@db.internal/matihnet".into(),
            );
        }
        !empty
    });
    let schema = r
        .opt_str(t, "state", "schema")
        .unwrap_or_else(|| "matihnet".to_string());
    let valid_schema = schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_schema {
        let off = r.spans.get("state.schema").map_or(at, |s| s.start);
        r.error(
            off,
            "state.schema",
            format!("`{}` is not a schema name matihnet uses", shown(&schema)),
            "write lowercase letters, digits and _ (at most 63, not starting with a digit), such as \"matihnet\"".into(),
        );
    }
    let name = r
        .opt_str(t, "state", "name")
        .or_else(|| environment.map(str::to_string));
    let name = match name {
        Some(n) if !n.is_empty() => Some(n),
        _ => {
            r.missing(
                at,
                "state",
                "name",
                "add name = \"prod\" (the row the state is kept in)",
            );
            None
        }
    };
    Some(PostgresState {
        conn_str: conn_str?,
        schema: valid_schema.then_some(schema)?,
        name: name?,
    })
}

/// Why `b` cannot be a bucket name (S3's general-purpose bucket rules), if it cannot.
fn bucket_problem(b: &str) -> Option<String> {
    if !(3..=63).contains(&b.len()) {
        return Some(format!(
            "it is {} characters long; names are 3 to 63",
            b.len()
        ));
    }
    if let Some(c) = b
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Some(format!(
            "`{c}` is not allowed; names use lowercase letters, digits, . and -"
        ));
    }
    let ends = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !b.starts_with(ends) || !b.ends_with(ends) {
        return Some("names begin and end with a letter or a digit".into());
    }
    None
}

/// `90`, `90s`, `5m`, `1h` as seconds.
fn parse_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Reads only `[state]` of a file (a source for `state migrate`), naming rows after
/// `environment` unless the section names one.
pub(crate) fn parse_state_only(
    file_name: &str,
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    environment: &str,
) -> Result<StateSection, Vec<Diagnostic>> {
    let mut r = Reader {
        text,
        lines: LineIndex::new(file_name, text),
        vars,
        diags: Vec::new(),
        spans: BTreeMap::new(),
    };
    let (root, syntax) = DeTable::parse_recoverable(text);
    if let Some(e) = syntax.into_iter().next() {
        let offset = e.span().map_or(0, |s| s.start);
        return Err(vec![Diagnostic::error(format!(
            "TOML syntax error: {}",
            e.message().trim()
        ))
        .at(r.loc(offset))
        .hint("fix the TOML syntax at this position")]);
    }
    let root = root.get_ref();
    if !root.contains_key("state") {
        return Err(vec![Diagnostic::error(format!(
            "{file_name} has no [state] section to migrate from"
        ))
        .hint("name a file whose [state] section says where the state is now")]);
    }
    let section = read_state(&mut r, root, Some(environment));
    match section {
        Ok(s) if !r.diags.iter().any(Diagnostic::is_error) => Ok(s),
        _ => {
            sort(&mut r.diags);
            Err(r.diags)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_bucket_names() {
        assert_eq!(parse_seconds("90"), Some(90));
        assert_eq!(parse_seconds("5m"), Some(300));
        assert_eq!(parse_seconds("1h"), Some(3600));
        assert_eq!(parse_seconds("5 minutes"), None);
        assert_eq!(parse_seconds("m"), None);
        assert!(bucket_problem("matih-state").is_none());
        assert!(bucket_problem("s3://matih-state").is_some());
        assert!(bucket_problem("ab").is_some());
        assert!(bucket_problem("Matih").is_some());
        assert!(bucket_problem("-matih").is_some());
    }
}
