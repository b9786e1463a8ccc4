//! What every emulated cloud needs, whatever its wire format: IPv4 prefix arithmetic (`cidr`),
//! the faults a test injects (`faults`) and the documented rate limits it may turn on
//! (`rate_limit`), the wall clock and the timing of long-running
//! operations (`clock`, `operations`), the public addresses handed out (`public_ip`), the versioned snapshot envelope (`snapshot`), the count of requests served (`served`), the lock
//! that holds one cloud's objects, faults and clock together (`store`), and the HTTP pieces the
//! wire formats are built from (`http`).
//!
//! A cloud module (`azure`, `gcp`) owns its paths, bodies and error shapes; it asks this module
//! for everything that would otherwise be written again for the next cloud.

pub(crate) mod cidr;
pub(crate) mod clock;
pub(crate) mod faults;
pub(crate) mod http;
pub(crate) mod operations;
pub(crate) mod public_ip;
pub(crate) mod rate_limit;
pub(crate) mod served;
pub(crate) mod snapshot;
pub(crate) mod store;
