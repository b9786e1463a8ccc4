//! `[dns]` and the `[[tenant]]` list.

use super::*;

pub(super) fn read_dns(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Dns> {
    let Some((t, at)) = r.section(root, "dns") else {
        if !root.contains_key("dns") {
            r.missing(0, "", "dns", "add a [dns] section with zone = \"matih.ai\"");
        }
        return None;
    };
    r.check_keys(t, "dns", DNS_KEYS);
    let zone = r
        .req_str(t, at, "dns", "zone", "add zone = \"matih.ai\"")
        .and_then(|z| {
            if is_domain(&z) {
                Some(z.trim_end_matches('.').to_string())
            } else {
                let off = r.spans.get("dns.zone").map_or(at, |s| s.start);
                r.error(
                    off,
                    "dns.zone",
                    format!("`{z}` is not a DNS zone name"),
                    "use a lowercase domain such as \"matih.ai\"".to_string(),
                );
                None
            }
        });
    let api = r
        .opt_str(t, "dns", "api")
        .unwrap_or_else(|| "api".to_string());
    let api_ok = is_dns_label(&api);
    if !api_ok {
        let off = r.spans.get("dns.api").map_or(at, |s| s.start);
        r.error(
            off,
            "dns.api",
            format!("`{api}` is not a DNS label"),
            "use lowercase letters, digits and `-`, such as \"api\"".to_string(),
        );
    }
    let mut subdomains = Vec::new();
    let mut listed = std::collections::BTreeSet::new();
    let mut ok = true;
    if let Some(v) = r.value(t, "dns", "subdomains") {
        match r.str_list(v, "dns.subdomains") {
            Some(items) => {
                for (i, (s, off)) in items.into_iter().enumerate() {
                    let f = format!("dns.subdomains[{i}]");
                    if !is_dns_label(&s) {
                        r.error(off, &f, format!("`{s}` is not a DNS label"), "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`".to_string());
                        ok = false;
                    } else if RESERVED_LABELS.contains(&s.as_str()) || s == api {
                        r.error(off, &f, format!("`{s}` is a reserved name"), format!("the names {} and the api label are taken by the platform; choose another", RESERVED_LABELS.join(", ")));
                        ok = false;
                    } else if listed.contains(&s) {
                        r.error(
                            off,
                            &f,
                            format!("subdomain `{s}` is listed twice"),
                            "remove the duplicate".to_string(),
                        );
                        ok = false;
                    } else {
                        listed.insert(s.clone());
                        subdomains.push(s);
                    }
                }
            }
            None => ok = false,
        }
    }
    let ttl = r
        .opt_int(t, "dns", "ttl", 1, 604_800, "seconds, between 1 and 604800")
        .unwrap_or(Ok(300));
    let protect = r.opt_bool(t, "dns", "protect").unwrap_or(false);
    let existing_zone = match r
        .value(t, "dns", "existing_zone")
        .map(|v| (v.get_ref(), v.span().start))
    {
        None | Some((DeValue::Boolean(false), _)) => Some(None),
        Some((DeValue::Boolean(true), _)) => Some(zone.clone()),
        Some((DeValue::String(_), _)) => r.opt_str(t, "dns", "existing_zone").map(Some),
        Some((_, off)) => {
            r.error(off, "dns.existing_zone", "expected true, false or a zone id".into(), "write existing_zone = true to use the zone named by dns.zone, or the zone's id in quotes".into());
            None
        }
    };
    let ttl = ttl.ok()?;
    (ok && api_ok).then_some(())?;
    Some(Dns {
        existing_zone: existing_zone?,
        zone: zone?,
        api,
        subdomains,
        ttl,
        protect,
    })
}

pub(super) fn read_tenants(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    dns: Option<&Dns>,
) -> Option<Vec<Tenant>> {
    let tables = r.tables(root, "", "tenant");
    let mut tenants = Vec::new();
    let mut ok = true;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let subdomains: std::collections::BTreeSet<&str> = dns
        .map(|d| d.subdomains.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for (i, (t, at)) in tables.into_iter().enumerate() {
        let p = format!("tenant[{i}]");
        r.check_keys(t, &p, TENANT_KEYS);
        let f = format!("{p}.slug");
        let slug = r.req_str(
            t,
            at,
            &p,
            "slug",
            "add slug = \"acme\" (becomes acme.<zone>)",
        );
        let off = r.spans.get(&f).map_or(at, |s| s.start);
        let slug = slug.filter(|s| {
            let bad = if !is_dns_label(s) {
                Some((format!("tenant slug `{s}` is not a DNS label"), "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`".to_string()))
            } else if RESERVED_LABELS.contains(&s.as_str()) || dns.is_some_and(|d| d.api == *s) {
                Some((format!("tenant slug `{s}` is a reserved name"), format!("the names {} and the api label are taken by the platform; choose another slug", RESERVED_LABELS.join(", "))))
            } else if subdomains.contains(s.as_str()) {
                Some((format!("tenant slug `{s}` is also listed in dns.subdomains"), "a child zone can belong to a tenant or be a subdomain, not both: rename one".to_string()))
            } else { seen.get(s.as_str()).map(|first| (format!("tenant `{s}` is defined twice (first as tenant[{first}])"), "remove the duplicate [[tenant]] or give it another slug".to_string())) };
            match bad {
                Some((m, h)) => {
                    r.error(off, &f, m, h);
                    false
                }
                None => {
                    seen.insert(s.clone(), i);
                    true
                }
            }
        });
        let ingress = match r.opt_str(t, &p, "ingress").as_deref() {
            None | Some("shared") => Some(Ingress::Shared),
            Some("dedicated") => Some(Ingress::Dedicated),
            Some(other) => {
                let off = r.spans.get(&format!("{p}.ingress")).map_or(at, |s| s.start);
                r.error(
                    off,
                    &format!("{p}.ingress"),
                    format!("unknown ingress mode `{other}`"),
                    "use \"dedicated\" (own load balancer) or \"shared\" (the platform's)"
                        .to_string(),
                );
                None
            }
        };
        let subdomain = match r.opt_str(t, &p, "subdomain") {
            None => slug.clone(),
            Some(s) => {
                let f = format!("{p}.subdomain");
                let off = r.spans.get(&f).map_or(at, |s| s.start);
                let taken = tenants
                    .iter()
                    .find(|o: &&Tenant| o.subdomain == s)
                    .map(|o| o.slug.clone());
                let bad = if !is_dns_label(&s) {
                    Some((format!("tenant subdomain `{s}` is not a DNS label"), "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`".to_string()))
                } else if RESERVED_LABELS.contains(&s.as_str()) || dns.is_some_and(|d| d.api == s) {
                    Some((format!("tenant subdomain `{s}` is a reserved name"), format!("the names {} and the api label are taken by the platform; choose another", RESERVED_LABELS.join(", "))))
                } else if subdomains.contains(s.as_str()) {
                    Some((format!("tenant subdomain `{s}` is also listed in dns.subdomains"), "a child zone can belong to a tenant or be a subdomain, not both: rename one".to_string()))
                } else {
                    taken.map(|other| {
                        (
                            format!("tenant subdomain `{s}` is already tenant `{other}`'s"),
                            "give each tenant its own subdomain".to_string(),
                        )
                    })
                };
                match bad {
                    Some((m, h)) => {
                        r.error(off, &f, m, h);
                        None
                    }
                    None => Some(s),
                }
            }
        };
        match (slug, ingress, subdomain) {
            (Some(slug), Some(ingress), Some(subdomain)) => tenants.push(Tenant {
                slug,
                subdomain,
                ingress,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(tenants)
}
