//! What matihnet remembers between runs: the state model, its versioned JSON file format, the
//! `Backend` trait every storage (the local file here; S3 and PostgreSQL in their own crates) implements, and the
//! conformance suite each backend must pass. Knows nothing of clouds, plans or the terminal.

pub mod backend;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod format;
pub mod local;
pub mod memory;
pub mod model;

pub use backend::{check_successor, Backend, LastSeen, LockInfo, LockRequest, Seen, StateError};
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use model::{MoveError, OutputValue, ResourceState, State, STATE_VERSION};
