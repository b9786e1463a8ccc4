//! Rendered files and their encoding: keys sorted at every level, YAML documents separated by
//! `---` or one JSON value (a `v1` `List` when a file holds several objects), a final newline, and
//! nothing that changes between two renders of the same state (no timestamps, no random names).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::RenderError;

/// The name of the file that marks a directory as written by `matihnet render`, so that a later
/// render may replace the directory and never replaces one it did not write.
pub const MARKER: &str = ".matihnet-render";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// One rendered file: a path relative to the output directory, with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub contents: Vec<u8>,
}

impl File {
    pub(crate) fn marker(environment: &str) -> File {
        File::text(
            MARKER,
            format!("Written by `matihnet render` for environment \"{environment}\". Every render replaces this directory as a whole.\n"),
        )
    }

    pub(crate) fn text(path: &str, text: String) -> File {
        File {
            path: path.to_string(),
            contents: text.into_bytes(),
        }
    }

    /// Kubernetes objects: `stem.yaml` with one document each, or `stem.json`.
    pub(crate) fn objects(
        stem: &str,
        format: Format,
        objects: Vec<Value>,
    ) -> Result<File, RenderError> {
        let path = format!("{stem}.{}", format.extension());
        let contents = match format {
            Format::Yaml => {
                let mut out = String::new();
                for (i, o) in objects.iter().enumerate() {
                    if i > 0 {
                        out.push_str("---\n");
                    }
                    out.push_str(&yaml(&path, o)?);
                }
                out
            }
            Format::Json => {
                let value = match <[Value; 1]>::try_from(objects) {
                    Ok([one]) => one,
                    Err(many) => sorted(serde_json::json!({
                        "apiVersion": "v1",
                        "kind": "List",
                        "items": many,
                    })),
                };
                json(&path, &value)?
            }
        };
        Ok(File {
            path,
            contents: contents.into_bytes(),
        })
    }

    /// A Helm values file: `stem.values.yaml` or `stem.values.json` (Helm reads both).
    pub(crate) fn values(stem: &str, format: Format, value: &Value) -> Result<File, RenderError> {
        let path = format!("{stem}.values.{}", format.extension());
        let contents = match format {
            Format::Yaml => yaml(&path, value)?,
            Format::Json => json(&path, value)?,
        };
        Ok(File {
            path,
            contents: contents.into_bytes(),
        })
    }

    /// A document for a cloud's own tools (an IAM policy, role assignments), not for the
    /// cluster: always JSON, and kept under `cloud/` so `kubectl apply -R` of the manifests
    /// never meets it.
    pub(crate) fn cloud_json(path: &str, value: &Value) -> Result<File, RenderError> {
        Ok(File {
            path: path.to_string(),
            contents: json(path, value)?.into_bytes(),
        })
    }
}

/// `value` as a JSON value with every map's keys sorted.
pub(crate) fn to_value<T: Serialize>(what: &str, value: &T) -> Result<Value, RenderError> {
    serde_json::to_value(value)
        .map(sorted)
        .map_err(|e| RenderError::Encode {
            path: what.to_string(),
            message: e.to_string(),
        })
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn yaml(path: &str, value: &Value) -> Result<String, RenderError> {
    serde_yaml_ng::to_string(value).map_err(|e| RenderError::Encode {
        path: path.to_string(),
        message: e.to_string(),
    })
}

fn json(path: &str, value: &Value) -> Result<String, RenderError> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| RenderError::Encode {
            path: path.to_string(),
            message: e.to_string(),
        })
}
