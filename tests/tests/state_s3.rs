//! The S3 state backend against moto: the shared backend conformance suite, the backup object,
//! and errors a user can act on (missing bucket, unreachable endpoint).

use std::time::Duration;

use async_trait::async_trait;
use matihnet_e2e::moto::Moto;
use matihnet_state::conformance::{self, Harness, HolderGone};
use matihnet_state::{Backend, State, StateError};
use matihnet_state_s3::{S3Backend, S3Settings};

const TTL: Duration = Duration::from_secs(2);

fn settings(endpoint: &str, bucket: &str, key: &str) -> S3Settings {
    S3Settings {
        bucket: bucket.into(),
        key: key.into(),
        region: Some("eu-west-1".into()),
        endpoint: Some(endpoint.into()),
        lock_ttl: TTL,
        test_credentials: true,
    }
}

struct OnMoto {
    moto: Moto,
    bucket: String,
    key: String,
}

#[async_trait]
impl Harness for OnMoto {
    type Backend = S3Backend;
    async fn open(&self) -> S3Backend {
        S3Backend::new(settings(&self.moto.endpoint(), &self.bucket, &self.key)).await
    }
    async fn plant(&self, bytes: &[u8]) {
        self.moto.put_object(&self.bucket, &self.key, bytes);
    }
    async fn stored(&self) -> Option<Vec<u8>> {
        self.moto.get_object(&self.bucket, &self.key)
    }
    fn holder_gone(&self) -> HolderGone {
        HolderGone::Stale { ttl: TTL }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_passes_the_backend_conformance_suite() {
    let moto = Moto::start();
    moto.create_bucket("matih-state");
    let h = OnMoto {
        moto,
        bucket: "matih-state".into(),
        key: "prod/matihnet.state.json".into(),
    };
    conformance::run(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_object_holds_the_state_before_this_process_first_wrote() {
    let moto = Moto::start();
    moto.create_bucket("matih-state");
    let open = || S3Backend::new(settings(&moto.endpoint(), "matih-state", "env.json"));
    let first = open().await;
    let mut s = State::new();
    s.serial = 1;
    first.write(&s).await.unwrap();
    assert!(
        moto.get_object("matih-state", "env.json.backup").is_none(),
        "nothing to back up before the first state exists"
    );
    let second = open().await;
    let mut s = second.read().await.unwrap().unwrap();
    for serial in [2, 3] {
        s.serial = serial;
        second.write(&s).await.unwrap();
    }
    let backup = moto.get_object("matih-state", "env.json.backup").unwrap();
    let backup = matihnet_state::format::decode(&backup).unwrap();
    assert_eq!(
        backup.serial, 1,
        "the backup is the state before this process's first write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_and_an_unreachable_endpoint_are_one_line_each_with_the_fix() {
    let moto = Moto::start();
    let missing = S3Backend::new(settings(&moto.endpoint(), "no-such-bucket", "k")).await;
    let err = missing.read().await.unwrap_err();
    assert!(matches!(err, StateError::Unavailable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("bucket \"no-such-bucket\" does not exist"),
        "{text}"
    );
    assert!(text.contains("aws s3 mb s3://no-such-bucket"), "{text}");

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = S3Backend::new(settings(&format!("http://127.0.0.1:{port}"), "b-1", "k")).await;
    let started = std::time::Instant::now();
    let err = gone.read().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot reach S3 at http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("endpoint"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "an unreachable endpoint fails within seconds, took {:?}",
        started.elapsed()
    );
}
