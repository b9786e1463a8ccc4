//! A sandbox for black-box tests: a temporary directory holding an environment file, and a way to
//! run the `matihnet` binary that `cargo test --workspace` builds alongside these tests.

pub mod localcloud;
pub mod manifests;
pub mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `matihnet` binary of this build: tests run from `target/<profile>/deps/`, the binary is
/// one level up. Fails with instructions when it was not built.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory of the test executable");
    let bin = dir.join("matihnet");
    assert!(
        bin.exists(),
        "the matihnet binary is missing at {}: run the tests with `cargo test --workspace` (which builds it) or `cargo build -p matihnet` first",
        bin.display()
    );
    bin
}

/// A provider plugin executable of this build (`matihnet-provider-NAME`), beside the binary:
/// `cargo test --workspace` builds them with the `matihnet-plugins` package.
pub fn plugin_binary(name: &str) -> PathBuf {
    let dir = binary()
        .parent()
        .map(Path::to_path_buf)
        .expect("the binary's directory");
    let plugin = dir.join(format!("matihnet-provider-{name}"));
    assert!(
        plugin.exists(),
        "the provider plugin is missing at {}: run the tests with `cargo test --workspace` (the matihnet-plugins package's own tests build it) or `cargo build -p matihnet-plugins` first",
        plugin.display()
    );
    plugin
}

/// The repository root, for `examples/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Set on every command this sandbox runs: a cloud's endpoint and test credentials.
    env: Vec<(String, String)>,
}

impl Sandbox {
    /// A directory with `matihnet.toml` copied from `examples/<example>`.
    pub fn with_example(example: &str) -> Sandbox {
        let text = std::fs::read_to_string(repo_root().join("examples").join(example))
            .expect("example file");
        Sandbox::with_config(&text)
    }

    pub fn with_config(text: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("matihnet.toml"), text).expect("write config");
        Sandbox {
            dir,
            env: Vec::new(),
        }
    }

    /// The same sandbox, with `key=value` set on every command it runs.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Sandbox {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts `args`, SIGKILLs it after it printed `k` "Creation complete" lines (or lets it
    /// finish if it makes fewer), and waits for it: the crash half of every crash-safety test.
    pub fn kill_after_completions(&self, args: &[&str], k: usize) {
        use std::io::{BufRead, BufReader};
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn matihnet");
        let stdout = child.stdout.take().expect("stdout");
        let mut done = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("Creation complete") {
                done += 1;
                if done >= k {
                    let _ = child.kill();
                    break;
                }
            }
        }
        let _ = child.wait();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state_path(&self) -> PathBuf {
        self.path("matihnet.state.json")
    }

    pub fn fake_cloud_path(&self) -> PathBuf {
        self.path("matihnet.state.json.fake-cloud.json")
    }

    /// The command, run in the sandbox, without colour, with no inherited fault injection.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.current_dir(self.dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("MATIHNET_FAKE_") {
                c.env_remove(k);
            }
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Run(c.output().expect("run matihnet"))
    }

    pub fn state(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.state_path()).expect("state file");
        serde_json::from_slice(&bytes).expect("state is JSON")
    }

    pub fn state_addresses(&self) -> Vec<String> {
        self.state()["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r["address"].as_str().expect("address").to_string())
            .collect()
    }

    /// The fake cloud's objects: `(id, address tag)`.
    pub fn fake_objects(&self) -> Vec<(String, String)> {
        let Ok(bytes) = std::fs::read(self.fake_cloud_path()) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("fake store JSON");
        v["objects"]
            .as_object()
            .expect("objects")
            .iter()
            .map(|(id, o)| {
                (
                    id.clone(),
                    o["tags"]["matihnet:address"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    /// Edits the fake cloud's store as someone with console access would.
    pub fn edit_fake_cloud(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let bytes = std::fs::read(self.fake_cloud_path()).expect("fake store");
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("fake store JSON");
        f(&mut v);
        std::fs::write(
            self.fake_cloud_path(),
            serde_json::to_vec_pretty(&v).expect("json"),
        )
        .expect("write fake store");
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).to_string()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).to_string()
    }

    /// Panics with both streams when the exit code is not `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}
