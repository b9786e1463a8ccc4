//! The cluster half of the MATIH networking model: what the cluster must be told about what
//! `apply` built. From the environment model and the attributes the state records, it renders
//! ingress-nginx Helm values bound to the addresses matihnet owns, cert-manager DNS01 issuers with
//! the least-privilege permissions they need, Kubernetes and Calico network policies, and the
//! service address map; and it checks manifests from any source against the same port table.
//!
//! Pure and synchronous: it reads no file and no cloud, and knows no state format; the binary
//! reads the state, checks that it matches the file, and writes the files this crate returns.

mod built;
mod certs;
pub mod check;
mod document;
mod ingress;
mod namespaces;
pub mod policy;
mod services;

use matihnet_net::{CloudProvider, Environment};

pub use built::Built;
pub use document::{File, Format, MARKER};
pub use namespaces::Namespace;

/// Why the files could not be rendered. Each names what is missing and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the state records no {address}, which the environment file declares")]
    MissingResource { address: String },
    #[error("the state's {address} has no `{attribute}`")]
    MissingAttribute { address: String, attribute: String },
    #[error("render needs a [cert_manager] section (the ACME account and the identity that solves DNS01 challenges)")]
    NoCertManager,
    #[error("provider \"{0}\" has no cluster to render for: render writes each cloud's load-balancer and DNS bindings")]
    UnsupportedProvider(CloudProvider),
    #[error("cannot encode {path}: {message}")]
    Encode { path: String, message: String },
}

impl RenderError {
    /// What the user does about it.
    pub fn hint(&self) -> String {
        match self {
            RenderError::MissingResource { .. } | RenderError::MissingAttribute { .. } => {
                "run `matihnet apply` so the state records every object, then render again"
                    .to_string()
            }
            RenderError::NoCertManager => "add to the environment file:\n\n  [cert_manager]\n  email = \"${ACME_EMAIL}\"\n  # aks: identity_client_id = \"${AKS_IDENTITY_CLIENT_ID}\"\n  # gke: service_account = \"cert-manager@PROJECT.iam.gserviceaccount.com\"".to_string(),
            RenderError::UnsupportedProvider(_) => {
                "use provider \"aks\", \"eks\" or \"gke\" (with --local-cloud or moto to rehearse)".to_string()
            }
            RenderError::Encode { .. } => "this is a bug in matihnet: please report it".to_string(),
        }
    }
}

/// Every file for `env`, in the order written, with stable relative paths. The same model and
/// state always give the same bytes.
pub fn render(env: &Environment, built: &Built, format: Format) -> Result<Vec<File>, RenderError> {
    if matches!(env.provider, CloudProvider::Fake | CloudProvider::Plugin) {
        return Err(RenderError::UnsupportedProvider(env.provider));
    }
    let cert_manager = env
        .cert_manager
        .as_ref()
        .ok_or(RenderError::NoCertManager)?;
    let namespaces = Namespace::all(env);
    let mut files = vec![File::marker(&env.name)];
    files.push(File::objects(
        "namespaces",
        format,
        namespaces::objects(env, &namespaces)?,
    )?);
    files.extend(ingress::files(env, built, format)?);
    files.extend(certs::files(env, cert_manager, built, format)?);
    files.extend(policy::files(env, &namespaces, format)?);
    files.extend(services::files(env, &namespaces, format)?);
    Ok(files)
}
