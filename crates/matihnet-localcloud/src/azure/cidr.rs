//! IPv4 address prefixes as the network resource provider validates them: parsing, the
//! `InvalidCIDRNotation` host-bits check, containment and overlap.

use std::net::Ipv4Addr;

/// An IPv4 prefix whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefix {
    network: u32,
    len: u8,
}

/// Why a prefix string was refused; the caller turns it into the ARM error code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PrefixError {
    /// Not `a.b.c.d/n` at all.
    Format,
    /// Host bits set: ARM names the prefix it expected.
    HostBits { expected: String },
}

impl Prefix {
    pub(crate) fn parse(text: &str) -> Result<Prefix, PrefixError> {
        let (addr, len) = text.split_once('/').ok_or(PrefixError::Format)?;
        let addr: Ipv4Addr = addr.trim().parse().map_err(|_| PrefixError::Format)?;
        let len: u8 = len.trim().parse().map_err(|_| PrefixError::Format)?;
        if len > 32 {
            return Err(PrefixError::Format);
        }
        let raw = u32::from(addr);
        let network = raw & mask(len);
        if network != raw {
            return Err(PrefixError::HostBits {
                expected: format!("{}/{}", Ipv4Addr::from(network), len),
            });
        }
        Ok(Prefix { network, len })
    }

    fn last(self) -> u32 {
        self.network | !mask(self.len)
    }

    pub(crate) fn contains(self, other: Prefix) -> bool {
        other.len >= self.len && other.network & mask(self.len) == self.network
    }

    pub(crate) fn overlaps(self, other: Prefix) -> bool {
        self.network <= other.last() && other.network <= self.last()
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

    #[test]
    fn parses_contains_and_overlaps() {
        let vnet = Prefix::parse("10.0.0.0/16").unwrap();
        let a = Prefix::parse("10.0.1.0/24").unwrap();
        let b = Prefix::parse("10.0.0.0/23").unwrap();
        let c = Prefix::parse("10.1.0.0/24").unwrap();
        assert!(vnet.contains(a));
        assert!(!vnet.contains(c));
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c));
        assert_eq!(
            Prefix::parse("10.0.0.1/24"),
            Err(PrefixError::HostBits {
                expected: "10.0.0.0/24".into()
            })
        );
        assert_eq!(Prefix::parse("10.0.0.0"), Err(PrefixError::Format));
        assert_eq!(Prefix::parse("10.0.0.0/33"), Err(PrefixError::Format));
        assert!(Prefix::parse("0.0.0.0/0").unwrap().contains(a));
    }
}
