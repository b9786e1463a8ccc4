//! The plan-time check of an existing zone's delegation: the name servers the world is sent to
//! for the zone (an NS query at a resolver) against the zone's own, with the servers to set at
//! the registrar when they differ.
//!
//! The query goes to `MATIHNET_DNS_RESOLVER` (`host:port`) when set; otherwise to the first
//! `nameserver` of `/etc/resolv.conf`, but only when the providers talk to the real clouds: a
//! run against emulators never sends a query off this machine.

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// How long one query may take: a plan is not held up by an unreachable resolver.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Where to ask, or `None` when this run must not ask anyone.
pub fn resolver(
    var: impl Fn(&str) -> Option<String>,
    emulated: bool,
) -> Result<Option<SocketAddr>, String> {
    if let Some(r) = var("MATIHNET_DNS_RESOLVER").filter(|r| !r.trim().is_empty()) {
        let with_port = if r.contains(':') {
            r.clone()
        } else {
            format!("{r}:53")
        };
        return with_port
            .to_socket_addrs()
            .map_err(|e| format!("MATIHNET_DNS_RESOLVER={r}: {e}"))?
            .next()
            .map(Some)
            .ok_or_else(|| format!("MATIHNET_DNS_RESOLVER={r} names no address"));
    }
    if emulated {
        return Ok(None);
    }
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    Ok(conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next())
}

/// The name servers `resolver` gives for `zone` (lowercase, without the root's dot).
pub fn name_servers(resolver: SocketAddr, zone: &str) -> Result<BTreeSet<String>, String> {
    let bind = if resolver.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let id: u16 = std::process::id() as u16 ^ 0x5a5a;
    socket
        .send_to(&query(id, zone), resolver)
        .map_err(|e| format!("asking {resolver}: {e}"))?;
    let mut buf = [0u8; 4096];
    let (n, _) = socket
        .recv_from(&mut buf)
        .map_err(|e| format!("no answer from {resolver}: {e}"))?;
    parse_ns_answer(&buf[..n], id)
}

fn query(id: u16, zone: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + zone.len());
    q.extend_from_slice(&id.to_be_bytes());
    // Recursion desired; one question.
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in zone.trim_end_matches('.').split('.') {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    // QTYPE NS, QCLASS IN.
    q.extend_from_slice(&[0, 2, 0, 1]);
    q
}

/// Reads a (possibly compressed) name at `at`; returns it and the offset after it in place.
fn read_name(msg: &[u8], mut at: usize) -> Result<(String, usize), String> {
    let mut labels = Vec::new();
    let mut end = None;
    // Bounded, so that a pointer loop in a hostile answer cannot spin forever.
    for _ in 0..128 {
        let len = *msg.get(at).ok_or("a name runs past the answer")? as usize;
        if len == 0 {
            return Ok((labels.join("."), end.unwrap_or(at + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let low = *msg
                .get(at + 1)
                .ok_or("a name pointer runs past the answer")? as usize;
            end.get_or_insert(at + 2);
            at = ((len & 0x3f) << 8) | low;
            continue;
        }
        let label = msg
            .get(at + 1..at + 1 + len)
            .ok_or("a label runs past the answer")?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += 1 + len;
    }
    Err("a name in the answer loops".into())
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, String> {
    msg.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| "the answer is cut short".to_string())
}

/// The NS names in the answer (or, from a server that answers with a referral, the authority)
/// section of a response to query `id`.
fn parse_ns_answer(msg: &[u8], id: u16) -> Result<BTreeSet<String>, String> {
    if u16_at(msg, 0)? != id {
        return Err("the answer is for another question".into());
    }
    let rcode = msg.get(3).ok_or("the answer is cut short")? & 0x0f;
    if rcode != 0 {
        return Err(format!("the resolver answered with error code {rcode}"));
    }
    let questions = u16_at(msg, 4)?;
    let records = u16_at(msg, 6)? as usize + u16_at(msg, 8)? as usize;
    let mut at = 12;
    for _ in 0..questions {
        at = read_name(msg, at)?.1 + 4;
    }
    let mut out = BTreeSet::new();
    for _ in 0..records {
        let (_, after) = read_name(msg, at)?;
        let kind = u16_at(msg, after)?;
        let len = u16_at(msg, after + 8)? as usize;
        let data = after + 10;
        if kind == 2 {
            out.insert(read_name(msg, data)?.0);
        }
        at = data + len;
    }
    Ok(out)
}

/// What a plan says about `zone` whose own name servers are `own`, as delegated now.
pub fn check(zone: &str, own: &[String], delegated: &BTreeSet<String>) -> Option<String> {
    let own_set: BTreeSet<String> = own
        .iter()
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    if own_set.is_empty() || *delegated == own_set {
        return None;
    }
    let now = if delegated.is_empty() {
        "no name servers".to_string()
    } else {
        delegated.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    Some(format!(
        "the registrar's delegation of {zone} points at {now}, not at the existing zone's name servers: set these NS records at the registrar: {}",
        own_set.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as a resolver sends it: the question echoed, NS records compressed against it.
    fn answer(id: u16, zone: &str, servers: &[&str]) -> Vec<u8> {
        let mut m = query(id, zone);
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = servers.len() as u8;
        for s in servers {
            m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 0]);
            let mut name = Vec::new();
            for l in s.trim_end_matches('.').split('.') {
                name.push(l.len() as u8);
                name.extend_from_slice(l.as_bytes());
            }
            name.push(0);
            m.extend_from_slice(&(name.len() as u16).to_be_bytes());
            m.extend_from_slice(&name);
        }
        m
    }

    #[test]
    fn an_ns_answer_is_read_and_compared() {
        let got = parse_ns_answer(
            &answer(
                7,
                "matih.ai",
                &["NS1.Registrar.example.", "ns2.registrar.example"],
            ),
            7,
        )
        .unwrap();
        assert_eq!(
            got.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ns1.registrar.example", "ns2.registrar.example"]
        );
        assert!(parse_ns_answer(&answer(7, "matih.ai", &[]), 8).is_err());
        let own = vec!["ns-1.zone.example.".to_string()];
        assert_eq!(
            check("matih.ai", &own, &got).unwrap(),
            "the registrar's delegation of matih.ai points at ns1.registrar.example, ns2.registrar.example, not at the existing zone's name servers: set these NS records at the registrar: ns-1.zone.example"
        );
        let right: BTreeSet<String> = ["ns-1.zone.example".to_string()].into();
        assert!(check("matih.ai", &own, &right).is_none());
    }

    #[test]
    fn a_hostile_answer_is_an_error_not_a_hang() {
        let mut m = answer(1, "a.b", &["x.y"]);
        // Point the answer's owner name at itself.
        let at = m.len() - 17;
        m[at] = 0xc0;
        m[at + 1] = at as u8;
        assert!(parse_ns_answer(&m, 1).is_err());
        assert!(parse_ns_answer(&m[..5], 1).is_err());
    }
}
