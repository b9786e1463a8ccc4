//! The typed environment model that an environment file is read into.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;

/// The cloud an environment runs on; `Fake` is the engine's in-memory test cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloudProvider {
    Aks,
    Eks,
    Gke,
    Fake,
    /// A provider plugin the file names (`Environment::plugin`): the networking model applies
    /// its cloud-neutral rules, as for the fake cloud.
    Plugin,
}

impl CloudProvider {
    pub const ALL: [CloudProvider; 4] = [
        CloudProvider::Aks,
        CloudProvider::Eks,
        CloudProvider::Gke,
        CloudProvider::Fake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloudProvider::Aks => "aks",
            CloudProvider::Eks => "eks",
            CloudProvider::Gke => "gke",
            CloudProvider::Fake => "fake",
            CloudProvider::Plugin => "plugin",
        }
    }

    /// The name its provider answers to, and its plugin executable's suffix
    /// (`matihnet-provider-aws`); `None` for a plugin, whose name is the file's.
    pub fn provider_name(self) -> Option<&'static str> {
        match self {
            CloudProvider::Aks => Some("azure"),
            CloudProvider::Eks => Some("aws"),
            CloudProvider::Gke => Some("gcp"),
            CloudProvider::Fake => Some("fake"),
            CloudProvider::Plugin => None,
        }
    }

    pub fn parse(s: &str) -> Option<CloudProvider> {
        CloudProvider::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The cloud settings section this provider needs (`None` for the fake provider).
    pub fn section(self) -> Option<&'static str> {
        match self {
            CloudProvider::Aks => Some("azure"),
            CloudProvider::Eks => Some("aws"),
            CloudProvider::Gke => Some("gcp"),
            CloudProvider::Fake | CloudProvider::Plugin => None,
        }
    }

    /// Addresses the cloud keeps for itself in every subnet. The fake cloud follows AWS.
    pub fn reserved_per_subnet(self) -> u64 {
        match self {
            CloudProvider::Gke => 4,
            _ => 5,
        }
    }

    pub fn default_cni(self) -> Cni {
        match self {
            CloudProvider::Aks => Cni::Azure,
            CloudProvider::Eks => Cni::VpcCni,
            CloudProvider::Gke => Cni::VpcNative,
            CloudProvider::Fake | CloudProvider::Plugin => Cni::Fake,
        }
    }
}

impl fmt::Display for CloudProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How pods get their addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cni {
    /// AKS legacy Azure CNI: pods take addresses from the node subnet.
    Azure,
    /// AKS Azure CNI with a dedicated pod subnet, addresses handed out in batches of 16.
    AzurePodSubnet,
    /// AKS Azure CNI overlay: each node takes a /24 from the pod CIDR.
    AzureOverlay,
    /// EKS Amazon VPC CNI: pods take secondary IPs of the node's ENIs in the node subnet.
    VpcCni,
    /// EKS custom networking: pod ENIs live in subnets of a secondary VPC CIDR.
    VpcCniCustom,
    /// EKS prefix delegation: ENI slots hold /28 prefixes.
    VpcCniPrefix,
    /// GKE VPC-native: alias IPs from the subnetwork's `pods` secondary range.
    VpcNative,
    /// The fake cloud: pods take addresses from the node subnet, one each.
    Fake,
}

impl Cni {
    pub const ALL: [Cni; 8] = [
        Cni::Azure,
        Cni::AzurePodSubnet,
        Cni::AzureOverlay,
        Cni::VpcCni,
        Cni::VpcCniCustom,
        Cni::VpcCniPrefix,
        Cni::VpcNative,
        Cni::Fake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cni::Azure => "azure",
            Cni::AzurePodSubnet => "azure-pod-subnet",
            Cni::AzureOverlay => "azure-overlay",
            Cni::VpcCni => "vpc-cni",
            Cni::VpcCniCustom => "vpc-cni-custom",
            Cni::VpcCniPrefix => "vpc-cni-prefix",
            Cni::VpcNative => "vpc-native",
            Cni::Fake => "fake",
        }
    }

    pub fn provider(self) -> CloudProvider {
        match self {
            Cni::Azure | Cni::AzurePodSubnet | Cni::AzureOverlay => CloudProvider::Aks,
            Cni::VpcCni | Cni::VpcCniCustom | Cni::VpcCniPrefix => CloudProvider::Eks,
            Cni::VpcNative => CloudProvider::Gke,
            Cni::Fake => CloudProvider::Fake,
        }
    }

    /// The CNI modes `provider` accepts, in the order the docs list them.
    pub fn for_provider(provider: CloudProvider) -> Vec<Cni> {
        let provider = match provider {
            CloudProvider::Plugin => CloudProvider::Fake,
            p => p,
        };
        Cni::ALL
            .into_iter()
            .filter(|c| c.provider() == provider)
            .collect()
    }

    pub fn parse(s: &str) -> Option<Cni> {
        Cni::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Cni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// NAT gateways on EKS: one per AZ survives an AZ outage, one in total is cheaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NatMode {
    #[default]
    PerAz,
    Single,
    None,
}

