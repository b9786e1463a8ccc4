//! SIGINT/SIGTERM: the first one while applying stops scheduling and lets in-flight calls
//! finish so the state is saved; a second one (or the first outside an apply) exits at once,
//! releasing the state lock first: an S3 lock does not die with the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use matihnet_state::Backend;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Interrupts {
    pub cancel: CancellationToken,
    applying: Arc<AtomicBool>,
    /// The state lock this command holds, released before an immediate exit.
    held: Arc<Mutex<Option<HeldLock>>>,
}

/// A state lock this command holds: the backend and the lock id.
pub type HeldLock = (Arc<dyn Backend>, String);

/// How long an interrupted command tries to release its lock before exiting anyway.
const RELEASE_ON_EXIT: Duration = Duration::from_secs(5);

impl Interrupts {
    /// Starts listening; call from inside the runtime.
    pub fn install() -> Interrupts {
        let me = Interrupts {
            cancel: CancellationToken::new(),
            applying: Arc::new(AtomicBool::new(false)),
            held: Arc::new(Mutex::new(None)),
        };
        let watcher = me.clone();
        tokio::spawn(async move {
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if !watcher.applying.load(Ordering::SeqCst) {
                    eprintln!("\nInterrupted: nothing was changed.");
                    watcher.release_and_exit().await;
                }
                if watcher.cancel.is_cancelled() {
                    eprintln!(
                        "\nSecond interrupt: exiting now. Objects being created at this moment may be missing from the state; they carry matihnet's tags, and the next apply finds and adopts them instead of creating duplicates."
                    );
                    watcher.release_and_exit().await;
                }
                watcher.cancel.cancel();
            }
        });
        me
    }

    /// Records the lock this command holds (`None` once released).
    pub fn holding(&self, lock: Option<HeldLock>) {
        match self.held.lock() {
            Ok(mut g) => *g = lock,
            Err(p) => *p.into_inner() = lock,
        }
    }

    async fn release_and_exit(&self) -> ! {
        let held = match self.held.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        };
        if let Some((backend, id)) = held {
            match tokio::time::timeout(RELEASE_ON_EXIT, backend.unlock(&id)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("could not release the state lock: {e}"),
                Err(_) => eprintln!(
                    "could not release the state lock {id} within {}s; if it stays, run `matihnet force-unlock {id}`",
                    RELEASE_ON_EXIT.as_secs()
                ),
            }
        }
        std::process::exit(1);
    }

    pub fn set_applying(&self, on: bool) {
        self.applying.store(on, Ordering::SeqCst);
    }
}
