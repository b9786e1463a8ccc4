//! The provider-neutral contract: the kinds of resource the networking model asks every cloud
//! for, the attributes it sets on them, and their base schemas. `matihnet-net` expands into it;
//! each provider starts its schemas from these and extends them, and a shared test checks that
//! every provider covers every kind.

use crate::{Address, ResourceSchema};

/// The attribute names of the contract, so that net and the providers cannot drift apart on a
/// spelling.
pub mod attr {
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const CIDR: &str = "cidr";
    pub const SECONDARY_CIDRS: &str = "secondary_cidrs";
    pub const REGION: &str = "region";
    pub const NETWORK_ID: &str = "network_id";
    pub const PURPOSE: &str = "purpose";
    pub const ZONE: &str = "zone";
    pub const SECONDARY_RANGES: &str = "secondary_ranges";
    pub const IP_ADDRESS: &str = "ip_address";
    pub const NAME_SERVERS: &str = "name_servers";
    pub const ZONE_ID: &str = "zone_id";
    pub const ZONE_NAME: &str = "zone_name";
    pub const TYPE: &str = "type";
    pub const TTL: &str = "ttl";
    pub const VALUES: &str = "values";
}

/// A kind of resource every cloud provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NeutralKind {
    /// The VNet / VPC / VPC network, sized for the CNI.
    Network,
    /// A node, pod or public subnet (with GKE's secondary ranges).
    Subnet,
    /// A load-balancer front end: the platform's or a dedicated tenant ingress's address.
    Frontend,
    /// The platform zone or a delegated child zone.
    DnsZone,
    /// A record in one of the zones: `api`, delegations (NS), tenant apex and wildcard.
    DnsRecord,
}

impl NeutralKind {
    pub const ALL: [NeutralKind; 5] = [
        NeutralKind::Network,
        NeutralKind::Subnet,
        NeutralKind::Frontend,
        NeutralKind::DnsZone,
        NeutralKind::DnsRecord,
    ];

    /// The resource type name in addresses and schemas (`network`, `dns_zone`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NeutralKind::Network => "network",
            NeutralKind::Subnet => "subnet",
            NeutralKind::Frontend => "frontend",
            NeutralKind::DnsZone => "dns_zone",
            NeutralKind::DnsRecord => "dns_record",
        }
    }

    pub fn of(kind: &str) -> Option<NeutralKind> {
        NeutralKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    pub fn address(self, name: impl Into<String>) -> Address {
        Address::new(self.as_str(), name)
    }

    /// The attributes the model sets and the ones every cloud computes, with the model's rules.
    /// A provider may tighten a rule (force a rename to replace, say) and add its own attributes.
    pub fn schema(self) -> ResourceSchema {
        use attr::*;
        let s = ResourceSchema::new(self.as_str());
        match self {
            NeutralKind::Network => s
                .required(NAME)
                .required_force_new(CIDR)
                .optional(SECONDARY_CIDRS)
                .required_force_new(REGION)
                .computed(ID),
            NeutralKind::Subnet => s
                .required_force_new(NETWORK_ID)
                .required(NAME)
                .required_force_new(CIDR)
                .required_force_new(PURPOSE)
                .required_force_new(ZONE)
                .optional(SECONDARY_RANGES)
                .computed(ID),
            NeutralKind::Frontend => s
                .required(NAME)
                .required(PURPOSE)
                .computed(ID)
                .computed(IP_ADDRESS),
            NeutralKind::DnsZone => s
                .required_force_new(NAME)
                .computed(ID)
                .computed(NAME_SERVERS),
            NeutralKind::DnsRecord => s
                .required_force_new(ZONE_ID)
                .required_force_new(ZONE_NAME)
                .required_force_new(NAME)
                .required_force_new(TYPE)
                .required(TTL)
                .required(VALUES),
        }
    }
}

/// The base schema of every neutral kind.
pub fn schemas() -> Vec<ResourceSchema> {
    NeutralKind::ALL
        .into_iter()
        .map(NeutralKind::schema)
        .collect()
}

/// What a provider's schemas lack of the contract: a neutral kind with no schema, or a neutral
/// attribute its schema does not name (unless the provider lists it in `dropped`, because its
/// mapping removes that attribute). Empty when the provider covers the contract.
pub fn uncovered(schemas: &[ResourceSchema], dropped: &[(NeutralKind, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for kind in NeutralKind::ALL {
        let Some(theirs) = schemas.iter().find(|s| s.type_name == kind.as_str()) else {
            out.push(format!("no resource type `{}`", kind.as_str()));
            continue;
        };
        for a in kind.schema().attributes {
            if theirs.attribute(&a.name).is_none() && !dropped.contains(&(kind, a.name.as_str())) {
                out.push(format!("`{}` has no attribute `{}`", kind.as_str(), a.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in NeutralKind::ALL {
            assert_eq!(NeutralKind::of(k.as_str()), Some(k));
            assert_eq!(k.schema().type_name, k.as_str());
        }
        assert_eq!(NeutralKind::of("route_table"), None);
    }

    #[test]
    fn the_contract_covers_itself_and_names_what_is_missing() {
        assert!(uncovered(&schemas(), &[]).is_empty());
        let mut partial = schemas();
        partial.retain(|s| s.type_name != "frontend");
        partial[0] = ResourceSchema::new("network").required("name");
        let gaps = uncovered(&partial, &[(NeutralKind::Network, attr::SECONDARY_CIDRS)]);
        assert!(
            gaps.contains(&"no resource type `frontend`".to_string()),
            "{gaps:?}"
        );
        assert!(
            gaps.contains(&"`network` has no attribute `cidr`".to_string()),
            "{gaps:?}"
        );
        assert!(
            !gaps.iter().any(|g| g.contains("secondary_cidrs")),
            "{gaps:?}"
        );
    }
}
