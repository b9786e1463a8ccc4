//! The wire format: JSON messages framed by a `Content-Length` header, as the Language Server
//! Protocol frames them, over the plugin's stdin (host to plugin) and stdout (plugin to host).
//!
//! Three shapes of message, told apart by their keys:
//! - a request `{"id": N, "method": "...", "params": {...}}`, answered once by
//! - a response `{"id": N, "result": ...}` or `{"id": N, "error": {"kind", "message", ...}}`;
//! - a notification `{"method": "...", "params": {...}}`, never answered (`cancel` from the
//!   host, `retry` from the plugin).
//!
//! The methods and their parameters are listed in `docs/plugin-protocol.md`.

use std::io::{BufRead, Write};

use matihnet_core::retry::RetryNotice;
use matihnet_core::{
    Attrs, DesiredResource, ErrorKind, OperationContext, ProviderConfig, ProviderError,
    ProviderFailure, ResourceSchema,
};
use serde::{Deserialize, Serialize};

/// The protocol versions this build speaks. A host offers all of them; a plugin picks one.
pub const PROTOCOL_VERSIONS: &[u32] = &[1];

/// The variable a host sets, with [`MAGIC_COOKIE_VALUE`], when it starts a plugin: a plugin run
/// by hand sees it missing and says what it is instead of waiting for messages.
pub const MAGIC_COOKIE_VAR: &str = "MATIHNET_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d3b5e1c0-matihnet-provider-plugin";

/// The largest message either side accepts: a state of 50,000 resources read in one batch
/// stays well under it, and a corrupt length cannot make the reader allocate without bound.
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly between messages.
    #[error("the stream ended")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Bytes that are not a framed message: kept (up to 200 bytes) for the error message.
    #[error("not a protocol message: {0}")]
    Garbage(String),
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    format!("{text:?}")
}

/// Reads one framed message.
pub fn read_message<R: BufRead>(reader: &mut R) -> Result<serde_json::Value, FrameError> {
    let mut length: Option<usize> = None;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        let n = <&mut R as std::io::Read>::take(&mut *reader, 1024).read_until(b'\n', &mut line)?;
        if n == 0 {
            return if first {
                Err(FrameError::Closed)
            } else {
                Err(FrameError::Garbage(
                    "the stream ended inside a header".into(),
                ))
            };
        }
        first = false;
        if !line.ends_with(b"\n") {
            return Err(FrameError::Garbage(shown(&line)));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| FrameError::Garbage(shown(&line)))?
            .trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(FrameError::Garbage(shown(&line)));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .trim()
                .parse()
                .map_err(|_| FrameError::Garbage(shown(&line)))?;
            if n > MAX_MESSAGE {
                return Err(FrameError::Garbage(format!(
                    "a message of {n} bytes (the limit is {MAX_MESSAGE})"
                )));
            }
            length = Some(n);
        }
        // Other headers (Content-Type) are allowed and ignored, as LSP allows them.
    }
    let Some(length) = length else {
        return Err(FrameError::Garbage(
            "a header without Content-Length".into(),
        ));
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| FrameError::Garbage(format!("{e}: {}", shown(&body))))
}

/// Writes one framed message and flushes it. The frame is assembled first and written with
/// one call: on an unbuffered pipe each piece would be a system call (and a wake-up of the
/// reader) of its own.
pub fn write_message(writer: &mut impl Write, message: &serde_json::Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(message)?;
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(&body);
    writer.write_all(&frame)?;
    writer.flush()
}

/// A message, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: u64,
        method: String,
        params: serde_json::Value,
    },
    Response {
        id: u64,
        outcome: Result<serde_json::Value, WireError>,
    },
    Notification {
        method: String,
        params: serde_json::Value,
    },
}

