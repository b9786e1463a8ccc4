//! The writers' lock: a session-level advisory lock, which the server drops with the session
//! that holds it (a killed process, a lost network), plus a row in the locks table saying who
//! holds it. The row alone proves nothing: a holder counts only while its session, named by the
//! row's backend pid, still holds the advisory lock in `pg_locks`.

use matihnet_state::LockInfo;
use tokio_postgres::Client;

use crate::schema::Tables;

/// A stable 64-bit key (FNV-1a) for the advisory lock, so that every instance and every build
/// of matihnet derives the same key from the same schema and name.
pub(crate) fn key(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // The bits as they are: PostgreSQL's advisory keys are signed.
    hash as i64
}

/// How `pg_locks` shows an advisory lock taken with one bigint key: the high half in `classid`,
/// the low half in `objid`, and `objsubid` 1.
fn halves(key: i64) -> (i64, i64) {
    let bits = key as u64;
    ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64)
}

/// The SQL condition "the session of row `l` holds the advisory lock `$2`/`$3`".
fn held_by_row(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_catalog.pg_locks p \
         WHERE p.locktype = 'advisory' AND p.granted AND p.pid = {alias}.backend_pid \
         AND p.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) \
         AND p.classid::bigint = $2 AND p.objid::bigint = $3 AND p.objsubid = 1)"
    )
}

/// The locks row for `name`: its holder (if the JSON parses) and whether that holder's session
/// is alive and holding the lock.
pub(crate) async fn row(
    client: &Client,
    tables: &Tables,
    name: &str,
    key: i64,
) -> Result<Option<(Option<LockInfo>, bool)>, tokio_postgres::Error> {
    let (high, low) = halves(key);
    let row = client
        .query_opt(
            &format!(
                "SELECT l.info::text, {} FROM {} l WHERE l.name = $1",
                held_by_row("l"),
                tables.locks
            ),
            &[&name, &high, &low],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let info = row
        .try_get::<_, String>(0)
        .ok()
        .and_then(|text| serde_json::from_str::<LockInfo>(&text).ok());
    let alive = row.try_get::<_, bool>(1)?;
    Ok(Some((info, alive)))
}

/// The holder whose session holds the lock now; a row left by a session that ended is no
/// holder.
pub(crate) async fn live_holder(
    client: &Client,
    tables: &Tables,
    name: &str,
    key: i64,
) -> Result<Option<LockInfo>, tokio_postgres::Error> {
    Ok(match row(client, tables, name, key).await? {
        Some((info, true)) => info,
        _ => None,
    })
}

/// Records `info` as the holder, from the session that holds the lock, so that the row names
/// that session's pid.
pub(crate) async fn record(
    client: &Client,
    tables: &Tables,
    name: &str,
    info: &LockInfo,
) -> Result<(), tokio_postgres::Error> {
    // LockInfo is plain strings and numbers: serializing it cannot fail.
    let json = serde_json::to_string(info).unwrap_or_default();
    client
        .execute(
            &format!(
                "INSERT INTO {} (name, info, backend_pid, locked_at) \
                 VALUES ($1, ($2::text)::jsonb, pg_backend_pid(), now()) \
                 ON CONFLICT (name) DO UPDATE \
                 SET info = EXCLUDED.info, backend_pid = EXCLUDED.backend_pid, locked_at = EXCLUDED.locked_at",
                tables.locks
            ),
            &[&name, &json],
        )
        .await?;
    Ok(())
}

/// Deletes the row of the holder `id`, only if its session no longer holds the lock: a live
/// holder is never robbed, even by one that raced this call. True when a row went.
pub(crate) async fn remove_dead(
    client: &Client,
    tables: &Tables,
    name: &str,
    key: i64,
    id: &str,
) -> Result<bool, tokio_postgres::Error> {
    let (high, low) = halves(key);
    let removed = client
        .execute(
            &format!(
                "DELETE FROM {} l WHERE l.name = $1 AND l.info->>'id' = $4 AND NOT {}",
                tables.locks,
                held_by_row("l")
            ),
            &[&name, &high, &low, &id],
        )
        .await?;
    Ok(removed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_fnv1a_and_stable() {
        // FNV-1a's published test vectors.
        assert_eq!(key("") as u64, 0xcbf2_9ce4_8422_2325);
        assert_eq!(key("a") as u64, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(key("matihnet/prod"), key("matihnet/prod"));
        assert_ne!(key("matihnet/prod"), key("matihnet/staging"));
    }

    #[test]
    fn halves_match_pg_locks() {
        assert_eq!(halves(-1), (0xffff_ffff, 0xffff_ffff));
        assert_eq!(halves(0x1234_5678_9abc_def0), (0x1234_5678, 0x9abc_def0));
    }
}
