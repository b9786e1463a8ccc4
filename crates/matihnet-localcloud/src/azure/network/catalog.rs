//! The location-scoped catalogues of the network resource provider: the services a subnet can
//! be delegated to (with the actions each delegation grants, which a subnet's delegations echo)
//! and the services a subnet can have endpoints for. Both lists are the ones real ARM answered in
//! the recordings (`test_network_subnet_delegation`, `test_network_subnet_endpoint_service`);
//! every location answers the same lists there.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::azure::arm::{json_response, ArmError, Catalog};
use crate::azure::request::{method_not_allowed, Req};

const JOIN: &str = "Microsoft.Network/virtualNetworks/subnets/join/action";
const SUBNET: &str = "Microsoft.Network/virtualNetworks/subnets/action";
const NICS: &str = "Microsoft.Network/networkinterfaces/*";
const PREPARE: &str = "Microsoft.Network/virtualNetworks/subnets/prepareNetworkPolicies/action";
const UNPREPARE: &str = "Microsoft.Network/virtualNetworks/subnets/unprepareNetworkPolicies/action";
const VNET_READ: &str = "Microsoft.Network/virtualNetworks/read";

/// Service name and the actions a delegation to it grants, in the order ARM lists them.
const DELEGATIONS: &[(&str, &[&str])] = &[
    ("Microsoft.Web/serverFarms", &[SUBNET]),
    ("Microsoft.ContainerInstance/containerGroups", &[SUBNET]),
    ("Microsoft.Netapp/volumes", &[NICS, JOIN]),
    (
        "Microsoft.HardwareSecurityModules/dedicatedHSMs",
        &[NICS, JOIN],
    ),
    ("Microsoft.ServiceFabricMesh/networks", &[SUBNET]),
    ("Microsoft.Logic/integrationServiceEnvironments", &[SUBNET]),
    ("Microsoft.Batch/batchAccounts", &[SUBNET]),
    (
        "Microsoft.Sql/managedInstances",
        &[JOIN, PREPARE, UNPREPARE],
    ),
    ("Microsoft.Web/hostingEnvironments", &[SUBNET]),
    ("Microsoft.BareMetal/CrayServers", &[NICS, JOIN]),
    (
        "Microsoft.Databricks/workspaces",
        &[JOIN, PREPARE, UNPREPARE],
    ),
    ("Microsoft.BareMetal/AzureHostedService", &[NICS, JOIN]),
    ("Microsoft.BareMetal/AzureVMware", &[NICS, JOIN]),
    ("Microsoft.StreamAnalytics/streamingJobs", &[JOIN]),
    ("Microsoft.DBforPostgreSQL/serversv2", &[JOIN]),
    ("Microsoft.AzureCosmosDB/clusters", &[JOIN]),
    ("Microsoft.MachineLearningServices/workspaces", &[JOIN]),
    ("Microsoft.DBforPostgreSQL/singleServers", &[JOIN]),
    ("Microsoft.DBforPostgreSQL/flexibleServers", &[JOIN]),
    ("Microsoft.DBforMySQL/serversv2", &[JOIN]),
    ("Microsoft.DBforMySQL/flexibleServers", &[JOIN]),
    ("Microsoft.DBforMySQL/servers", &[JOIN]),
    ("Microsoft.ApiManagement/service", &[JOIN, PREPARE]),
    ("Microsoft.Synapse/workspaces", &[JOIN]),
    ("Microsoft.PowerPlatform/vnetaccesslinks", &[JOIN]),
    ("Microsoft.Network/dnsResolvers", &[JOIN]),
    ("Microsoft.Kusto/clusters", &[JOIN, PREPARE, UNPREPARE]),
    ("Microsoft.DelegatedNetwork/controller", &[JOIN]),
    ("Microsoft.ContainerService/managedClusters", &[JOIN]),
    ("Microsoft.PowerPlatform/enterprisePolicies", &[JOIN]),
    ("Microsoft.StoragePool/diskPools", &[VNET_READ]),
    ("Microsoft.DocumentDB/cassandraClusters", &[JOIN]),
    ("Microsoft.Apollo/npu", &[NICS, JOIN]),
    ("Microsoft.AVS/PrivateClouds", &[NICS]),
    (
        "Microsoft.Orbital/orbitalGateways",
        &[
            "Microsoft.Network/publicIPAddresses/join/action",
            JOIN,
            VNET_READ,
            "Microsoft.Network/publicIPAddresses/read",
        ],
    ),
    ("Microsoft.Singularity/accounts/networks", &[NICS, JOIN]),
    ("Microsoft.Singularity/accounts/npu", &[NICS, JOIN]),
    ("Microsoft.LabServices/labplans", &[JOIN]),
    ("Microsoft.Fidalgo/networkSettings", &[JOIN]),
    ("Microsoft.DevCenter/networkConnection", &[JOIN]),
    ("NGINX.NGINXPLUS/nginxDeployments", &[JOIN]),
    ("Microsoft.CloudTest/pools", &[JOIN]),
    ("Microsoft.CloudTest/hostedpools", &[JOIN]),
    ("Microsoft.CloudTest/images", &[JOIN]),
    ("Microsoft.Codespaces/plans", &[JOIN]),
    ("PaloAltoNetworks.Cloudngfw/firewalls", &[JOIN]),
    ("Qumulo.Storage/fileSystems", &[JOIN]),
    ("Microsoft.App/testClients", &[JOIN]),
    ("Microsoft.App/environments", &[JOIN]),
    ("Microsoft.ServiceNetworking/trafficControllers", &[JOIN]),
    ("GitHub.Network/networkSettings", &[JOIN]),
    ("Microsoft.Network/networkWatchers", &[JOIN]),
    ("Dell.Storage/fileSystems", &[JOIN]),
    ("Microsoft.Netapp/scaleVolumes", &[JOIN]),
    ("Oracle.Database/networkAttachments", &[NICS, JOIN]),
];

