//! AWS's wire formats as the SDKs read them: the form-encoded Query requests of EC2 and Elastic
//! Load Balancing (`Action=...&Version=...`, lists as `Name.1`, `Name.2`, structures as
//! `Name.1.Key`), XML responses with a request id, and the three error shapes (EC2's
//! `<Response><Errors>`, the Query protocol's and Route53's `<ErrorResponse>`).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use crate::core::http::{decode_form_component, insert_header};

/// A Query request's parameters, decoded.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    pub(crate) fn parse(body: &str) -> Params {
        let mut map = BTreeMap::new();
        for pair in body.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(decode_form_component(k), decode_form_component(v));
        }
        Params(map)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A required parameter; its absence is the `MissingParameter` AWS answers.
    pub(crate) fn require(&self, key: &str) -> Result<&str, AwsError> {
        self.get(key).ok_or_else(|| {
            AwsError::client(
                "MissingParameter",
                format!("The request must contain the parameter {key}"),
            )
        })
    }

    /// `prefix.1`, `prefix.2`, ... in order, stopping at the first gap.
    pub(crate) fn list(&self, prefix: &str) -> Vec<String> {
        (1..)
            .map_while(|i| self.get(&format!("{prefix}.{i}")).map(str::to_string))
            .collect()
    }

    /// The structures `prefix.1.*`, `prefix.2.*`, ... as parameter sets of their own fields.
    pub(crate) fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut out = Vec::new();
        for i in 1.. {
            let head = format!("{prefix}.{i}.");
            let fields: BTreeMap<String, String> = self
                .0
                .range(head.clone()..)
                .take_while(|(k, _)| k.starts_with(&head))
                .map(|(k, v)| (k[head.len()..].to_string(), v.clone()))
                .collect();
            if fields.is_empty() {
                break;
            }
            out.push(Params(fields));
        }
        out
    }

    /// Tags written as `prefix.N.Key` / `prefix.N.Value`.
    pub(crate) fn tags(&self, prefix: &str) -> BTreeMap<String, String> {
        self.structs(prefix)
            .into_iter()
            .filter_map(|t| {
                let key = t.get("Key")?.to_string();
                Some((key, t.get("Value").unwrap_or_default().to_string()))
            })
            .collect()
    }

    /// EC2's `Filter.N.Name` / `Filter.N.Value.M`, as name -> accepted values.
    pub(crate) fn filters(&self) -> Vec<(String, Vec<String>)> {
        self.structs("Filter")
            .into_iter()
            .filter_map(|f| Some((f.get("Name")?.to_string(), f.list("Value"))))
            .collect()
    }
}

/// Escapes text for an XML element or attribute.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name>text</name>`, escaped.
pub(crate) fn el(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", esc(text))
}

/// EC2's tag list: `<tagSet><item><key/><value/></item>...</tagSet>`.
pub(crate) fn ec2_tags(tags: &BTreeMap<String, String>) -> String {
    let items: String = tags
        .iter()
        .map(|(k, v)| format!("<item>{}{}</item>", el("key", k), el("value", v)))
        .collect();
    format!("<tagSet>{items}</tagSet>")
}

pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Which of AWS's error shapes a failure is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `<Response><Errors><Error>...</Error></Errors><RequestID>` (EC2).
    Ec2,
    /// `<ErrorResponse><Error><Type>...</Type>...</Error><RequestId>` (ELBv2, Route53).
    Query,
}

/// An AWS error: status, code and message, as the SDKs map them to typed errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> AwsError {
        AwsError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// A 400 naming what the caller did wrong.
    pub(crate) fn client(code: &str, message: impl Into<String>) -> AwsError {
        AwsError::new(400, code, message)
    }

    pub(crate) fn into_response(self, protocol: Protocol) -> Response {
        let id = request_id();
        let body = match protocol {
            Protocol::Ec2 => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>{}{}</Error></Errors>{}</Response>",
                el("Code", &self.code),
                el("Message", &self.message),
                el("RequestID", &id)
            ),
            Protocol::Query => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>{}{}{}</Error>{}</ErrorResponse>",
                el(
                    "Type",
                    if self.status.is_server_error() { "Receiver" } else { "Sender" }
                ),
                el("Code", &self.code),
                el("Message", &self.message),
                el("RequestId", &id)
            ),
        };
        let mut r = xml_response(self.status, body);
        insert_header(&mut r, "x-amzn-requestid", &id);
        r
    }
}

/// An XML answer.
pub(crate) fn xml_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    insert_header(&mut r, "content-type", "text/xml;charset=UTF-8");
    r
}

/// A Query action's success body: `<{Action}Response xmlns=...>{inner}<requestId/></...>` for
/// EC2, `<{Action}Response><{Action}Result>{inner}</...><ResponseMetadata>` for ELBv2.
pub(crate) fn ec2_ok(action: &str, inner: &str) -> Response {
    let id = request_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">{}{inner}</{action}Response>",
        el("requestId", &id)
    );
    xml_response(StatusCode::OK, body)
}

pub(crate) fn query_ok(action: &str, namespace: &str, inner: &str) -> Response {
    let id = request_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{namespace}\"><{action}Result>{inner}</{action}Result><ResponseMetadata>{}</ResponseMetadata></{action}Response>",
        el("RequestId", &id)
    );
    let mut r = xml_response(StatusCode::OK, body);
    insert_header(&mut r, "x-amzn-requestid", &id);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_structures_tags_and_filters() {
        let p = Params::parse(
            "Action=CreateVpc&SubnetId.1=a&SubnetId.2=b&SubnetId.4=d&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=x+y&Filter.1.Name=tag%3Amatihnet&Filter.1.Value.1=v1&Filter.1.Value.2=v2",
        );
        assert_eq!(p.list("SubnetId"), ["a", "b"]);
        let specs = p.structs("TagSpecification");
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].get("ResourceType"), Some("vpc"));
        assert_eq!(
            specs[0].tags("Tag").get("Name").map(String::as_str),
            Some("x y")
        );
        assert_eq!(
            p.filters(),
            vec![(
                "tag:matihnet".to_string(),
                vec!["v1".to_string(), "v2".to_string()]
            )]
        );
        assert_eq!(esc("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
    }
}
