//! SIGINT/SIGTERM: the first one while applying stops scheduling and lets in-flight calls
//! finish so the state is saved; a second one (or the first outside an apply) exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct Interrupts {
    pub cancel: CancellationToken,
    applying: Arc<AtomicBool>,
}

impl Interrupts {
    /// Starts listening; call from inside the runtime.
    pub fn install() -> Interrupts {
        let me = Interrupts {
            cancel: CancellationToken::new(),
            applying: Arc::new(AtomicBool::new(false)),
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
                    // Nothing changes outside an apply: the OS lock dies with the process.
                    eprintln!("\nInterrupted: nothing was changed.");
                    std::process::exit(1);
                }
                if watcher.cancel.is_cancelled() {
                    eprintln!(
                        "\nSecond interrupt: exiting now. Objects being created at this moment may be missing from the state; they carry matihnet's tags, and the next apply finds and adopts them instead of creating duplicates."
                    );
                    std::process::exit(1);
                }
                watcher.cancel.cancel();
            }
        });
        me
    }

    pub fn set_applying(&self, on: bool) {
        self.applying.store(on, Ordering::SeqCst);
    }
}
