//! Request fields that the official API description documents and a record does not model:
//! kept as the client sent them and rendered back, as GCP echoes every field it accepts. The
//! field tables come from the discovery documents (`api_fields.rs`, generated).

use serde_json::{Map, Value};

/// One resource's top-level fields, as its discovery schema lists them.
#[derive(Debug)]
pub struct ApiFields {
    pub schema: &'static str,
    /// What a client may send.
    pub input: &'static [&'static str],
    /// What only the server sets; a client's value is ignored, as GCP ignores it.
    pub output_only: &'static [&'static str],
}

/// The documented input fields of `body` that the record does not model (`modelled`), with
/// their values; `null` counts as absent.
pub(crate) fn unmodelled(
    fields: &ApiFields,
    body: &Map<String, Value>,
    modelled: &[&str],
) -> Map<String, Value> {
    body.iter()
        .filter(|(k, v)| {
            !v.is_null() && fields.input.contains(&k.as_str()) && !modelled.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A patch's unmodelled fields replace the echoed ones; `null` removes one.
pub(crate) fn patch(
    echoed: &mut Map<String, Value>,
    fields: &ApiFields,
    body: &Map<String, Value>,
    modelled: &[&str],
) {
    for (k, v) in body {
        if !fields.input.contains(&k.as_str()) || modelled.contains(&k.as_str()) {
            continue;
        }
        if v.is_null() {
            echoed.remove(k);
        } else {
            echoed.insert(k.clone(), v.clone());
        }
    }
}

/// Adds the echoed fields a rendering lacks.
pub(crate) fn render_into(rendered: &mut Value, echoed: &Map<String, Value>) {
    if let Some(obj) = rendered.as_object_mut() {
        for (k, v) in echoed {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: ApiFields = ApiFields {
        schema: "Thing",
        input: &["name", "mtu", "extra"],
        output_only: &["id"],
    };

    #[test]
    fn only_documented_unmodelled_inputs_are_echoed() {
        let body = json!({"name": "n", "extra": {"a": 1}, "id": "9", "bogus": 1, "mtu": null});
        let echoed = unmodelled(&FIELDS, body.as_object().unwrap(), &["name"]);
        assert_eq!(Value::Object(echoed.clone()), json!({"extra": {"a": 1}}));
        let mut rendered = json!({"name": "n", "extra": "kept"});
        render_into(&mut rendered, &echoed);
        assert_eq!(rendered["extra"], "kept", "the record's own value wins");
        let mut echoed = echoed;
        patch(
            &mut echoed,
            &FIELDS,
            json!({"extra": null, "mtu": 1460}).as_object().unwrap(),
            &[],
        );
        assert_eq!(Value::Object(echoed), json!({"mtu": 1460}));
    }
}
