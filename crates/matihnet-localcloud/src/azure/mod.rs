//! The local Azure Resource Manager: resource groups, `Microsoft.Network` virtual networks with
//! subnets, public IP addresses and DNS zones with record sets, behaving as the recordings in
//! `tests/reference/azure` show (long-running PUT/DELETE with `Azure-AsyncOperation` and
//! `Location`, synchronous DNS with etags, ARM error bodies, bearer tokens, `api-version`).
//!
//! Admin endpoints under `/_localcloud/azure/` (no token needed) inject faults, reset the cloud,
//! finish running operations and mark subnets as in use; the same exist as methods on [`Cloud`].

mod arm;
mod cidr;
mod dns;
mod groups;
mod network;
mod state;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::Options;
use arm::{empty_response, insert_header, json_response, parse_path, ArmError, PathError, Target};
use state::{key, new_guid, now_ms, Failure, OpStatus, Operation};

/// Requests larger than this are refused; ARM's own limit is 4 MB.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The emulated Azure subscription(s): every subscription id is accepted.
pub struct Cloud {
    inner: Mutex<Inner>,
    default_delay: Duration,
}

struct Inner {
    state: state::State,
    faults: Faults,
    delay: Duration,
}

/// Faults waiting to be served, counted down as requests arrive.
#[derive(Debug, Default, Clone, Serialize)]
struct Faults {
    throttle: u32,
    retry_after_seconds: u64,
    server_errors: u32,
    fail_operations: u32,
    failure_code: Option<String>,
    failure_message: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    state: state::State,
}

impl Cloud {
    pub fn new(options: Options) -> Cloud {
        Cloud {
            inner: Mutex::new(Inner {
                state: state::State::default(),
                faults: Faults::default(),
                delay: options.operation_delay,
            }),
            default_delay: options.operation_delay,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A handler that panicked left whole objects behind (every change is one assignment),
        // so the state is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulated objects and running operations as JSON (faults are not part of it).
    pub fn snapshot(&self) -> Value {
        let mut inner = self.lock();
        inner.state.settle(now_ms());
        serde_json::to_value(Snapshot {
            version: 1,
            state: inner.state.clone(),
        })
        .unwrap_or(Value::Null)
    }

    /// Replaces the objects with a snapshot's; `null` means an empty cloud.
    pub fn restore(&self, snapshot: Value) -> Result<(), String> {
        let state = if snapshot.is_null() {
            state::State::default()
        } else {
            let snap: Snapshot = serde_json::from_value(snapshot)
                .map_err(|e| format!("not an Azure local-cloud snapshot: {e}"))?;
            if snap.version != 1 {
                return Err(format!(
                    "Azure local-cloud snapshot version {} is not supported (expected 1)",
                    snap.version
                ));
            }
            snap.state
        };
        self.lock().state = state;
        Ok(())
    }

    /// The next `count` ARM requests answer 429 with `Retry-After`.
    pub fn throttle(&self, count: u32, retry_after: Duration) {
        let mut inner = self.lock();
        inner.faults.throttle = count;
        inner.faults.retry_after_seconds = retry_after.as_secs().max(1);
    }

    /// The next `count` ARM requests answer 500 `InternalServerError`.
    pub fn server_errors(&self, count: u32) {
        self.lock().faults.server_errors = count;
    }

    /// The next `count` long-running operations end `Failed`.
    pub fn fail_operations(&self, count: u32) {
        let mut inner = self.lock();
        inner.faults.fail_operations = count;
        inner.faults.failure_code = None;
        inner.faults.failure_message = None;
    }

    /// How long operations started from now on stay `InProgress`.
    pub fn set_operation_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }

    /// An empty cloud with no faults and the operation delay it was created with.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.state = state::State::default();
        inner.faults = Faults::default();
        inner.delay = self.default_delay;
    }

    /// Ends every running operation now, as if its delay had passed.
    pub fn finish_operations(&self) {
        self.lock().state.finish_all(now_ms());
    }

