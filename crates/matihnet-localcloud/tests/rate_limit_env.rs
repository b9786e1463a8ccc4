//! `MATIHNET_LOCALCLOUD_RATE_LIMIT` turns every cloud's documented rate limits on when the local
//! cloud is made. A test binary of its own: the variable is process-wide, and no other test may
//! make a `LocalCloud` while it is set.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use matihnet_localcloud::{rate_limit_wanted, LocalCloud, Options, RATE_LIMIT_ENV};
use serde_json::Value;
use tower::ServiceExt;

async fn rate_limit_modes(cloud: &Arc<LocalCloud>) -> Vec<Value> {
    let mut modes = Vec::new();
    for name in ["aws", "azure", "gcp"] {
        let request = Request::builder()
            .uri(format!("/_localcloud/{name}/faults"))
            .body(Body::empty())
            .unwrap();
        let response = cloud.router().oneshot(request).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let faults: Value = serde_json::from_slice(&bytes).unwrap();
        modes.push(faults["rate_limit"].clone());
    }
    modes
}

#[tokio::test]
async fn the_environment_variable_turns_every_clouds_rate_limits_on() {
    assert!(rate_limit_wanted(Some("1")));
    assert!(rate_limit_wanted(Some(" TRUE ")));
    assert!(rate_limit_wanted(Some("on")));
    assert!(!rate_limit_wanted(None));
    assert!(!rate_limit_wanted(Some("")));
    assert!(!rate_limit_wanted(Some("0")));
    assert!(!rate_limit_wanted(Some("off")));

    std::env::remove_var(RATE_LIMIT_ENV);
    let plain = Arc::new(LocalCloud::new(Options::default()));
    assert_eq!(rate_limit_modes(&plain).await, [false, false, false]);

    std::env::set_var(RATE_LIMIT_ENV, "1");
    let limited = Arc::new(LocalCloud::new(Options::default()));
    std::env::remove_var(RATE_LIMIT_ENV);
    assert_eq!(rate_limit_modes(&limited).await, [true, true, true]);

    limited.set_rate_limits(false);
    assert_eq!(rate_limit_modes(&limited).await, [false, false, false]);
    plain.set_rate_limits(true);
    assert_eq!(rate_limit_modes(&plain).await, [true, true, true]);
}