impl NatMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NatMode::PerAz => "per-az",
            NatMode::Single => "single",
            NatMode::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ingress {
    /// The tenant gets its own NGINX controller and load-balancer front end.
    Dedicated,
    /// The tenant's records point at the platform's front end.
    #[default]
    Shared,
}

impl Ingress {
    pub fn as_str(self) -> &'static str {
        match self {
            Ingress::Dedicated => "dedicated",
            Ingress::Shared => "shared",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub provider: CloudProvider,
    /// The plugin's name when `provider` is [`CloudProvider::Plugin`].
    pub plugin: Option<String>,
    /// `[providers.NAME]`: plugin sources, call timeouts and a plugin's own settings.
    pub providers: BTreeMap<String, ProviderSection>,
    pub region: String,
    pub aws: Option<AwsSection>,
    pub azure: Option<AzureSection>,
    pub gcp: Option<GcpSection>,
    pub network: Network,
    pub node_pools: Vec<NodePool>,
    pub dns: Dns,
    pub tenants: Vec<Tenant>,
    pub state: StateSection,
    /// `[cert_manager]`: needed by `render` only, so a file without it still plans and applies.
    pub cert_manager: Option<CertManagerSection>,
    /// The platform's services for the address map: the seed's defaults, overridden or extended
    /// by `[[service]]` entries of the same name.
    pub services: Vec<Service>,
    /// `[rate_limits]`: the user's rates per metered API, over the documented defaults.
    pub rate_limits: matihnet_core::pacing::Overrides,
    /// `[[import]]`: objects to take over, by address and cloud id.
    pub imports: Vec<ImportEntry>,
    /// `[[moved]]`: renamed addresses whose objects are kept.
    pub moves: Vec<MoveEntry>,
}

/// One `[providers.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSection {
    pub name: String,
    /// `source`: the plugin executable, as written (relative paths are the file's directory's).
    pub source: Option<String>,
    /// `timeout`: how long one call may take.
    pub timeout: Option<std::time::Duration>,
    /// A plugin provider's own settings: every other key, `${VAR}`s substituted.
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The section's line, for messages about its plugin.
    pub line: usize,
}

impl Environment {
    /// The name the running provider answers to: `aws`, `azure`, `gcp`, `fake` or the plugin's.
    pub fn provider_name(&self) -> &str {
        self.provider
            .provider_name()
            .or(self.plugin.as_deref())
            .unwrap_or("plugin")
    }

    /// The zones subnets are spread over: the AWS availability zones, or none elsewhere
    /// (AKS and GKE subnets are regional).
    pub fn zones(&self) -> &[String] {
        match &self.aws {
            Some(aws) if self.provider == CloudProvider::Eks => &aws.availability_zones,
            _ => &[],
        }
    }

    /// Every child zone's label, tenants first then subdomains, in file order.
    pub fn child_labels(&self) -> Vec<&str> {
        self.child_zones().into_iter().map(|(key, _)| key).collect()
    }

