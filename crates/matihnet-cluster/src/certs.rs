//! cert-manager: one ACME `ClusterIssuer` per Let's Encrypt server (production and staging) whose
//! DNS01 solver uses the environment's cloud DNS for exactly the zones matihnet manages, and the
//! permission document that lets cert-manager write challenge records there and nowhere else.

use matihnet_core::neutral::NeutralKind;
use matihnet_net::{CertManagerSection, CloudProvider, Environment};
use serde::Serialize;
use serde_json::{json, Value};

use crate::built::Built;
use crate::document::{to_value, File, Format};
use crate::ingress::Metadata;
use crate::namespaces::labels;
use crate::RenderError;

const SERVERS: [(&str, &str); 2] = [
    (
        "letsencrypt-prod-dns01",
        "https://acme-v02.api.letsencrypt.org/directory",
    ),
    (
        "letsencrypt-staging-dns01",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
    ),
];

/// Azure's built-in role "DNS Zone Contributor".
const DNS_ZONE_CONTRIBUTOR: &str = "befefa01-2a29-4197-83a8-272ff33ce314";

/// What cert-manager's Cloud DNS solver calls.
const GCP_PERMISSIONS: [&str; 9] = [
    "dns.changes.create",
    "dns.changes.get",
    "dns.changes.list",
    "dns.managedZones.list",
    "dns.resourceRecordSets.create",
    "dns.resourceRecordSets.delete",
    "dns.resourceRecordSets.get",
    "dns.resourceRecordSets.list",
    "dns.resourceRecordSets.update",
];

/// A zone matihnet manages, as the state records it.
struct Zone {
    name: String,
    id: String,
    /// Azure: the resource group; GCP: the managed zone's resource name.
    group: String,
}

