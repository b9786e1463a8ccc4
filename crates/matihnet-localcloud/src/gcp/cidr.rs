//! IPv4 CIDR ranges: parsing in GCP's strict form, overlap, and the address space GCP accepts for
//! subnetwork ranges.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`; host bits must be zero, as GCP rejects `10.0.0.1/24`.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        let cidr = Cidr {
            base: u32::from(addr),
            prefix,
        };
        (cidr.base & !cidr.mask() == 0).then_some(cidr)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn last(self) -> u32 {
        self.base | !self.mask()
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    pub fn contains(self, other: Cidr) -> bool {
        self.prefix <= other.prefix && other.base & self.mask() == self.base
    }

    /// The `n`-th address of the range (the gateway is the first usable one, `n = 1`).
    pub fn host(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(n))
    }

    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// The ranges GCP documents as valid for IPv4 subnet ranges without privately used public IPs:
/// RFC 1918, shared address space, IETF protocol assignments, the documentation ranges,
/// benchmarking, and the former class E. The emulator does not model privately used public
/// ranges, so a public range is refused: in matihnet's model it is always a mistake.
const ALLOWED: [&str; 10] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
];

pub fn in_allowed_space(range: Cidr) -> bool {
    ALLOWED
        .iter()
        .filter_map(|a| Cidr::parse(a))
        .any(|a| a.contains(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strictly() {
        assert!(Cidr::parse("10.0.0.0/24").is_some());
        assert!(Cidr::parse("10.0.0.1/24").is_none());
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0").is_none());
        assert!(Cidr::parse("nonsense/8").is_none());
    }

    #[test]
    fn overlap_and_containment() {
        let a = Cidr::parse("10.0.0.0/16").unwrap();
        let b = Cidr::parse("10.0.255.0/24").unwrap();
        let c = Cidr::parse("10.1.0.0/24").unwrap();
        assert!(a.overlaps(b) && b.overlaps(a) && a.contains(b) && !b.contains(a));
        assert!(!a.overlaps(c));
        assert_eq!(a.host(1).to_string(), "10.0.0.1");
    }

    #[test]
    fn allowed_space() {
        assert!(in_allowed_space(Cidr::parse("10.128.0.0/20").unwrap()));
        assert!(in_allowed_space(Cidr::parse("100.64.0.0/14").unwrap()));
        assert!(!in_allowed_space(Cidr::parse("8.8.8.0/24").unwrap()));
        assert!(!in_allowed_space(Cidr::parse("0.0.0.0/0").unwrap()));
    }
}
