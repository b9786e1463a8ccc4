//! The suite every backend must pass, so that S3, PostgreSQL and the local file behave alike:
//! round trip, serial monotonic, lineage kept, exclusive lock, a lock whose holder is gone,
//! stale writes refused, concurrent writers losing no update, and a corrupt or newer stored state
//! refused and left untouched. A backend's tests call [`run`] with a [`Harness`] on fresh storage.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use matihnet_core::{Address, Attrs, Value};

use crate::backend::{Backend, LockRequest, StateError};
use crate::model::{ResourceState, State};

/// What happens to a lock whose holder ends without unlocking (a crash, `kill -9`).
pub enum HolderGone {
    /// The storage drops it with the holder (an OS file lock, a database session).
    Released,
    /// It stays until its heartbeat is older than `ttl`; then it is reported stale and only
    /// `break_stale` takes it over (S3).
    Stale { ttl: Duration },
    /// Nothing ends: the in-memory store of tests, whose "processes" share one address space.
    Kept,
}

/// Opens one storage (empty when the suite starts) as many times as the suite needs.
#[async_trait]
pub trait Harness: Send + Sync {
    type Backend: Backend + 'static;

    /// A new instance on the same storage, as another process would open it.
    async fn open(&self) -> Self::Backend;

    /// Replaces the stored state's bytes, as a foreign tool or a disk fault would.
    async fn plant(&self, bytes: &[u8]);

    /// The stored state's bytes as they are now.
    async fn stored(&self) -> Option<Vec<u8>>;

    /// False where the storage keeps decoded states only, so that no corrupt bytes can exist.
    fn holds_raw_bytes(&self) -> bool {
        true
    }

    fn holder_gone(&self) -> HolderGone;
}

/// Writers that run at once in the concurrency case, and updates each of them makes.
const WRITERS: usize = 6;
const UPDATES_EACH: usize = 3;

/// Panics (it is a test suite) on the first behaviour that differs from the contract.
pub async fn run<H: Harness>(h: &H) {
    let base = round_trip(h).await;
    let base = serial_and_lineage(h, base).await;
    let base = stale_writes(h, base).await;
    exclusive_lock(h).await;
    holder_gone(h).await;
    concurrent_writers(h, base).await;
    if h.holds_raw_bytes() {
        refused_and_untouched(h, b"{\"version\": 1, \"serial\": ").await;
        let mut newer =
            serde_json::from_slice::<serde_json::Value>(&crate::format::encode(&State::new()))
                .expect("encoded state is JSON");
        newer["version"] = serde_json::json!(crate::STATE_VERSION + 1);
        refused_and_untouched(h, &serde_json::to_vec(&newer).expect("json")).await;
    }
}

fn record(name: &str) -> (Address, ResourceState) {
    let mut attrs = Attrs::new();
    attrs.insert("id".into(), Value::from(format!("id-{name}")));
    (
        Address::new("dns_record", name),
        ResourceState {
            attributes: attrs,
            dependencies: vec![],
            tainted: false,
            protect: false,
            existing: false,
        },
    )
}

async fn round_trip<H: Harness>(h: &H) -> State {
    let a = h.open().await;
    assert!(
        a.read().await.expect("read empty").is_none(),
        "fresh storage has no state"
    );
    let mut state = State::new();
    state.serial = 4;
    let (zone, mut z) = record("platform");
    z.protect = true;
    let (addr, mut r) = record("api");
    r.dependencies = vec![zone.clone()];
    state.resources.insert(zone, z);
    state.resources.insert(addr, r);
    a.write(&state).await.expect("first write");
    let back = h
        .open()
        .await
        .read()
        .await
        .expect("read back")
        .expect("state present");
    assert_eq!(
        back, state,
        "a write is read back whole by another instance"
    );
    state
}

async fn serial_and_lineage<H: Harness>(h: &H, state: State) -> State {
    let a = h.open().await;
    let read = a.read().await.expect("read").expect("present");
    let before = h.stored().await;
    for serial in [read.serial, read.serial - 1] {
        let mut same = read.clone();
        same.serial = serial;
        let err = a.write(&same).await.expect_err("serial must move forward");
        assert!(
            matches!(err, StateError::Refused { .. }),
            "serial {serial} over {}: {err}",
            read.serial
        );
    }
    let mut other = State::new();
    other.serial = read.serial + 1;
    let err = a.write(&other).await.expect_err("another lineage");
    assert!(matches!(err, StateError::Refused { .. }), "{err}");
    assert_eq!(
        h.stored().await,
        before,
        "refused writes leave the state as it was"
    );

    let mut next = read;
    next.serial += 1;
    a.write(&next).await.expect("serial + 1");
    let mut after = next.clone();
    after.serial += 3;
    a.write(&after).await.expect("a write after its own write");
    let back = h.open().await.read().await.expect("read").expect("present");
    assert_eq!(back.lineage, state.lineage, "lineage kept across writes");
    assert_eq!(back.serial, after.serial);
    after
}

async fn stale_writes<H: Harness>(h: &H, state: State) -> State {
    let slow = h.open().await;
    let fast = h.open().await;
    let mut from_slow = slow.read().await.expect("read").expect("present");
    let mut from_fast = fast.read().await.expect("read").expect("present");
    from_fast.serial += 1;
    from_fast.resources.extend([record("fast")]);
    fast.write(&from_fast).await.expect("the first writer wins");

    from_slow.serial += 1;
    from_slow.resources.extend([record("slow")]);
    let err = slow.write(&from_slow).await.expect_err("stale write");
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    let never_read = h.open().await;
    let err = never_read
        .write(&from_slow)
        .await
        .expect_err("a writer that never read");
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");

    let back = h.open().await.read().await.expect("read").expect("present");
    assert_eq!(back, from_fast, "the newer state survives stale writes");
    assert_eq!(back.lineage, state.lineage);
    back
}

