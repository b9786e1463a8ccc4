//! Each plugin executable this package builds shakes hands as its provider and refuses to be
//! run by hand. Being an integration test of this package is also what makes
//! `cargo test --workspace` build the executables, which the end-to-end suites start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot set itself up should stop loudly

use std::io::{BufReader, Write};
use std::process::{Command, Stdio};

use matihnet_plugin::protocol::{read_frame, request, HandshakeResult, Message};
use matihnet_plugin::{MAGIC_COOKIE_VALUE, MAGIC_COOKIE_VAR, PROTOCOL_VERSIONS};

fn executables() -> Vec<(&'static str, &'static str)> {
    let mut all = vec![("fake", env!("CARGO_BIN_EXE_matihnet-provider-fake"))];
    #[cfg(feature = "aws")]
    all.push(("aws", env!("CARGO_BIN_EXE_matihnet-provider-aws")));
    #[cfg(feature = "azure")]
    all.push(("azure", env!("CARGO_BIN_EXE_matihnet-provider-azure")));
    #[cfg(feature = "gcp")]
    all.push(("gcp", env!("CARGO_BIN_EXE_matihnet-provider-gcp")));
    all
}

#[test]
fn each_plugin_shakes_hands_as_its_provider_and_stops_when_stdin_closes() {
    for (name, path) in executables() {
        let mut child = Command::new(path)
            .env(MAGIC_COOKIE_VAR, MAGIC_COOKIE_VALUE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the plugin");
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let params = serde_json::json!({"protocol_versions": PROTOCOL_VERSIONS, "host": "test"});
        stdin
            .write_all(&request(1, "handshake", &params).unwrap())
            .unwrap();
        let answer = Message::parse(read_frame(&mut stdout).unwrap()).unwrap();
        let Message::Response { id, outcome } = answer else {
            panic!("{name}: expected a response, got {answer:?}");
        };
        assert_eq!(id, 1, "{name}");
        let hello: HandshakeResult = outcome.unwrap().result().unwrap();
        assert_eq!(hello.name, name);
        assert!(
            PROTOCOL_VERSIONS.contains(&hello.protocol_version),
            "{name}: {hello:?}"
        );
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{name}: exited {status} when its stdin closed"
        );
    }
}

#[test]
fn each_plugin_run_by_hand_says_what_it_is_and_fails() {
    for (name, path) in executables() {
        let out = Command::new(path)
            .env_remove(MAGIC_COOKIE_VAR)
            .stdin(Stdio::null())
            .output()
            .expect("start the plugin");
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("this is a matihnet provider plugin")
                && stderr.contains(&format!("provider = \"{name}\"")),
            "{name}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{name} wrote to stdout");
    }
}
