//! An in-process HTTP client for the local Google Cloud, shared by the `gcp_*` integration tests
//! (included with `#[path]`, so each test binary gets its own copy).
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use matihnet_localcloud::gcp::{self, Cloud};
use matihnet_localcloud::Options;
use serde_json::Value;
use tower::ServiceExt;

pub struct Gcp {
    pub cloud: Arc<Cloud>,
    router: Router,
}

impl Gcp {
    pub fn new(delay_ms: u64) -> Gcp {
        let cloud = Arc::new(Cloud::new(Options {
            operation_delay: Duration::from_millis(delay_ms),
        }));
        Gcp {
            router: gcp::router(Arc::clone(&cloud)),
            cloud,
        }
    }

    /// Sends a request; `path` includes the query string. Returns the status and the JSON body
    /// (`Null` for an empty body).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_raw(method, path, body.map(|b| b.to_string()))
            .await
    }

    pub async fn call_raw(&self, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// `POST {operation selfLink}/wait` until the operation is DONE.
    pub async fn wait(&self, op: &Value) -> Value {
        assert_eq!(op["kind"], "compute#operation", "not an operation: {op}");
        let path = local_path(op["selfLink"].as_str().unwrap());
        for _ in 0..10 {
            let (status, body) = self.call("POST", &format!("{path}/wait"), None).await;
            assert_eq!(status, 200, "{body}");
            if body["status"] == "DONE" {
                return body;
            }
        }
        panic!("operation {path} never finished");
    }

    /// Sends a Compute write, asserts it was accepted, and waits for its operation.
    pub async fn write_and_wait(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, op) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {op}");
        assert_eq!(op["status"], "RUNNING", "{op}");
        self.wait(&op).await
    }
}

/// The path (and query) of a URL the emulator returned, to send it back in-process.
pub fn local_path(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/')
                .map_or("/".to_string(), |j| rest[j..].to_string())
        }
        None => url.to_string(),
    }
}
