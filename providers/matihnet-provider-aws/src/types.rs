//! The AWS provider's resource types: each one's schema (the neutral contract's, extended, plus
//! the gateways and route tables only AWS needs) and its four calls, in one table. Adding a type
//! is one entry here and its calls in the file of its service (`vpc.rs`, `nlb.rs`, `dns.rs`).

use async_trait::async_trait;
use matihnet_core::neutral::attr;
use matihnet_core::{
    Attrs, NeutralKind, OperationContext, ProviderError, ProviderResult, ResourceSchema,
    ResourceType, ResourceTypes,
};

use matihnet_core::value::attrs::{merged as merge, text};

use crate::provider::AwsProvider;
use crate::{dns, nlb, vpc};

/// Every resource type the AWS provider manages.
pub fn table() -> ResourceTypes<AwsProvider> {
    ResourceTypes::new(
        "aws",
        &[
            &Vpc,
            &Subnet,
            &InternetGateway,
            &NatGateway,
            &RouteTable,
            &LoadBalancer,
            &HostedZone,
            &RecordSet,
        ],
    )
}

type Read = Result<Option<Attrs>, ProviderError>;

/// Objects whose only in-place change is their tags (their `Name`, say).
async fn retag(
    p: &AwsProvider,
    ctx: &OperationContext,
    prior: &Attrs,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    vpc::update_tags(p, ctx, text(prior, attr::ID), desired).await?;
    Ok(merge(prior, desired))
}

struct Vpc;

#[async_trait]
impl ResourceType<AwsProvider> for Vpc {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Network.schema().computed("cidr_associations")
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        vpc::read_vpc(p, prior).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::create_vpc(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::update_vpc(p, ctx, prior, desired).await
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        vpc::delete_vpc(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        vpc::import_vpc(p, ctx, id, mark).await
    }
}

struct Subnet;

#[async_trait]
impl ResourceType<AwsProvider> for Subnet {
    fn schema(&self) -> ResourceSchema {
        // The VPC CNI has no secondary ranges (custom networking uses pod subnets instead).
        NeutralKind::Subnet
            .schema()
            .without(attr::SECONDARY_RANGES)
            .optional("cluster")
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        vpc::read_subnet(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AwsProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        vpc::read_subnets(p, &priors).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::create_subnet(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        retag(p, ctx, prior, desired).await
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        vpc::delete_subnet(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        vpc::import_subnet(p, ctx, id, mark).await
    }
}

struct InternetGateway;

#[async_trait]
impl ResourceType<AwsProvider> for InternetGateway {
    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("internet_gateway")
            .required_force_new("vpc_id")
            .required(attr::NAME)
            .computed(attr::ID)
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        vpc::read_igw(p, prior).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::create_igw(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        retag(p, ctx, prior, desired).await
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        vpc::delete_igw(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        vpc::import_igw(p, ctx, id, mark).await
    }
}

struct NatGateway;

#[async_trait]
impl ResourceType<AwsProvider> for NatGateway {
    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("nat_gateway")
            .required_force_new("subnet_id")
            .required(attr::NAME)
            .computed(attr::ID)
            .computed("allocation_id")
            .computed("public_ip")
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        vpc::read_nat(p, prior).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::create_nat(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        retag(p, ctx, prior, desired).await
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        vpc::delete_nat(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        vpc::import_nat(p, ctx, id, mark).await
    }
}

struct RouteTable;

#[async_trait]
impl ResourceType<AwsProvider> for RouteTable {
    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("route_table")
            .required_force_new("vpc_id")
            .required(attr::NAME)
            .required("subnet_ids")
            .optional("gateway_id")
            .optional("nat_gateway_id")
            .computed(attr::ID)
            .computed("associations")
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        vpc::read_route_table(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AwsProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        vpc::read_route_tables(p, &priors).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::create_route_table(p, ctx, desired).await
    }
    async fn update(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        vpc::update_tags(p, ctx, text(prior, attr::ID), desired).await?;
        vpc::update_route_table(p, prior, desired).await
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        vpc::delete_route_table(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        vpc::import_route_table(p, ctx, id, mark).await
    }
}

struct LoadBalancer;

#[async_trait]
impl ResourceType<AwsProvider> for LoadBalancer {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::Frontend
            .schema()
            // A load balancer cannot be renamed.
            .required_force_new(attr::NAME)
            .required_force_new("vpc_id")
            .required_force_new("subnet_ids")
            .computed("dns_name")
            .computed("zone_id")
            .computed("ip_addresses")
            .computed("allocation_ids")
            .computed("target_group_arns")
            .computed("listener_arns")
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        nlb::read(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AwsProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        nlb::read_many(p, &priors).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        nlb::create(p, ctx, desired).await
    }
    async fn update(
        &self,
        _: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(merge(prior, desired))
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        nlb::delete(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        nlb::import(p, ctx, id, mark).await
    }
}

struct HostedZone;

#[async_trait]
impl ResourceType<AwsProvider> for HostedZone {
    fn schema(&self) -> ResourceSchema {
        NeutralKind::DnsZone.schema()
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        dns::read_zone(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AwsProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        dns::read_zones(p, &priors).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        dns::create_zone(p, ctx, desired).await
    }
    async fn update(
        &self,
        _: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        // Every other attribute of a zone forces a new one.
        Ok(merge(prior, desired))
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        dns::delete_zone(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        dns::import_zone(p, ctx, id, mark).await
    }
}

struct RecordSet;

#[async_trait]
impl ResourceType<AwsProvider> for RecordSet {
    fn schema(&self) -> ResourceSchema {
        // An alias record (to a load balancer) has no TTL or values of its own.
        NeutralKind::DnsRecord
            .schema()
            .optional(attr::TTL)
            .optional(attr::VALUES)
            .optional("alias_dns_name")
            .optional("alias_zone_id")
            .computed(attr::ID)
    }
    async fn read(&self, p: &AwsProvider, _: &OperationContext, prior: &Attrs) -> Read {
        dns::read_record(p, prior).await
    }
    fn reads_in_batches(&self) -> bool {
        true
    }
    async fn read_many(&self, p: &AwsProvider, reads: &[(OperationContext, Attrs)]) -> Vec<Read> {
        let priors: Vec<&Attrs> = reads.iter().map(|(_, a)| a).collect();
        dns::read_records(p, &priors).await
    }
    async fn create(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(dns::upsert_record(p, desired, None).await?)
    }
    async fn update(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        Ok(dns::upsert_record(p, desired, Some(prior)).await?)
    }
    async fn delete(
        &self,
        p: &AwsProvider,
        _: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError> {
        dns::delete_record(p, prior).await
    }
    async fn import(
        &self,
        p: &AwsProvider,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        // Record sets take no tags: `mark` has nothing to write.
        let _ = mark;
        dns::import_record(p, ctx, id).await
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
