//! The local Google Cloud behind a real socket (`LocalCloud::serve`), as the GKE provider's
//! clients reach it with `with_endpoint("http://127.0.0.1:PORT")`, and its objects surviving a
//! restart through the persistence file.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use matihnet_localcloud::{LocalCloud, Options};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`, so the body ends at EOF).
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_over_http_and_persisted_across_restarts() {
    let file = std::env::temp_dir().join(format!("matihnet-gcp-{}.json", uuid::Uuid::new_v4()));
    let options = Options {
        operation_delay: Duration::from_millis(20),
    };
    let cloud = Arc::new(LocalCloud::persistent(options.clone(), file.clone()).unwrap());
    let addr = Arc::clone(&cloud).serve("127.0.0.1:0").await.unwrap();

    let (status, op) = http(
        addr,
        "POST",
        "/compute/v1/projects/p/global/networks?%24alt=json%3Benum-encoding%3Dint",
        Some(&json!({"name": "vpc", "autoCreateSubnetworks": false})),
    )
    .await;
    assert_eq!(status, 200, "{op}");
    let name = op["name"].as_str().unwrap();
    let (_, done) = http(
        addr,
        "POST",
        &format!("/compute/v1/projects/p/global/operations/{name}/wait"),
        None,
    )
    .await;
    assert_eq!(done["status"], "DONE");
    let (status, zone) = http(
        addr,
        "POST",
        "/dns/v1/projects/p/managedZones",
        Some(&json!({"name": "z", "dnsName": "z.example.com.", "description": ""})),
    )
    .await;
    assert_eq!(status, 200, "{zone}");
    let (status, err) = http(
        addr,
        "GET",
        "/compute/v1/projects/p/global/networks/nope",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["errors"][0]["reason"], "notFound");

    // A second server on the same file sees the same objects.
    let again = Arc::new(LocalCloud::persistent(options, file.clone()).unwrap());
    let addr2 = Arc::clone(&again).serve("127.0.0.1:0").await.unwrap();
    let (status, net) = http(
        addr2,
        "GET",
        "/compute/v1/projects/p/global/networks/vpc",
        None,
    )
    .await;
    assert_eq!(status, 200, "{net}");
    let (status, z) = http(addr2, "GET", "/dns/v1/projects/p/managedZones/z", None).await;
    assert_eq!(status, 200);
    assert_eq!(z["nameServers"], zone["nameServers"]);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_item3_the_objects_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile_dir();
    let file = dir.join("env.state.json.local-cloud.json");
    // A file left by an older version with the default umask's 0644 is tightened on the next save.
    std::fs::write(&file, "{}").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cloud = Arc::new(LocalCloud::persistent(Options::default(), file.clone()).unwrap());
    let addr = Arc::clone(&cloud).serve("127.0.0.1:0").await.unwrap();
    let (status, _) = http(
        addr,
        "POST",
        "/dns/v1/projects/p/managedZones",
        Some(&json!({"name": "z", "dnsName": "z.example.com.", "description": ""})),
    )
    .await;
    assert_eq!(status, 200);
    cloud.save().unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the local cloud's objects file must be 0600, as the state is"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("matihnet-lc-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
