//! Google's JSON wire conventions, shared by Compute and Cloud DNS: error bodies
//! (`{"error":{"code","message","errors":[{message,domain,reason}],"details"?}}`), JSON answers, request
//! bodies, and list bodies that leave out an empty list.
//!
//! Compute omits the top-level `status` of an error, Cloud DNS includes it (`NOT_FOUND`, ...),
//! as the recordings show; clients key their retry and adopt logic on `code` and
//! `errors[0].reason`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub domain: &'static str,
    pub message: String,
    /// The gRPC-style status name Cloud DNS adds to its error bodies.
    pub status: Option<&'static str>,
    /// Typed details (`google.rpc.ErrorInfo`, `google.rpc.Help`) Google adds to some errors,
    /// a spent quota's among them; left out of the body when `None`. Boxed: most errors have
    /// none, and every handler's `Result` carries this type.
    pub details: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            domain: "global",
            message: message.into(),
            status: None,
            details: None,
        }
    }

    /// Compute's wording for a missing resource, e.g. `projects/p/global/networks/x`.
    pub fn not_found(resource_path: &str) -> ApiError {
        ApiError::new(
            404,
            "notFound",
            format!("The resource '{resource_path}' was not found"),
        )
    }

    pub fn already_exists(resource_path: &str) -> ApiError {
        ApiError::new(
            409,
            "alreadyExists",
            format!("The resource '{resource_path}' already exists"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid", message)
    }

    pub fn bad_json(detail: &str) -> ApiError {
        ApiError::new(
            400,
            "parseError",
            format!("Invalid JSON payload received. {detail}"),
        )
    }

    /// Marks the error as a Cloud DNS one, which carries the status name.
    pub fn dns(mut self) -> ApiError {
        self.status = Some(match self.code {
            400 => "INVALID_ARGUMENT",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            412 => "FAILED_PRECONDITION",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "UNKNOWN",
        });
        self
    }

    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "errors": [{
                "message": self.message,
                "domain": self.domain,
                "reason": self.reason,
            }],
        });
        if let Some(obj) = error.as_object_mut() {
            if let Some(status) = self.status {
                obj.insert("status".into(), json!(status));
            }
            if let Some(details) = &self.details {
                obj.insert("details".into(), (**details).clone());
            }
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, self.body())
    }
}

/// Google's JSON answers, with the `content-type` spelling the recordings show.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    crate::core::http::json_response(status, &body, "application/json; charset=UTF-8")
}

pub fn ok(body: serde_json::Value) -> Response {
    json_response(StatusCode::OK, body)
}

pub type ApiResult = Result<Response, ApiError>;

/// Adds `items` to a list body under `field`; Google leaves the field out of the body when the
/// list is empty, as the recordings show.
pub fn with_items(
    mut body: serde_json::Value,
    field: &str,
    items: Vec<serde_json::Value>,
) -> serde_json::Value {
    if let (false, Some(obj)) = (items.is_empty(), body.as_object_mut()) {
        obj.insert(field.into(), serde_json::Value::Array(items));
    }
    body
}

/// Parses a request body; an empty body is an empty object, as Google's frontends treat it.
pub fn parse_body(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_json("Expected a JSON object.")),
        Err(e) => Err(ApiError::bad_json(&e.to_string())),
    }
}
