//! `matihnet-provider-gcp`: the GCP provider (GKE networking) as a plugin executable.

fn main() -> std::process::ExitCode {
    matihnet_plugin::serve::main(matihnet_provider_gcp::GcpFactory, env!("CARGO_PKG_VERSION"))
}
