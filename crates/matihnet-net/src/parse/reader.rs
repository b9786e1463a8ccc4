//! The reader every section is parsed with: typed field access with located diagnostics, size caps and spelling hints.

use super::*;

pub(super) struct Reader<'a> {
    pub(super) text: &'a str,
    pub(super) lines: LineIndex,
    pub(super) vars: &'a dyn Fn(&str) -> Option<String>,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) spans: BTreeMap<String, Range<usize>>,
}

type Val<'i> = Spanned<DeValue<'i>>;

impl<'a> Reader<'a> {
    pub(super) fn loc(&self, offset: usize) -> Location {
        self.lines.location(offset)
    }

    /// Reports a finding of the shared checks at the field it names (or its nearest written
    /// parent, or `fallback`).
    pub(super) fn finding(&mut self, f: Finding, fallback: usize) {
        let mut field = f.field.as_str();
        let offset = loop {
            if let Some(span) = self.spans.get(field) {
                break span.start;
            }
            match field.rfind(['.', '[']) {
                Some(cut) => field = &field[..cut],
                None => break fallback,
            }
        };
        let d = f.into_diagnostic().at(self.loc(offset));
        self.diags.push(d);
    }

    pub(super) fn error(&mut self, offset: usize, field: &str, message: String, hint: String) {
        let d = Diagnostic::error(message)
            .at(self.loc(offset))
            .field(field)
            .hint(hint);
        self.diags.push(d);
    }

    pub(super) fn warn(&mut self, offset: usize, field: &str, message: String, hint: String) {
        let d = Diagnostic::warning(message)
            .at(self.loc(offset))
            .field(field)
            .hint(hint);
        self.diags.push(d);
    }

