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

use std::io::BufRead;

use matihnet_core::retry::RetryNotice;
use matihnet_core::{
    Attrs, DesiredResource, ErrorKind, OperationContext, ProviderConfig, ProviderError,
    ProviderFailure, ResourceSchema,
};
use serde::de::DeserializeOwned;
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

/// One header line read: the length it gives, if it is `Content-Length`. `Ok(None)` from the
/// empty line that ends the header is told apart by the caller, which sees the line empty.
fn header_line(line: &[u8]) -> Result<Option<usize>, FrameError> {
    if !line.ends_with(b"\n") {
        return Err(FrameError::Garbage(shown(line)));
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| FrameError::Garbage(shown(line)))?
        .trim_end_matches(['\r', '\n']);
    let Some((name, value)) = text.split_once(':') else {
        return Err(FrameError::Garbage(shown(line)));
    };
    if !name.trim().eq_ignore_ascii_case("content-length") {
        // Other headers (Content-Type) are allowed and ignored, as LSP allows them.
        return Ok(None);
    }
    let n: usize = value
        .trim()
        .parse()
        .map_err(|_| FrameError::Garbage(shown(line)))?;
    if n > MAX_MESSAGE {
        return Err(FrameError::Garbage(format!(
            "a message of {n} bytes (the limit is {MAX_MESSAGE})"
        )));
    }
    Ok(Some(n))
}

fn is_end_of_header(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// Longest header line either side reads: a stray line of output is reported, not buffered.
const HEADER_LINE: u64 = 1024;

/// The header of a frame, taken line by line.
#[derive(Default)]
struct Header {
    length: Option<usize>,
    lines: usize,
}

impl Header {
    /// Takes the next line as read (empty at the end of the stream); the body's length once
    /// the header has ended.
    fn take(&mut self, line: &[u8]) -> Result<Option<usize>, FrameError> {
        if line.is_empty() {
            return Err(if self.lines == 0 {
                FrameError::Closed
            } else {
                FrameError::Garbage("the stream ended inside a header".into())
            });
        }
        self.lines += 1;
        if is_end_of_header(line) {
            return self
                .length
                .map(Some)
                .ok_or_else(|| FrameError::Garbage("a header without Content-Length".into()));
        }
        if let Some(n) = header_line(line)? {
            self.length = Some(n);
        }
        Ok(None)
    }
}

/// Reads one framed message's body.
pub fn read_frame<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut header = Header::default();
    let mut line = Vec::new();
    let length = loop {
        line.clear();
        <&mut R as std::io::Read>::take(&mut *reader, HEADER_LINE).read_until(b'\n', &mut line)?;
        if let Some(n) = header.take(&line)? {
            break n;
        }
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Reads one framed message's body from an asynchronous stream.
pub async fn read_frame_async<R>(reader: &mut R) -> Result<Vec<u8>, FrameError>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut header = Header::default();
    let mut line = Vec::new();
    let length = loop {
        line.clear();
        (&mut *reader)
            .take(HEADER_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if let Some(n) = header.take(&line)? {
            break n;
        }
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

/// A whole frame, header and body, ready to be written with one call: on an unbuffered pipe
/// each piece would be a system call (and a wake-up of the reader) of its own.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame
}

/// A request, framed. Parameters are serialised straight to bytes (no `serde_json::Value` in
/// between: on a busy apply the intermediate tree cost as much as the encoding itself).
pub fn request(
    id: u64,
    method: &str,
    params: &impl Serialize,
) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(Serialize)]
    struct Request<'a, P> {
        id: u64,
        method: &'a str,
        params: &'a P,
    }
    Ok(frame(&serde_json::to_vec(&Request { id, method, params })?))
}

/// A notification, framed.
pub fn notification(method: &str, params: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(Serialize)]
    struct Notification<'a, P> {
        method: &'a str,
        params: &'a P,
    }
    Ok(frame(&serde_json::to_vec(&Notification {
        method,
        params,
    })?))
}

/// A response, framed: the result, or the error the call ended with. A result that does not
/// serialise (a provider's map with keys that are not strings) is answered as an error.
pub fn response<T: Serialize>(id: u64, outcome: Result<&T, &WireError>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Answer<'a, T> {
        id: u64,
        result: &'a T,
    }
    #[derive(Serialize)]
    struct Failed<'a> {
        id: u64,
        error: &'a WireError,
    }
    let body = match outcome {
        Ok(result) => serde_json::to_vec(&Answer { id, result }),
        Err(error) => serde_json::to_vec(&Failed { id, error }),
    };
    let body = body.or_else(|e| {
        let error = WireError::rejected(format!("the answer does not serialise: {e}"));
        serde_json::to_vec(&Failed { id, error: &error })
    });
    // A `WireError` is strings and an `Attrs` of JSON values, which always serialise.
    frame(&body.unwrap_or_default())
}

