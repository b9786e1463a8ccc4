//! Provider plugins: providers as separate executables behind a versioned protocol.
//!
//! [`protocol`] is the wire format (LSP-style `Content-Length`-framed JSON over stdin and
//! stdout), [`host`] runs a plugin as a [`matihnet_core::ProviderFactory`] and
//! [`matihnet_core::Provider`], and [`serve`] turns any factory into a plugin's `main`.
//! Nothing here knows a cloud, the engine, the state or the environment file.

pub mod host;
pub mod protocol;
pub mod serve;

pub use host::{Plugin, PluginError, PluginFactory, PluginProvider, PluginSpec};
pub use protocol::{MAGIC_COOKIE_VALUE, MAGIC_COOKIE_VAR, PROTOCOL_VERSIONS};
pub use serve::{serve, ServeError};
