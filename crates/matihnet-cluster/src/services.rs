//! The service address map: each platform service's cluster-internal URL
//! (`http://<service>.<namespace>.svc.cluster.local:<port>`, always the FQDN so it resolves from
//! any namespace) and the public hostnames, as a ConfigMap in every platform namespace and as an
//! env file for everything else.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use matihnet_net::Environment;

use crate::document::{to_value, File, Format};
use crate::namespaces::{labels, Namespace};
use crate::RenderError;

pub const CONFIG_MAP: &str = "matih-service-addresses";

/// Variable name -> value, sorted.
fn addresses(env: &Environment) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = env
        .services
        .iter()
        .map(|s| (s.env.clone(), s.url()))
        .collect();
    let zone = &env.dns.zone;
    out.insert("PLATFORM_ZONE".to_string(), zone.clone());
    out.insert("API_HOST".to_string(), format!("{}.{zone}", env.dns.api));
    for t in &env.tenants {
        out.insert(
            format!(
                "TENANT_{}_HOST",
                t.slug.to_ascii_uppercase().replace('-', "_")
            ),
            format!("{}.{zone}", t.subdomain),
        );
    }
    out
}

pub(crate) fn files(
    env: &Environment,
    namespaces: &[Namespace],
    format: Format,
) -> Result<Vec<File>, RenderError> {
    let data = addresses(env);
    let maps = namespaces
        .iter()
        .map(|ns| {
            to_value(
                "service-addresses",
                &ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(CONFIG_MAP.to_string()),
                        namespace: Some(ns.name.clone()),
                        labels: Some(labels(env)),
                        ..ObjectMeta::default()
                    },
                    data: Some(data.clone()),
                    ..ConfigMap::default()
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut env_file = format!(
        "# Service addresses of environment \"{}\", written by `matihnet render`.\n",
        env.name
    );
    for (k, v) in &data {
        env_file.push_str(&format!("{k}={v}\n"));
    }
    Ok(vec![
        File::objects("services/service-addresses", format, maps)?,
        File::text("services/service-addresses.env", env_file),
    ])
}
