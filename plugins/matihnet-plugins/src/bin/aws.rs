//! `matihnet-provider-aws`: the AWS provider (EKS networking) as a plugin executable.

fn main() -> std::process::ExitCode {
    matihnet_plugin::serve::main(matihnet_provider_aws::AwsFactory, env!("CARGO_PKG_VERSION"))
}