impl Message {
    /// Classifies a message by its keys; anything else is garbage.
    pub fn classify(value: serde_json::Value) -> Result<Message, FrameError> {
        let serde_json::Value::Object(mut map) = value else {
            return Err(FrameError::Garbage(format!("{value} is not an object")));
        };
        let id = match map.remove("id") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .ok_or_else(|| FrameError::Garbage(format!("id {v} is not a number")))?,
            ),
        };
        let method = match map.remove("method") {
            None => None,
            Some(serde_json::Value::String(m)) => Some(m),
            Some(v) => return Err(FrameError::Garbage(format!("method {v} is not a string"))),
        };
        let params = map.remove("params").unwrap_or(serde_json::Value::Null);
        match (id, method) {
            (Some(id), Some(method)) => Ok(Message::Request { id, method, params }),
            (None, Some(method)) => Ok(Message::Notification { method, params }),
            (Some(id), None) => {
                let outcome = match map.remove("error") {
                    Some(e) if !e.is_null() => {
                        Err(serde_json::from_value(e.clone()).map_err(|err| {
                            FrameError::Garbage(format!("error {e} of response {id}: {err}"))
                        })?)
                    }
                    _ => Ok(map.remove("result").unwrap_or(serde_json::Value::Null)),
                };
                Ok(Message::Response { id, outcome })
            }
            (None, None) => Err(FrameError::Garbage(
                "a message with neither an id nor a method".into(),
            )),
        }
    }

    /// The message as JSON, moving its parameters rather than copying them.
    pub fn into_value(self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        match self {
            Message::Request { id, method, params } => {
                map.insert("id".into(), id.into());
                map.insert("method".into(), method.into());
                map.insert("params".into(), params);
            }
            Message::Notification { method, params } => {
                map.insert("method".into(), method.into());
                map.insert("params".into(), params);
            }
            Message::Response { id, outcome } => {
                map.insert("id".into(), id.into());
                match outcome {
                    Ok(result) => map.insert("result".into(), result),
                    Err(error) => map.insert(
                        "error".into(),
                        serde_json::to_value(error).unwrap_or_default(),
                    ),
                };
            }
        }
        serde_json::Value::Object(map)
    }
}

/// A failed call on the wire: a provider error, with what a failed create or update left
/// behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<Attrs>,
}

impl From<ProviderError> for WireError {
    fn from(e: ProviderError) -> WireError {
        WireError {
            kind: e.kind,
            message: e.message,
            request_id: e.request_id,
            partial: None,
        }
    }
}

impl From<ProviderFailure> for WireError {
    fn from(f: ProviderFailure) -> WireError {
        WireError {
            partial: f.partial,
            ..WireError::from(f.error)
        }
    }
}

impl WireError {
    pub fn rejected(message: impl Into<String>) -> WireError {
        WireError::from(ProviderError::new(ErrorKind::Rejected, message))
    }

    pub fn into_failure(self) -> ProviderFailure {
        ProviderFailure {
            error: ProviderError {
                kind: self.kind,
                message: self.message,
                request_id: self.request_id,
            },
            partial: self.partial,
        }
    }

    pub fn into_error(self) -> ProviderError {
        self.into_failure().error
    }
}

/// `handshake`: the first request, offering the host's protocol versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandshakeParams {
    pub protocol_versions: Vec<u32>,
    /// The host's name and version, for the plugin's logs.
    pub host: String,
}

/// The plugin's answer to `handshake`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeResult {
    pub protocol_version: u32,
    /// The provider's name (`aws`, `cloudflare`).
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// What a plugin does beyond the required calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Answers `import`.
    #[serde(default)]
    pub import: bool,
    /// Honours `cancel` notifications (stops the call and answers it with an error).
    #[serde(default)]
    pub cancel: bool,
    /// Sends `retry` notifications while it retries a call.
    #[serde(default)]
    pub retry_notices: bool,
}