    /// Every child zone as (its key in addresses, its DNS label), tenants first then
    /// subdomains, in file order.
    pub fn child_zones(&self) -> Vec<(&str, &str)> {
        self.tenants
            .iter()
            .map(|t| (t.slug.as_str(), t.subdomain.as_str()))
            .chain(self.dns.subdomains.iter().map(|s| (s.as_str(), s.as_str())))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSection {
    pub availability_zones: Vec<String>,
    pub endpoint_url: Option<String>,
    pub nat: NatMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSection {
    pub subscription_id: String,
    pub resource_group: String,
    pub endpoint: Option<String>,
    /// Where the ingress public IPs live; defaults to `resource_group`.
    pub ingress_resource_group: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpSection {
    pub project: String,
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub cidr: Ipv4Net,
    pub service_cidr: Ipv4Net,
    pub pod_cidr: Option<Ipv4Net>,
    /// Extra VPC CIDR blocks (EKS) the user adds to grow the network.
    pub secondary_cidrs: Vec<Ipv4Net>,
    pub cni: Cni,
    pub protect: bool,
    /// Overrides the carved node subnet size (prefix length), to grow it when a capacity check fails.
    pub node_prefix: Option<u8>,
    /// Overrides the carved pod subnet size (prefix length).
    pub pod_prefix: Option<u8>,
    /// Internal load-balancer front ends that take addresses from the node subnet(s).
    pub internal_load_balancers: u64,
    /// `[[network.subnet]]`: ranges the user chose for carved subnets, by subnet name.
    pub subnets: Vec<ExplicitSubnet>,
    /// An existing network to use, not own (`existing = "<id>"`): checked against `cidr` and
    /// the region, never changed or deleted.
    pub existing: Option<String>,
}

/// Replaces the CIDR of the carved subnet of the same name (`nodes_eu-west-1a`, `nodes`, ...),
/// for networks whose layout was decided before matihnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplicitSubnet {
    pub name: String,
    pub cidr: Ipv4Net,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePool {
    pub name: String,
    pub instance_type: String,
    pub max_nodes: u64,
    pub max_pods: Option<u64>,
    pub max_surge: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dns {
    pub zone: String,
    /// The platform zone exists already and is used, not owned: the id (or the domain, for
    /// `existing_zone = true`) it is found by.
    pub existing_zone: Option<String>,
    pub api: String,
    pub subdomains: Vec<String>,
    pub ttl: u64,
    pub protect: bool,
}

/// One `[[import]]` entry: the object the cloud knows by `id` becomes `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEntry {
    pub to: matihnet_core::Address,
    pub id: String,
}

/// One `[[moved]]` entry: the object recorded at `from` is the file's `to` now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveEntry {
    pub from: matihnet_core::Address,
    pub to: matihnet_core::Address,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub slug: String,
    /// The DNS label of the tenant's zone and the stem of its cloud names (the slug unless set):
    /// a slug renamed with its subdomain kept keeps every cloud object.
    pub subdomain: String,
    pub ingress: Ingress,
}

/// The ACME account and the identity cert-manager's DNS01 solver runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertManagerSection {
    pub email: String,
    /// AKS: the client id of the managed identity (workload identity) cert-manager uses.
    pub identity_client_id: Option<String>,
    /// GKE: the Google service account cert-manager runs as (Workload Identity).
    pub service_account: Option<String>,
}

/// A platform service reachable at `http://<name>.<namespace>.svc.cluster.local:<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    pub port: u16,
    /// The variable the service map sets to the URL, such as `QUERY_ENGINE_URL`.
    pub env: String,
}

impl Service {
    /// The services the MATIH cluster-networking model names with their namespace and port
    /// (the ai-service's values list the first three; the AI service answers on 8000).
    pub fn defaults() -> Vec<Service> {
        [
            ("ai-service", "matih-data-plane", 8000, "AI_SERVICE_URL"),
            ("catalog-service", "matih-data-plane", 8086, "CATALOG_URL"),
            (
                "iam-service",
                "matih-control-plane",
                8081,
                "IAM_SERVICE_URL",
            ),
            ("query-engine", "matih-data-plane", 8080, "QUERY_ENGINE_URL"),
        ]
        .into_iter()
        .map(|(name, namespace, port, env)| Service {
            name: name.to_string(),
            namespace: namespace.to_string(),
            port,
            env: env.to_string(),
        })
        .collect()
    }

    /// `query-engine` -> `QUERY_ENGINE_URL`.
    pub fn default_env(name: &str) -> String {
        format!("{}_URL", name.to_ascii_uppercase().replace('-', "_"))
    }

    pub fn url(&self) -> String {
        format!(
            "http://{}.{}.svc.cluster.local:{}",
            self.name, self.namespace, self.port
        )
    }
}

/// `[state]`: where the state lives. Every field may use `${VAR}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateSection {
    /// Relative to the environment file (local backend only).
    pub path: Option<String>,
    pub backend: StateBackend,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StateBackend {
    /// A file beside the environment file (or at `path`).
    #[default]
    Local,
    S3(S3State),
    Postgres(PostgresState),
}

impl StateBackend {
    pub fn as_str(&self) -> &'static str {
        match self {
            StateBackend::Local => "local",
            StateBackend::S3(_) => "s3",
            StateBackend::Postgres(_) => "postgres",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3State {
    pub bucket: String,
    pub key: String,
    /// Otherwise `[aws]`'s region (EKS), then the SDK's own chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// Otherwise `[aws] endpoint_url` (EKS), then `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// A lock whose heartbeat is older than this is stale.
    pub lock_ttl_secs: u64,
}

/// How long an S3 lock's heartbeat may be silent before the lock is stale, unless
/// `[state] lock_ttl` says otherwise.
pub const DEFAULT_S3_LOCK_TTL_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresState {
    /// A libpq-style connection string or URL; may carry a password, so it is never printed.
    pub conn_str: String,
    pub schema: String,
    /// The row of the states table: the environment's name unless set.
    pub name: String,
}
