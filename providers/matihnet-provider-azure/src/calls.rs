//! Counts every HTTP request to ARM, whether the generated clients or `arm.rs` send it, by
//! method and resource type (`PUT virtualNetworks/subnets`, `GET locations/operations`): the one
//! transport both use wraps the real one, so retries and operation polls count, as ARM meters
//! them.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::{HttpClient, Request, Response};
use matihnet_core::ApiCalls;

#[derive(Debug)]
pub(crate) struct CountingHttp {
    pub inner: Arc<dyn HttpClient>,
    pub calls: Arc<ApiCalls>,
}

/// The resource-type chain of an ARM path: the collection names, without the names of the
/// objects (`/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/
/// subnets/x` is `virtualNetworks/subnets`).
pub(crate) fn operation(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let types: Vec<&str> = match lower.iter().position(|s| s == "providers") {
        // After `providers/<namespace>`, collections and names alternate.
        Some(i) if i + 2 < segments.len() => segments[i + 2..].iter().step_by(2).copied().collect(),
        _ => match lower.iter().position(|s| s == "resourcegroups") {
            Some(i) if i + 2 < segments.len() => {
                segments[i + 2..].iter().step_by(2).copied().collect()
            }
            Some(_) => vec!["resourcegroups"],
            None => segments.iter().step_by(2).copied().collect(),
        },
    };
    format!("{method} {}", types.join("/"))
}

#[async_trait]
impl HttpClient for CountingHttp {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
        self.calls
            .record(&operation(request.method().as_ref(), request.url().path()));
        self.inner.execute_request(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_paths_become_resource_types() {
        let g = "/subscriptions/s/resourceGroups/g";
        assert_eq!(
            operation(
                "PUT",
                &format!("{g}/providers/Microsoft.Network/virtualNetworks/v/subnets/x")
            ),
            "PUT virtualNetworks/subnets"
        );
        assert_eq!(
            operation(
                "GET",
                "/subscriptions/s/providers/Microsoft.Network/locations/westus/operations/1"
            ),
            "GET locations/operations"
        );
        assert_eq!(
            operation("PUT", "/subscriptions/s/resourcegroups/g"),
            "PUT resourcegroups"
        );
        assert_eq!(operation("GET", &format!("{g}/resources")), "GET resources");
        assert_eq!(
            operation(
                "PUT",
                &format!("{g}/providers/Microsoft.Network/dnsZones/z/A/www")
            ),
            "PUT dnsZones/A"
        );
    }
}
