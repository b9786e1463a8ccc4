//! matihnet's shared vocabulary: every other crate speaks in these types, and this crate knows
//! nothing of clouds, state files, the engine or the terminal.

pub mod address;
pub mod batches;
pub mod calls;
pub mod diag;
pub mod endpoint;
pub mod expr;
pub mod factory;
pub mod listing;
pub mod neutral;
pub mod ownership;
pub mod pacing;
pub mod provider;
pub mod resource;
pub mod resource_type;
pub mod retry;
pub mod schema;
pub mod value;

pub use address::{Address, AddressParseError};
pub use calls::{ApiCalls, CallCounts};
pub use diag::{Diagnostic, Location, Severity};
pub use expr::Expr;
pub use factory::{ProviderConfig, ProviderFactory};
pub use neutral::NeutralKind;
pub use provider::{
    ErrorKind, OperationContext, Provider, ProviderError, ProviderFailure, ProviderResult,
};
pub use resource::{DesiredResource, OutputSpec};
pub use resource_type::{ResourceType, ResourceTypes, TableProvider};
pub use schema::{AttributeKind, AttributeSchema, ResourceSchema};
pub use value::{Attrs, Value};
