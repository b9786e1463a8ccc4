//! The per-file tally every replay of reference traffic keeps: exchanges replayed, matched and
//! excepted (each with its reason), and the differences that fail the test. Shared by the GCP
//! and Azure replays (included with `#[path]`), so their closing tables read the same.
#![allow(dead_code)]

use std::fmt::Write as _;

/// One recording or example file's outcome.
#[derive(Debug, Default)]
pub struct FileReport {
    pub file: String,
    /// Exchanges sent to the emulator.
    pub replayed: usize,
    /// Replayed exchanges whose status and compared fields all agreed.
    pub matched: usize,
    /// Exchanges left out on purpose: (which, why).
    pub excepted: Vec<(String, String)>,
    /// Response fields not compared in this file's replayed exchanges: (field, why).
    pub unchecked_fields: Vec<(String, String)>,
    /// What differed; any entry fails the test.
    pub problems: Vec<String>,
}

impl FileReport {
    pub fn new(file: &str) -> FileReport {
        FileReport {
            file: file.to_string(),
            ..FileReport::default()
        }
    }

    pub fn except(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.excepted.push((what.into(), why.into()));
    }

    pub fn unchecked(&mut self, field: impl Into<String>, why: impl Into<String>) {
        self.unchecked_fields.push((field.into(), why.into()));
    }

    /// Records one replayed exchange with the differences found in it.
    pub fn exchange(&mut self, label: &str, differences: Vec<String>) {
        self.replayed += 1;
        if differences.is_empty() {
            self.matched += 1;
        }
        self.problems
            .extend(differences.into_iter().map(|d| format!("{label}: {d}")));
    }
}

/// The table the closing note quotes, then every exception with its reason.
pub fn table(title: &str, reports: &[FileReport]) -> String {
    let mut out = format!("{title}\n");
    let _ = writeln!(
        out,
        "{:<58} {:>8} {:>8} {:>8} {:>9}",
        "file", "replayed", "matched", "excepted", "unchecked"
    );
    let (mut r, mut m, mut e, mut u) = (0, 0, 0, 0);
    for rep in reports {
        let _ = writeln!(
            out,
            "{:<58} {:>8} {:>8} {:>8} {:>9}",
            rep.file,
            rep.replayed,
            rep.matched,
            rep.excepted.len(),
            rep.unchecked_fields.len()
        );
        r += rep.replayed;
        m += rep.matched;
        e += rep.excepted.len();
        u += rep.unchecked_fields.len();
    }
    let _ = writeln!(out, "{:<58} {:>8} {:>8} {:>8} {:>9}", "total", r, m, e, u);
    for rep in reports {
        for (what, why) in &rep.excepted {
            let _ = writeln!(out, "EXCEPTED {}: {what}: {why}", rep.file);
        }
        for (field, why) in &rep.unchecked_fields {
            let _ = writeln!(out, "UNCHECKED {}: {field}: {why}", rep.file);
        }
    }
    out
}

/// Fails with every problem of every file, after the table is printed.
pub fn assert_clean(title: &str, reports: &[FileReport]) {
    println!("{}", table(title, reports));
    let problems: Vec<&String> = reports.iter().flat_map(|r| &r.problems).collect();
    assert!(
        problems.is_empty(),
        "{} differences from the reference traffic:\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
