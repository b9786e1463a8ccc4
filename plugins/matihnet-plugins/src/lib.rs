//! The built-in providers as plugin executables (`src/bin/`), and the misbehaviours the fake
//! one can be told to show, so the host's handling of a broken plugin is tested end to end.

pub mod misbehave;