/// A message as read: its routing keys decoded, the rest kept as bytes until the one who
/// knows its type decodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request {
        id: u64,
        method: String,
        params: Body,
    },
    Response {
        id: u64,
        outcome: Result<Body, WireError>,
    },
    Notification {
        method: String,
        params: Body,
    },
}

/// The JSON text of one message, for [`Body::params`] or [`Body::result`] to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(Vec<u8>);

impl Body {
    /// The message's `params`, as `T` (`null` when there are none).
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Params<T> {
            params: Option<T>,
        }
        let p: Params<T> = serde_json::from_slice(&self.0)?;
        or_null(p.params)
    }

    /// The response's `result`, as `T` (`null` when there is none).
    pub fn result<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Answer<T> {
            result: Option<T>,
        }
        let a: Answer<T> = serde_json::from_slice(&self.0)?;
        or_null(a.result)
    }

    /// The message's text, for an error that shows what came.
    pub fn shown(&self) -> String {
        shown(&self.0)
    }
}

/// A value that was `null` or missing: what `T` makes of `null` (`None` for an `Option`, an
/// error for a struct).
fn or_null<T: DeserializeOwned>(value: Option<T>) -> Result<T, serde_json::Error> {
    match value {
        Some(v) => Ok(v),
        None => T::deserialize(serde_json::Value::Null),
    }
}

/// The keys that say what a message is; everything else is skipped without being built.
struct Head {
    id: Option<u64>,
    method: Option<String>,
    error: Option<WireError>,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Head, D::Error> {
        enum Key {
            Id,
            Method,
            Error,
            Other,
        }
        impl<'de> Deserialize<'de> for Key {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
                struct KeyVisitor;
                impl serde::de::Visitor<'_> for KeyVisitor {
                    type Value = Key;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                        Ok(match key {
                            "id" => Key::Id,
                            "method" => Key::Method,
                            "error" => Key::Error,
                            _ => Key::Other,
                        })
                    }
                }
                d.deserialize_identifier(KeyVisitor)
            }
        }
        struct HeadVisitor;
        impl<'de> serde::de::Visitor<'de> for HeadVisitor {
            type Value = Head;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object with an id or a method")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
                let mut head = Head {
                    id: None,
                    method: None,
                    error: None,
                };
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Id => head.id = map.next_value()?,
                        Key::Method => head.method = map.next_value()?,
                        Key::Error => head.error = map.next_value()?,
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
        }
        deserializer.deserialize_map(HeadVisitor)
    }
}