/// The services a subnet can have service endpoints for, in the order ARM lists them.
const ENDPOINT_SERVICES: &[&str] = &[
    "Microsoft.Storage",
    "Microsoft.Sql",
    "Microsoft.AzureActiveDirectory",
    "Microsoft.AzureCosmosDB",
    "Microsoft.Web",
    "Microsoft.KeyVault",
    "Microsoft.EventHub",
    "Microsoft.ServiceBus",
    "Microsoft.ContainerRegistry",
    "Microsoft.CognitiveServices",
    "Microsoft.CosmosDBManagedInstance",
    "Microsoft.Storage.Global",
];

/// The actions a delegation to `service` grants; none for a service ARM does not list.
pub(super) fn delegation_actions(service: &str) -> Vec<&'static str> {
    DELEGATIONS
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(service))
        .map(|(_, actions)| actions.to_vec())
        .unwrap_or_default()
}

/// `GET .../locations/{loc}/availableDelegations` or `.../virtualNetworkAvailableEndpointServices`.
pub(super) fn list(
    req: &Req,
    sub: &str,
    rg: Option<&str>,
    what: Catalog,
) -> Result<Response, ArmError> {
    if req.method != Method::GET {
        return Err(method_not_allowed(&req.method));
    }
    // ARM spells the group scope of these ids `resourceGroup`, singular, as recorded.
    let scope = match rg {
        Some(rg) => format!("/subscriptions/{sub}/resourceGroup/{rg}"),
        None => format!("/subscriptions/{sub}"),
    };
    let value: Vec<Value> = match what {
        Catalog::AvailableDelegations => DELEGATIONS
            .iter()
            .map(|(service, actions)| {
                let name = service.replace('/', ".");
                json!({
                    "name": name,
                    "id": format!("{scope}/providers/Microsoft.Network/availableDelegations/{name}"),
                    "type": "Microsoft.Network/availableDelegations",
                    "serviceName": service,
                    "actions": actions,
                })
            })
            .collect(),
        Catalog::EndpointServices => ENDPOINT_SERVICES
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "id": format!("{scope}/providers/Microsoft.Network/virtualNetworkEndpointServices/{name}"),
                    "type": "Microsoft.Network/virtualNetworkEndpointServices",
                })
            })
            .collect(),
    };
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}
