//! In-process HTTP calls to the Azure emulator for the integration tests: requests carry a Host
//! header and a bearer token like azure_core's, answers come back as status, headers and JSON.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use matihnet_localcloud::azure::{router, Cloud};
use matihnet_localcloud::Options;
use serde_json::Value;
use tower::ServiceExt;

pub const HOST: &str = "localcloud.test:8443";

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

pub struct Emulator {
    pub cloud: Arc<Cloud>,
    app: Router,
}

impl Emulator {
    pub fn new(delay: Duration) -> Emulator {
        let cloud = Arc::new(Cloud::new(Options {
            operation_delay: delay,
        }));
        let app = router(Arc::clone(&cloud));
        Emulator { cloud, app }
    }

    /// A request with the bearer token and Host header every ARM client sends.
    pub async fn call(&self, method: &str, uri: &str, body: Option<&Value>) -> Answer {
        self.call_with(method, uri, body, &[("authorization", "Bearer test-token")])
            .await
    }

    pub async fn call_with(
        &self,
        method: &str,
        uri: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut builder = Request::builder()
            .method(method)
            .uri(path_of(uri))
            .header("host", HOST);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let payload = match body {
            Some(b) => {
                builder = builder.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(builder.body(payload).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {uri}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Polls an `Azure-AsyncOperation` URL until it leaves `InProgress`; returns the last answer.
    pub async fn wait_operation(&self, url: &str) -> Answer {
        let started = Instant::now();
        loop {
            let a = self.call("GET", url, None).await;
            if a.body["status"] != "InProgress" || started.elapsed() > Duration::from_secs(10) {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls a `Location` URL until it stops answering 202.
    pub async fn wait_location(&self, url: &str) -> Answer {
        let started = Instant::now();
        loop {
            let a = self.call("GET", url, None).await;
            if a.status != StatusCode::ACCEPTED || started.elapsed() > Duration::from_secs(10) {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The path and query of an absolute URL (the emulator's answers carry `http://host/...`).
pub fn path_of(uri: &str) -> String {
    match uri.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_else(|| "/".into()),
        None => uri.to_string(),
    }
}
