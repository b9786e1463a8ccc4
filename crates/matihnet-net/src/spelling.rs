//! Edit distance, to suggest the key or name a user probably meant.

/// Words longer than this get no suggestion: no key or choice is that long, and comparing a huge
/// value against every candidate would cost its length times theirs.
const MAX_WORD: usize = 64;

#[cfg(test)]
thread_local! {
    /// Distance-table cells computed, so tests can bound the work without timing it.
    pub(crate) static CELLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Levenshtein distance between two strings, by characters.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        #[cfg(test)]
        CELLS.with(|c| c.set(c.get() + b.len()));
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.len() > MAX_WORD {
        return None;
    }
    let len = word.chars().count();
    candidates
        .iter()
        .filter_map(|c| {
            let limit = 3.max(c.len() / 3);
            // The distance is at least the difference in length: skip what cannot be close.
            if len.abs_diff(c.chars().count()) > limit {
                return None;
            }
            let d = distance(word, c);
            (d <= limit && d < c.len()).then_some((d, *c))
        })
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(closest("cdir", &["cidr", "cni", "protect"]), Some("cidr"));
        assert_eq!(closest("zzzzzzzz", &["cidr", "cni"]), None);
    }

    #[test]
    fn issue9_item8_suggestions_for_huge_words_cost_nothing() {
        let huge = "a".repeat(2_000_000);
        CELLS.with(|c| c.set(0));
        assert_eq!(
            closest(&huge, &["cidr", "service_cidr", "node_prefix"]),
            None
        );
        assert_eq!(
            closest(&huge[..60], &["cidr", "service_cidr", "node_prefix"]),
            None
        );
        assert_eq!(CELLS.with(|c| c.get()), 0, "length alone rules these out");
        assert_eq!(
            closest("servce_cidr", &["cidr", "service_cidr"]),
            Some("service_cidr")
        );
        assert!(CELLS.with(|c| c.get()) <= 11 * 12 + 11 * 4);
    }
}
