//! `matihnet-provider-azure`: the Azure provider (AKS networking) as a plugin executable.

fn main() -> std::process::ExitCode {
    matihnet_plugin::serve::main(
        matihnet_provider_azure::AzureFactory,
        env!("CARGO_PKG_VERSION"),
    )
}
