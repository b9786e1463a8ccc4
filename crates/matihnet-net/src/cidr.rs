//! IPv4 CIDR arithmetic the carving and the capacity checks are built on.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

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

/// Like [`smallest_prefix_for`], but the block keeps `needed` at or below `percent`% of its
/// usable addresses, so that growth has room before the range is full.
pub fn smallest_prefix_with_headroom(
    needed: u64,
    reserved: u64,
    percent: u64,
    min: u8,
) -> Option<u8> {
    (min..=32).rev().find(|p| {
        let usable = (1u64 << (32 - u32::from(*p))).saturating_sub(reserved);
        usable > 0 && needed.saturating_mul(100) <= usable.saturating_mul(percent)
    })
}

/// The block of prefix `prefix` that contains `net` (its supernet), or `net` itself.
pub fn widen(net: &Ipv4Net, prefix: u8) -> Option<Ipv4Net> {
    if prefix > net.prefix_len() {
        return None;
    }
    Ipv4Net::new(net.network(), prefix).ok().map(|n| n.trunc())
}

fn start(net: &Ipv4Net) -> u64 {
    u64::from(u32::from(net.network()))
}

fn end(net: &Ipv4Net) -> u64 {
    start(net) + size(net)
}

/// The lowest block of prefix length `prefix` inside `parent` that overlaps none of `taken`.
///
/// Blocks are aligned to their own size, as every CIDR block is. Each candidate that hits a taken
/// block jumps past it, so the work is bounded by the number of taken blocks, not by the number
/// of candidate positions.
pub fn first_fit(parent: &Ipv4Net, prefix: u8, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    if prefix < parent.prefix_len() || prefix > 32 {
        return None;
    }
    let step = 1u64 << (32 - u32::from(prefix));
    let mut at = start(parent);
    let limit = end(parent);
    while at + step <= limit {
        let candidate = Ipv4Net::new(Ipv4Addr::from(u32::try_from(at).ok()?), prefix).ok()?;
        match taken.iter().find(|t| overlaps(t, &candidate)) {
            None => return Some(candidate),
            Some(t) => at = end(t).max(at + 1).div_ceil(step) * step,
        }
    }
    None
}

/// Why a CIDR block could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not of the form `a.b.c.d/n` with octets 0-255 and a prefix 0-32.
    Malformed { text: String },
    /// An octet or the prefix has a leading zero: some tools read `010` as octal 8, so the
    /// spelling is ambiguous. `canonical` reads every number as decimal.
    LeadingZeros { text: String, canonical: Ipv4Net },
    /// Bits are set after the prefix; `block` is the block that address starts.
    HostBits { text: String, block: Ipv4Net },
}

impl std::fmt::Display for CidrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CidrError::Malformed { text } => write!(f, "`{text}` is not an IPv4 CIDR block"),
            CidrError::LeadingZeros { text, canonical } => write!(
                f,
                "`{text}` has leading zeros, which some tools read as octal; its decimal spelling is {canonical}"
            ),
            CidrError::HostBits { text, block } => write!(
                f,
                "`{text}` has host bits set: the block starting at {} is {block}",
                text.split('/').next().unwrap_or(text)
            ),
        }
    }
}

impl std::error::Error for CidrError {}

/// A decimal number without sign or spaces, and whether it was written with a leading zero.
fn number(s: &str, max: u32) -> Option<(u32, bool)> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    (n <= max).then_some((n, s.len() > 1 && s.starts_with('0')))
}

