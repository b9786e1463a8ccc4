//! ingress-nginx Helm values, one file per controller (the platform's, and each tenant's with a
//! dedicated ingress), each bound to the load-balancer front end matihnet owns, the way its cloud
//! binds one: AKS by the public IP's name and resource group, GKE by the reserved regional
//! address, EKS by `TargetGroupBinding`s that register the controller's pods in the target groups
//! of matihnet's NLB (so the Service stays `ClusterIP`: a `LoadBalancer` Service would make the
//! AWS controller create a second NLB).

use std::collections::BTreeMap;

use matihnet_core::neutral::NeutralKind;
use matihnet_net::{CloudProvider, Environment, Ingress};
use serde::Serialize;
use serde_json::Value;

use crate::built::Built;
use crate::document::{to_value, File, Format};
use crate::namespaces::{labels, Namespace, INGRESS};
use crate::RenderError;

/// The ports of the NLB's target groups, in the order the EKS provider records their ARNs.
const TARGET_GROUP_PORTS: [(u16, &str); 2] = [(80, "http"), (443, "https")];

/// One NGINX controller: where it runs and which front end it takes.
struct Controller {
    /// `platform` or `tenant-<slug>`: the values file's name.
    stem: String,
    /// The Helm release's full name, so the Service is `<fullname>-controller` whatever the
    /// release is called.
    fullname: String,
    class: String,
    namespace: String,
    frontend: String,
    default_class: bool,
}

fn controllers(env: &Environment) -> Vec<Controller> {
    let platform = Controller {
        stem: "platform".to_string(),
        fullname: "ingress-nginx".to_string(),
        class: "nginx".to_string(),
        namespace: INGRESS.to_string(),
        frontend: "platform".to_string(),
        default_class: true,
    };
    let tenants = env
        .tenants
        .iter()
        .filter(|t| t.ingress == Ingress::Dedicated)
        .map(|t| Controller {
            stem: format!("tenant-{}", t.slug),
            fullname: format!("ingress-nginx-tenant-{}", t.slug),
            class: format!("nginx-tenant-{}", t.slug),
            namespace: Namespace::tenant_namespace(&t.slug),
            frontend: t.slug.clone(),
            default_class: false,
        });
    std::iter::once(platform).chain(tenants).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    fullname_override: String,
    controller: ControllerValues,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ControllerValues {
    ingress_class: String,
    ingress_class_resource: IngressClassResource,
    #[serde(rename = "electionID")]
    election_id: String,
    /// A tenant's controller watches only its tenant's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Scope>,
    service: ServiceValues,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngressClassResource {
    name: String,
    enabled: bool,
    default: bool,
    controller_value: String,
}

#[derive(Serialize)]
struct Scope {
    enabled: bool,
    namespace: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceValues {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "loadBalancerIP", skip_serializing_if = "Option::is_none")]
    load_balancer_ip: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    /// Keeps the client's source address for logs and allow-lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    external_traffic_policy: Option<String>,
}

pub(crate) fn files(
    env: &Environment,
    built: &Built,
    format: Format,
) -> Result<Vec<File>, RenderError> {
    let mut files = Vec::new();
    let mut bindings = Vec::new();
    for c in controllers(env) {
        let frontend = built.get(NeutralKind::Frontend, &c.frontend)?;
        let mut service = ServiceValues {
            kind: "LoadBalancer".to_string(),
            load_balancer_ip: None,
            annotations: BTreeMap::new(),
            external_traffic_policy: Some("Local".to_string()),
        };
        match env.provider {
            CloudProvider::Aks => {
                service.annotations.insert(
                    "service.beta.kubernetes.io/azure-load-balancer-resource-group".to_string(),
                    frontend.text("resource_group")?,
                );
                service.annotations.insert(
                    "service.beta.kubernetes.io/azure-pip-name".to_string(),
                    frontend.text("name")?,
                );
            }
            CloudProvider::Gke => {
                service.load_balancer_ip = Some(frontend.text("ip_address")?);
            }
            CloudProvider::Eks => {
                service.kind = "ClusterIP".to_string();
                service.external_traffic_policy = None;
                let arns = frontend.texts("target_group_arns")?;
                for ((port, port_name), arn) in TARGET_GROUP_PORTS.iter().zip(arns) {
                    bindings.push(target_group_binding(env, &c, *port, port_name, arn)?);
                }
            }
            CloudProvider::Fake | CloudProvider::Plugin => {
                return Err(RenderError::UnsupportedProvider(env.provider))
            }
        }
        let values = Values {
            fullname_override: c.fullname.clone(),
            controller: ControllerValues {
                ingress_class: c.class.clone(),
                ingress_class_resource: IngressClassResource {
                    name: c.class.clone(),
                    enabled: true,
                    default: c.default_class,
                    controller_value: format!("k8s.io/{}", c.fullname),
                },
                election_id: format!("{}-leader", c.fullname),
                scope: (!c.default_class).then(|| Scope {
                    enabled: true,
                    namespace: c.namespace.clone(),
                }),
                service,
            },
        };
        let stem = format!("ingress-nginx/{}", c.stem);
        files.push(File::values(&stem, format, &to_value(&stem, &values)?)?);
    }
    if !bindings.is_empty() {
        files.push(File::objects(
            "ingress-nginx/target-group-bindings",
            format,
            bindings,
        )?);
    }
    Ok(files)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetGroupBinding {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: TargetGroupBindingSpec,
}

#[derive(Serialize)]
pub(crate) struct Metadata {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetGroupBindingSpec {
    service_ref: ServiceRef,
    #[serde(rename = "targetGroupARN")]
    target_group_arn: String,
    target_type: &'static str,
}

#[derive(Serialize)]
struct ServiceRef {
    name: String,
    port: u16,
}

fn target_group_binding(
    env: &Environment,
    c: &Controller,
    port: u16,
    port_name: &str,
    arn: String,
) -> Result<Value, RenderError> {
    let binding = TargetGroupBinding {
        api_version: "elbv2.k8s.aws/v1beta1",
        kind: "TargetGroupBinding",
        metadata: Metadata {
            name: format!("{}-{port_name}", c.fullname),
            namespace: Some(c.namespace.clone()),
            labels: labels(env),
        },
        spec: TargetGroupBindingSpec {
            service_ref: ServiceRef {
                name: format!("{}-controller", c.fullname),
                port,
            },
            target_group_arn: arn,
            // The EKS provider creates its target groups with target type `ip`: pods register
            // directly, so the Service needs no node ports.
            target_type: "ip",
        },
    };
    to_value("target-group-bindings", &binding)
}
