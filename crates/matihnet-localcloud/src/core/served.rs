//! Counts the requests the local cloud served, by cloud and API operation (`aws ec2 CreateVpc`,
//! `azure PUT virtualNetworks/subnets`, `gcp POST networks`): what a benchmark divides by the
//! resources it made, and what `GET /_localcloud/requests` answers. Object names are left out
//! of the operation, so one kind of call is one count however many objects it names.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(crate) struct Served {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Served {
    pub fn record(&self, operation: String) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(operation).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

/// Every other segment from `start`: collections, not the names between them.
fn collections(segments: &[&str]) -> String {
    segments
        .iter()
        .step_by(2)
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

/// The operation of a REST request, or `None` for the admin API and unknown paths. AWS Query
/// requests (`POST /`) are named by their caller, which has read the form.
pub(crate) fn rest_operation(method: &str, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    match lower.first().map(String::as_str) {
        Some("subscriptions") => {
            let after = match lower.iter().position(|s| s == "providers") {
                Some(i) => i + 2,
                None => match lower.iter().position(|s| s == "resourcegroups") {
                    Some(i) if i + 2 < segments.len() => i + 2,
                    Some(i) => i,
                    None => 0,
                },
            };
            Some(format!(
                "azure {method} {}",
                collections(segments.get(after..).unwrap_or(&[]))
            ))
        }
        Some("compute") | Some("dns") => {
            // compute/v1/projects/p/{global | regions/r}/..., dns/v1/projects/p/...
            let mut rest = segments.get(4..).unwrap_or(&[]);
            if rest.first() == Some(&"global") {
                rest = &rest[1..];
            } else if matches!(rest.first(), Some(&"regions") | Some(&"zones")) {
                rest = rest.get(2..).unwrap_or(&[]);
            }
            // A record set's path ends with its name and type, both names.
            if let Some(i) = rest.iter().position(|s| *s == "rrsets") {
                rest = &rest[..=i];
            }
            Some(format!("gcp {} {method} {}", lower[0], collections(rest)))
        }
        // `tags/{resource type}/{id}` names its type where other paths name an object.
        Some("2013-04-01") if lower.get(1).map(String::as_str) == Some("tags") => Some(format!(
            "aws route53 {method} tags/{}",
            segments.get(2).copied().unwrap_or("")
        )),
        Some("2013-04-01") => Some(format!(
            "aws route53 {method} {}",
            collections(segments.get(1..).unwrap_or(&[]))
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_leave_names_out() {
        let g = "/subscriptions/s/resourceGroups/g";
        assert_eq!(
            rest_operation(
                "PUT",
                &format!("{g}/providers/Microsoft.Network/virtualNetworks/v/subnets/x")
            )
            .as_deref(),
            Some("azure PUT virtualNetworks/subnets")
        );
        assert_eq!(
            rest_operation("PUT", "/subscriptions/s/resourcegroups/g").as_deref(),
            Some("azure PUT resourcegroups")
        );
        assert_eq!(
            rest_operation("POST", "/compute/v1/projects/p/global/operations/op-1/wait").as_deref(),
            Some("gcp compute POST operations/wait")
        );
        assert_eq!(
            rest_operation(
                "POST",
                "/compute/v1/projects/p/regions/us-central1/subnetworks"
            )
            .as_deref(),
            Some("gcp compute POST subnetworks")
        );
        assert_eq!(
            rest_operation("GET", "/dns/v1/projects/p/managedZones/z/rrsets/www.a./A").as_deref(),
            Some("gcp dns GET managedZones/rrsets")
        );
        assert_eq!(
            rest_operation("POST", "/2013-04-01/hostedzone/Z1/rrset/").as_deref(),
            Some("aws route53 POST hostedzone/rrset")
        );
        assert_eq!(
            rest_operation("POST", "/2013-04-01/tags/hostedzone/Z1").as_deref(),
            Some("aws route53 POST tags/hostedzone")
        );
        assert_eq!(rest_operation("GET", "/_localcloud/requests"), None);
    }
}
