//! Byte offsets to lines and columns in O(log n) per lookup, so a file with many diagnostics
//! (or one very long line) does not rescan the text for each of them.

use matihnet_core::Location;

/// Columns count characters; this many bytes separate the saved character counts.
const STRIDE: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    file: String,
    text: String,
    /// Built on the first lookup: a file without diagnostics never pays for it.
    tables: std::cell::OnceCell<Tables>,
}

#[derive(Debug, Clone)]
struct Tables {
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    /// Characters before byte `i * STRIDE`.
    chars_at: Vec<usize>,
}

#[cfg(test)]
thread_local! {
    /// Bytes scanned by lookups, so tests can bound the work without timing it.
    pub(crate) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// UTF-8 continuation bytes are the only ones that do not start a character.
fn starts_char(b: u8) -> bool {
    b & 0xC0 != 0x80
}

impl LineIndex {
    pub(crate) fn new(file: &str, text: &str) -> Self {
        LineIndex {
            file: file.to_string(),
            text: text.to_string(),
            tables: std::cell::OnceCell::new(),
        }
    }

    fn tables(&self) -> &Tables {
        self.tables.get_or_init(|| {
            let bytes = self.text.as_bytes();
            let mut line_starts = vec![0];
            line_starts.extend(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            let mut chars_at = Vec::with_capacity(bytes.len() / STRIDE + 2);
            let mut count = 0;
            for chunk in bytes.chunks(STRIDE) {
                chars_at.push(count);
                count += chunk.iter().filter(|b| starts_char(**b)).count();
            }
            chars_at.push(count);
            Tables {
                line_starts,
                chars_at,
            }
        })
    }

    /// Characters in `text[..offset]`.
    fn chars_before(&self, offset: usize) -> usize {
        let block = offset / STRIDE;
        let from = block * STRIDE;
        let tail = self.text.as_bytes().get(from..offset).unwrap_or(&[]);
        #[cfg(test)]
        SCANNED.with(|s| s.set(s.get() + tail.len()));
        self.tables().chars_at.get(block).copied().unwrap_or(0)
            + tail.iter().filter(|b| starts_char(**b)).count()
    }

    /// The same answer as [`Location::from_offset`], without scanning from the start.
    pub(crate) fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let starts = &self.tables().line_starts;
        let line = starts.partition_point(|s| *s <= offset);
        let start = starts[line.saturating_sub(1)];
        Location {
            file: self.file.clone(),
            line,
            column: self.chars_before(offset) - self.chars_before(start) + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_core_computation() {
        let long = "é".repeat(3000);
        let text = format!("a = 1\nbé = \"{long}x\"\n\n[t]\nk = 2");
        let index = LineIndex::new("f", &text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            assert_eq!(
                index.location(offset),
                Location::from_offset("f", &text, offset),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn issue9_item8_lookups_scan_at_most_two_strides() {
        let text = "x".repeat(2_000_000);
        let index = LineIndex::new("f", &text);
        SCANNED.with(|s| s.set(0));
        for offset in (0..text.len()).step_by(997) {
            index.location(offset);
        }
        let lookups = text.len().div_ceil(997);
        assert!(SCANNED.with(|s| s.get()) <= lookups * 2 * STRIDE);
    }
}
