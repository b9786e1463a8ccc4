//! Reading fields of Google API request bodies, and the naming and labelling rules Compute and
//! Cloud DNS share. Each service words its errors its own way (`resource.x` vs.
//! `entity.managedZone.x`), so these return what was wrong and the caller says it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A string field, absent or `null` as `None`; `Err` carries the value that is not a string.
pub(super) fn optional_string<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<String>, &'a Value> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(other),
    }
}

/// GCP resource and managed-zone names: RFC 1035 labels of at most 63 characters.
pub(super) fn is_resource_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Why a body's `labels` were refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LabelError {
    /// Not a map of strings; the decoder's explanation.
    NotStrings(String),
    /// The first pair that breaks GCP's rules.
    Invalid { key: String, value: String },
}

/// The body's `labels` (absent or `null`: none). GCP's rules: keys start with a lowercase
/// letter, keys and values hold only lowercase letters, digits, `-` and `_`, at most 63 each.
pub(super) fn labels(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, LabelError> {
    let Some(value) = body.get("labels").filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let labels: BTreeMap<String, String> =
        serde_json::from_value(value.clone()).map_err(|e| LabelError::NotStrings(e.to_string()))?;
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    for (k, v) in &labels {
        let key_ok = (1..=63).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars().all(ok_char);
        let value_ok = v.len() <= 63 && v.chars().all(ok_char);
        if !key_ok || !value_ok {
            return Err(LabelError::Invalid {
                key: k.clone(),
                value: v.clone(),
            });
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn names_and_labels_follow_gcp_rules() {
        assert!(is_resource_name("vpc-1"));
        assert!(!is_resource_name("vpc-"));
        assert!(!is_resource_name("1vpc"));
        assert!(!is_resource_name(&"a".repeat(64)));
        assert_eq!(labels(&body(json!({}))), Ok(BTreeMap::new()));
        assert_eq!(
            labels(&body(json!({"labels": {"env": "prod"}}))).map(|l| l.len()),
            Ok(1)
        );
        assert_eq!(
            labels(&body(json!({"labels": {"Upper.Case": "x"}}))),
            Err(LabelError::Invalid {
                key: "Upper.Case".into(),
                value: "x".into()
            })
        );
        assert!(matches!(
            labels(&body(json!({"labels": {"a": 1}}))),
            Err(LabelError::NotStrings(_))
        ));
        assert_eq!(optional_string(&body(json!({"a": null})), "a"), Ok(None));
        assert_eq!(optional_string(&body(json!({"a": 1})), "a"), Err(&json!(1)));
    }
}
