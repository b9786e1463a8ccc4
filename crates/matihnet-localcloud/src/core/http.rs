//! The HTTP pieces every wire format is built from: JSON and empty responses, headers that
//! never fail a response, and percent-decoding of path segments and of query strings (or form
//! bodies, which use the same encoding).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// A JSON body with the `content-type` the cloud sends (spellings differ: ARM writes
/// `charset=utf-8`, Google `charset=UTF-8`).
pub(crate) fn json_response(status: StatusCode, body: &Value, content_type: &str) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    insert_header(&mut response, "content-type", content_type);
    response
}

pub(crate) fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Sets a header; a value that is not a valid header value (it comes from request data) is
/// left out rather than failing the response.
pub(crate) fn insert_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// Decodes `%XX` escapes of a path segment; `+` stays `+`. A malformed escape stays as it is
/// (the cloud refuses the name later, if at all).
pub(crate) fn decode_path_segment(segment: &str) -> String {
    decode(segment, false)
}

/// Decodes a query-string or form component: `%XX` escapes, and `+` as a blank.
pub(crate) fn decode_form_component(text: &str) -> String {
    decode(text, true)
}

fn decode(text: &str, plus_is_blank: bool) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'+' && plus_is_blank {
            out.push(b' ');
        } else if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 2;
            } else {
                out.push(b);
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A decoded query string; unknown parameters (`alt`, `prettyPrint`, ...) are kept but ignored
/// by the handlers. A repeated parameter keeps its last value.
#[derive(Debug, Default)]
pub(crate) struct Query(BTreeMap<String, String>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let mut map = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(decode_form_component(k), decode_form_component(v));
        }
        Query(map)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some(
            "alt=json&filter=name+eq+%22a%5Cb%22&%24alt=json%3Benum-encoding%3Dint&x",
        ));
        assert_eq!(q.get("filter"), Some("name eq \"a\\b\""));
        assert_eq!(q.get("$alt"), Some("json;enum-encoding=int"));
        assert_eq!(q.get("x"), Some(""));
    }

    #[test]
    fn malformed_escapes_stay_and_plus_depends_on_the_part() {
        assert_eq!(decode_form_component("100%"), "100%");
        assert_eq!(decode_form_component("%4"), "%4");
        assert_eq!(decode_path_segment("a%"), "a%");
        assert_eq!(decode_path_segment("%40"), "@");
        assert_eq!(decode_path_segment("%2A.x+y"), "*.x+y");
        assert_eq!(decode_form_component("x+y"), "x y");
    }
}