fn zones(env: &Environment, built: &Built) -> Result<Vec<Zone>, RenderError> {
    std::iter::once("platform")
        .chain(env.child_labels())
        .map(|label| {
            let z = built.get(NeutralKind::DnsZone, label)?;
            let group = match env.provider {
                CloudProvider::Aks => z.text("resource_group")?,
                CloudProvider::Gke => z.text("zone_resource")?,
                _ => String::new(),
            };
            Ok(Zone {
                name: z.text("name")?,
                id: z.text("id")?,
                group,
            })
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterIssuer {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: IssuerSpec,
}

#[derive(Serialize)]
struct IssuerSpec {
    acme: Acme,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Acme {
    server: String,
    email: String,
    private_key_secret_ref: SecretRef,
    solvers: Vec<Solver>,
}

#[derive(Serialize)]
struct SecretRef {
    name: String,
}

#[derive(Serialize)]
struct Solver {
    selector: Selector,
    dns01: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    dns_zones: Vec<String>,
}

/// The solvers for `zones`: one per zone where the solver names a single zone (Route53's hosted
/// zone id, Cloud DNS's managed zone), one for all of them where the solver finds the zone itself
/// inside one resource group (Azure DNS).
fn solvers(
    env: &Environment,
    cm: &CertManagerSection,
    zones: &[Zone],
) -> Result<Vec<Solver>, RenderError> {
    let per_zone = |dns01: &dyn Fn(&Zone) -> Value| {
        zones
            .iter()
            .map(|z| Solver {
                selector: Selector {
                    dns_zones: vec![z.name.clone()],
                },
                dns01: dns01(z),
            })
            .collect()
    };
    Ok(match env.provider {
        CloudProvider::Aks => {
            let azure = env
                .azure
                .as_ref()
                .ok_or(RenderError::UnsupportedProvider(env.provider))?;
            let client_id = cm.identity_client_id.clone().unwrap_or_default();
            let mut groups: Vec<&str> = zones.iter().map(|z| z.group.as_str()).collect();
            groups.sort_unstable();
            groups.dedup();
            groups
                .into_iter()
                .map(|group| Solver {
                    selector: Selector {
                        dns_zones: zones
                            .iter()
                            .filter(|z| z.group == group)
                            .map(|z| z.name.clone())
                            .collect(),
                    },
                    dns01: json!({"azureDNS": {
                        "environment": "AzurePublicCloud",
                        "subscriptionID": azure.subscription_id,
                        "resourceGroupName": group,
                        "managedIdentity": {"clientID": client_id},
                    }}),
                })
                .collect()
        }
        CloudProvider::Eks => per_zone(
            &|z| json!({"route53": {"region": env.region, "hostedZoneID": hosted_zone_id(&z.id)}}),
        ),
        CloudProvider::Gke => {
            let project = env
                .gcp
                .as_ref()
                .map(|g| g.project.clone())
                .ok_or(RenderError::UnsupportedProvider(env.provider))?;
            per_zone(&|z| json!({"cloudDNS": {"project": project, "hostedZoneName": z.group}}))
        }
        CloudProvider::Fake | CloudProvider::Plugin => {
            return Err(RenderError::UnsupportedProvider(env.provider))
        }
    })
}

/// Route53 ids are recorded as `Z...` or `/hostedzone/Z...`; ARNs and solvers take the bare id.
fn hosted_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

pub(crate) fn files(
    env: &Environment,
    cm: &CertManagerSection,
    built: &Built,
    format: Format,
) -> Result<Vec<File>, RenderError> {
    let zones = zones(env, built)?;
    let mut issuers = Vec::new();
    for (name, server) in SERVERS {
        let issuer = ClusterIssuer {
            api_version: "cert-manager.io/v1",
            kind: "ClusterIssuer",
            metadata: Metadata {
                name: name.to_string(),
                namespace: None,
                labels: labels(env),
            },
            spec: IssuerSpec {
                acme: Acme {
                    server: server.to_string(),
                    email: cm.email.clone(),
                    private_key_secret_ref: SecretRef {
                        name: format!("{name}-account-key"),
                    },
                    solvers: solvers(env, cm, &zones)?,
                },
            },
        };
        issuers.push(to_value("cluster-issuers", &issuer)?);
    }
    let mut files = vec![File::objects(
        "cert-manager/cluster-issuers",
        format,
        issuers,
    )?];
    files.extend(permissions(env, cm, &zones)?);
    Ok(files)
}

/// The least-privilege document of each cloud, scoped to exactly `zones`.
fn permissions(
    env: &Environment,
    cm: &CertManagerSection,
    zones: &[Zone],
) -> Result<Vec<File>, RenderError> {
    Ok(match env.provider {
        CloudProvider::Eks => {
            let arns: Vec<String> = zones
                .iter()
                .map(|z| format!("arn:aws:route53:::hostedzone/{}", hosted_zone_id(&z.id)))
                .collect();
            let policy = json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "WriteChallengeRecordsInMatihnetZones",
                        "Effect": "Allow",
                        "Action": "route53:ChangeResourceRecordSets",
                        "Resource": arns,
                        "Condition": {
                            "ForAllValues:StringEquals": {
                                "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]
                            }
                        }
                    },
                    {
                        "Sid": "WaitForChanges",
                        "Effect": "Allow",
                        "Action": "route53:GetChange",
                        "Resource": "arn:aws:route53:::change/*"
                    },
                    {
                        "Sid": "FindZones",
                        "Effect": "Allow",
                        "Action": "route53:ListHostedZonesByName",
                        "Resource": "*"
                    }
                ]
            });
            vec![File::cloud_json(
                "cloud/route53-policy.json",
                &to_value("route53-policy", &policy)?,
            )?]
        }
        CloudProvider::Aks => {
            let sub = env
                .azure
                .as_ref()
                .map(|a| a.subscription_id.clone())
                .unwrap_or_default();
            let assignments: Vec<Value> = zones
                .iter()
                .map(|z| {
                    json!({
                        "scope": z.id,
                        "roleDefinitionName": "DNS Zone Contributor",
                        "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{DNS_ZONE_CONTRIBUTOR}"),
                        "principalClientId": cm.identity_client_id,
                        "principalType": "ServicePrincipal",
                    })
                })
                .collect();
            vec![File::cloud_json(
                "cloud/azure-role-assignments.json",
                &to_value(
                    "azure-role-assignments",
                    &json!({ "roleAssignments": assignments }),
                )?,
            )?]
        }
        CloudProvider::Gke => {
            let project = env
                .gcp
                .as_ref()
                .map(|g| g.project.clone())
                .unwrap_or_default();
            let role_id = format!("matihnet_{}_dns01", env.name.replace('-', "_"));
            let role = json!({
                "roleId": role_id,
                "title": format!("matihnet {} cert-manager DNS01", env.name),
                "description": "Lets cert-manager write ACME DNS01 challenge records in the zones matihnet manages; bound on each zone, not on the project.",
                "stage": "GA",
                "includedPermissions": GCP_PERMISSIONS,
            });
            let member = format!(
                "serviceAccount:{}",
                cm.service_account.clone().unwrap_or_default()
            );
            let bindings: Vec<Value> = zones
                .iter()
                .map(|z| {
                    json!({
                        "resource": format!("projects/{project}/managedZones/{}", z.group),
                        "role": format!("projects/{project}/roles/{role_id}"),
                        "member": member,
                    })
                })
                .collect();
            vec![
                File::cloud_json(
                    "cloud/gcp-custom-role.json",
                    &to_value("gcp-custom-role", &role)?,
                )?,
                File::cloud_json(
                    "cloud/gcp-zone-bindings.json",
                    &to_value("gcp-zone-bindings", &json!({ "bindings": bindings }))?,
                )?,
            ]
        }
        CloudProvider::Fake | CloudProvider::Plugin => {
            return Err(RenderError::UnsupportedProvider(env.provider))
        }
    })
}
