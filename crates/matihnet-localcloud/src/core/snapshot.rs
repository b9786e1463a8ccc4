//! The versioned envelope an emulated cloud saves its objects in, `{"version": N, "state": ...}`,
//! and the reading of what older versions wrote: the envelope's version is checked before the
//! state is decoded, and a cloud that saved its bare state before the envelope existed (GCP)
//! still reads such files.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How one cloud's snapshots are written and read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SnapshotFormat {
    /// The cloud's name in error messages: `Azure`, `GCP`.
    pub cloud: &'static str,
    /// The version written, and the only one read.
    pub version: u32,
    /// Whether a snapshot without the envelope is this cloud's state as saved before
    /// versioning; otherwise it is refused.
    pub reads_unversioned: bool,
}

#[derive(Deserialize)]
struct Envelope {
    version: u32,
    #[serde(default)]
    state: Value,
}

impl SnapshotFormat {
    /// The envelope around `state`; `null` if the state cannot be represented as JSON (it always
    /// can: it is plain data).
    pub(crate) fn write<T: Serialize>(&self, state: &T) -> Value {
        match serde_json::to_value(state) {
            Ok(state) => json!({"version": self.version, "state": state}),
            Err(_) => Value::Null,
        }
    }

    /// The state a snapshot holds; `null` means an empty cloud.
    pub(crate) fn read<T: DeserializeOwned + Default>(&self, snapshot: Value) -> Result<T, String> {
        if snapshot.is_null() {
            return Ok(T::default());
        }
        let cloud = self.cloud;
        let state = if snapshot.get("version").is_some() {
            let envelope: Envelope = serde_json::from_value(snapshot)
                .map_err(|e| format!("the {cloud} part is not a local-cloud snapshot: {e}"))?;
            if envelope.version != self.version {
                return Err(format!(
                    "{cloud} local-cloud snapshot version {} is not supported (expected {})",
                    envelope.version, self.version
                ));
            }
            envelope.state
        } else if self.reads_unversioned {
            snapshot
        } else {
            return Err(format!(
                "the {cloud} part is not a local-cloud snapshot: it has no version"
            ));
        };
        serde_json::from_value(state)
            .map_err(|e| format!("the {cloud} part is not a local-cloud snapshot: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct State {
        items: Vec<u32>,
    }

    const STRICT: SnapshotFormat = SnapshotFormat {
        cloud: "Test",
        version: 1,
        reads_unversioned: false,
    };
    const LEGACY: SnapshotFormat = SnapshotFormat {
        reads_unversioned: true,
        ..STRICT
    };

    #[test]
    fn round_trips_in_the_envelope() {
        let state = State { items: vec![1, 2] };
        let snap = STRICT.write(&state);
        assert_eq!(snap, json!({"version": 1, "state": {"items": [1, 2]}}));
        assert_eq!(STRICT.read::<State>(snap).unwrap(), state);
        assert_eq!(STRICT.read::<State>(Value::Null).unwrap(), State::default());
    }

    #[test]
    fn other_versions_and_unversioned_states_are_refused_unless_legacy() {
        let err = STRICT
            .read::<State>(json!({"version": 9, "state": {}}))
            .unwrap_err();
        assert!(err.contains("version 9 is not supported"), "{err}");
        let err = STRICT.read::<State>(json!({"items": [3]})).unwrap_err();
        assert_eq!(
            err,
            "the Test part is not a local-cloud snapshot: it has no version"
        );
        assert!(STRICT.read::<State>(json!([1, 2])).is_err());
        assert_eq!(
            LEGACY.read::<State>(json!({"items": [3]})).unwrap(),
            State { items: vec![3] }
        );
        assert!(LEGACY.read::<State>(json!({"items": 5})).is_err());
        assert!(LEGACY
            .read::<State>(json!({"version": 1, "state": {"items": "x"}}))
            .is_err());
    }
}
