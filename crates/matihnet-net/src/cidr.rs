//! IPv4 CIDR arithmetic the carving and the capacity checks are built on.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Ranges no cluster range may overlap, and why.
pub const WELL_KNOWN: [(&str, &str); 2] = [
    ("172.17.0.0/16", "Docker's default bridge network"),
    ("34.118.224.0/20", "GKE's default services range"),
];

pub fn well_known() -> Vec<(Ipv4Net, &'static str)> {
    WELL_KNOWN
        .iter()
        .filter_map(|(c, why)| c.parse().ok().map(|n| (n, *why)))
        .collect()
}

/// Number of addresses in a range.
pub fn size(net: &Ipv4Net) -> u64 {
    1u64 << (32 - u32::from(net.prefix_len()))
}

/// Addresses left once the cloud has taken its `reserved` share.
pub fn usable(net: &Ipv4Net, reserved: u64) -> u64 {
    size(net).saturating_sub(reserved)
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The `index`-th block of prefix length `prefix` inside `parent`, if it fits.
pub fn nth_subnet(parent: &Ipv4Net, prefix: u8, index: u64) -> Option<Ipv4Net> {
    if prefix < parent.prefix_len() || prefix > 32 {
        return None;
    }
    let count = 1u64 << (prefix - parent.prefix_len());
    if index >= count {
        return None;
    }
    let step = 1u64 << (32 - u32::from(prefix));
    let start = u64::from(u32::from(parent.network())) + index * step;
    let start = u32::try_from(start).ok()?;
    Ipv4Net::new(Ipv4Addr::from(start), prefix).ok()
}

/// The longest prefix (smallest block) whose usable addresses cover `needed`, no shorter than /`min`.
pub fn smallest_prefix_for(needed: u64, reserved: u64, min: u8) -> Option<u8> {
    (min..=32)
        .rev()
        .find(|p| (1u64 << (32 - u32::from(*p))).saturating_sub(reserved) >= needed)
}

/// Parses `a.b.c.d/n` and refuses host bits, which usually mean a typo in the address.
pub fn parse_cidr(s: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| format!("`{s}` is not an IPv4 CIDR block"))?;
    if net.addr() != net.network() {
        return Err(format!(
            "`{s}` has host bits set: the block starting at {} is {}",
            net.addr(),
            net.trunc()
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn sizes_and_reservations() {
        assert_eq!(size(&n("10.0.0.0/24")), 256);
        assert_eq!(usable(&n("10.0.0.0/24"), 5), 251);
        assert_eq!(usable(&n("10.0.0.0/23"), 5), 507);
        assert_eq!(usable(&n("10.0.0.0/30"), 5), 0);
    }

    #[test]
    fn nth_blocks() {
        assert_eq!(
            nth_subnet(&n("10.0.0.0/16"), 19, 1),
            Some(n("10.0.32.0/19"))
        );
        assert_eq!(nth_subnet(&n("10.0.0.0/16"), 18, 4), None);
        assert_eq!(nth_subnet(&n("10.0.0.0/16"), 15, 0), None);
    }

    #[test]
    fn smallest_prefix() {
        assert_eq!(smallest_prefix_for(341, 5, 8), Some(23));
        assert_eq!(smallest_prefix_for(1581, 5, 8), Some(21));
        assert_eq!(smallest_prefix_for(251, 5, 8), Some(24));
        assert_eq!(smallest_prefix_for(252, 5, 8), Some(23));
    }

    #[test]
    fn host_bits_refused() {
        assert!(parse_cidr("10.0.0.1/16")
            .unwrap_err()
            .contains("10.0.0.0/16"));
        assert!(parse_cidr("10.0.0/16").is_err());
        assert_eq!(parse_cidr("10.0.0.0/16").unwrap(), n("10.0.0.0/16"));
    }

    #[test]
    fn overlap() {
        assert!(overlaps(&n("10.0.0.0/16"), &n("10.0.3.0/24")));
        assert!(!overlaps(&n("10.0.0.0/16"), &n("10.1.0.0/16")));
    }
}