impl Message {
    /// Classifies a message's body by its keys; anything else is garbage.
    pub fn parse(body: Vec<u8>) -> Result<Message, FrameError> {
        let head: Head = serde_json::from_slice(&body)
            .map_err(|e| FrameError::Garbage(format!("{e}: {}", shown(&body))))?;
        let body = Body(body);
        match (head.id, head.method) {
            (Some(id), Some(method)) => Ok(Message::Request {
                id,
                method,
                params: body,
            }),
            (None, Some(method)) => Ok(Message::Notification {
                method,
                params: body,
            }),
            (Some(id), None) => Ok(Message::Response {
                id,
                outcome: match head.error {
                    Some(error) => Err(error),
                    None => Ok(body),
                },
            }),
            (None, None) => Err(FrameError::Garbage(
                "a message with neither an id nor a method".into(),
            )),
        }
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

    fn read_all(bytes: &[u8]) -> (Vec<Message>, FrameError) {
        let mut reader = std::io::BufReader::new(bytes);
        let mut got = Vec::new();
        loop {
            match read_frame(&mut reader).and_then(Message::parse) {
                Ok(m) => got.push(m),
                Err(e) => return (got, e),
            }
        }
    }

    #[test]
    fn messages_round_trip_through_the_framing() {
        let mut bytes = request(1, "read", &serde_json::json!({"a": "é\r\n"})).expect("encode");
        bytes.extend(notification("cancel", &CancelParams { id: 1 }).expect("encode"));
        bytes.extend(response(1, Ok(&serde_json::Value::Null)));
        bytes.extend(response::<()>(2, Err(&WireError::rejected("no"))));
        bytes.extend(response(3, Ok(&vec![1, 2])));
        let (got, end) = read_all(&bytes);
        assert!(matches!(end, FrameError::Closed), "{end}");
        assert_eq!(got.len(), 5);

        let Message::Request { id, method, params } = &got[0] else {
            panic!("{:?}", got[0]);
        };
        assert_eq!((*id, method.as_str()), (1, "read"));
        let p: serde_json::Value = params.params().expect("params");
        assert_eq!(p, serde_json::json!({"a": "é\r\n"}));

        let Message::Notification { method, params } = &got[1] else {
            panic!("{:?}", got[1]);
        };
        assert_eq!(method, "cancel");
        assert_eq!(params.params::<CancelParams>().expect("params").id, 1);

        let Message::Response {
            id: 1,
            outcome: Ok(body),
        } = &got[2]
        else {
            panic!("{:?}", got[2]);
        };
        // A `null` result is what an `Option` makes `None` of.
        assert_eq!(body.result::<Option<Attrs>>().expect("result"), None);

        assert_eq!(
            got[3],
            Message::Response {
                id: 2,
                outcome: Err(WireError::rejected("no"))
            }
        );
        let Message::Response {
            id: 3,
            outcome: Ok(body),
        } = &got[4]
        else {
            panic!("{:?}", got[4]);
        };
        assert_eq!(body.result::<Vec<u32>>().expect("result"), vec![1, 2]);
        assert!(body.result::<String>().is_err());
    }

    #[test]
    fn an_answer_that_does_not_serialise_is_answered_as_an_error_of_its_call() {
        let unserialisable = std::collections::BTreeMap::from([((1, 2), "pair keys")]);
        let (got, _) = read_all(&response(9, Ok(&unserialisable)));
        let [Message::Response {
            id: 9,
            outcome: Err(error),
        }] = &got[..]
        else {
            panic!("{got:?}");
        };
        assert_eq!(error.kind, ErrorKind::Rejected);
        assert!(
            error.message.contains("does not serialise"),
            "{}",
            error.message
        );
    }

    #[test]
    fn the_async_reader_reads_what_the_writer_wrote() {
        let mut bytes = request(7, "create", &serde_json::json!({"x": 1})).expect("encode");
        bytes.extend(b"Content-Type: application/json\r\n");
        bytes.extend(response(7, Ok(&"done")));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut reader = tokio::io::BufReader::new(&bytes[..]);
            let first = read_frame_async(&mut reader).await.expect("first");
            assert!(matches!(
                Message::parse(first),
                Ok(Message::Request { id: 7, .. })
            ));
            let second = Message::parse(read_frame_async(&mut reader).await.expect("second"));
            let Ok(Message::Response {
                id: 7,
                outcome: Ok(body),
            }) = second
            else {
                panic!("{second:?}");
            };
            assert_eq!(body.result::<String>().expect("result"), "done");
            assert!(matches!(
                read_frame_async(&mut reader).await,
                Err(FrameError::Closed)
            ));
        });
    }

    #[test]
    fn garbage_is_reported_with_what_was_read() {
        let (_, e) = read_all(b"hello from a stray println\n");
        let FrameError::Garbage(what) = e else {
            panic!("garbage accepted: {e}");
        };
        assert!(what.contains("hello from a stray println"), "{what}");

        let (_, e) = read_all(b"Content-Length: 5\r\n\r\n{nope");
        assert!(matches!(e, FrameError::Garbage(_)), "{e}");

        let huge = format!("Content-Length: {}\r\n\r\n", MAX_MESSAGE + 1);
        let (_, e) = read_all(huge.as_bytes());
        assert!(matches!(e, FrameError::Garbage(_)), "{e}");

        for bad in [
            serde_json::json!([1]),
            serde_json::json!({"params": {}}),
            serde_json::json!({"id": "x", "method": "read"}),
            serde_json::json!({"id": 1, "error": {"kind": "NoSuchKind", "message": "m"}}),
        ] {
            let body = serde_json::to_vec(&bad).expect("json");
            assert!(Message::parse(body).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_stream_cut_inside_a_message_is_not_a_clean_end() {
        let (_, e) = read_all(b"Content-Length: 10\r\n\r\n{\"id\"");
        assert!(matches!(e, FrameError::Io(_)), "{e}");
        let (_, e) = read_all(b"Content-Length: 10\r\n");
        assert!(matches!(e, FrameError::Garbage(_)), "{e}");
    }
}
