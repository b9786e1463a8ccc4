//! AWS SDK clients pointed at one endpoint (moto or the local AWS) with test credentials, and
//! what a differential test compares: each step's outcome (ok, or the status and error code) and
//! the fields the provider reads, with AWS's generated ids replaced by their order of appearance
//! so two emulators' answers can be compared.

#![allow(dead_code)] // each test file uses the part it needs

use std::collections::BTreeMap;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};

pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub route53: aws_sdk_route53::Client,
}

impl Clients {
    pub async fn new(endpoint: &str) -> Clients {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new("eu-west-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            // A differential test compares first answers: no retries hiding a throttle.
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let route53 = aws_sdk_route53::config::Builder::from(&shared)
            .region(Region::new("us-east-1"))
            .build();
        Clients {
            ec2: aws_sdk_ec2::Client::new(&shared),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&shared),
            route53: aws_sdk_route53::Client::from_conf(route53),
        }
    }
}

/// What one step of a scenario produced, as compared between the two emulators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// `ok`, or `HTTP <status> <code>`.
    pub outcome: String,
    /// The fields the provider reads from the answer, rendered as text.
    pub fields: BTreeMap<String, String>,
}

impl Step {
    pub fn ok(name: &str, fields: &[(&str, String)]) -> Step {
        Step {
            name: name.into(),
            outcome: "ok".into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    /// A failed call: its HTTP status and AWS error code.
    pub fn err<E>(
        name: &str,
        e: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> Step
    where
        E: aws_sdk_ec2::error::ProvideErrorMetadata,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        let status = match e {
            SdkError::ServiceError(s) => s.raw().status().as_u16().to_string(),
            _ => "no response".into(),
        };
        let code = match e {
            SdkError::ServiceError(s) => s.err().code().unwrap_or("?").to_string(),
            SdkError::DispatchFailure(_) => "dispatch failure".into(),
            SdkError::TimeoutError(_) => "timeout".into(),
            SdkError::ResponseError(_) => "unreadable response".into(),
            _ => "error".into(),
        };
        Step {
            name: name.into(),
            outcome: format!("HTTP {status} {code}"),
            fields: BTreeMap::new(),
        }
    }
}

/// Replaces generated ids (`vpc-0abc...`, zone ids, ARNs' random tails, request-made tokens)
/// by `<prefix#n>` in order of first appearance, so the same scenario on two emulators gives the
/// same text. `patterns` are the id prefixes to replace (e.g. `vpc-`, `subnet-`).
pub fn normalize(steps: &[Step], patterns: &[&str]) -> Vec<Step> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut counters: BTreeMap<String, usize> = BTreeMap::new();
    let mut replace = |text: &str| -> String {
        let mut out = String::new();
        let mut rest = text;
        'outer: while !rest.is_empty() {
            for p in patterns {
                if let Some(tail) = rest.strip_prefix(p) {
                    let len = tail
                        .find(|c: char| !(c.is_ascii_alphanumeric()))
                        .unwrap_or(tail.len());
                    if len > 0 {
                        let id = format!("{p}{}", &tail[..len]);
                        let name = seen.entry(id).or_insert_with(|| {
                            let c = counters.entry(p.to_string()).or_insert(0);
                            *c += 1;
                            format!("<{p}#{c}>")
                        });
                        out.push_str(name);
                        rest = &tail[len..];
                        continue 'outer;
                    }
                }
            }
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    };
    steps
        .iter()
        .map(|s| Step {
            name: s.name.clone(),
            outcome: s.outcome.clone(),
            fields: s
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), replace(v)))
                .collect(),
        })
        .collect()
}

/// Compares two emulators' normalized steps; `exceptions` are `(step, field, reason)` where the
/// local AWS follows AWS's documentation and moto does not, and the field is left out.
pub fn assert_same(moto: &[Step], local: &[Step], exceptions: &[(&str, &str, &str)]) {
    assert_eq!(moto.len(), local.len(), "step counts differ");
    let mut problems = Vec::new();
    for (m, l) in moto.iter().zip(local) {
        assert_eq!(m.name, l.name);
        if m.outcome != l.outcome {
            problems.push(format!(
                "{}: moto {} / local {}",
                m.name, m.outcome, l.outcome
            ));
            continue;
        }
        let keys: std::collections::BTreeSet<&String> =
            m.fields.keys().chain(l.fields.keys()).collect();
        for k in keys {
            if exceptions.iter().any(|(s, f, _)| *s == m.name && f == k) {
                continue;
            }
            if m.fields.get(k) != l.fields.get(k) {
                problems.push(format!(
                    "{} {k}: moto {:?} / local {:?}",
                    m.name,
                    m.fields.get(k),
                    l.fields.get(k)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the local AWS differs from moto:\n{}",
        problems.join("\n")
    );
}
