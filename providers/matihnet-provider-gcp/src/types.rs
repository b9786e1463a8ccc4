//! The GCP provider's resource types: each one's schema (the neutral contract's, extended) and
//! its four calls, in one table. Adding a type is one entry here and its calls in the file of
//! its service (`compute.rs`, `dns.rs`).

use async_trait::async_trait;
use matihnet_core::neutral::attr;
use matihnet_core::{
    Attrs, NeutralKind, OperationContext, ProviderError, ProviderResult, ResourceSchema,
    ResourceType, ResourceTypes,
};

use crate::provider::GcpProvider;
use crate::{compute, dns};

/// Every resource type the GCP provider manages.
pub fn table() -> ResourceTypes<GcpProvider> {
    ResourceTypes::new(
        "gcp",
        &[&Network, &Subnetwork, &Address, &ManagedZone, &RecordSet],
    )
}

type Read = Result<Option<Attrs>, ProviderError>;

struct Network;

#[async_trait]
impl ResourceType<GcpProvider> for Network {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Network.schema().required_force_new(attr::NAME)
    }
    async fn read(&self, p: &GcpProvider, _: &OperationContext, prior: &Attrs) -> Read {
        compute::read_network(p, prior).await
    }
    async fn create(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        compute::create_network(p, ctx, desired).await
    }
    async fn update(
        &self,
        _: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(compute::merge(prior, desired))
    }
    async fn delete(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        compute::delete_network(p, prior).await
    }
    async fn import(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        compute::import_network(p, ctx, id, mark).await
    }
}

struct Subnetwork;

#[async_trait]
impl ResourceType<GcpProvider> for Subnetwork {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Subnet
            .schema()
            .required_force_new(attr::NAME)
            .required_force_new(attr::REGION)
            // GKE's secondary ranges can be added to a subnetwork, never edited in place.
            .optional_grow_only(attr::SECONDARY_RANGES)
            .computed("fingerprint")
    }
    async fn read(&self, p: &GcpProvider, _: &OperationContext, prior: &Attrs) -> Read {
        compute::read_subnet(p, prior).await
    }
    async fn create(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        compute::create_subnet(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        compute::update_subnet(p, prior, desired).await
    }
    async fn delete(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        compute::delete_subnet(p, prior).await
    }
    async fn import(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        compute::import_subnet(p, ctx, id, mark).await
    }
}

struct Address;

#[async_trait]
impl ResourceType<GcpProvider> for Address {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Frontend
            .schema()
            .required_force_new(attr::NAME)
            .required_force_new(attr::REGION)
    }
    async fn read(&self, p: &GcpProvider, _: &OperationContext, prior: &Attrs) -> Read {
        compute::read_address(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &GcpProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        compute::read_addresses(p, &priors).await
    }
    async fn create(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        compute::create_address(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        compute::update_address_labels(p, ctx, prior, desired).await
    }
    async fn delete(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        compute::delete_address(p, prior).await
    }
    async fn import(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        compute::import_address(p, ctx, id, mark).await
    }
}

struct ManagedZone;

#[async_trait]
impl ResourceType<GcpProvider> for ManagedZone {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::DnsZone
            .schema()
            .required_force_new("zone_resource")
    }
    async fn read(&self, p: &GcpProvider, _: &OperationContext, prior: &Attrs) -> Read {
        dns::read_zone(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &GcpProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        dns::read_zones(p, &priors).await
    }
    async fn create(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::create_zone(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::update_zone(p, ctx, prior, desired).await
    }
    async fn delete(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        dns::delete_zone(p, prior).await
    }
    async fn import(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        dns::import_zone(p, ctx, id, mark).await
    }
}

struct RecordSet;

#[async_trait]
impl ResourceType<GcpProvider> for RecordSet {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::DnsRecord.schema().computed(attr::ID)
    }
    async fn read(&self, p: &GcpProvider, _: &OperationContext, prior: &Attrs) -> Read {
        dns::read_record(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &GcpProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        dns::read_records(p, &priors).await
    }
    async fn create(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(dns::write_record(p, desired, None).await?)
    }
    async fn update(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(dns::write_record(p, desired, Some(prior)).await?)
    }
    async fn delete(
        &self,
        p: &GcpProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        dns::delete_record(p, prior).await
    }
    async fn import(
        &self,
        p: &GcpProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        // Record sets take no labels: `mark` has nothing to write.
        let _ = mark;
        dns::import_record(p, ctx, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_the_neutral_contract() {
        let gaps = matihnet_core::neutral::uncovered(&table().schemas(), &[]);
        assert!(gaps.is_empty(), "{gaps:?}");
    }
}
