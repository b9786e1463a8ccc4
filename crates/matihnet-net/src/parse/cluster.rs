//! `[cert_manager]` and the `[[service]]` list: what `matihnet render` needs beyond the cloud
//! objects (the ACME account, the identity that solves DNS01, the platform's service table).

use super::*;

pub(super) fn read_cert_manager(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    provider: Option<CloudProvider>,
) -> Result<Option<CertManagerSection>, ()> {
    let Some((t, at)) = r.section(root, "cert_manager") else {
        return if root.contains_key("cert_manager") {
            Err(())
        } else {
            Ok(None)
        };
    };
    r.check_keys(t, "cert_manager", CERT_MANAGER_KEYS);
    let mut ok = true;
    let email = r.req_str(
        t,
        at,
        "cert_manager",
        "email",
        "add email = \"${ACME_EMAIL}\" (the ACME account Let's Encrypt writes to about expiring certificates)",
    );
    let email = email.filter(|e| {
        let valid = matches!(e.split_once('@'), Some((user, host)) if !user.is_empty() && host.contains('.'))
            && !e.contains(char::is_whitespace);
        if !valid {
            let off = r.spans.get("cert_manager.email").map_or(at, |s| s.start);
            r.error(
                off,
                "cert_manager.email",
                format!("`{}` is not an email address", shown(e)),
                "write the ACME account's address, such as \"platform@example.com\"".to_string(),
            );
        }
        valid
    });
    ok &= email.is_some();

    // Each cloud's DNS01 solver authenticates as one identity; the other clouds' keys are errors
    // so that a copied section does not silently carry a value nothing reads.
    let identity = r.opt_str(t, "cert_manager", "identity_client_id");
    let service_account = r.opt_str(t, "cert_manager", "service_account");
    for (key, owner, value) in [
        ("identity_client_id", CloudProvider::Aks, &identity),
        ("service_account", CloudProvider::Gke, &service_account),
    ] {
        let field = format!("cert_manager.{key}");
        let off = r.spans.get(&field).map_or(at, |s| s.start);
        match (provider, value) {
            (Some(p), Some(_)) if p != owner => {
                r.error(
                    off,
                    &field,
                    format!("`{key}` applies to provider \"{owner}\", but environment.provider is \"{p}\""),
                    format!("remove `{key}` from [cert_manager]"),
                );
                ok = false;
            }
            (Some(p), None) if p == owner => {
                let example = match owner {
                    CloudProvider::Aks => "identity_client_id = \"${AKS_IDENTITY_CLIENT_ID}\" (the client id of the managed identity cert-manager runs as)",
                    _ => "service_account = \"cert-manager@PROJECT.iam.gserviceaccount.com\" (the Google service account cert-manager runs as)",
                };
                r.missing(at, "cert_manager", key, &format!("add {example}"));
                ok = false;
            }
            _ => {}
        }
    }
    if let Some(id) = &identity {
        if !is_guid(id) {
            let off = r
                .spans
                .get("cert_manager.identity_client_id")
                .map_or(at, |s| s.start);
            r.error(
                off,
                "cert_manager.identity_client_id",
                format!("`{}` is not a client id", shown(id)),
                "write the managed identity's client id, a GUID such as \"00000000-0000-0000-0000-000000000000\" (`az identity show --query clientId`)".to_string(),
            );
            ok = false;
        }
    }
    if let Some(sa) = &service_account {
        if !sa.contains('@') || sa.contains(char::is_whitespace) {
            let off = r
                .spans
                .get("cert_manager.service_account")
                .map_or(at, |s| s.start);
            r.error(
                off,
                "cert_manager.service_account",
                format!("`{}` is not a service account email", shown(sa)),
                "write it as NAME@PROJECT.iam.gserviceaccount.com".to_string(),
            );
            ok = false;
        }
    }
    if !ok {
        return Err(());
    }
    Ok(email.map(|email| CertManagerSection {
        email,
        identity_client_id: identity,
        service_account,
    }))
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_uppercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// `[[service]]` entries: each replaces the default of the same name or adds a service.
pub(super) fn read_services(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Vec<Service>> {
    let mut services = Service::defaults();
    let mut ok = true;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (t, at)) in r.tables(root, "", "service").into_iter().enumerate() {
        let p = format!("service[{i}]");
        r.check_keys(t, &p, SERVICE_KEYS);
        let label = |r: &mut Reader<'_>, key: &str, hint: &str| {
            let v = r.req_str(t, at, &p, key, hint)?;
            if is_dns_label(&v) {
                Some(v)
            } else {
                let f = format!("{p}.{key}");
                let off = r.spans.get(&f).map_or(at, |s| s.start);
                r.error(
                    off,
                    &f,
                    format!("`{}` is not a Kubernetes name", shown(&v)),
                    "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`"
                        .to_string(),
                );
                None
            }
        };
        let name = label(
            r,
            "name",
            "add name = \"query-engine\" (the Kubernetes Service's name)",
        );
        let namespace = label(r, "namespace", "add namespace = \"matih-data-plane\"");
        let port = match r.opt_int(t, &p, "port", 1, 65_535, "a TCP port, between 1 and 65535") {
            Some(Ok(n)) => u16::try_from(n).ok(),
            Some(Err(())) => None,
            None => {
                r.missing(at, &p, "port", "add port = 8080 (the Service's port)");
                None
            }
        };
        let env = match r.opt_str(t, &p, "env") {
            Some(e) if !is_env_name(&e) => {
                let f = format!("{p}.env");
                let off = r.spans.get(&f).map_or(at, |s| s.start);
                r.error(
                    off,
                    &f,
                    format!("`{}` is not an environment variable name", shown(&e)),
                    "use upper-case letters, digits and `_`, such as \"QUERY_ENGINE_URL\""
                        .to_string(),
                );
                ok = false;
                None
            }
            other => other,
        };
        let (Some(name), Some(namespace), Some(port)) = (name, namespace, port) else {
            ok = false;
            continue;
        };
        if let Some(first) = seen.get(&name) {
            let f = format!("{p}.name");
            let off = r.spans.get(&f).map_or(at, |s| s.start);
            r.error(
                off,
                &f,
                format!("service `{name}` is defined twice (first as service[{first}])"),
                "remove the duplicate [[service]]".to_string(),
            );
            ok = false;
            continue;
        }
        seen.insert(name.clone(), i);
        let env = env.unwrap_or_else(|| Service::default_env(&name));
        let service = Service {
            name,
            namespace,
            port,
            env,
        };
        match services.iter_mut().find(|s| s.name == service.name) {
            Some(existing) => *existing = service,
            None => services.push(service),
        }
    }
    ok.then_some(services)
}
