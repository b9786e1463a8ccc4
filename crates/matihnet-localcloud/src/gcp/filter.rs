//! The subset of Compute's list `filter` syntax a provider needs to find its own objects:
//! `name = "x"`, `labels.k = "v"`, `field != v`, and the legacy `field eq v` / `field ne v`,
//! several of them ANDed (optionally parenthesised). `eq`/`ne` take a regular expression in GCP;
//! here they compare literally after dropping the common `.*` / `\b` wrappers, which covers
//! exact-name lookups.

use serde_json::Value;

#[derive(Debug, PartialEq)]
struct Term {
    path: String,
    negate: bool,
    value: String,
}

pub struct Filter(Vec<Term>);

impl Filter {
    /// `None` when the expression is outside the supported subset (the caller answers 400).
    pub fn parse(text: &str) -> Option<Filter> {
        let tokens = tokenize(text)?;
        let mut terms = Vec::new();
        let mut it = tokens.into_iter();
        while let Some(path) = it.next() {
            if path.eq_ignore_ascii_case("AND") {
                continue;
            }
            let op = it.next()?;
            let value = it.next()?;
            let (negate, literal) = match op.as_str() {
                "=" | ":" => (false, false),
                "!=" => (true, false),
                "eq" => (false, true),
                "ne" => (true, true),
                _ => return None,
            };
            let value = if literal { strip_regex(&value) } else { value };
            terms.push(Term {
                path,
                negate,
                value,
            });
        }
        Some(Filter(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|t| {
            let mut cur = Some(object);
            for part in t.path.split('.') {
                cur = cur.and_then(|v| v.get(part));
            }
            let actual = match cur {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            // A URL field matches a filter on its last segment too, as `network eq .*\bname\b.*` does.
            let hit =
                actual.is_some_and(|a| a == t.value || a.rsplit('/').next() == Some(&t.value));
            hit != t.negate
        })
    }
}

fn strip_regex(value: &str) -> String {
    let mut v = value;
    for prefix in [".*", "\\b"] {
        v = v.strip_prefix(prefix).unwrap_or(v);
    }
    for suffix in [".*", "\\b"] {
        v = v.strip_suffix(suffix).unwrap_or(v);
    }
    v.replace('\\', "")
}

fn tokenize(text: &str) -> Option<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == '(' || c == ')' {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    // Keep regex escapes (`\b`, `\-`) for `strip_regex`; only `\"` is unescaped here.
                    '\\' => match chars.next()? {
                        '"' => s.push('"'),
                        other => {
                            s.push('\\');
                            s.push(other);
                        }
                    },
                    ch => s.push(ch),
                }
            }
            tokens.push(s);
        } else if c == '=' || c == '!' || c == ':' {
            chars.next();
            if c == '!' {
                if chars.next()? != '=' {
                    return None;
                }
                tokens.push("!=".into());
            } else {
                tokens.push(c.to_string());
            }
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '=' || ch == '!' {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            tokens.push(s);
        }
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_by_name_label_and_regex() {
        let obj = json!({"name": "a", "labels": {"env": "prod"}, "network": "https://x/global/networks/test-nw-1"});
        assert!(Filter::parse("name = \"a\"").unwrap().matches(&obj));
        assert!(Filter::parse("(name = a) (labels.env = prod)")
            .unwrap()
            .matches(&obj));
        assert!(!Filter::parse("labels.env != prod").unwrap().matches(&obj));
        assert!(Filter::parse("network eq \".*\\btest\\-nw\\-1\\b.*\"")
            .unwrap()
            .matches(&obj));
        assert!(Filter::parse("name eq").is_none());
    }
}
