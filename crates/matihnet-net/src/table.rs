//! The address plan as a text table, for `matihnet addresses`.

use crate::carve::AddressPlan;

/// `1581` as `1,581`.
pub(crate) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Columns: range, purpose, size, usable, needed at max scale, headroom.
pub fn render_address_table(plan: &AddressPlan) -> String {
    let header = [
        "RANGE",
        "PURPOSE",
        "SIZE",
        "USABLE",
        "NEEDED AT MAX",
        "HEADROOM",
    ];
    let mut rows: Vec<[String; 6]> = Vec::new();
    for r in &plan.ranges {
        let mut purpose = r.purpose.as_str().to_string();
        if let Some(name) = &r.subnet {
            purpose = format!("{purpose} (subnet {name})");
        } else if let Some((parent, range)) = &r.secondary_of {
            purpose = format!("{purpose} (secondary range {range} of {parent})");
        }
        let (needed, headroom) = match (r.needed, r.headroom()) {
            (Some(n), Some(h)) => {
                let pct = if r.usable() == 0 {
                    100
                } else {
                    n * 100 / r.usable()
                };
                let h = if h < 0 {
                    format!("-{} (too small)", group(h.unsigned_abs()))
                } else {
                    group(h.unsigned_abs())
                };
                (format!("{} ({pct}%)", group(n)), h)
            }
            _ => ("-".to_string(), "-".to_string()),
        };
        rows.push([
            r.cidr.to_string(),
            purpose,
            group(r.size()),
            group(r.usable()),
            needed,
            headroom,
        ]);
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Text columns align left, numbers right.
            if i < 2 {
                l.push_str(&format!("{cell:<w$}  "));
            } else {
                l.push_str(&format!("{cell:>w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}