async fn exclusive_lock<H: Harness>(h: &H) {
    let a = h.open().await;
    let id = a
        .lock(LockRequest::new("apply", Duration::from_secs(5)))
        .await
        .expect("first lock");
    let b = h.open().await;
    match b
        .lock(LockRequest::new("plan", Duration::from_millis(300)))
        .await
    {
        Err(StateError::Locked { holder, .. }) => {
            let holder = holder.expect("holder named");
            assert_eq!(holder.id, id);
            assert_eq!(holder.operation, "apply");
        }
        other => panic!("second lock should fail with Locked, got {other:?}"),
    }
    assert_eq!(
        b.lock_holder().await.expect("holder").map(|h| h.id),
        Some(id.clone())
    );
    assert!(
        b.unlock("not-the-id").await.is_err(),
        "unlock with a wrong id is refused"
    );
    a.unlock(&id).await.expect("unlock");
    assert_eq!(b.lock_holder().await.expect("holder"), None);
    let id2 = b
        .lock(LockRequest::new("plan", Duration::from_secs(5)))
        .await
        .expect("lock after release");
    b.unlock(&id2).await.expect("unlock 2");
    assert_eq!(b.lock_holder().await.expect("holder"), None);
}

async fn holder_gone<H: Harness>(h: &H) {
    let gone = h.open().await;
    let id = gone
        .lock(LockRequest::new("apply", Duration::from_secs(5)))
        .await
        .expect("lock");
    drop(gone);
    let next = h.open().await;
    match h.holder_gone() {
        HolderGone::Released => {
            let id2 = next
                .lock(LockRequest::new("apply", Duration::from_secs(5)))
                .await
                .expect("a gone holder's lock goes with it");
            next.unlock(&id2).await.expect("unlock");
        }
        HolderGone::Stale { ttl } => {
            tokio::time::sleep(ttl + Duration::from_millis(500)).await;
            let err = next
                .lock(LockRequest::new("apply", Duration::from_secs(1)))
                .await
                .expect_err("a stale lock is reported, not taken");
            match &err {
                StateError::StaleLock { holder, age, .. } => {
                    assert_eq!(holder.id, id);
                    assert!(*age >= ttl, "age {age:?} under the ttl {ttl:?}");
                }
                other => panic!("expected StaleLock, got {other}"),
            }
            let mut request = LockRequest::new("apply", Duration::from_secs(5));
            request.break_stale = true;
            let id2 = next.lock(request).await.expect("break_stale takes it over");
            assert_eq!(
                next.lock_holder().await.expect("holder").map(|h| h.id),
                Some(id2.clone())
            );
            next.unlock(&id2).await.expect("unlock");
        }
        HolderGone::Kept => {
            assert_eq!(
                next.lock_holder().await.expect("holder").map(|h| h.id),
                Some(id.clone())
            );
            next.force_unlock(&id).await.expect("force-unlock");
        }
    }
    assert_eq!(next.lock_holder().await.expect("holder"), None);
}

async fn concurrent_writers<H: Harness>(h: &H, base: State) {
    // Each writer opens its own instance per update, as separate CI jobs would.
    let mut instances = Vec::new();
    for _ in 0..WRITERS * UPDATES_EACH {
        instances.push(h.open().await);
    }
    let mut instances = instances.into_iter();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let mine: Vec<H::Backend> = instances.by_ref().take(UPDATES_EACH).collect();
        tasks.push(tokio::spawn(async move {
            for (u, backend) in mine.into_iter().enumerate() {
                let backend = Arc::new(backend);
                let id = backend
                    .lock(LockRequest::new("apply", Duration::from_secs(60)))
                    .await
                    .map_err(|e| format!("writer {w} lock: {e}"))?;
                let result = async {
                    let mut s = backend.read().await?.unwrap_or_default();
                    s.serial += 1;
                    s.resources.extend([record(&format!("w{w}-u{u}"))]);
                    backend.write(&s).await
                }
                .await;
                backend
                    .unlock(&id)
                    .await
                    .map_err(|e| format!("writer {w} unlock: {e}"))?;
                result.map_err(|e| format!("writer {w} update {u}: {e}"))?;
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.expect("writer task").expect("writer");
    }
    let back = h.open().await.read().await.expect("read").expect("present");
    let total = WRITERS * UPDATES_EACH;
    assert_eq!(
        back.serial,
        base.serial + total as u64,
        "one serial per update"
    );
    for w in 0..WRITERS {
        for u in 0..UPDATES_EACH {
            let a = Address::new("dns_record", format!("w{w}-u{u}"));
            assert!(back.resources.contains_key(&a), "update {a} was lost");
        }
    }
    assert_eq!(back.lineage, base.lineage);
}

async fn refused_and_untouched<H: Harness>(h: &H, bytes: &[u8]) {
    h.plant(bytes).await;
    let b = h.open().await;
    let err = b.read().await.expect_err("a bad stored state is refused");
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    let mut s = State::new();
    s.serial = 1_000;
    assert!(
        b.write(&s).await.is_err(),
        "a bad stored state is not overwritten"
    );
    assert_eq!(
        h.stored().await.as_deref(),
        Some(bytes),
        "the stored bytes are untouched"
    );
}
