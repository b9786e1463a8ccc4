//! Progress lines while apply runs: one when each resource starts and finishes, with elapsed
//! time, and "Still creating... [10s elapsed]" for long operations.

use matihnet_engine::{Event, Observer};

use crate::terminal::{elapsed, paint, Terminal};

pub struct Progress {
    pub term: Terminal,
}

impl Observer for Progress {
    fn on_event(&self, event: &Event) {
        let c = self.term.colour;
        match event {
            Event::Started { address, kind } => {
                self.term.line(&format!(
                    "{}: {}...",
                    paint(c, "1", &address.to_string()),
                    kind.progressive()
                ));
            }
            Event::StillRunning {
                address,
                kind,
                elapsed: e,
            } => {
                self.term.line(&format!(
                    "{}: Still {}... [{} elapsed]",
                    paint(c, "1", &address.to_string()),
                    kind.lower_progressive(),
                    elapsed(*e)
                ));
            }
            Event::Retrying {
                address,
                kind,
                attempt,
                max_attempts,
                wait,
                reason,
            } => {
                self.term.line(&format!(
                    "{}: Still {}... retrying in {:.1}s (attempt {attempt} of {max_attempts} failed: {reason})",
                    paint(c, "1", &address.to_string()),
                    kind.lower_progressive(),
                    wait.as_secs_f64()
                ));
            }
            Event::Finished {
                address,
                kind,
                elapsed: e,
                id,
            } => {
                let id = id
                    .as_ref()
                    .map(|i| format!(" [id={i}]"))
                    .unwrap_or_default();
                self.term.line(&format!(
                    "{}: {} after {}{id}",
                    paint(c, "1", &address.to_string()),
                    kind.past(),
                    elapsed(*e)
                ));
            }
            Event::Failed {
                address,
                kind,
                elapsed: e,
                error,
            } => {
                self.term.err(&format!(
                    "{}: {} failed after {}: {error}",
                    address,
                    kind.progressive(),
                    elapsed(*e)
                ));
            }
            Event::Cancelling { in_flight } => {
                self.term.err(&format!(
                    "Interrupt received: starting nothing new, letting {in_flight} in-flight operation(s) finish, then saving the state. Press Ctrl-C again to quit at once."
                ));
            }
        }
    }
}
