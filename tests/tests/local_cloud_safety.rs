//! `--local-cloud` reaches only the in-process emulators, whatever the file, the environment or a
//! profile say. Every endpoint and proxy variable, and the file's own endpoints, point at a
//! tripwire listener: any connection to it fails the test.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use matihnet_e2e::{Run, Sandbox};

/// A loopback listener that counts every connection made to it (and answers none).
struct Tripwire {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    fn start() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tripwire");
        let url = format!(
            "http://{}",
            listener.local_addr().expect("tripwire address")
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Tripwire { url, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The example with the cloud section's endpoint set to the tripwire.
fn sandbox(example: &str, section: &str, key: &str, trip: &Tripwire) -> Sandbox {
    let text = std::fs::read_to_string(matihnet_e2e::repo_root().join("examples").join(example))
        .expect("example");
    let header = format!("[{section}]\n");
    assert!(text.contains(&header), "{example} has no {header}");
    let text = text.replacen(&header, &format!("{header}{key} = \"{}\"\n", trip.url), 1);
    Sandbox::with_config(&text)
}

/// Runs with every way to name a real endpoint, proxy or credential set.
fn run(s: &Sandbox, trip: &Tripwire, args: &[&str]) -> Run {
    let url = trip.url.as_str();
    s.run_with(
        args,
        &[
            ("AWS_ENDPOINT_URL", url),
            ("AWS_ENDPOINT_URL_EC2", url),
            ("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00"),
            ("AWS_SECRET_ACCESS_KEY", "real-looking-secret"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url),
            ("MATIHNET_AZURE_ENDPOINT", url),
            ("MATIHNET_GCP_ENDPOINT", url),
            ("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111"),
            ("AZURE_TENANT_ID", "22222222-2222-2222-2222-222222222222"),
            ("AZURE_CLIENT_SECRET", "real-looking-secret"),
            (
                "AZURE_SUBSCRIPTION_ID",
                "00000000-0000-0000-0000-000000000000",
            ),
            ("IDENTITY_ENDPOINT", url),
            ("MSI_ENDPOINT", url),
            ("GCE_METADATA_HOST", trip.url.trim_start_matches("http://")),
            ("HTTP_PROXY", url),
            ("HTTPS_PROXY", url),
            ("ALL_PROXY", url),
            ("http_proxy", url),
            ("https_proxy", url),
            ("all_proxy", url),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
        ],
    )
}

#[test]
fn issue9_item1_issue13_local_cloud_on_aks_eks_and_gke_reaches_only_the_in_process_emulators() {
    for (example, section, key) in [
        ("aks.toml", "azure", "endpoint"),
        ("gke.toml", "gcp", "endpoint"),
        ("eks.toml", "aws", "endpoint_url"),
    ] {
        let trip = Tripwire::start();
        let s = sandbox(example, section, key, &trip);
        run(&s, &trip, &["apply", "--auto-approve", "--local-cloud"]).expect_code(0);
        let plan = run(&s, &trip, &["plan", "--local-cloud", "--detailed-exitcode"]).expect_code(0);
        assert!(plan.stdout().contains("No changes"), "{}", plan.stdout());
        assert_eq!(
            trip.hits(),
            0,
            "{example}: --local-cloud connected to an endpoint other than its own emulators"
        );
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(s.path("matihnet.state.json.local-cloud.json"))
                .expect("local cloud file")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode, 0o600, "{example}: the local cloud's objects file");
    }
}

#[test]
fn issue9_item8_validate_and_graph_read_no_credentials_and_contact_nothing() {
    // GKE's validate used to build the Google clients, whose credential lookup probed the
    // metadata server (0.55 s); now neither command connects a provider.
    for (example, section, key) in [
        ("aks.toml", "azure", "endpoint"),
        ("gke.toml", "gcp", "endpoint"),
        ("eks.toml", "aws", "endpoint_url"),
    ] {
        let trip = Tripwire::start();
        let s = sandbox(example, section, key, &trip);
        run(&s, &trip, &["validate"]).expect_code(0);
        let graph = run(&s, &trip, &["graph"]).expect_code(0);
        assert!(graph.stdout().contains("digraph"), "{}", graph.stdout());
        assert_eq!(
            trip.hits(),
            0,
            "{example}: validate or graph connected somewhere"
        );
    }
}
