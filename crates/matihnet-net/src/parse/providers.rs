//! `[providers.NAME]`: where a provider plugin is found and how long its calls may take, and,
//! for a plugin provider, the settings handed to it.
//!
//! ```toml
//! [environment]
//! provider = "inventory"          # not built in: the plugin matihnet-provider-inventory
//!
//! [providers.inventory]
//! source = "./plugins/matihnet-provider-inventory"   # optional: else MATIHNET_PLUGIN_DIR, PATH
//! timeout = "10m"                 # optional: one call's limit (default 30m)
//! path = "${INVENTORY_FILE}"      # anything else is the plugin's own settings
//! ```
//!
//! A built-in provider's section (`[providers.aws]`) takes `source` and `timeout` only: its
//! settings stay in `[aws]`; with `source` it runs as that plugin instead of in-process.

use std::time::Duration;

use super::*;

const RESERVED_KEYS: &[&str] = &["source", "timeout"];

/// Whether `name` may name a plugin: lowercase letters, digits and `-`, as executables are named.
pub(super) fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A duration written as `"90s"`, `"10m"`, `"2h"` or a number of seconds.
fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// A TOML value as JSON, strings with their `${VAR}`s substituted.
fn json(r: &mut Reader<'_>, v: &Spanned<DeValue<'_>>, field: &str) -> Option<serde_json::Value> {
    Some(match v.get_ref() {
        DeValue::String(_) => serde_json::Value::String(r.string(v, field, "")?),
        DeValue::Integer(i) => {
            serde_json::Value::from(i64::from_str_radix(i.as_str(), i.radix()).ok()?)
        }
        DeValue::Float(f) => {
            serde_json::Value::from(f.as_str().replace('_', "").parse::<f64>().ok()?)
        }
        DeValue::Boolean(b) => serde_json::Value::Bool(*b),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.push(json(r, item, &format!("{field}[{i}]"))?);
            }
            serde_json::Value::Array(out)
        }
        DeValue::Table(t) => {
            let mut out = serde_json::Map::new();
            for (k, item) in t.iter() {
                let key: &str = k.get_ref();
                out.insert(key.to_string(), json(r, item, &join(field, key))?);
            }
            serde_json::Value::Object(out)
        }
        DeValue::Datetime(d) => serde_json::Value::String(d.to_string()),
    })
}

/// Reads every `[providers.NAME]`; `used` is the provider name this environment runs (a
/// built-in's or the plugin's), `plugin` whether it is a plugin.
pub(super) fn read_providers(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    used: Option<&str>,
    plugin: bool,
) -> Option<BTreeMap<String, ProviderSection>> {
    let Some((t, _)) = r.section(root, "providers") else {
        return (!root.contains_key("providers")).then(BTreeMap::new);
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (k, v) in t.iter() {
        let name: &str = k.get_ref();
        let path = format!("providers.{}", shown(name));
        r.spans.insert(path.clone(), v.span());
        let DeValue::Table(section) = v.get_ref() else {
            r.wrong_type(
                v,
                &path,
                "table",
                &format!("write it as a [{path}] section"),
            );
            ok = false;
            continue;
        };
        if used.is_some() && used != Some(name) {
            r.warn(
                k.span().start,
                &path,
                format!("[{path}] names a provider this environment does not use"),
                format!(
                    "this environment runs provider \"{}\"; remove the section or fix its name",
                    used.unwrap_or("?")
                ),
            );
        }
        let source = r.opt_str(section, &path, "source");
        let timeout = match r.opt_str(section, &path, "timeout") {
            None => None,
            Some(text) => match duration(&text) {
                Some(d) => Some(d),
                None => {
                    let at = r.spans.get(&join(&path, "timeout")).map_or(0, |s| s.start);
                    r.error(
                        at,
                        &join(&path, "timeout"),
                        format!("`{text}` is not a duration"),
                        "write seconds, minutes or hours, such as \"90s\", \"10m\" or \"2h\""
                            .into(),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mut settings = serde_json::Map::new();
        let is_plugin = plugin && used == Some(name);
        if is_plugin {
            for (key, item) in section.iter() {
                let key: &str = key.get_ref();
                if RESERVED_KEYS.contains(&key) {
                    continue;
                }
                let field = join(&path, key);
                r.spans.insert(field.clone(), item.span());
                match json(r, item, &field) {
                    Some(value) => {
                        settings.insert(key.to_string(), value);
                    }
                    None => ok = false,
                }
            }
        } else {
            r.check_keys(section, &path, RESERVED_KEYS);
        }
        let at = r.loc(v.span().start);
        out.insert(
            name.to_string(),
            ProviderSection {
                name: name.to_string(),
                source,
                timeout,
                settings,
                line: at.line,
            },
        );
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(duration("45"), Some(Duration::from_secs(45)));
        for bad in ["", "0s", "10 days", "m", "-5s", "99999999999999999999h"] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn plugin_names_are_executable_suffixes() {
        assert!(is_plugin_name("inventory"));
        assert!(is_plugin_name("cloudflare-dns2"));
        for bad in ["", "Cloudflare", "a/b", "../x", "2fast", "a b"] {
            assert!(!is_plugin_name(bad), "{bad}");
        }
    }
}
