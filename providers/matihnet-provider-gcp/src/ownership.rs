//! Ownership marks on GCP objects: labels where the API takes them, the description where it
//! does not (networks, subnetworks), and the check, through core's one rule, before adopting.

use matihnet_core::ownership::{self, Marks};
use matihnet_core::{OperationContext, ProviderError};

/// GCP label values: lowercase letters, digits, `_` and `-`, at most 63 characters.
pub(crate) fn label_value(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect()
}

pub(crate) fn labels(ctx: &OperationContext) -> serde_json::Value {
    serde_json::json!({
        "matihnet-environment": label_value(&ctx.environment),
        "matihnet-address": label_value(&ctx.addr.to_string()),
        "matihnet-lineage": label_value(&ctx.lineage),
    })
}

/// For resources without labels (networks, subnetworks): the description carries ownership.
pub(crate) fn ownership_description(ctx: &OperationContext) -> String {
    format!(
        "matihnet environment={} address={} lineage={}",
        ctx.environment, ctx.addr, ctx.lineage
    )
}

/// Refuses to adopt an object whose labels (or, for objects that take none, description) say
/// another owner made it (core's one ownership rule).
pub(crate) fn check_owner(
    ctx: &OperationContext,
    what: &str,
    found: &serde_json::Value,
) -> Result<(), ProviderError> {
    with_marks(ctx, found, |found, expected| {
        ownership::check_owner(what, found, expected)
    })
}

/// Refuses to import an object whose labels (or description) say another matihnet state owns
/// it (core's import rule).
pub(crate) fn check_importable(
    ctx: &OperationContext,
    what: &str,
    found: &serde_json::Value,
) -> Result<(), ProviderError> {
    with_marks(ctx, found, |found, expected| {
        ownership::check_importable(what, found, expected)
    })
}

/// The marks an object carries and those `ctx` would write, altered alike: labels are
/// lowercased and cut as GCP stores them, a description keeps them as written.
fn with_marks<T>(
    ctx: &OperationContext,
    found: &serde_json::Value,
    check: impl FnOnce(Marks<'_>, Marks<'_>) -> T,
) -> T {
    if let Some(l) = found
        .get("labels")
        .filter(|l| l.get("matihnet-address").is_some())
    {
        let get = |k: &str| l.get(k).and_then(|v| v.as_str());
        let (address, lineage, environment) = (
            label_value(&ctx.addr.to_string()),
            label_value(&ctx.lineage),
            label_value(&ctx.environment),
        );
        let found = Marks {
            address: get("matihnet-address"),
            lineage: get("matihnet-lineage"),
            environment: get("matihnet-environment"),
        };
        let expected = Marks {
            address: Some(&address),
            lineage: Some(&lineage),
            environment: Some(&environment),
        };
        return check(found, expected);
    }
    let description = found
        .get("description")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    let address = ctx.addr.to_string();
    check(description_marks(description), Marks::of(ctx, &address))
}

/// The object's labels with `ctx`'s ownership labels written over them: what an import that
/// marks sets (GCP replaces the whole set, so the object's other labels are sent again).
pub(crate) fn labels_with_marks(
    ctx: &OperationContext,
    found: &serde_json::Value,
) -> serde_json::Value {
    let mut all = found
        .get("labels")
        .and_then(|l| l.as_object())
        .cloned()
        .unwrap_or_default();
    if let serde_json::Value::Object(ours) = labels(ctx) {
        all.extend(ours);
    }
    serde_json::Value::Object(all)
}

/// Reads back what [`ownership_description`] wrote: `matihnet environment=E address=A lineage=L`.
fn description_marks(description: &str) -> Marks<'_> {
    let Some(rest) = description.strip_prefix("matihnet ") else {
        return Marks::default();
    };
    let mut marks = Marks::default();
    for part in rest.split_whitespace() {
        match part.split_once('=') {
            Some(("environment", v)) => marks.environment = Some(v),
            Some(("address", v)) => marks.address = Some(v),
            Some(("lineage", v)) => marks.lineage = Some(v),
            _ => {}
        }
    }
    marks
}
