//! One ARM request, parsed (`Req`), and the mutable parts of the cloud its handler works on
//! (`Env`): starting long-running operations and the headers that announce them, plus the
//! request checks every ARM call passes (bearer token, `api-version`).

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::arm::{insert_header, ArmError, Target};
use super::state::{self, new_guid, Failure, Operation, Provisioning, Resource};
use crate::core::faults::Faults;
use crate::core::operations::OperationClock;

pub(crate) struct Req {
    pub method: Method,
    pub target: Target,
    pub host: String,
    pub api_version: String,
    /// The raw query string (`CheckIPAddressAvailability` reads `ipAddress` from it).
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub now: u64,
}

impl Req {
    /// The request body as JSON; ARM answers `InvalidRequestContent` otherwise.
    pub fn json(&self) -> Result<Value, ArmError> {
        if self.body.is_empty() {
            return Ok(json!({}));
        }
        let v: Value = serde_json::from_slice(&self.body).map_err(|e| {
            ArmError::bad_request(
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: '{e}'."),
            )
        })?;
        if !v.is_object() {
            return Err(ArmError::bad_request(
                "InvalidRequestContent",
                "The request content must be a JSON object.",
            ));
        }
        Ok(v)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|h| h.to_str().ok())
    }

    /// `Azure-AsyncOperation` (`results` false) or `Location` (`results` true) of an operation.
    pub fn operation_url(&self, sub: &str, location: &str, op_id: &str, results: bool) -> String {
        let kind = if results {
            "operationResults"
        } else {
            "operations"
        };
        format!(
            "http://{}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/{kind}/{op_id}?api-version={}",
            self.host, self.api_version
        )
    }
}

impl Req {
    /// Azure DNS's operation URLs sit under the zone's group: `dnsOperationStatuses` (`results`
    /// false) or `dnsOperationResults` (`results` true).
    pub fn dns_operation_url(&self, sub: &str, rg: &str, op_id: &str, results: bool) -> String {
        let kind = if results {
            "dnsOperationResults"
        } else {
            "dnsOperationStatuses"
        };
        format!(
            "http://{}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{op_id}?api-version={}",
            self.host, self.api_version
        )
    }
}

/// The mutable parts of the cloud a handler works on.
pub(crate) struct Env<'a> {
    pub state: &'a mut state::State,
    pub faults: &'a mut Faults,
    pub clock: &'a OperationClock,
}

impl Env<'_> {
    /// Starts a long-running operation ending after the configured delay; a pending
    /// `fail_operations` fault makes it end `Failed`.
    pub fn start_operation(&mut self, req: &Req, sub: &str, location: &str) -> String {
        let failure = self.faults.take_operation_failure().map(|f| Failure {
            code: f.code.unwrap_or_else(|| "InternalServerError".into()),
            message: f.message.unwrap_or_else(|| "An error occurred.".into()),
        });
        let id = new_guid();
        self.state.operations.insert(
            id.clone(),
            Operation {
                sub: sub.to_string(),
                location: location.to_string(),
                api_version: req.api_version.clone(),
                ends_at_ms: self.clock.ends_at(req.now),
                failure,
                settled: false,
            },
        );
        id
    }

    /// The operation deleting `r` and `doomed` (its key and its children's): the one already
    /// running when a DELETE is repeated, else a new one that marks them all `Deleting`.
    pub fn start_deleting(
        &mut self,
        req: &Req,
        sub: &str,
        location: &str,
        r: &Resource,
        doomed: &[String],
    ) -> String {
        match (&r.pending_op, r.state) {
            (Some(op), Provisioning::Deleting) => op.clone(),
            _ => {
                let op = self.start_operation(req, sub, location);
                for d in doomed {
                    if let Some(x) = self.state.resources.get_mut(d) {
                        x.state = Provisioning::Deleting;
                        x.pending_op = Some(op.clone());
                    }
                }
                op
            }
        }
    }

    /// How long a poller should wait, in the header azure_core reads before `Retry-After`
    /// (whose whole seconds, or azure_core's 30 s default, would make every local apply slow).
    pub fn retry_after_ms(&self) -> String {
        self.clock.delay_ms().clamp(10, 1000).to_string()
    }

    /// Finishes the headers of a response that started operation `op_id`.
    pub fn lro_headers(
        &self,
        response: &mut Response,
        req: &Req,
        sub: &str,
        location: &str,
        op_id: &str,
        with_location: bool,
    ) {
        insert_header(
            response,
            "azure-asyncoperation",
            &req.operation_url(sub, location, op_id, false),
        );
        insert_header(response, "azure-asyncnotification", "Enabled");
        if with_location {
            insert_header(
                response,
                "location",
                &req.operation_url(sub, location, op_id, true),
            );
        }
        insert_header(response, "retry-after-ms", &self.retry_after_ms());
    }
}

pub(crate) fn method_not_allowed(method: &Method) -> ArmError {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("The requested resource does not support http method '{method}'."),
    )
}

/// Location strings as ARM stores them: `West US` -> `westus`.
pub(crate) fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub(super) fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        })
}

/// A query parameter by case-insensitive name, undecoded, as ARM reads `api-version`.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k.eq_ignore_ascii_case(name) && !v.is_empty()).then(|| v.to_string())
    })
}

/// `YYYY-MM-DD` with an optional `-preview`-style suffix, as ARM api-versions are.
pub(super) fn valid_api_version(v: &str) -> bool {
    let date = v.get(..10).unwrap_or("");
    let rest = v.get(10..).unwrap_or("");
    date.len() == 10
        && date.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
        && (rest.is_empty() || rest.starts_with('-'))
}
