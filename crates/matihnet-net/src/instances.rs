//! EC2 instance types: how many ENIs and IPv4 addresses per ENI each has, for the VPC CNI formulas.
//!
//! Source: AWS EC2 User Guide, "IP addresses per network interface per instance type", cross-checked
//! against amazon-vpc-cni-k8s `misc/eni-max-pods.txt` (max pods = ENIs x (IPs - 1) + 2:
//! m5.large 29, t3.medium 17, m5.xlarge 58, m5.4xlarge 234).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub enis: u64,
    pub ipv4_per_eni: u64,
    pub vcpus: u64,
}

const fn it(name: &'static str, enis: u64, ipv4_per_eni: u64, vcpus: u64) -> InstanceType {
    InstanceType {
        name,
        enis,
        ipv4_per_eni,
        vcpus,
    }
}

/// Sorted by family then size, as the AWS table lists them.
pub const EC2_INSTANCE_TYPES: &[InstanceType] = &[
    it("t3.medium", 3, 6, 2),
    it("t3.large", 3, 12, 2),
    it("t3.xlarge", 4, 15, 4),
    it("t3.2xlarge", 4, 15, 8),
    it("m5.large", 3, 10, 2),
    it("m5.xlarge", 4, 15, 4),
    it("m5.2xlarge", 4, 15, 8),
    it("m5.4xlarge", 8, 30, 16),
    it("m6i.large", 3, 10, 2),
    it("m6i.xlarge", 4, 15, 4),
    it("m6i.2xlarge", 4, 15, 8),
    it("m6i.4xlarge", 8, 30, 16),
    it("m7i.large", 3, 10, 2),
    it("m7i.xlarge", 4, 15, 4),
    it("m7i.2xlarge", 4, 15, 8),
    it("m7i.4xlarge", 8, 30, 16),
    it("c5.large", 3, 10, 2),
    it("c5.xlarge", 4, 15, 4),
    it("c5.2xlarge", 4, 15, 8),
    it("c5.4xlarge", 8, 30, 16),
    it("c6i.large", 3, 10, 2),
    it("c6i.xlarge", 4, 15, 4),
    it("c6i.2xlarge", 4, 15, 8),
    it("c6i.4xlarge", 8, 30, 16),
    it("r5.large", 3, 10, 2),
    it("r5.xlarge", 4, 15, 4),
    it("r5.2xlarge", 4, 15, 8),
    it("r5.4xlarge", 8, 30, 16),
    it("r6i.large", 3, 10, 2),
    it("r6i.xlarge", 4, 15, 4),
    it("r6i.2xlarge", 4, 15, 8),
    it("r6i.4xlarge", 8, 30, 16),
];

pub fn lookup(name: &str) -> Option<&'static InstanceType> {
    EC2_INSTANCE_TYPES.iter().find(|t| t.name == name)
}

/// Known types close to an unknown one: the same family first, then the nearest spellings.
pub fn nearby(name: &str) -> Vec<&'static str> {
    let family = name.split('.').next().unwrap_or(name);
    let same_family: Vec<&'static str> = EC2_INSTANCE_TYPES
        .iter()
        .filter(|t| t.name.split('.').next() == Some(family))
        .map(|t| t.name)
        .collect();
    if !same_family.is_empty() {
        return same_family;
    }
    let mut scored: Vec<(usize, &'static str)> = EC2_INSTANCE_TYPES
        .iter()
        .map(|t| (crate::spelling::distance(name, t.name), t.name))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}