/// `configure`: the settings; with `connect` the plugin also gets ready to reach its cloud
/// (reads credentials), without it only `map_resources` may follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigureParams {
    pub config: ProviderConfig,
    pub connect: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigureResult {
    pub schemas: Vec<ResourceSchema>,
    /// Kinds whose reads the plugin answers together (`read_many`).
    #[serde(default)]
    pub batched_kinds: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapParams {
    pub resources: Vec<DesiredResource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadParams {
    pub ctx: OperationContext,
    pub prior: Attrs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadManyParams {
    pub kind: String,
    pub reads: Vec<ReadParams>,
}

/// One answer of `read_many`: `{"result": attrs-or-null}` or `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadAnswer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Attrs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateParams {
    pub ctx: OperationContext,
    pub desired: Attrs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateParams {
    pub ctx: OperationContext,
    pub prior: Attrs,
    pub desired: Attrs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteParams {
    pub ctx: OperationContext,
    pub prior: Attrs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportParams {
    pub ctx: OperationContext,
    pub id: String,
    pub mark: bool,
}

/// `cancel` (host to plugin): stop call `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelParams {
    pub id: u64,
}

/// `retry` (plugin to host): call `id` is about to be retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetryParams {
    pub id: u64,
    pub notice: RetryNotice,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(messages: &[serde_json::Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in messages {
            write_message(&mut out, m).expect("write");
        }
        out
    }

    #[test]
    fn messages_round_trip_through_the_framing() {
        let sent = vec![
            Message::Request {
                id: 1,
                method: "read".into(),
                params: serde_json::json!({"a": "é\r\n"}),
            },
            Message::Notification {
                method: "cancel".into(),
                params: serde_json::json!({"id": 1}),
            },
            Message::Response {
                id: 1,
                outcome: Ok(serde_json::Value::Null),
            },
            Message::Response {
                id: 2,
                outcome: Err(WireError::rejected("no")),
            },
        ];
        let bytes = framed(
            &sent
                .iter()
                .cloned()
                .map(Message::into_value)
                .collect::<Vec<_>>(),
        );
        let mut reader = std::io::BufReader::new(&bytes[..]);
        for m in &sent {
            let got =
                Message::classify(read_message(&mut reader).expect("read")).expect("classify");
            assert_eq!(&got, m);
        }
        assert!(matches!(read_message(&mut reader), Err(FrameError::Closed)));
    }

    #[test]
    fn garbage_is_reported_with_what_was_read() {
        let mut reader = std::io::BufReader::new(&b"hello from a stray println\n"[..]);
        let Err(FrameError::Garbage(what)) = read_message(&mut reader) else {
            panic!("garbage accepted");
        };
        assert!(what.contains("hello from a stray println"), "{what}");

        let mut reader = std::io::BufReader::new(&b"Content-Length: 5\r\n\r\n{nope"[..]);
        assert!(matches!(
            read_message(&mut reader),
            Err(FrameError::Garbage(_))
        ));

        let huge = format!("Content-Length: {}\r\n\r\n", MAX_MESSAGE + 1);
        let mut reader = std::io::BufReader::new(huge.as_bytes());
        assert!(matches!(
            read_message(&mut reader),
            Err(FrameError::Garbage(_))
        ));

        for bad in [
            serde_json::json!([1]),
            serde_json::json!({"params": {}}),
            serde_json::json!({"id": "x", "method": "read"}),
        ] {
            assert!(Message::classify(bad).is_err());
        }
    }

    #[test]
    fn a_stream_cut_inside_a_message_is_not_a_clean_end() {
        let mut reader = std::io::BufReader::new(&b"Content-Length: 10\r\n\r\n{\"id\""[..]);
        assert!(matches!(read_message(&mut reader), Err(FrameError::Io(_))));
        let mut reader = std::io::BufReader::new(&b"Content-Length: 10\r\n"[..]);
        assert!(matches!(
            read_message(&mut reader),
            Err(FrameError::Garbage(_))
        ));
    }
}
