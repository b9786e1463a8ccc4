//! Everything users read: plans, drift, state, diagnostics with the offending source line, and
//! the colour rules (only on a terminal, never with NO_COLOR or --no-color).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use matihnet_core::{Attrs, Diagnostic, Severity, Value};
use matihnet_engine::{Action, Plan, ResourceChange};
use matihnet_state::State;

#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub colour: bool,
    /// Human text goes to stderr: stdout carries JSON for a machine.
    pub to_stderr: bool,
}

impl Terminal {
    pub fn new(no_color_flag: bool) -> Terminal {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Terminal {
            colour: !no_color_flag && !no_color_env && std::io::stdout().is_terminal(),
            to_stderr: false,
        }
    }

    /// The terminal for human text while stdout is kept for JSON.
    pub fn diverted(self) -> Terminal {
        Terminal {
            colour: false,
            to_stderr: true,
        }
    }

    /// Writes to stdout; a closed pipe (`matihnet plan | head`) ends the program quietly.
    pub fn out(&self, text: &str) {
        if self.to_stderr {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(text.as_bytes());
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }

    pub fn line(&self, text: &str) {
        self.out(&format!("{text}\n"));
    }

    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }

    pub fn diagnostic(&self, d: &Diagnostic, source: Option<&str>) {
        self.err(&render_diagnostic(
            d,
            source,
            self.colour && std::io::stderr().is_terminal(),
        ));
    }
}

pub fn paint(colour: bool, code: &str, text: &str) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

const GREEN: &str = "32";
const YELLOW: &str = "33";
const RED: &str = "31";
const CYAN: &str = "36";
const BOLD: &str = "1";

/// `error: file:line:col: field: message`, the source line with a caret, then the hint.
pub fn render_diagnostic(d: &Diagnostic, source: Option<&str>, colour: bool) -> String {
    let label = match d.severity {
        Severity::Error => paint(colour, "1;31", "error"),
        Severity::Warning => paint(colour, "1;33", "warning"),
    };
    let mut out = format!("{label}: ");
    if let Some(loc) = &d.location {
        let _ = write!(out, "{loc}: ");
    }
    if let Some(field) = &d.field {
        let _ = write!(out, "{field}: ");
    }
    out.push_str(&d.message);
    if let (Some(loc), Some(text)) = (&d.location, source) {
        if let Some(line) = text.lines().nth(loc.line.saturating_sub(1)) {
            let num = loc.line.to_string();
            let pad = " ".repeat(num.len());
            let _ = write!(
                out,
                "\n{pad} |\n{num} | {line}\n{pad} | {}^",
                " ".repeat(loc.column.saturating_sub(1))
            );
        }
    }
    if let Some(hint) = &d.hint {
        let _ = write!(out, "\n  {}: {hint}", paint(colour, BOLD, "hint"));
    }
    out
}

pub fn elapsed(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

fn show(value: &Value, sensitive: bool) -> String {
    if sensitive {
        "(sensitive value)".to_string()
    } else {
        value.to_string()
    }
}

const UNKNOWN: &str = "(known after apply)";

fn symbol(c: &ResourceChange) -> &'static str {
    match c.action {
        Action::NoOp if c.importing.is_some() => "<=",
        Action::NoOp => " ",
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::Read => "<=",
        Action::Forget => ".",
    }
}

fn symbol_colour(action: Action) -> &'static str {
    match action {
        Action::Create => GREEN,
        Action::Update => YELLOW,
        Action::NoOp | Action::Read | Action::Forget => CYAN,
        Action::Replace | Action::Delete => RED,
    }
}

/// Whether a change is shown in a plan: anything but a no-op, and a no-op that imports or moves.
fn shown_in_plan(c: &ResourceChange) -> bool {
    c.action != Action::NoOp || c.importing.is_some() || c.moved_from.is_some()
}

fn headline(c: &ResourceChange) -> String {
    let what = match c.action {
        Action::NoOp if c.importing.is_some() => "will be imported",
        Action::NoOp if c.moved_from.is_some() => "has moved; the object stays as it is",
        Action::NoOp => "is unchanged",
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::Read => "will be read: an existing object, used and never changed or deleted",
        Action::Forget => {
            "will no longer be managed: an existing object, used not owned, it stays in the cloud"
        }
    };
    let mut s = format!("  # {}", c.address);
    if let Some(from) = &c.moved_from {
        let _ = write!(s, " (moved from {from})");
    }
    let _ = write!(s, " {what}");
    if let Some(id) = &c.importing {
        if c.action == Action::NoOp {
            let _ = write!(s, " from {id}");
        } else {
            let _ = write!(s, " (after its import from {id})");
        }
    }
    if let Some(reason) = &c.replace_reason {
        let _ = write!(s, " ({reason})");
    }
    s
}

