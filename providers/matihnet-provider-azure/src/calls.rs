//! Counts every HTTP request to ARM, whether the generated clients or `arm.rs` send it, by
//! method and resource type (`PUT virtualNetworks/subnets`, `GET locations/operations`), and
//! paces it to ARM's read, write or delete bucket (`core::pacing`): the one transport both use
//! wraps the real one, so retries and operation polls count and wait, as ARM meters them.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::{HttpClient, Request, Response};
use matihnet_core::pacing::Pacer;
use matihnet_core::ApiCalls;

#[derive(Debug)]
pub(crate) struct MeteredHttp {
    pub inner: Arc<dyn HttpClient>,
    pub calls: Arc<ApiCalls>,
    pub pacer: Arc<Pacer>,
}

/// ARM's bucket for a request method: every subscription has one for reads, writes and deletes.
pub(crate) fn bucket(method: &str) -> &'static str {
    match method {
        "GET" | "HEAD" => "arm-reads",
        "DELETE" => "arm-deletes",
        _ => "arm-writes",
    }
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
impl HttpClient for MeteredHttp {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<Response> {
        let method = request.method().as_ref().to_ascii_uppercase();
        let api = bucket(&method);
        self.pacer.pace(api).await;
        self.calls.record(&operation(&method, request.url().path()));
        let response = self.inner.execute_request(request).await?;
        if response.status() == azure_core::StatusCode::TooManyRequests {
            self.pacer.throttled(api);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_draw_from_arms_buckets() {
        assert_eq!(bucket("GET"), "arm-reads");
        assert_eq!(bucket("PUT"), "arm-writes");
        assert_eq!(bucket("PATCH"), "arm-writes");
        assert_eq!(bucket("POST"), "arm-writes");
        assert_eq!(bucket("DELETE"), "arm-deletes");
    }

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
