//! State backends side by side: a 50,000-resource state written and read through each backend
//! (local file, S3 on moto, PostgreSQL on a throwaway server) against a floor that moves the same
//! bytes with no matihnet in between (a plain file write + fsync + rename, an unsigned PUT/GET
//! to moto, a plain upsert/select), the lock acquire + release round trip, and `matihnet apply`
//! of 100 tenants on the fake provider (20 ms per call, default parallelism) per backend.
//! Prints medians; asserts nothing about time.
//!
//! `cargo bench -p matihnet-e2e --bench state_backends` (add `--profile dev` for a debug build;
//! the apply figures use the `matihnet` binary of the same profile, built first).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop loudly

use std::io::Write;
use std::time::{Duration, Instant};

use matihnet_core::{Address, Attrs, Value};
use matihnet_e2e::moto::Moto;
use matihnet_e2e::Sandbox;
use matihnet_state::{Backend, LockRequest, ResourceState, State};
use matihnet_state_postgres::test_server::TestServer;
use matihnet_state_postgres::{PostgresBackend, PostgresSettings};
use matihnet_state_s3::{S3Backend, S3Settings};

const RESOURCES: usize = 50_000;
const ROUNDS: usize = 5;
const LOCK_ROUNDS: usize = 20;
const TENANTS: usize = 100;
const BUCKET: &str = "bench-state";

fn big_state(n: usize) -> State {
    let mut s = State::new();
    for i in 0..n {
        let mut a = Attrs::new();
        a.insert(
            "id".into(),
            Value::from(format!("/zones/z{}/records/r{i}", i % 100)),
        );
        a.insert(
            "name".into(),
            Value::from(format!("r{i}.t{}.matih.ai", i % 100)),
        );
        a.insert("type".into(), Value::from("A"));
        a.insert("ttl".into(), Value::from(300i64));
        a.insert(
            "records".into(),
            Value::List(vec![Value::from(format!(
                "10.{}.{}.{}",
                i / 65536,
                (i / 256) % 256,
                i % 256
            ))]),
        );
        s.resources.insert(
            Address::new("dns_record", format!("r{i}")),
            ResourceState {
                attributes: a,
                dependencies: vec![],
                tainted: false,
                protect: false,
                existing: false,
            },
        );
    }
    s
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:>8.1} ms", d.as_secs_f64() * 1e3)
}

/// Write then read through fresh instances, ROUNDS times; the medians.
async fn through_backend<B, F, Fut>(open: F, state: &State) -> (Duration, Duration)
where
    B: Backend,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = B>,
{
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    let mut s = state.clone();
    for round in 0..ROUNDS {
        let b = open().await;
        if round > 0 {
            b.read().await.unwrap();
        }
        s.serial = round as u64 + 1;
        let t = Instant::now();
        b.write(&s).await.unwrap();
        writes.push(t.elapsed());
        let reader = open().await;
        let t = Instant::now();
        let back = reader.read().await.unwrap().unwrap();
        reads.push(t.elapsed());
        assert_eq!(back.resources.len(), state.resources.len());
    }
    (median(writes), median(reads))
}

async fn lock_round_trip<B: Backend>(b: &B) -> Duration {
    let mut times = Vec::new();
    for _ in 0..LOCK_ROUNDS {
        let t = Instant::now();
        let id = b
            .lock(LockRequest::new("bench", Duration::from_secs(5)))
            .await
            .unwrap();
        b.unlock(&id).await.unwrap();
        times.push(t.elapsed());
    }
    median(times)
}

fn row(name: &str, write: Duration, read: Duration, floor: (Duration, Duration), lock: Duration) {
    println!(
        "{name:<12} write {} (floor {})  read+parse {} (floor {})  lock+unlock {}",
        ms(write),
        ms(floor.0),
        ms(read),
        ms(floor.1),
        ms(lock)
    );
}

fn environment_file(section: &str) -> String {
    let base =
        std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml")).unwrap();
    let mut text = base.split("[[tenant]]").next().unwrap().to_string();
    for i in 0..TENANTS {
        text.push_str(&format!("[[tenant]]\nslug = \"t{i:03}\"\n\n"));
    }
    text + section
}