/// One row of a resource block: marker, name, rendering of the value(s).
struct Row {
    marker: &'static str,
    name: String,
    text: String,
}

fn rows_for(c: &ResourceChange) -> (Vec<Row>, usize) {
    let sensitive: BTreeSet<&String> = c.sensitive.iter().collect();
    let empty = Attrs::new();
    let before = c.before.as_deref().unwrap_or(&empty);
    let unknown: BTreeSet<&String> = c.after_unknown.iter().collect();
    let mut rows = Vec::new();
    let mut hidden = 0;
    match c.action {
        Action::Create => {
            let names: BTreeSet<&String> = c.after.keys().chain(&c.after_unknown).collect();
            for n in names {
                let text = match c.after.get(n) {
                    Some(v) if !unknown.contains(n) => show(v, sensitive.contains(n)),
                    _ => UNKNOWN.to_string(),
                };
                rows.push(Row {
                    marker: "+",
                    name: n.clone(),
                    text,
                });
            }
        }
        Action::NoOp if c.moved_from.is_some() && c.importing.is_none() => {
            for (n, v) in before {
                if n == "id" || n == "name" {
                    rows.push(Row {
                        marker: " ",
                        name: n.clone(),
                        text: show(v, sensitive.contains(n)),
                    });
                } else {
                    hidden += 1;
                }
            }
        }
        // What is taken over or used is shown as it is, unchanged.
        Action::NoOp | Action::Read | Action::Forget
            if c.importing.is_some() || c.action != Action::NoOp =>
        {
            for (n, v) in before {
                rows.push(Row {
                    marker: " ",
                    name: n.clone(),
                    text: show(v, sensitive.contains(n)),
                });
            }
        }
        Action::Delete | Action::NoOp | Action::Read | Action::Forget => {
            for (n, v) in before {
                rows.push(Row {
                    marker: "-",
                    name: n.clone(),
                    text: show(v, sensitive.contains(n)),
                });
            }
        }
        Action::Update | Action::Replace => {
            let names: BTreeSet<&String> = before
                .keys()
                .chain(c.after.keys())
                .chain(&c.after_unknown)
                .collect();
            for n in names {
                let s = sensitive.contains(n);
                let old = before.get(n);
                let new = if unknown.contains(n) {
                    None
                } else {
                    c.after.get(n)
                };
                let forces = c.replace_because.contains(n);
                let suffix = if forces { " # forces replacement" } else { "" };
                match (old, new) {
                    (Some(o), Some(nv)) if o == nv => {
                        if n == "id" || n == "name" {
                            rows.push(Row {
                                marker: " ",
                                name: n.clone(),
                                text: show(o, s),
                            });
                        } else {
                            hidden += 1;
                        }
                    }
                    (Some(o), Some(nv)) => rows.push(Row {
                        marker: "~",
                        name: n.clone(),
                        text: format!("{} -> {}{suffix}", show(o, s), show(nv, s)),
                    }),
                    (Some(o), None) if unknown.contains(n) => rows.push(Row {
                        marker: "~",
                        name: n.clone(),
                        text: format!("{} -> {UNKNOWN}{suffix}", show(o, s)),
                    }),
                    (Some(_), None) => {
                        // Set by the cloud, not configured: kept as it is.
                        hidden += 1;
                    }
                    (None, Some(nv)) => rows.push(Row {
                        marker: "+",
                        name: n.clone(),
                        text: format!("{}{suffix}", show(nv, s)),
                    }),
                    (None, None) => rows.push(Row {
                        marker: "+",
                        name: n.clone(),
                        text: UNKNOWN.to_string(),
                    }),
                }
            }
        }
    }
    (rows, hidden)
}

fn resource_block(out: &mut String, c: &ResourceChange, colour: bool) {
    let sym = symbol(c);
    let _ = writeln!(out, "{}", paint(colour, BOLD, &headline(c)));
    let _ = writeln!(
        out,
        "{}{} resource \"{}\" \"{}\" {{",
        " ".repeat(3usize.saturating_sub(sym.len())),
        paint(colour, symbol_colour(c.action), sym),
        c.address.kind,
        c.address.name
    );
    let (rows, hidden) = rows_for(c);
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in rows {
        let marker = match r.marker {
            "+" => paint(colour, GREEN, "+"),
            "~" => paint(colour, YELLOW, "~"),
            "-" => paint(colour, RED, "-"),
            other => other.to_string(),
        };
        let _ = writeln!(out, "      {marker} {:width$} = {}", r.name, r.text);
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "        # ({hidden} unchanged attribute{} hidden)",
            if hidden == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, "    }}");
}