/// Parses `a.b.c.d/n` strictly: decimal octets without leading zeros, and no host bits, which
/// usually mean a typo in the address.
pub fn parse_cidr(s: &str) -> Result<Ipv4Net, CidrError> {
    let malformed = || CidrError::Malformed {
        text: s.to_string(),
    };
    let (addr, prefix) = s.split_once('/').ok_or_else(malformed)?;
    let (prefix, mut padded) = number(prefix, 32).ok_or_else(malformed)?;
    let mut octets = [0u8; 4];
    let mut parts = addr.split('.');
    for o in octets.iter_mut() {
        let (n, z) = parts
            .next()
            .and_then(|p| number(p, 255))
            .ok_or_else(malformed)?;
        *o = u8::try_from(n).map_err(|_| malformed())?;
        padded |= z;
    }
    if parts.next().is_some() {
        return Err(malformed());
    }
    let prefix = u8::try_from(prefix).map_err(|_| malformed())?;
    let net = Ipv4Net::new(Ipv4Addr::from(octets), prefix).map_err(|_| malformed())?;
    if padded {
        return Err(CidrError::LeadingZeros {
            text: s.to_string(),
            canonical: net,
        });
    }
    if net.addr() != net.network() {
        return Err(CidrError::HostBits {
            text: s.to_string(),
            block: net.trunc(),
        });
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
            .to_string()
            .contains("10.0.0.0/16"));
        assert!(parse_cidr("10.0.0/16").is_err());
        assert_eq!(parse_cidr("10.0.0.0/16").unwrap(), n("10.0.0.0/16"));
        assert_eq!(parse_cidr("0.0.0.0/0").unwrap(), n("0.0.0.0/0"));
        for bad in [
            "10.0.0.0/33",
            "256.0.0.0/8",
            "10.0.0.0",
            "10.0.0.0.0/8",
            "+10.0.0.0/8",
            " 10.0.0.0/8",
            "10.0.0.0/",
        ] {
            assert!(
                matches!(parse_cidr(bad), Err(CidrError::Malformed { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn issue9_item7_leading_zeros_are_refused_with_the_decimal_spelling() {
        for (text, canonical) in [
            ("010.000.0.0/16", "10.0.0.0/16"),
            ("10.0.0.00/24", "10.0.0.0/24"),
            ("10.0.0.0/016", "10.0.0.0/16"),
        ] {
            assert_eq!(
                parse_cidr(text),
                Err(CidrError::LeadingZeros {
                    text: text.to_string(),
                    canonical: n(canonical)
                })
            );
        }
    }

    #[test]
    fn first_fit_packs_and_skips_taken_blocks() {
        let parent = n("10.0.0.0/16");
        assert_eq!(first_fit(&parent, 18, &[]), Some(n("10.0.0.0/18")));
        let taken = [n("10.0.0.0/20"), n("10.0.64.0/24")];
        assert_eq!(first_fit(&parent, 18, &taken), Some(n("10.0.128.0/18")));
        assert_eq!(first_fit(&parent, 20, &taken), Some(n("10.0.16.0/20")));
        assert_eq!(first_fit(&parent, 15, &[]), None);
        assert_eq!(first_fit(&parent, 16, &taken), None);
        // A taken block larger than the candidates is skipped in one jump.
        assert_eq!(
            first_fit(&n("10.0.0.0/8"), 24, &[n("10.0.0.0/9")]),
            Some(n("10.128.0.0/24"))
        );
    }

    #[test]
    fn headroom_prefix() {
        // 1,271 needed: a /21 (2,043 usable) keeps it at 62%.
        assert_eq!(smallest_prefix_with_headroom(1_271, 5, 80, 8), Some(21));
        // 1,767 is 86% of a /21, so a /20.
        assert_eq!(smallest_prefix_with_headroom(1_767, 5, 80, 8), Some(20));
        assert_eq!(widen(&n("10.1.4.0/22"), 20), Some(n("10.1.0.0/20")));
        assert_eq!(widen(&n("10.1.4.0/22"), 23), None);
    }

    #[test]
    fn overlap() {
        assert!(overlaps(&n("10.0.0.0/16"), &n("10.0.3.0/24")));
        assert!(!overlaps(&n("10.0.0.0/16"), &n("10.1.0.0/16")));
    }
}
