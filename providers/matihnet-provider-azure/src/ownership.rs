//! Ownership marks on ARM objects (tags; a record set's metadata) and the check, through core's
//! one rule, before adopting an object that already exists.

use matihnet_core::ownership::{self, Marks};
use matihnet_core::{OperationContext, ProviderError};

/// The tags every object that takes tags carries.
pub(crate) fn tags(ctx: &OperationContext) -> serde_json::Value {
    serde_json::json!({
        "matihnet:environment": ctx.environment,
        "matihnet:address": ctx.addr.to_string(),
        "matihnet:lineage": ctx.lineage,
    })
}

/// Whether an existing object with our deterministic name may be adopted: its tags (or a record
/// set's metadata) must name this address and lineage (core's one ownership rule).
pub(crate) fn check_owner(
    ctx: &OperationContext,
    what: &str,
    found: &serde_json::Value,
) -> Result<(), ProviderError> {
    let tags = found
        .get("tags")
        .or_else(|| found.pointer("/properties/metadata"));
    let get = |k: &str| tags.and_then(|t| t.get(k)).and_then(|v| v.as_str());
    let address = ctx.addr.to_string();
    let marks = Marks {
        address: get("matihnet:address"),
        lineage: get("matihnet:lineage"),
        environment: get("matihnet:environment"),
    };
    ownership::check_owner(what, marks, Marks::of(ctx, &address))
}
