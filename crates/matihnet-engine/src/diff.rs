//! Diffing one resource: what the configuration wants against what the refresh found, into an
//! action and the attributes that changed, and drift (what changed outside matihnet).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use matihnet_core::{Address, AttributeKind, Attrs, DesiredResource, ResourceSchema, Value};
use matihnet_state::State;

use crate::plan::{Action, AttributeDrift, Drift, ResourceChange};

pub(crate) fn sensitive_names(schema: &ResourceSchema) -> Vec<String> {
    schema
        .attributes
        .iter()
        .filter(|a| a.sensitive)
        .map(|a| a.name.clone())
        .collect()
}

pub(crate) fn no_op(
    r: &DesiredResource,
    schema: &ResourceSchema,
    before: Option<Arc<Attrs>>,
    after: Arc<Attrs>,
) -> ResourceChange {
    ResourceChange {
        address: r.addr.clone(),
        action: Action::NoOp,
        before,
        after,
        after_unknown: Vec::new(),
        replace_because: Vec::new(),
        replace_reason: None,
        desired: r.attrs.clone(),
        dependencies: r.dependencies(),
        protect: r.protect,
        sensitive: sensitive_names(schema),
        importing: None,
        moved_from: None,
        existing: None,
    }
}

pub(crate) fn diff_one(
    r: &DesiredResource,
    schema: &ResourceSchema,
    prior: Option<Arc<Attrs>>,
    tainted: bool,
    replace_requested: bool,
    known: &HashMap<&Address, Arc<Attrs>>,
) -> ResourceChange {
    let lookup = |a: &Address| known.get(a).map(|v| v.as_ref());
    let mut resolved = Attrs::new();
    let mut unresolved = Vec::new();
    for (name, e) in &r.attrs {
        match e.resolve(&lookup) {
            Some(v) => {
                resolved.insert(name.clone(), v);
            }
            None => unresolved.push(name.clone()),
        }
    }
    let computed: Vec<String> = schema
        .attributes
        .iter()
        .filter(|a| a.kind == AttributeKind::Computed)
        .map(|a| a.name.clone())
        .collect();
    let fresh_unknown = || {
        let mut u: Vec<String> = unresolved.iter().chain(&computed).cloned().collect();
        u.sort();
        u.dedup();
        u
    };
    // `before` shares the refreshed values (a reference count, not a copy).
    let mut change = no_op(r, schema, prior.clone(), Arc::default());

    let Some(prior) = prior else {
        change.action = Action::Create;
        change.after = Arc::new(resolved);
        change.after_unknown = fresh_unknown();
        return change;
    };

    let changed: Vec<&String> = r
        .attrs
        .keys()
        .filter(|name| match resolved.get(*name) {
            Some(v) => prior.get(*name) != Some(v),
            None => true,
        })
        .collect();
    let forcing: Vec<String> = changed
        .iter()
        .filter(|n| match schema.attribute(n) {
            Some(a) if a.grow_only => !only_grows(prior.get(**n), resolved.get(**n)),
            Some(a) => a.force_new,
            None => false,
        })
        .map(|n| (*n).clone())
        .collect();

    if tainted || replace_requested || !forcing.is_empty() {
        change.action = Action::Replace;
        change.replace_reason = if tainted {
            Some("tainted: an earlier apply created it only part way".into())
        } else if replace_requested {
            Some("requested with --replace".into())
        } else {
            None
        };
        change.replace_because = forcing;
        change.after = Arc::new(resolved);
        change.after_unknown = fresh_unknown();
    } else if !changed.is_empty() {
        change.action = Action::Update;
        let mut after = Attrs::clone(&prior);
        for name in &unresolved {
            after.remove(name);
        }
        after.extend(resolved);
        change.after = Arc::new(after);
        change.after_unknown = unresolved;
    } else {
        // Nothing changes: after is before, one shared copy.
        change.after = prior;
    }
    change
}

/// Whether `after` keeps every key of `before` with its value (new keys may be added).
pub(crate) fn only_grows(before: Option<&Value>, after: Option<&Value>) -> bool {
    match (before, after) {
        (None | Some(Value::Null), _) => true,
        (Some(Value::Map(b)), Some(Value::Map(a))) => b.iter().all(|(k, v)| a.get(k) == Some(v)),
        _ => false,
    }
}

/// Changes made outside matihnet to what the configuration manages. Attributes nobody configured
/// (the cloud's own bookkeeping) are not reported: they are recorded silently at the next apply.
pub(crate) fn detect_drift(
    state: &State,
    refreshed: &BTreeMap<Address, Option<Arc<Attrs>>>,
    desired: &BTreeMap<&Address, &DesiredResource>,
    schemas: &HashMap<String, ResourceSchema>,
) -> Vec<Drift> {
    let mut out = Vec::new();
    for (addr, actual) in refreshed {
        let Some(recorded) = state.resources.get(addr) else {
            continue;
        };
        match actual {
            None => out.push(Drift {
                address: addr.clone(),
                deleted: true,
                attributes: Vec::new(),
            }),
            Some(actual) => {
                let watched: Vec<&String> = match desired.get(addr) {
                    Some(d) => d.attrs.keys().collect(),
                    None => Vec::new(),
                };
                let sensitive = schemas
                    .get(&addr.kind)
                    .map(sensitive_names)
                    .unwrap_or_default();
                let attributes: Vec<AttributeDrift> = watched
                    .into_iter()
                    .filter(|n| recorded.attributes.get(*n) != actual.get(*n))
                    .map(|n| {
                        let hide = |v: Option<&Value>| {
                            v.map(|v| {
                                if sensitive.contains(n) {
                                    Value::from("(sensitive value)")
                                } else {
                                    v.clone()
                                }
                            })
                        };
                        AttributeDrift {
                            name: n.clone(),
                            recorded: hide(recorded.attributes.get(n)),
                            actual: hide(actual.get(n)),
                        }
                    })
                    .collect();
                if !attributes.is_empty() {
                    out.push(Drift {
                        address: addr.clone(),
                        deleted: false,
                        attributes,
                    });
                }
            }
        }
    }
    out
}