    /// Records that `by` (for example a NIC's ip configuration id) uses the subnet, so that
    /// deleting it or its VNet fails with `InUseSubnetCannotBeDeleted`.
    pub fn mark_subnet_in_use(&self, subnet_id: &str, by: &str) -> Result<(), String> {
        let mut inner = self.lock();
        inner.state.settle(now_ms());
        let subnet = subnet_mut(&mut inner.state, subnet_id)?;
        if !subnet.used_by.iter().any(|u| u.eq_ignore_ascii_case(by)) {
            subnet.used_by.push(by.to_string());
        }
        Ok(())
    }

    /// Forgets every user of the subnet.
    pub fn release_subnet(&self, subnet_id: &str) -> Result<(), String> {
        let mut inner = self.lock();
        inner.state.settle(now_ms());
        subnet_mut(&mut inner.state, subnet_id)?.used_by.clear();
        Ok(())
    }

    fn handle_arm(
        &self,
        method: Method,
        uri: &axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let path = uri.path();
        if !authorized(&headers) {
            return ArmError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or is not a bearer token.",
            )
            .with_header(
                "www-authenticate",
                "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"".into(),
            )
            .into_response();
        }
        let Some(api_version) = query_param(uri.query().unwrap_or(""), "api-version") else {
            return ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
            .into_response();
        };
        if !valid_api_version(&api_version) {
            return ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!("The api-version '{api_version}' is invalid. The supported versions are dates like '2024-03-01'."),
            )
            .into_response();
        }
        let now = now_ms();
        let mut inner = self.lock();
        inner.state.settle(now);
        if inner.faults.throttle > 0 {
            inner.faults.throttle -= 1;
            let secs = inner.faults.retry_after_seconds.max(1);
            let kind = if method == Method::GET || method == Method::HEAD {
                "read"
            } else {
                "write"
            };
            return ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "SubscriptionRequestsThrottled",
                format!("Number of '{kind}' requests for subscription exceeded. Please try again after '{secs}' seconds after additional tries."),
            )
            .with_header("retry-after", secs.to_string())
            .into_response();
        }
        if inner.faults.server_errors > 0 {
            inner.faults.server_errors -= 1;
            return ArmError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                format!("Encountered internal server error. Diagnostic information: timestamp '{now}', correlation '{}'.", new_guid()),
            )
            .into_response();
        }
        let target = match parse_path(path) {
            Ok(t) => t,
            Err(PathError::UnknownType(t)) => {
                return ArmError::bad_request(
                    "InvalidResourceType",
                    format!("The resource type '{t}' could not be found in the namespace 'Microsoft.Network' for api version '{api_version}'."),
                )
                .into_response()
            }
            Err(PathError::NotFound) => {
                return ArmError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("No HTTP resource was found that matches the request URI '{path}'."),
                )
                .into_response()
            }
        };
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let delay_ms = inner.delay.as_millis() as u64;
        let Inner { state, faults, .. } = &mut *inner;
        let mut env = Env {
            state,
            faults,
            delay_ms,
        };
        let req = Req {
            method,
            target,
            host,
            api_version,
            headers,
            body,
            now,
        };
        let result = match &req.target {
            Target::Groups { .. }
            | Target::Group { .. }
            | Target::GroupResources { .. }
            | Target::GroupOperation { .. } => groups::handle(&mut env, &req),
            Target::Operation { .. } => operation(&mut env, &req),
            Target::RecordSets { .. } | Target::RecordSet { .. } => dns::handle(&mut env, &req),
            Target::Resource { kind, .. } | Target::Collection { kind, .. }
                if *kind == arm::Kind::DnsZone =>
            {
                dns::handle(&mut env, &req)
            }
            _ => network::handle(&mut env, &req),
        };
        result.unwrap_or_else(ArmError::into_response)
    }

    fn handle_admin(&self, method: Method, path: &str, body: Bytes) -> Response {
        let action = path
            .trim_start_matches("/_localcloud/azure/")
            .trim_end_matches('/');
        let parsed: Result<Value, _> = if body.is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_slice(&body)
        };
        let Ok(args) = parsed else {
            return admin_error("the body is not JSON");
        };
        match (method, action) {
            (Method::POST, "faults") => match self.apply_faults(&args) {
                Ok(()) => json_response(StatusCode::OK, &self.faults_json()),
                Err(e) => admin_error(&e),
            },
            (Method::GET, "faults") => json_response(StatusCode::OK, &self.faults_json()),
            (Method::DELETE, "faults") => {
                self.clear_faults();
                json_response(StatusCode::OK, &self.faults_json())
            }
            (Method::POST, "reset") => {
                self.reset();
                empty_response(StatusCode::NO_CONTENT)
            }
            (Method::POST, "finish-operations") => {
                self.finish_operations();
                empty_response(StatusCode::NO_CONTENT)
            }
            (Method::GET, "state") => json_response(StatusCode::OK, &self.snapshot()),
            (Method::POST, "subnet-in-use") => {
                let Some(subnet) = args["subnet"].as_str() else {
                    return admin_error(
                        "expected {\"subnet\": \"<subnet id>\", \"by\": \"<user id>\" | null}",
                    );
                };
                let result = match args["by"].as_str() {
                    Some(by) => self.mark_subnet_in_use(subnet, by),
                    None => self.release_subnet(subnet),
                };
                match result {
                    Ok(()) => empty_response(StatusCode::NO_CONTENT),
                    Err(e) => admin_error(&e),
                }
            }
            _ => json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("no admin endpoint {action}; try POST faults, DELETE faults, POST reset, POST finish-operations, POST subnet-in-use, GET state")}),
            ),
        }
    }

    fn apply_faults(&self, args: &Value) -> Result<(), String> {
        let obj = args.as_object().ok_or("expected a JSON object")?;
        let count = |v: &Value, what: &str| -> Result<u32, String> {
            v["count"]
                .as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .ok_or(format!("{what}.count must be a non-negative integer"))
        };
        for (k, v) in obj {
            match k.as_str() {
                "throttle" => {
                    let n = count(v, "throttle")?;
                    let secs = v["retry_after_seconds"].as_u64().unwrap_or(1);
                    self.throttle(n, Duration::from_secs(secs));
                }
                "server_error" => self.server_errors(count(v, "server_error")?),
                "fail_operations" => {
                    let n = count(v, "fail_operations")?;
                    self.fail_operations(n);
                    let mut inner = self.lock();
                    inner.faults.failure_code = v["code"].as_str().map(str::to_string);
                    inner.faults.failure_message = v["message"].as_str().map(str::to_string);
                }
                "operation_delay_ms" => {
                    let ms = v.as_u64().ok_or("operation_delay_ms must be a non-negative integer")?;
                    self.set_operation_delay(Duration::from_millis(ms));
                }
                other => {
                    return Err(format!(
                        "unknown fault '{other}'; known: throttle, server_error, fail_operations, operation_delay_ms"
                    ))
                }
            }
        }
        Ok(())
    }

    fn faults_json(&self) -> Value {
        let inner = self.lock();
        let mut v = serde_json::to_value(&inner.faults).unwrap_or(Value::Null);
        v["operation_delay_ms"] = json!(inner.delay.as_millis() as u64);
        v
    }
}

