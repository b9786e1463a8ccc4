//! The platform's namespaces: the four of the networking model, then one per tenant
//! (`matih-tenant-<slug>`), which also holds the tenant's own ingress controller when its
//! ingress is dedicated.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace as K8sNamespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use matihnet_net::{Environment, Ingress};
use serde_json::Value;

use crate::document::to_value;
use crate::RenderError;

pub const CONTROL_PLANE: &str = "matih-control-plane";
pub const DATA_PLANE: &str = "matih-data-plane";
pub const INGRESS: &str = "matih-ingress";
pub const FRONTEND: &str = "matih-frontend";

/// The label Kubernetes sets on every namespace (1.21+), which the policies select by.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    /// The tenant's slug, for tenant namespaces.
    pub tenant: Option<String>,
    /// An NGINX ingress controller runs here (the platform's, or a dedicated tenant's).
    pub runs_ingress: bool,
}

impl Namespace {
    pub fn tenant_namespace(slug: &str) -> String {
        format!("matih-tenant-{slug}")
    }

    pub fn all(env: &Environment) -> Vec<Namespace> {
        let platform = [CONTROL_PLANE, DATA_PLANE, INGRESS, FRONTEND]
            .into_iter()
            .map(|name| Namespace {
                name: name.to_string(),
                tenant: None,
                runs_ingress: name == INGRESS,
            });
        let tenants = env.tenants.iter().map(|t| Namespace {
            name: Namespace::tenant_namespace(&t.slug),
            tenant: Some(t.slug.clone()),
            runs_ingress: t.ingress == Ingress::Dedicated,
        });
        platform.chain(tenants).collect()
    }
}

/// The labels every rendered object carries.
pub(crate) fn labels(env: &Environment) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "matihnet".to_string(),
        ),
        ("matihnet.io/environment".to_string(), env.name.clone()),
    ])
}

pub(crate) fn objects(env: &Environment, all: &[Namespace]) -> Result<Vec<Value>, RenderError> {
    all.iter()
        .map(|ns| {
            let mut labels = labels(env);
            if let Some(slug) = &ns.tenant {
                labels.insert("matihnet.io/tenant".to_string(), slug.clone());
            }
            let object = K8sNamespace {
                metadata: ObjectMeta {
                    name: Some(ns.name.clone()),
                    labels: Some(labels),
                    ..ObjectMeta::default()
                },
                ..K8sNamespace::default()
            };
            to_value("namespaces", &object)
        })
        .collect()
}
