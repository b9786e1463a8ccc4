//! `${NAME}` substitution inside string values, so secrets and per-machine values stay out of files.

/// Why a string could not be expanded; `offset` is the byte offset of the `$` in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    Unset { name: String, offset: usize },
    Unterminated { offset: usize },
    BadName { name: String, offset: usize },
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Replaces every `${NAME}` with `vars(NAME)`; `$${` stands for a literal `${`.
/// Collects every problem rather than stopping at the first.
pub fn interpolate(
    input: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<InterpolationError>> {
    let mut out = String::with_capacity(input.len());
    let mut errors = Vec::new();
    let mut rest = input;
    let mut consumed = 0;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
            consumed += i + 3;
        } else if let Some(body) = after.strip_prefix("${") {
            let offset = consumed + i;
            match body.find('}') {
                None => {
                    errors.push(InterpolationError::Unterminated { offset });
                    rest = "";
                    consumed = input.len();
                }
                Some(end) => {
                    let name = &body[..end];
                    if !valid_name(name) {
                        errors.push(InterpolationError::BadName {
                            name: name.to_string(),
                            offset,
                        });
                    } else if let Some(value) = vars(name) {
                        out.push_str(&value);
                    } else {
                        errors.push(InterpolationError::Unset {
                            name: name.to_string(),
                            offset,
                        });
                    }
                    rest = &body[end + 1..];
                    consumed = offset + 2 + end + 1;
                }
            }
        } else {
            out.push('$');
            rest = &after[1..];
            consumed += i + 1;
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SUB" => Some("1234".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_and_escapes() {
        assert_eq!(interpolate("id-${SUB}-x", &vars).unwrap(), "id-1234-x");
        assert_eq!(interpolate("$${SUB}", &vars).unwrap(), "${SUB}");
        assert_eq!(interpolate("a$b $$ ${EMPTY}.", &vars).unwrap(), "a$b $$ .");
        assert_eq!(interpolate("${SUB}${SUB}", &vars).unwrap(), "12341234");
    }

    #[test]
    fn reports_every_problem_with_offsets() {
        let errs = interpolate("${NOPE} and ${SUB} ${1BAD} ${OPEN", &vars).unwrap_err();
        assert_eq!(
            errs,
            vec![
                InterpolationError::Unset {
                    name: "NOPE".into(),
                    offset: 0
                },
                InterpolationError::BadName {
                    name: "1BAD".into(),
                    offset: 19
                },
                InterpolationError::Unterminated { offset: 27 },
            ]
        );
    }
}
