//! `[[import]]` and `[[moved]]`: objects made outside this state that it takes over, and
//! addresses renamed in the file whose objects it keeps.

use matihnet_core::Address;

use super::*;

const IMPORT_KEYS: &[&str] = &["to", "id"];
const MOVED_KEYS: &[&str] = &["from", "to"];

/// An address field (`dns_zone.platform`); `None` when missing or malformed (reported).
fn address(
    r: &mut Reader<'_>,
    t: &DeTable<'_>,
    at: usize,
    path: &str,
    key: &str,
    example: &str,
) -> Option<Address> {
    let s = r.req_str(t, at, path, key, &format!("add {key} = \"{example}\" (`matihnet state list` and `matihnet plan` show the addresses)"))?;
    let field = join(path, key);
    match s.parse::<Address>() {
        Ok(a) => Some(a),
        Err(_) => {
            let off = r.spans.get(&field).map_or(at, |s| s.start);
            r.error(
                off,
                &field,
                format!("`{s}` is not a resource address"),
                format!("write it as kind.name, such as \"{example}\""),
            );
            None
        }
    }
}

pub(super) fn read_imports(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Vec<ImportEntry>> {
    let mut out: Vec<ImportEntry> = Vec::new();
    let mut ok = true;
    for (i, (t, at)) in r.tables(root, "", "import").into_iter().enumerate() {
        let p = format!("import[{i}]");
        r.check_keys(t, &p, IMPORT_KEYS);
        let to = address(r, t, at, &p, "to", "dns_zone.platform");
        let id = r.req_str(t, at, &p, "id", "add id = \"...\": the object's id in the cloud (a VPC id, an ARM resource id, a GCP self link; a zone's domain also works)");
        let id = id.filter(|id| {
            let empty = id.trim().is_empty();
            if empty {
                let off = r.spans.get(&format!("{p}.id")).map_or(at, |s| s.start);
                r.error(
                    off,
                    &format!("{p}.id"),
                    "the import id is empty".into(),
                    "give the object's id in the cloud".into(),
                );
            }
            !empty
        });
        match (to, id) {
            (Some(to), Some(id)) => {
                if let Some(first) = out.iter().position(|e| e.to == to) {
                    let off = r.spans.get(&format!("{p}.to")).map_or(at, |s| s.start);
                    r.error(
                        off,
                        &format!("{p}.to"),
                        format!("{to} is imported twice (first in import[{first}])"),
                        "remove one of the two [[import]] entries".into(),
                    );
                    ok = false;
                } else {
                    out.push(ImportEntry { to, id });
                }
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

pub(super) fn read_moves(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Vec<MoveEntry>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, (t, at)) in r.tables(root, "", "moved").into_iter().enumerate() {
        let p = format!("moved[{i}]");
        r.check_keys(t, &p, MOVED_KEYS);
        let from = address(r, t, at, &p, "from", "dns_zone.acme");
        let to = address(r, t, at, &p, "to", "dns_zone.acme_corp");
        match (from, to) {
            (Some(from), Some(to)) => out.push(MoveEntry { from, to }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}
