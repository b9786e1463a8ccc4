//! IPv4 prefixes (`10.0.0.0/16`) as the emulated clouds validate them: strict parsing that names
//! the prefix a host-bits mistake meant, containment, overlap and the addresses inside a range.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 prefix whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: u32,
    len: u8,
}

/// Why a prefix string was refused; each cloud words the error its own way.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CidrError {
    /// Not `a.b.c.d/n` at all.
    Format,
    /// Host bits set: both clouds name (or could name) the prefix that was meant.
    HostBits { expected: Cidr },
}

impl Cidr {
    /// Parses `a.b.c.d/n` exactly as written.
    pub(crate) fn parse(text: &str) -> Result<Cidr, CidrError> {
        let (addr, len) = text.split_once('/').ok_or(CidrError::Format)?;
        Cidr::from_parts(addr, len)
    }

    /// Parses `a.b.c.d/n`, tolerating blanks around either part, as ARM does.
    pub(crate) fn parse_padded(text: &str) -> Result<Cidr, CidrError> {
        let (addr, len) = text.split_once('/').ok_or(CidrError::Format)?;
        Cidr::from_parts(addr.trim(), len.trim())
    }

    fn from_parts(addr: &str, len: &str) -> Result<Cidr, CidrError> {
        let addr: Ipv4Addr = addr.parse().map_err(|_| CidrError::Format)?;
        let len: u8 = len.parse().map_err(|_| CidrError::Format)?;
        if len > 32 {
            return Err(CidrError::Format);
        }
        let raw = u32::from(addr);
        let base = raw & mask(len);
        if base != raw {
            return Err(CidrError::HostBits {
                expected: Cidr { base, len },
            });
        }
        Ok(Cidr { base, len })
    }

    /// The prefix length, `n` of `a.b.c.d/n`.
    pub(crate) fn prefix_len(self) -> u8 {
        self.len
    }

    fn last(self) -> u32 {
        self.base | !mask(self.len)
    }

    pub(crate) fn contains(self, other: Cidr) -> bool {
        other.len >= self.len && other.base & mask(self.len) == self.base
    }

    pub(crate) fn overlaps(self, other: Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    /// The `n`-th address of the range (the gateway is the first usable one, `n = 1`).
    pub(crate) fn host(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(n))
    }

    /// How many addresses the range holds.
    pub(crate) fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.len))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.len)
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    #[test]
    fn parses_strictly_and_names_the_intended_prefix() {
        assert!(Cidr::parse("10.0.0.0/24").is_ok());
        assert_eq!(
            Cidr::parse("10.0.0.1/24"),
            Err(CidrError::HostBits {
                expected: cidr("10.0.0.0/24")
            })
        );
        assert_eq!(
            Cidr::parse("10.0.16.1/24").map_err(|e| match e {
                CidrError::HostBits { expected } => expected.to_string(),
                CidrError::Format => String::new(),
            }),
            Err("10.0.16.0/24".to_string())
        );
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::Format));
        assert_eq!(Cidr::parse("10.0.0.0"), Err(CidrError::Format));
        assert_eq!(Cidr::parse("nonsense/8"), Err(CidrError::Format));
        assert_eq!(Cidr::parse(" 10.0.0.0/24"), Err(CidrError::Format));
        assert_eq!(
            Cidr::parse_padded(" 10.0.0.0 / 24 "),
            Ok(cidr("10.0.0.0/24"))
        );
    }

    #[test]
    fn containment_overlap_and_hosts() {
        let vnet = cidr("10.0.0.0/16");
        let a = cidr("10.0.1.0/24");
        let b = cidr("10.0.0.0/23");
        let c = cidr("10.1.0.0/24");
        let edge = cidr("10.0.255.0/24");
        assert!(vnet.contains(a) && vnet.contains(edge) && !a.contains(vnet));
        assert!(!vnet.contains(c));
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c) && !vnet.overlaps(c));
        assert!(cidr("0.0.0.0/0").contains(a));
        assert_eq!(vnet.host(1).to_string(), "10.0.0.1");
        assert_eq!(a.size(), 256);
        assert_eq!(b.prefix_len(), 23);
        assert_eq!(edge.to_string(), "10.0.255.0/24");
    }
}
