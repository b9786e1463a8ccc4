//! The Azure provider's resource types: each one's schema (the neutral contract's, extended) and
//! its four calls, in one table. Adding a type is one entry here and its calls in the file of
//! its service (`network.rs`, `dns.rs`).

use async_trait::async_trait;
use matihnet_core::neutral::attr;
use matihnet_core::{
    Attrs, NeutralKind, OperationContext, ProviderError, ProviderResult, ResourceSchema,
    ResourceType, ResourceTypes,
};

use crate::provider::AzureProvider;
use crate::{dns, network};

/// Every resource type the Azure provider manages.
pub fn table() -> ResourceTypes<AzureProvider> {
    ResourceTypes::new(
        "azure",
        &[
            &ResourceGroup,
            &VirtualNetwork,
            &Subnet,
            &PublicIp,
            &DnsZone,
            &RecordSet,
        ],
    )
}

type Read = Result<Option<Attrs>, ProviderError>;

struct ResourceGroup;

#[async_trait]
impl ResourceType<AzureProvider> for ResourceGroup {
    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("resource_group")
            .required_force_new(attr::NAME)
            .required_force_new("location")
            .computed(attr::ID)
            .computed("created")
    }
    async fn read(&self, p: &AzureProvider, _: &OperationContext, prior: &Attrs) -> Read {
        network::read_group(p, prior).await
    }
    async fn create(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::create_group(p, ctx, desired).await
    }
    async fn update(
        &self,
        _: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(network::merge(prior, desired))
    }
    async fn delete(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        network::delete_group(p, prior).await
    }
    async fn import(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        network::import_group(p, ctx, id, mark).await
    }
}

struct VirtualNetwork;

#[async_trait]
impl ResourceType<AzureProvider> for VirtualNetwork {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Network
            .schema()
            .required_force_new(attr::NAME)
            .required_force_new("resource_group")
    }
    async fn read(&self, p: &AzureProvider, _: &OperationContext, prior: &Attrs) -> Read {
        network::read_vnet(p, prior).await
    }
    async fn create(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::put_vnet(p, ctx, desired, true).await
    }
    async fn update(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        _: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::put_vnet(p, ctx, desired, false).await
    }
    async fn delete(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        network::delete_vnet(p, prior).await
    }
    async fn import(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        network::import_vnet(p, ctx, id, mark).await
    }
}

struct Subnet;

#[async_trait]
impl ResourceType<AzureProvider> for Subnet {
    fn schema(&self) -> ResourceSchema {
        // Azure CNI has no secondary ranges: the mapping drops them.
        NeutralKind::Subnet
            .schema()
            .required_force_new(attr::NAME)
            .without(attr::SECONDARY_RANGES)
    }
    async fn read(&self, p: &AzureProvider, _: &OperationContext, prior: &Attrs) -> Read {
        network::read_subnet(p, prior).await
    }
    async fn create(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::put_subnet(p, desired).await
    }
    async fn update(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        _: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::put_subnet(p, desired).await
    }
    async fn delete(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        network::delete_subnet(p, prior).await
    }
    async fn import(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        // ARM subnets take no tags: `mark` has nothing to write.
        let _ = mark;
        network::import_subnet(p, ctx, id).await
    }
}

struct PublicIp;

#[async_trait]
impl ResourceType<AzureProvider> for PublicIp {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Frontend
            .schema()
            .required_force_new(attr::NAME)
            .required_force_new("resource_group")
            .required_force_new("location")
    }
    async fn read(&self, p: &AzureProvider, _: &OperationContext, prior: &Attrs) -> Read {
        network::read_ip(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AzureProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        network::read_ips(p, &priors).await
    }
    async fn create(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::put_ip(p, ctx, desired, true).await
    }
    async fn update(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        _: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        network::put_ip(p, ctx, desired, false).await
    }
    async fn delete(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        network::delete_ip(p, prior).await
    }
    async fn import(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        network::import_ip(p, ctx, id, mark).await
    }
}

struct DnsZone;

#[async_trait]
impl ResourceType<AzureProvider> for DnsZone {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::DnsZone
            .schema()
            .required_force_new("resource_group")
    }
    async fn read(&self, p: &AzureProvider, _: &OperationContext, prior: &Attrs) -> Read {
        dns::read_zone(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AzureProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        dns::read_zones(p, &priors).await
    }
    async fn create(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::put_zone(p, ctx, desired, true).await
    }
    async fn update(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        _: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::put_zone(p, ctx, desired, false).await
    }
    async fn delete(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        dns::delete_zone(p, prior).await
    }
    async fn import(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        dns::import_zone(p, ctx, id, mark).await
    }
}

struct RecordSet;

#[async_trait]
impl ResourceType<AzureProvider> for RecordSet {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::DnsRecord
            .schema()
            .required_force_new("resource_group")
            .computed(attr::ID)
            .computed("etag")
    }
    async fn read(&self, p: &AzureProvider, _: &OperationContext, prior: &Attrs) -> Read {
        dns::read_record(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AzureProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        dns::read_records(p, &priors).await
    }
    async fn create(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::put_record(p, ctx, desired, None).await
    }
    async fn update(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::put_record(p, ctx, desired, Some(prior)).await
    }
    async fn delete(
        &self,
        p: &AzureProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        dns::delete_record(p, prior).await
    }
    async fn import(
        &self,
        p: &AzureProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        dns::import_record(p, ctx, id, mark).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_the_neutral_contract() {
        let gaps = matihnet_core::neutral::uncovered(
            &table().schemas(),
            &[(NeutralKind::Subnet, attr::SECONDARY_RANGES)],
        );
        assert!(gaps.is_empty(), "{gaps:?}");
    }
}
