//! Snapshots of `--help`. Living in the binary's own package also makes `cargo test` build the
//! `matihnet` binary that the black-box tests in `tests/` run.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_matihnet"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run matihnet");
    assert!(out.status.success(), "{args:?} failed");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help_top", help(&["--help"]));
    insta::assert_snapshot!("help_plan", help(&["plan", "--help"]));
    insta::assert_snapshot!("help_apply", help(&["apply", "--help"]));
    insta::assert_snapshot!("help_import", help(&["import", "--help"]));
    insta::assert_snapshot!("help_render", help(&["render", "--help"]));
    insta::assert_snapshot!("help_state", help(&["state", "--help"]));
    insta::assert_snapshot!("help_providers", help(&["providers", "--help"]));
    insta::assert_snapshot!("help_state_migrate", help(&["state", "migrate", "--help"]));
}