    pub(super) fn check_keys(&mut self, table: &DeTable<'_>, path: &str, known: &[&str]) {
        for (k, _) in table.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                continue;
            }
            let place = if path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", path.split('[').next().unwrap_or(path))
            };
            let hint = match spelling::closest(key, known) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("known keys here: {}", known.join(", ")),
            };
            let shown = shown(key);
            self.error(
                k.span().start,
                &join(path, &shown),
                format!("unknown key `{shown}` {place}"),
                hint,
            );
        }
    }

    /// The value at `key`, remembering where it was written.
    pub(super) fn value<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        path: &str,
        key: &str,
    ) -> Option<&'t Val<'i>> {
        let v = table.get(key)?;
        self.spans.insert(join(path, key), v.span());
        Some(v)
    }

    pub(super) fn missing(&mut self, at: usize, path: &str, key: &str, hint: &str) {
        let where_ = if path.is_empty() {
            "the file".to_string()
        } else {
            format!("[{}]", path)
        };
        self.error(
            at,
            &join(path, key),
            format!("missing required key `{key}` in {where_}"),
            hint.to_string(),
        );
    }

    pub(super) fn wrong_type(&mut self, v: &Val<'_>, field: &str, expected: &str, hint: &str) {
        let found = v.get_ref().type_str();
        self.error(
            v.span().start,
            field,
            format!(
                "expected {} {expected}, found {} {found}",
                article(expected),
                article(found)
            ),
            hint.to_string(),
        );
    }

    pub(super) fn too_long(&mut self, at: usize, field: &str, len: usize, expanded: bool) {
        let max = max_bytes(field);
        let (what, kind) = if max == MAX_NAME_BYTES {
            ("1 KiB", "names, identifiers and CIDR blocks")
        } else {
            ("64 KiB", "URLs and paths")
        };
        let after = if expanded {
            " after ${...} expansion"
        } else {
            ""
        };
        self.error(
            at,
            field,
            format!(
                "the value is {} bytes long{after}; {kind} are at most {what} ({} bytes)",
                group(len as u64),
                group(max as u64)
            ),
            "shorten the value; a file this large is usually a paste or generation mistake"
                .to_string(),
        );
    }

    /// A string value with `${NAME}` expanded, within its size cap.
    pub(super) fn string(&mut self, v: &Val<'_>, field: &str, hint: &str) -> Option<String> {
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_type(v, field, "string", hint);
            return None;
        };
        // Checked before anything else reads the value, so an oversized one costs nothing more.
        if s.len() > max_bytes(field) {
            self.too_long(v.span().start, field, s.len(), false);
            return None;
        }
        match interpolate(s, self.vars) {
            Ok(out) if out.len() > max_bytes(field) => {
                self.too_long(v.span().start, field, out.len(), true);
                None
            }
            Ok(s) => Some(s),
            Err(errors) => {
                let span = v.span();
                let raw = self.text.get(span.clone()).unwrap_or("");
                // Errors come in order, so each reference is searched after the previous one:
                // repeated references point at themselves, and the text is read once overall.
                let mut cursor = 0;
                for e in errors {
                    // Escapes can shift offsets, so find the reference in the raw text instead.
                    let (needle, message, hint) = match &e {
                        InterpolationError::Unset { name, .. } => (
                            format!("${{{name}}}"),
                            format!("variable `{name}` is not set"),
                            format!("export {name}=... or pass --var {name}=value"),
                        ),
                        InterpolationError::BadName { name, .. } => (
                            format!("${{{name}}}"),
                            format!("`${{{name}}}` is not a variable name"),
                            "variable names are letters, digits and `_`, not starting with a digit; write `$${` for a literal `${`".to_string(),
                        ),
                        InterpolationError::Unterminated { .. } => (
                            "${".to_string(),
                            "`${` is not closed by `}`".to_string(),
                            "close the variable reference with `}`, or write `$${` for a literal `${`".to_string(),
                        ),
                    };
                    // An unclosed reference runs to the end of the string, so it is the last `${`.
                    let found = match e {
                        InterpolationError::Unterminated { .. } => raw.rfind(&needle),
                        _ => raw
                            .get(cursor..)
                            .and_then(|r| r.find(&needle))
                            .map(|i| cursor + i),
                    };
                    if let Some(i) = found {
                        cursor = i + needle.len();
                    }
                    let offset = found.map_or(span.start, |i| span.start + i);
                    self.error(offset, field, message, hint);
                }
                None
            }
        }
    }

    pub(super) fn opt_str(&mut self, t: &DeTable<'_>, path: &str, key: &str) -> Option<String> {
        let v = self.value(t, path, key)?;
        self.string(v, &join(path, key), "put the value in double quotes")
    }

    /// A required string; `Err` when it is missing (already reported), `Ok(None)` when malformed.
    pub(super) fn req_str(
        &mut self,
        t: &DeTable<'_>,
        at: usize,
        path: &str,
        key: &str,
        hint: &str,
    ) -> Option<String> {
        match self.value(t, path, key) {
            Some(v) => self.string(v, &join(path, key), "put the value in double quotes"),
            None => {
                self.missing(at, path, key, hint);
                None
            }
        }
    }

    pub(super) fn opt_bool(&mut self, t: &DeTable<'_>, path: &str, key: &str) -> Option<bool> {
        let v = self.value(t, path, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(v, &join(path, key), "boolean", "write true or false");
                None
            }
        }
    }

    /// An integer in `min..=max`; `Some(Err(()))` when present but wrong.
    pub(super) fn opt_int(
        &mut self,
        t: &DeTable<'_>,
        path: &str,
        key: &str,
        min: u64,
        max: u64,
        why: &str,
    ) -> Option<Result<u64, ()>> {
        let v = self.value(t, path, key)?;
        let field = join(path, key);
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(v, &field, "integer", "write a whole number without quotes");
            return Some(Err(()));
        };
        let n = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match n.and_then(|n| u64::try_from(n).ok()) {
            Some(n) if (min..=max).contains(&n) => Some(Ok(n)),
            _ => {
                self.error(
                    v.span().start,
                    &field,
                    format!("{i} is out of range: `{key}` must be between {min} and {max}"),
                    why.to_string(),
                );
                Some(Err(()))
            }
        }
    }

    pub(super) fn str_list(&mut self, v: &Val<'_>, field: &str) -> Option<Vec<(String, usize)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, field, "array", "write a list such as [\"a\", \"b\"]");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            self.spans.insert(f.clone(), item.span());
            match self.string(item, &f, "put each item in double quotes") {
                Some(s) => out.push((s, item.span().start)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn cidr(&mut self, v: &Val<'_>, field: &str) -> Option<Ipv4Net> {
        let s = self.string(
            v,
            field,
            "write the block in quotes, such as \"10.0.0.0/16\"",
        )?;
        self.parsed_cidr(
            &s,
            v.span().start,
            field,
            "write an IPv4 block as address/prefix, such as \"10.0.0.0/16\"",
        )
    }

    /// `s` as a CIDR block, or an error at `at` whose hint spells the block the way it must be.
    pub(super) fn parsed_cidr(
        &mut self,
        s: &str,
        at: usize,
        field: &str,
        malformed_hint: &str,
    ) -> Option<Ipv4Net> {
        match cidr::parse_cidr(s) {
            Ok(n) => Some(n),
            Err(e) => {
                let hint = match &e {
                    CidrError::LeadingZeros { canonical, .. } => format!(
                        "set {field} = \"{}\" (the same block in plain decimal)",
                        canonical.trunc()
                    ),
                    CidrError::HostBits { block, .. } => {
                        format!("set {field} = \"{block}\" (the block that address is in)")
                    }
                    CidrError::Malformed { .. } => malformed_hint.to_string(),
                };
                let message = match &e {
                    CidrError::Malformed { text } => {
                        format!("`{}` is not an IPv4 CIDR block", shown(text))
                    }
                    _ => e.to_string(),
                };
                self.error(at, field, message, hint);
                None
            }
        }
    }

    pub(super) fn opt_cidr(
        &mut self,
        t: &DeTable<'_>,
        path: &str,
        key: &str,
    ) -> Option<Option<Ipv4Net>> {
        match self.value(t, path, key) {
            None => Some(None),
            Some(v) => self.cidr(v, &join(path, key)).map(Some),
        }
    }

    /// A `[section]` table, if present and a table.
    pub(super) fn section<'t, 'i>(
        &mut self,
        root: &'t DeTable<'i>,
        name: &str,
    ) -> Option<(&'t DeTable<'i>, usize)> {
        let v = self.value(root, "", name)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span().start)),
            _ => {
                self.wrong_type(v, name, "table", &format!("write it as a [{name}] section"));
                None
            }
        }
    }

    /// A `[[name]]` array of tables.
    pub(super) fn tables<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        path: &str,
        name: &str,
    ) -> Vec<(&'t DeTable<'i>, usize)> {
        let field = join(path, name);
        let Some(v) = self.value(table, path, name) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(
                v,
                &field,
                "array",
                &format!("write each entry as a [[{field}]] section"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            self.spans.insert(f.clone(), item.span());
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span().start)),
                _ => self.wrong_type(
                    item,
                    &f,
                    "table",
                    &format!("write each entry as a [[{field}]] section"),
                ),
            }
        }
        out
    }
}
