//! The public addresses the emulators hand out: derived from the object's identity, so the
//! address an object gets does not depend on the order in which parallel creates arrived, and a
//! test (or a user's rehearsal) sees the same addresses on every run.

use std::net::Ipv4Addr;

/// A block of public addresses a cloud hands out from.
pub(crate) struct Pool {
    pub first: Ipv4Addr,
    pub size: u32,
}

/// The address for `key` (a resource id or self link): a hash of it into `pool`, then the next
/// free one, skipping addresses ending in .0 or .255, when another object holds it.
pub(crate) fn pick(pool: &Pool, key: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = u32::from(pool.first);
    let size = pool.size.max(1);
    let start = (fnv1a(key) % u64::from(size)) as u32;
    let mut candidate = String::new();
    for step in 0..size {
        let ip = Ipv4Addr::from(base.wrapping_add((start + step) % size));
        let last = ip.octets()[3];
        if last == 0 || last == 255 {
            continue;
        }
        candidate = ip.to_string();
        if !taken(&candidate) {
            break;
        }
    }
    candidate
}

/// FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: Pool = Pool {
        first: Ipv4Addr::new(34, 0, 0, 0),
        size: 1 << 24,
    };

    #[test]
    fn the_same_key_gets_the_same_address_and_a_taken_one_moves_on() {
        let a = pick(&POOL, "projects/p/regions/r/addresses/a", |_| false);
        assert_eq!(
            a,
            pick(&POOL, "projects/p/regions/r/addresses/a", |_| false)
        );
        assert!(a.starts_with("34."), "{a}");
        let b = pick(&POOL, "projects/p/regions/r/addresses/a", |ip| ip == a);
        assert_ne!(a, b);
        assert!(b.starts_with("34."), "{b}");
    }

    #[test]
    fn never_ends_in_0_or_255() {
        let tiny = Pool {
            first: Ipv4Addr::new(20, 40, 0, 254),
            size: 3,
        };
        // 20.40.0.254, 20.40.0.255, 20.40.1.0: only the first is usable.
        for key in ["a", "b", "c", "d"] {
            assert_eq!(pick(&tiny, key, |_| false), "20.40.0.254");
        }
    }
}