/// `matihnet apply` of 100 tenants, fresh each time; the median wall time of 3.
fn apply(section: impl Fn(usize) -> String) -> Duration {
    let mut times = Vec::new();
    for run in 0..3 {
        let s = Sandbox::with_config(&environment_file(&section(run)));
        let t = Instant::now();
        let out = s
            .command(&["apply", "--auto-approve"])
            .env("MATIHNET_FAKE_LATENCY_MS", "20")
            .output()
            .unwrap();
        times.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    median(times)
}

#[tokio::main]
async fn main() {
    let state = big_state(RESOURCES);
    let bytes = matihnet_state::format::encode(&state);
    println!(
        "state of {RESOURCES} resources: {:.1} MiB per write and per read (every backend moves the whole encoded state)",
        bytes.len() as f64 / 1048576.0
    );

    // Local file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.state.json");
    let (w, r) = through_backend(
        || async { matihnet_state::LocalBackend::new(&path) },
        &state,
    )
    .await;
    let mut fw = Vec::new();
    let mut fr = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let tmp = dir.path().join("floor.tmp");
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&tmp, dir.path().join("floor.json")).unwrap();
        fw.push(t.elapsed());
        let t = Instant::now();
        let back = std::fs::read(dir.path().join("floor.json")).unwrap();
        fr.push(t.elapsed());
        assert_eq!(back.len(), bytes.len());
    }
    let lock = lock_round_trip(&matihnet_state::LocalBackend::new(&path)).await;
    row("local", w, r, (median(fw), median(fr)), lock);

    // S3 on moto.
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let endpoint = moto.endpoint();
    let s3 = |key: &str| S3Settings {
        bucket: BUCKET.into(),
        key: key.into(),
        region: Some("eu-west-1".into()),
        endpoint: Some(endpoint.clone()),
        lock_ttl: Duration::from_secs(60),
        test_credentials: true,
    };
    let open_s3 = || S3Backend::new(s3("big.json"));
    let (w, r) = through_backend(open_s3, &state).await;
    let mut fw = Vec::new();
    let mut fr = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        moto.put_object(BUCKET, "floor.json", &bytes);
        fw.push(t.elapsed());
        let t = Instant::now();
        let back = moto.get_object(BUCKET, "floor.json").unwrap();
        fr.push(t.elapsed());
        assert_eq!(back.len(), bytes.len());
    }
    let lock = lock_round_trip(&S3Backend::new(s3("lock.json")).await).await;
    row("s3 (moto)", w, r, (median(fw), median(fr)), lock);

    // PostgreSQL.
    let pg = TestServer::start().unwrap();
    let settings = |name: &str| PostgresSettings {
        conn_str: pg.conn_str(),
        schema: "matihnet".into(),
        name: name.into(),
    };
    let open_pg = || async { PostgresBackend::open(settings("big")).await.unwrap() };
    let (w, r) = through_backend(open_pg, &state).await;
    let (client, connection) = tokio_postgres::connect(&pg.conn_str(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE floor (name text primary key, body text not null)")
        .await
        .unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let mut fw = Vec::new();
    let mut fr = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        client
            .execute(
                "INSERT INTO floor VALUES ('big', $1) ON CONFLICT (name) DO UPDATE SET body = $1",
                &[&text],
            )
            .await
            .unwrap();
        fw.push(t.elapsed());
        let t = Instant::now();
        let row_ = client
            .query_one("SELECT body FROM floor WHERE name = 'big'", &[])
            .await
            .unwrap();
        let back: String = row_.get(0);
        fr.push(t.elapsed());
        assert_eq!(back.len(), text.len());
    }
    let lock = lock_round_trip(&PostgresBackend::open(settings("lock")).await.unwrap()).await;
    row("postgres", w, r, (median(fw), median(fr)), lock);

    // apply of 100 tenants per backend, binary of this profile.
    let local = apply(|_| String::new());
    let on_s3 = apply(|run| {
        format!(
            "\n[state]\nbackend = \"s3\"\nbucket = \"{BUCKET}\"\nkey = \"apply-{run}.json\"\nendpoint = \"{endpoint}\"\nregion = \"eu-west-1\"\n"
        )
    });
    let conn = pg.conn_str();
    let on_pg = apply(|run| {
        format!(
            "\n[state]\nbackend = \"postgres\"\nconn_str = \"{conn}\"\nname = \"apply-{run}\"\n"
        )
    });
    println!(
        "apply, {TENANTS} tenants, fake provider 20 ms/call, --parallelism 10 (default), median of 3:"
    );
    println!("  local file {}", ms(local));
    println!(
        "  s3 (moto)  {}  ({:.2}x local)",
        ms(on_s3),
        on_s3.as_secs_f64() / local.as_secs_f64()
    );
    println!(
        "  postgres   {}  ({:.2}x local)",
        ms(on_pg),
        on_pg.as_secs_f64() / local.as_secs_f64()
    );
}