pub fn render_drift(plan: &Plan, colour: bool) -> String {
    let mut out = String::new();
    if plan.drift.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        paint(
            colour,
            BOLD,
            "Note: Objects have changed outside of matihnet"
        )
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "matihnet read these changes made outside of it since the last apply:"
    );
    for d in &plan.drift {
        let _ = writeln!(out);
        if d.deleted {
            let _ = writeln!(out, "  # {} has been deleted", d.address);
            continue;
        }
        let _ = writeln!(out, "  # {} has changed", d.address);
        let width = d.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in &d.attributes {
            let show_opt = |v: &Option<Value>| {
                v.as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "null".into())
            };
            let _ = writeln!(
                out,
                "      {} {:width$} = {} -> {}",
                paint(colour, YELLOW, "~"),
                a.name,
                show_opt(&a.recorded),
                show_opt(&a.actual)
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "─────────────────────────────────────────────────────────────────────────────"
    );
    let _ = writeln!(out);
    out
}

/// The plan as Terraform users expect to read it.
pub fn render_plan(plan: &Plan, colour: bool) -> String {
    let mut out = render_drift(plan, colour);
    if !plan.has_changes() {
        if plan.drift.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                paint(colour, "1;32", "No changes.")
                    + " Your infrastructure matches the configuration."
            );
        } else {
            let _ = writeln!(
                out,
                "{} Your configuration already matches the changed infrastructure.",
                paint(colour, "1;32", "No changes.")
            );
        }
        return out;
    }
    let _ = writeln!(out, "matihnet will perform the following actions:");
    for c in plan.changes.iter().filter(|c| shown_in_plan(c)) {
        let _ = writeln!(out);
        resource_block(&mut out, c, colour);
    }
    let s = plan.summary();
    let _ = writeln!(out);
    // As Terraform words it: imports first, the rarer counts only when there are any.
    let mut line = String::new();
    if s.import > 0 {
        let _ = write!(line, "{} to import, ", s.import);
    }
    let _ = write!(
        line,
        "{} to add, {} to change, {} to destroy",
        s.add, s.change, s.destroy
    );
    for (n, what) in [
        (s.moved, "to move"),
        (s.read, "to read"),
        (s.forget, "to forget"),
    ] {
        if n > 0 {
            let _ = write!(line, ", {n} {what}");
        }
    }
    let _ = writeln!(out, "{} {line}.", paint(colour, BOLD, "Plan:"));
    let unknown_outputs: Vec<&str> = plan.outputs.iter().map(|o| o.name.as_str()).collect();
    if !unknown_outputs.is_empty() && s.add > 0 {
        let _ = writeln!(out);
        let _ = writeln!(out, "Outputs after apply: {}", unknown_outputs.join(", "));
    }
    out
}

pub fn render_attrs(attrs: &Attrs, indent: &str) -> String {
    let width = attrs.keys().map(|k| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in attrs {
        let _ = writeln!(out, "{indent}{k:width$} = {v}");
    }
    out
}

pub fn render_state(state: &State) -> String {
    let mut out = String::new();
    if state.resources.is_empty() {
        out.push_str("The state is empty: nothing has been applied yet.\n");
        return out;
    }
    for (addr, r) in &state.resources {
        let mut flags = Vec::new();
        if r.tainted {
            flags.push("tainted");
        }
        if r.protect {
            flags.push("protected");
        }
        if r.existing {
            flags.push("existing: used, not owned");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" ({})", flags.join(", "))
        };
        let _ = writeln!(out, "# {addr}{flags}:");
        let _ = writeln!(out, "resource \"{}\" \"{}\" {{", addr.kind, addr.name);
        out.push_str(&render_attrs(&r.attributes, "    "));
        let _ = writeln!(out, "}}\n");
    }
    if !state.outputs.is_empty() {
        let _ = writeln!(out, "Outputs:\n");
        for (k, o) in &state.outputs {
            let v = if o.sensitive {
                "(sensitive value)".to_string()
            } else {
                o.value.to_string()
            };
            let _ = writeln!(out, "{k} = {v}");
        }
    }
    out
}
