//! `[rate_limits]`: the request rates the provider paces itself to, per metered API, when an
//! account's limits differ from the documented defaults (a raised quota, or a budget shared with
//! other tools).
//!
//! ```toml
//! [rate_limits]
//! route53 = 4                                  # requests per second, burst in proportion
//! ec2-mutating = { per_second = 5, burst = 100 }
//! arm-reads = "off"                            # not paced
//! ```

use matihnet_core::pacing::{self, Limit, Overrides};

use super::*;

const EXAMPLE: &str = "write a rate in requests per second (route53 = 4), a table ({ per_second = 5, burst = 100 }) or \"off\"";

fn number(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
        _ => None,
    }
}

/// A rate written alone keeps the documented burst in proportion: Route53's 5 at 5 per second
/// becomes 2 at 2 per second, so lowering a rate never allows a larger burst than the rate.
/// An API with no published number bursts as much as one second of its rate.
fn scaled(documented: Option<Limit>, rate: f64) -> Limit {
    match documented {
        Some(d) => Limit::new(rate, (d.burst * rate / d.per_second).max(1.0)),
        None => Limit::new(rate, rate.max(1.0)),
    }
}

/// How a message names the documented rate.
fn documented_rate(limit: Option<Limit>) -> String {
    match limit {
        Some(l) => format!("the documented rate is {} per second", l.per_second),
        None => "the cloud publishes no number for it".to_string(),
    }
}

pub(super) fn read_rate_limits(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    provider: Option<CloudProvider>,
) -> Option<Overrides> {
    let Some((t, _)) = r.section(root, "rate_limits") else {
        return (!root.contains_key("rate_limits")).then(Overrides::new);
    };
    let cloud = provider.and_then(CloudProvider::section).unwrap_or("");
    let documented = pacing::documented(cloud);
    let known: Vec<&str> = documented.iter().map(|d| d.api).collect();
    let mut out = Overrides::new();
    let mut ok = true;
    for (k, v) in t.iter() {
        let api: &str = k.get_ref();
        let field = format!("rate_limits.{}", shown(api));
        r.spans.insert(field.clone(), v.span());
        let Some(doc) = documented.iter().find(|d| d.api == api) else {
            let hint = if known.is_empty() {
                format!(
                    "provider \"{}\" paces no API; remove [rate_limits]",
                    provider.map_or("?", CloudProvider::as_str)
                )
            } else {
                match spelling::closest(api, &known) {
                    Some(c) => format!("did you mean `{c}`? APIs paced here: {}", known.join(", ")),
                    None => format!("APIs paced here: {}", known.join(", ")),
                }
            };
            r.error(
                k.span().start,
                &field,
                format!(
                    "`{}` is not a rate-limited API of provider \"{}\"",
                    shown(api),
                    provider.map_or("?", CloudProvider::as_str)
                ),
                hint,
            );
            ok = false;
            continue;
        };
        let limit = match v.get_ref() {
            DeValue::String(s) if s.as_ref() == "off" => None,
            DeValue::Table(inner) => {
                let mut per_second = None;
                let mut burst = None;
                for (ik, iv) in inner.iter() {
                    let key: &str = ik.get_ref();
                    let slot = match key {
                        "per_second" => &mut per_second,
                        "burst" => &mut burst,
                        _ => {
                            r.error(
                                ik.span().start,
                                &format!("{field}.{}", shown(key)),
                                format!("unknown key `{}` in a rate limit", shown(key)),
                                "a rate limit has per_second and burst".to_string(),
                            );
                            ok = false;
                            continue;
                        }
                    };
                    *slot = Some((number(iv.get_ref()), iv.span().start));
                }
                let Some((rate, rate_at)) = per_second else {
                    r.missing(
                        v.span().start,
                        &field,
                        "per_second",
                        &format!(
                            "add per_second = <requests per second> ({})",
                            documented_rate(doc.limit)
                        ),
                    );
                    ok = false;
                    continue;
                };
                match (rate, burst) {
                    (Some(rate), None) if rate > 0.0 => Some(scaled(doc.limit, rate)),
                    (Some(rate), Some((Some(b), _))) if rate > 0.0 && b >= 1.0 => {
                        Some(Limit::new(rate, b))
                    }
                    (Some(rate), Some((_, b_at))) if rate > 0.0 => {
                        r.error(
                            b_at,
                            &format!("{field}.burst"),
                            "burst must be a number of requests, 1 or more".to_string(),
                            match doc.limit {
                                Some(l) => format!("the documented burst is {}", l.burst),
                                None => "write how many requests may go at once".to_string(),
                            },
                        );
                        ok = false;
                        continue;
                    }
                    _ => {
                        r.error(
                            rate_at,
                            &format!("{field}.per_second"),
                            "per_second must be a number above 0".to_string(),
                            format!(
                                "{}; write \"off\" instead of a table to send unpaced",
                                documented_rate(doc.limit)
                            ),
                        );
                        ok = false;
                        continue;
                    }
                }
            }
            other => match number(other) {
                Some(rate) if rate > 0.0 => Some(scaled(doc.limit, rate)),
                _ => {
                    r.error(
                        v.span().start,
                        &field,
                        format!("`{}` needs a positive request rate", shown(api)),
                        format!("{EXAMPLE}; {}", documented_rate(doc.limit)),
                    );
                    ok = false;
                    continue;
                }
            },
        };
        out.insert(api.to_string(), limit);
    }
    ok.then_some(out)
}