fn subnet_mut<'a>(
    state: &'a mut state::State,
    subnet_id: &str,
) -> Result<&'a mut state::Resource, String> {
    match state
        .resources
        .get_mut(&key(subnet_id.trim_end_matches('/')))
    {
        Some(r) if r.kind == arm::Kind::Subnet => Ok(r),
        _ => Err(format!("no subnet {subnet_id}")),
    }
}

fn admin_error(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
        })
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k.eq_ignore_ascii_case(name) && !v.is_empty()).then(|| v.to_string())
    })
}

/// `YYYY-MM-DD` with an optional `-preview`-style suffix, as ARM api-versions are.
fn valid_api_version(v: &str) -> bool {
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

/// One ARM request, parsed.
pub(crate) struct Req {
    pub method: Method,
    pub target: Target,
    pub host: String,
    pub api_version: String,
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

/// The mutable parts of the cloud a handler works on.
pub(crate) struct Env<'a> {
    pub state: &'a mut state::State,
    faults: &'a mut Faults,
    delay_ms: u64,
}

impl Env<'_> {
    /// Starts a long-running operation ending after the configured delay; a pending
    /// `fail_operations` fault makes it end `Failed`.
    pub fn start_operation(&mut self, req: &Req, sub: &str, location: &str) -> String {
        let failure = if self.faults.fail_operations > 0 {
            self.faults.fail_operations -= 1;
            Some(Failure {
                code: self
                    .faults
                    .failure_code
                    .clone()
                    .unwrap_or_else(|| "InternalServerError".into()),
                message: self
                    .faults
                    .failure_message
                    .clone()
                    .unwrap_or_else(|| "An error occurred.".into()),
            })
        } else {
            None
        };
        let id = new_guid();
        self.state.operations.insert(
            id.clone(),
            Operation {
                sub: sub.to_string(),
                location: location.to_string(),
                api_version: req.api_version.clone(),
                ends_at_ms: req.now + self.delay_ms,
                failure,
                settled: false,
            },
        );
        id
    }

    /// How long a poller should wait, in the header azure_core reads before `Retry-After`
    /// (whose whole seconds, or azure_core's 30 s default, would make every local apply slow).
    pub fn retry_after_ms(&self) -> String {
        self.delay_ms.clamp(10, 1000).to_string()
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

/// `GET .../locations/{loc}/operations/{id}` and `.../operationResults/{id}`.
fn operation(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    let Target::Operation { sub, id, results } = &req.target else {
        return Err(ArmError::bad_request("BadRequest", "not an operation"));
    };
    if req.method != Method::GET {
        return Err(method_not_allowed(&req.method));
    }
    let found = env
        .state
        .operations
        .get(id)
        .filter(|op| op.sub.eq_ignore_ascii_case(sub))
        .map(|op| op.location.clone());
    let (Some(location), Some(status)) = (found, env.state.status(id, req.now)) else {
        return Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("Operation {id} was not found."),
        ));
    };
    if *results {
        return Ok(match status {
            OpStatus::InProgress { .. } => {
                let mut r = empty_response(StatusCode::ACCEPTED);
                env.lro_headers(&mut r, req, sub, &location, id, true);
                r
            }
            OpStatus::Succeeded => {
                let mut r = empty_response(StatusCode::NO_CONTENT);
                env.lro_headers(&mut r, req, sub, &location, id, true);
                r
            }
            OpStatus::Failed(f) => {
                ArmError::new(StatusCode::INTERNAL_SERVER_ERROR, &f.code, f.message).into_response()
            }
        });
    }
    Ok(match status {
        OpStatus::InProgress { remaining_ms } => {
            let mut r = json_response(StatusCode::OK, &json!({"status": "InProgress"}));
            insert_header(
                &mut r,
                "retry-after-ms",
                &remaining_ms.clamp(10, 1000).to_string(),
            );
            r
        }
        OpStatus::Succeeded => json_response(StatusCode::OK, &json!({"status": "Succeeded"})),
        OpStatus::Failed(f) => json_response(
            StatusCode::OK,
            &json!({"status": "Failed", "error": {"code": f.code, "message": f.message}}),
        ),
    })
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

async fn arm_entry(AxumState(cloud): AxumState<Arc<Cloud>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ArmError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request content is larger than 4 MB.",
        )
        .into_response();
    };
    let mut headers = parts.headers;
    // HTTP/2 and some clients carry the authority in the URI instead of a Host header.
    if !headers.contains_key("host") {
        if let Some(authority) = parts.uri.authority() {
            if let Ok(v) = authority.as_str().parse() {
                headers.insert("host", v);
            }
        }
    }
    cloud.handle_arm(parts.method, &parts.uri, headers, bytes)
}

async fn admin_entry(AxumState(cloud): AxumState<Arc<Cloud>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return admin_error("body too large");
    };
    cloud.handle_admin(parts.method, parts.uri.path(), bytes)
}

/// ARM paths (`/subscriptions/...` in the casings clients send) and `/_localcloud/azure/...`.
pub fn router(cloud: Arc<Cloud>) -> Router {
    Router::new()
        .route("/subscriptions/{*rest}", any(arm_entry))
        .route("/Subscriptions/{*rest}", any(arm_entry))
        .route("/SUBSCRIPTIONS/{*rest}", any(arm_entry))
        .route("/_localcloud/azure/{*action}", any(admin_entry))
        .with_state(cloud)
}
