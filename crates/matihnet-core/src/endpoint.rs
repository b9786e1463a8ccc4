//! The one rule for whether an endpoint URL names this machine: used to pick test credentials
//! for emulators and to make sure `--local-cloud` never reaches anything else.
//!
//! A substring test is not enough (`http://127.0.0.1.example.com` is a remote host, `http://[::1]`
//! is local), so the host is cut out of the URL's authority and compared as an address.

use std::net::IpAddr;

/// The host part of `url`'s authority (`scheme://[userinfo@]host[:port]/...`), without the
/// brackets of an IPv6 literal. `None` when the text is not an absolute URL with a host.
pub fn host(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Userinfo may itself contain ':' and '@' before the last '@'.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        inside
    } else {
        match host_port.split_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            Some(_) => return None,
            None => host_port,
        }
    };
    (!host.is_empty()).then_some(host)
}

/// Whether `url` points at this machine: a loopback address (127.0.0.0/8, ::1, or an IPv4-mapped
/// loopback) or the name `localhost`. Anything that does not parse is not loopback.
pub fn is_loopback(url: &str) -> bool {
    let Some(host) = host(url) else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue9_item2_loopback_is_decided_by_the_parsed_host() {
        for local in [
            "http://127.0.0.1:8480",
            "http://127.0.0.1",
            "http://127.1.2.3:9/x",
            "https://localhost:443/",
            "http://LOCALHOST",
            "http://[::1]:8480/",
            "http://[::1]",
            "http://[::ffff:127.0.0.1]:1",
            "http://user:pw@127.0.0.1:1/",
            "http://127.0.0.1:8480?x=1",
        ] {
            assert!(is_loopback(local), "{local} is this machine");
        }
        for remote in [
            "http://127.0.0.1.example.com",
            "http://127.0.0.1.example.com:8480/",
            "https://localhost.example.com",
            "https://management.azure.com",
            "http://example.com/?next=http://127.0.0.1",
            "http://example.com/127.0.0.1",
            "http://127.0.0.1@example.com/",
            "http://10.0.0.1:8480",
            "http://[::2]:1",
            "127.0.0.1:8480",
            "http://",
            "http://[::1",
            "http://127.0.0.1:80x",
            "",
        ] {
            assert!(!is_loopback(remote), "{remote} is not this machine");
        }
    }

    #[test]
    fn host_is_cut_from_the_authority() {
        assert_eq!(host("http://a.b:1/c"), Some("a.b"));
        assert_eq!(host("http://[::1]:1/c"), Some("::1"));
        assert_eq!(host("http://u@h"), Some("h"));
        assert_eq!(host("nourl"), None);
    }
}
