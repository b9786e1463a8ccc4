//! The suite every backend must pass, so S3 or PostgreSQL later behave as the local file does.
//! Call [`run`] from a backend's tests with a factory that opens the same storage each time.

use std::time::Duration;

use matihnet_core::{Address, Attrs, Value};

use crate::backend::{Backend, LockInfo, StateError};
use crate::model::{ResourceState, State};

/// Panics (it is a test suite) on the first behaviour that differs from the contract.
pub async fn run<B: Backend, F: Fn() -> B>(open: F) {
    let a = open();
    assert!(
        a.read().await.expect("read empty").is_none(),
        "fresh backend has no state"
    );

    let mut state = State::new();
    state.serial = 4;
    let mut attrs = Attrs::new();
    attrs.insert("id".into(), Value::from("z-1"));
    state.resources.insert(
        Address::new("dns_zone", "platform"),
        ResourceState {
            attributes: attrs,
            dependencies: vec![],
            tainted: false,
            protect: true,
        },
    );
    a.write(&state).await.expect("write");
    let back = open()
        .read()
        .await
        .expect("read back")
        .expect("state present");
    assert_eq!(
        back, state,
        "a write is read back whole by another instance"
    );

    // Exclusive lock: a second instance waits, times out and names the holder.
    let id = a
        .lock(LockInfo::for_this_process("apply"), Duration::from_secs(1))
        .await
        .expect("first lock");
    let b = open();
    match b
        .lock(
            LockInfo::for_this_process("plan"),
            Duration::from_millis(300),
        )
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
    let id2 = b
        .lock(LockInfo::for_this_process("plan"), Duration::from_secs(1))
        .await
        .expect("lock after release");
    b.unlock(&id2).await.expect("unlock 2");
    assert_eq!(b.lock_holder().await.expect("holder"), None);
}
