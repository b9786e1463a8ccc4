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
    let address = ctx.addr.to_string();
    ownership::check_owner(what, marks(found), Marks::of(ctx, &address))
}

/// The take-over of a found ARM object that takes tags: refused if another state's tags name
/// it, and (with `mark`) tagged as `ctx`'s, its other tags kept. `noun` and `name` name it in
/// messages and the call counts ("virtual network", "matih-prod"); `at` is its ARM id and the
/// API version to PATCH it with.
pub(crate) async fn take_over(
    arm: &crate::arm::Arm,
    ctx: &OperationContext,
    (noun, name): (&str, &str),
    found: &serde_json::Value,
    (id, api_version): (&str, &str),
    mark: bool,
) -> Result<(), ProviderError> {
    check_importable(ctx, &format!("{noun} {name}"), found)?;
    if mark {
        let operation = format!("PATCH {noun}");
        arm.patch_tags(&operation, id, api_version, &tags_with_marks(ctx, found))
            .await?;
    }
    Ok(())
}

/// Whether an object may be imported: refused when its tags (or metadata) name another
/// matihnet state's lineage (core's import rule).
pub(crate) fn check_importable(
    ctx: &OperationContext,
    what: &str,
    found: &serde_json::Value,
) -> Result<(), ProviderError> {
    let address = ctx.addr.to_string();
    ownership::check_importable(what, marks(found), Marks::of(ctx, &address))
}

/// An object's tags, or a record set's metadata.
fn marks_of(found: &serde_json::Value) -> Option<&serde_json::Value> {
    found
        .get("tags")
        .or_else(|| found.pointer("/properties/metadata"))
}

fn marks(found: &serde_json::Value) -> Marks<'_> {
    let tags = marks_of(found);
    let get = |k: &str| tags.and_then(|t| t.get(k)).and_then(|v| v.as_str());
    Marks {
        address: get("matihnet:address"),
        lineage: get("matihnet:lineage"),
        environment: get("matihnet:environment"),
    }
}

/// Whether the object's marks name `ctx`'s lineage.
pub(crate) fn marked_by(ctx: &OperationContext, found: &serde_json::Value) -> bool {
    marks(found).lineage == Some(ctx.lineage.as_str())
}

/// The object's tags (or metadata) with `ctx`'s ownership tags written over them: what an
/// import that marks sends (ARM replaces the whole set, so the others are sent again).
pub(crate) fn tags_with_marks(
    ctx: &OperationContext,
    found: &serde_json::Value,
) -> serde_json::Value {
    let mut all = marks_of(found)
        .and_then(|t| t.as_object())
        .cloned()
        .unwrap_or_default();
    if let serde_json::Value::Object(ours) = tags(ctx) {
        all.extend(ours);
    }
    serde_json::Value::Object(all)
}
