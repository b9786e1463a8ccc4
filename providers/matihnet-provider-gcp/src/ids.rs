//! What a GCP id names, from its format alone: Compute self links (or their
//! `projects/…` paths) by their collection segment, record sets by `<zone>/<name>./<type>`, and
//! managed zones by their bare resource name; so an import of another kind's id is refused
//! before any call.

use matihnet_core::ownership;
use matihnet_core::{ErrorKind, ProviderError};

/// A Compute object's place: `(project, region, collection, name)`, the region `None` for a
/// global object.
pub(crate) fn compute_path(id: &str) -> Option<(&str, Option<&str>, &str, &str)> {
    let at = if id.starts_with("projects/") {
        0
    } else {
        id.find("/projects/")? + 1
    };
    let parts: Vec<&str> = id[at..].split('/').collect();
    match parts.as_slice() {
        ["projects", project, "global", collection, name] => {
            Some((project, None, collection, name))
        }
        ["projects", project, "regions" | "zones", region, collection, name] => {
            Some((project, Some(region), collection, name))
        }
        _ => None,
    }
}

/// `(managed zone, fully qualified name, type)` of a record set id as the provider records it.
pub(crate) fn record_id(id: &str) -> Option<(&str, &str, &str)> {
    let (rest, kind) = id.rsplit_once('/')?;
    let (zone, name) = rest.split_once('/')?;
    let typed = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_uppercase());
    (is_resource_name(zone) && name.ends_with('.') && typed).then_some((zone, name, kind))
}

/// A GCP resource name (a managed zone's id): a lower-case letter, then letters, digits and
/// hyphens.
pub(crate) fn is_resource_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// What `id` names, worded for `ownership::wrong_kind`; `None` for no format of this provider's
/// ids (a domain name, say).
pub(crate) fn id_names(id: &str) -> Option<&'static str> {
    if let Some((_, _, collection, _)) = compute_path(id) {
        return Some(match collection {
            "networks" => "a network",
            "subnetworks" => "a subnetwork (`subnet`)",
            "addresses" => "an address (`frontend`)",
            _ => "a Compute Engine object of a kind matihnet does not import",
        });
    }
    if record_id(id).is_some() {
        return Some("a record set (`dns_record`)");
    }
    if is_resource_name(id) {
        return Some("a bare resource name, as a managed zone's (`dns_zone`) id is");
    }
    None
}

/// `(region, name)` of a Compute object of `collection` in `project`, from its self link;
/// otherwise the refusal: another kind's id, another project, or no id GCP gives.
pub(crate) fn expect_compute<'a>(
    kind: &str,
    id: &'a str,
    project: &str,
    collection: &str,
) -> Result<(Option<&'a str>, &'a str), ProviderError> {
    match compute_path(id) {
        Some((p, region, c, name)) if c == collection => {
            if p != project {
                return Err(ProviderError::new(
                    ErrorKind::Rejected,
                    format!("`{id}` is in project {p}; this environment manages project {project}"),
                ));
            }
            Ok((region, name))
        }
        _ => Err(refusal(
            kind,
            id,
            &format!("self links (`…/projects/<project>/…/{collection}/<name>`)"),
        )),
    }
}

/// The refusal of an id that is not of `kind`'s format (`expected`).
pub(crate) fn refusal(kind: &str, id: &str, expected: &str) -> ProviderError {
    match id_names(id) {
        Some(found) => ownership::wrong_kind(kind, id, found),
        None => ProviderError::new(
            ErrorKind::Rejected,
            format!("`{id}` is not the id of a `{kind}`: GCP gives those as {expected}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_say_what_they_name() {
        let net = "https://compute.googleapis.com/compute/v1/projects/p/global/networks/n";
        assert_eq!(compute_path(net), Some(("p", None, "networks", "n")));
        assert_eq!(
            compute_path("projects/p/regions/r/subnetworks/s"),
            Some(("p", Some("r"), "subnetworks", "s"))
        );
        assert_eq!(id_names(net), Some("a network"));
        assert_eq!(
            record_id("matih-prod-platform/acme.matih.ai./NS"),
            Some(("matih-prod-platform", "acme.matih.ai.", "NS"))
        );
        assert!(id_names("matih-prod-platform").is_some());
        assert_eq!(id_names("matih.ai"), None);
        let e = expect_compute("subnet", net, "p", "subnetworks").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(
            e.message.contains("is a network, not a `subnet`"),
            "{}",
            e.message
        );
        assert!(expect_compute("network", net, "q", "networks").is_err());
    }
}
