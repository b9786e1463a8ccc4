//! moto, the AWS emulator, for the EKS tests: installed into a virtualenv under the target
//! directory (reused when present), started on 127.0.0.1 on a free port, reset on demand, stopped
//! when dropped. When it cannot be installed or started the test fails and says what is missing.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::binary;

/// The pinned emulator version the tests were written against.
const MOTO: &str = "moto[server]==5.2.5";

fn venv_dir() -> PathBuf {
    let target = binary()
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
        .expect("target directory");
    target.join("moto-venv")
}

/// The virtualenv's python, installing moto first if needed (one installer at a time).
pub fn python() -> PathBuf {
    let dir = venv_dir();
    let py = dir.join("bin").join("python3");
    let server = dir.join("bin").join("moto_server");
    if server.exists() {
        return py;
    }
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("target dir");
    let lock_path = dir.with_extension("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("moto install lock");
    lock.lock().expect("lock moto install");
    if !server.exists() {
        let venv = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 is needed to run moto (the AWS emulator) for the EKS tests");
        assert!(
            venv.success(),
            "`python3 -m venv {}` failed: install python3-venv (apt-get install -y python3-venv)",
            dir.display()
        );
        let pip = Command::new(dir.join("bin").join("pip"))
            .args(["install", "--quiet", MOTO])
            .status()
            .expect("pip in the moto virtualenv");
        assert!(
            pip.success(),
            "pip install {MOTO} failed: the EKS tests need moto from PyPI"
        );
    }
    py
}

const AUTHORIZATION: &str = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n";

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let py = python();
        let server = py.with_file_name("moto_server");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if moto.request("GET", "/moto-api/").is_some() {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto_server did not answer on 127.0.0.1:{port} within 30 s");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for matihnet and boto3: the endpoint and dummy credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "eu-west-1".into()),
            ("AWS_DEFAULT_REGION", "eu-west-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Forgets every object (`POST /moto-api/reset`).
    pub fn reset(&self) {
        assert!(
            self.request("POST", "/moto-api/reset").is_some(),
            "moto reset failed"
        );
    }

    fn request(&self, method: &str, path: &str) -> Option<String> {
        self.raw(method, path, b"")
            .map(|body| String::from_utf8_lossy(&body).into_owned())
    }

    /// One HTTP request with a made-up signature (moto checks none, but treats a request without
    /// one as anonymous, which S3 denies); the body of a 200 answer.
    fn raw(&self, method: &str, path: &str, body: &[u8]) -> Option<Vec<u8>> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{AUTHORIZATION}Connection: close\r\n\r\n",
            body.len()
        )
        .ok()?;
        s.write_all(body).ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).ok()?;
        if !out.starts_with(b"HTTP/1.1 200") {
            return None;
        }
        let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
        Some(out.split_off(split + 4))
    }

    /// Creates an S3 bucket (path style).
    pub fn create_bucket(&self, bucket: &str) {
        assert!(
            self.raw("PUT", &format!("/{bucket}"), b"").is_some(),
            "moto did not create bucket {bucket}"
        );
    }

    /// Writes an S3 object's bytes as a foreign tool would.
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        assert!(
            self.raw("PUT", &format!("/{bucket}/{key}"), body).is_some(),
            "moto did not store {bucket}/{key}"
        );
    }

    /// An S3 object's bytes, `None` when absent.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.raw("GET", &format!("/{bucket}/{key}"), b"")
    }

    /// Runs `tests/aws_inventory.py` against this emulator.
    pub fn inventory(&self) -> serde_json::Value {
        self.script(&["inventory"])
    }

    pub fn script(&self, args: &[&str]) -> serde_json::Value {
        aws_script(&self.env(), args)
    }
}

/// Runs `tests/aws_inventory.py` (boto3) with `env` naming the AWS endpoint: moto, or the local
/// AWS, which the same script then checks through the same API.
pub fn aws_script(env: &[(&'static str, String)], args: &[&str]) -> serde_json::Value {
    let script = crate::repo_root().join("tests").join("aws_inventory.py");
    let mut c = Command::new(python());
    c.arg(&script).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run aws_inventory.py");
    assert!(
        out.status.success(),
        "aws_inventory.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("inventory JSON")
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
