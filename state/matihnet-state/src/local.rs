//! The local file backend: the state file beside the config, an OS file lock plus a lock-info
//! file, atomic writes (temp file, fsync, rename) and a backup of the state as it was when this
//! process first wrote it.
//!
//! The lock is an OS lock on `<state>.lock`: it dies with the process that holds it, so a crash or
//! a `kill -9` never leaves a stuck lock. The info file beside it only says who holds it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::backend::{check_successor, Backend, LastSeen, LockInfo, LockRequest, Seen, StateError};
use crate::format;
use crate::model::State;

pub struct LocalBackend {
    path: PathBuf,
    held: Mutex<Option<(File, String)>>,
    backed_up: Arc<AtomicBool>,
    /// The state file as this instance last read or wrote it; its `version` is the file's
    /// identity (device, inode, length, mtime), which every atomic write changes.
    seen: LastSeen,
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalBackend {
            path: path.into(),
            held: Mutex::new(None),
            backed_up: Arc::new(AtomicBool::new(false)),
            seen: LastSeen::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    pub fn backup_path(&self) -> PathBuf {
        self.sibling(".backup")
    }

    fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    fn lock_info_path(&self) -> PathBuf {
        self.sibling(".lock.info")
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> StateError {
        io_error(path)
    }

    fn read_lock_info(&self) -> Option<Box<LockInfo>> {
        let bytes = std::fs::read(self.lock_info_path()).ok()?;
        serde_json::from_slice(&bytes).ok().map(Box::new)
    }

    /// The holder's details as a waiter sees them. The holder writes its info file just after
    /// the OS lock is taken, so a waiter that looks in that instant finds no file, or the file a
    /// killed holder left: it looks again for a moment before saying "holder unknown".
    async fn holder_info(&self) -> Option<Box<LockInfo>> {
        let deadline = Instant::now() + HOLDER_INFO_GRACE;
        loop {
            match self.read_lock_info() {
                Some(info) if !is_dead_here(&info) => return Some(info),
                _ if Instant::now() >= deadline => return None,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Temp files that a process killed mid-write left beside the state (`<state>.tmp.<pid>`,
    /// `<state>.backup.tmp.<pid>`, `<state>.lock.info.tmp.<pid>`). Only the lock holder writes
    /// them, so once this process holds the lock every one with another pid is garbage.
    fn remove_stale_temp_files(&self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Some(state_name) = self.path.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let ours = std::process::id().to_string();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(state_name) else {
                continue;
            };
            let Some((owner, pid)) = rest.rsplit_once(".tmp.") else {
                continue;
            };
            let ours_to_clean = matches!(owner, "" | ".backup" | ".lock.info")
                && !pid.is_empty()
                && pid.chars().all(|c| c.is_ascii_digit())
                && pid != ours;
            if ours_to_clean {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn open_lock_file(&self) -> Result<File, StateError> {
        let p = self.lock_path();
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&p)
            .map_err(self.io(&p))
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        self.seen.set(None);
        let (bytes, identity) = match read_with_identity(&self.path) {
            Ok(Some(read)) => read,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.io(&self.path)(e)),
        };
        let state = format::decode(&bytes).map_err(|reason| StateError::Corrupt {
            location: self.describe(),
            reason,
        })?;
        self.seen.set(Some(Seen::of(&state, identity)));
        Ok(Some(state))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let seen = self.seen.get();
        check_successor(&self.describe(), seen.as_ref(), state)?;
        // Encoding here costs one serialized copy instead of a clone of the whole state; the
        // file IO and fsync, the slow part, stay off the async workers.
        let bytes = format::encode(state);
        let write = StateWrite {
            path: self.path.clone(),
            backup: self.backup_path(),
            backed_up: Arc::clone(&self.backed_up),
            expected: seen.map(|s| s.version),
        };
        let identity = tokio::task::spawn_blocking(move || write.run(&bytes))
            .await
            .map_err(|join| self.io(&self.path)(std::io::Error::other(join.to_string())))??;
        self.seen.set(Some(Seen::of(state, identity)));
        Ok(())
    }

    async fn lock(&self, request: LockRequest) -> Result<String, StateError> {
        let LockRequest {
            mut info, timeout, ..
        } = request;
        let file = self.open_lock_file()?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        return Err(StateError::Locked {
                            location: self.describe(),
                            holder: self.holder_info().await,
                            waited: timeout,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(self.io(&self.lock_path())(e));
                }
            }
        }
        info.path = self.path.display().to_string();
        let bytes = serde_json::to_vec_pretty(&info).unwrap_or_default();
        write_atomic(&self.lock_info_path(), &bytes)?;
        self.remove_stale_temp_files();
        let id = info.id.clone();
        if let Ok(mut held) = self.held.lock() {
            *held = Some((file, id.clone()));
        }
        Ok(id)
    }

    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        let taken = match self.held.lock() {
            Ok(mut held) => match held.as_ref() {
                Some((_, held_id)) if held_id == id => held.take(),
                _ => None,
            },
            Err(_) => None,
        };
        let Some((file, _)) = taken else {
            return Err(StateError::NoSuchLock {
                location: self.describe(),
                id: id.to_string(),
                current: self.read_lock_info(),
            });
        };
        let _ = std::fs::remove_file(self.lock_info_path());
        drop(file);
        Ok(())
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let current = self.read_lock_info();
        match &current {
            Some(info) if info.id == id => {}
            _ => {
                return Err(StateError::NoSuchLock {
                    location: self.describe(),
                    id: id.to_string(),
                    current,
                })
            }
        }
        let file = self.open_lock_file()?;
        match file.try_lock() {
            Ok(()) => {
                let _ = std::fs::remove_file(self.lock_info_path());
                Ok(())
            }
            Err(_) => Err(StateError::HolderAlive {
                holder: current.unwrap_or_else(|| Box::new(LockInfo::for_this_process("unknown"))),
            }),
        }
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let file = self.open_lock_file()?;
        match file.try_lock() {
            // Nobody holds the OS lock: an info file left behind is from a process that died.
            Ok(()) => Ok(None),
            Err(_) => Ok(self.read_lock_info().map(|b| *b)),
        }
    }
}

/// How long a waiter keeps looking for the holder's details before calling it unknown.
const HOLDER_INFO_GRACE: Duration = Duration::from_secs(2);

/// Whether `info` names a process of this machine that no longer runs (its info file outlived
/// it). Where `/proc` is missing nothing is known to be dead.
fn is_dead_here(info: &LockInfo) -> bool {
    info.host == crate::backend::this_host()
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{}", info.pid)).exists()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        location: path.display().to_string(),
        source,
    }
}

/// What tells two versions of the file apart: an atomic write makes a new inode, and an edit in
/// place changes the length or the modification time.
fn identity(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{}:{}:{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    )
}

/// The file's bytes and the identity of exactly the file they came from.
fn read_with_identity(path: &Path) -> std::io::Result<Option<(Vec<u8>, String)>> {
    use std::io::Read;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes)?;
    Ok(Some((bytes, identity(&meta))))
}

/// One state write: checks the file is still the one this instance last saw, keeps the file as
/// it was before this process's first write, then replaces it atomically.
struct StateWrite {
    path: PathBuf,
    backup: PathBuf,
    backed_up: Arc<AtomicBool>,
    /// The identity this instance last saw; `None`: it saw no file.
    expected: Option<String>,
}

impl StateWrite {
    /// Returns the identity of the file written.
    fn run(self, encoded: &[u8]) -> Result<String, StateError> {
        let current = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(identity(&meta)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&self.path)(e)),
        };
        if current != self.expected {
            return Err(StateError::Conflict {
                location: self.path.display().to_string(),
                expected: match &self.expected {
                    None => "no state file".into(),
                    Some(_) => "the file as it last read or wrote it".into(),
                },
                found: match &current {
                    None => "the file is gone".into(),
                    Some(_) => "the file was replaced since".into(),
                },
            });
        }
        if !self.backed_up.swap(true, Ordering::SeqCst) {
            match std::fs::read(&self.path) {
                Ok(previous) => {
                    write_atomic(&self.backup, &previous)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&self.path)(e)),
            }
        }
        write_atomic(&self.path, encoded)
    }
}

/// Temp file, fsync, rename, fsync of the directory: a crash leaves the old or the new file.
/// Returns the identity of the file written.
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<String, StateError> {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp.{}", std::process::id()));
    let tmp = target.with_file_name(name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_error(&tmp))?;
    f.write_all(bytes).map_err(io_error(&tmp))?;
    f.sync_all().map_err(io_error(&tmp))?;
    // The inode survives the rename, so this is the identity of the file at `target`.
    let written = identity(&f.metadata().map_err(io_error(&tmp))?);
    drop(f);
    std::fs::rename(&tmp, target).map_err(io_error(target))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Local {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    #[async_trait]
    impl crate::conformance::Harness for Local {
        type Backend = LocalBackend;
        async fn open(&self) -> LocalBackend {
            LocalBackend::new(&self.path)
        }
        async fn plant(&self, bytes: &[u8]) {
            std::fs::write(&self.path, bytes).unwrap();
        }
        async fn stored(&self) -> Option<Vec<u8>> {
            std::fs::read(&self.path).ok()
        }
        fn holder_gone(&self) -> crate::conformance::HolderGone {
            crate::conformance::HolderGone::Released
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_backend_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.state.json");
        crate::conformance::run(&Local { _dir: dir, path }).await;
    }

    #[tokio::test]
    async fn state_file_is_private_and_backed_up() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let b = LocalBackend::new(&path);
        let mut s = State::new();
        b.write(&s).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second process's first write backs up what the first one left.
        let b2 = LocalBackend::new(&path);
        b2.read().await.unwrap();
        s.serial = 1;
        b2.write(&s).await.unwrap();
        let backup = crate::format::decode(&std::fs::read(b2.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 0);
    }

    #[tokio::test]
    async fn a_stale_lock_info_file_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let b = LocalBackend::new(&path);
        // What a killed process leaves: the info file, but no OS lock.
        let stale = LockInfo::for_this_process("apply");
        std::fs::write(
            dir.path().join("s.json.lock.info"),
            serde_json::to_vec(&stale).unwrap(),
        )
        .unwrap();
        assert_eq!(b.lock_holder().await.unwrap(), None);
        let id = b
            .lock(LockRequest::new("plan", Duration::ZERO))
            .await
            .unwrap();
        b.unlock(&id).await.unwrap();
    }

    /// A pid that cannot be running: above the kernel's pid_max limit (2^22).
    const DEAD_PID: u32 = 4_194_305;

    #[tokio::test]
    async fn issue9_item12_temp_files_of_dead_writers_are_removed_by_the_next_lock_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let leftovers = [
            format!("s.json.tmp.{DEAD_PID}"),
            format!("s.json.backup.tmp.{DEAD_PID}"),
            format!("s.json.lock.info.tmp.{DEAD_PID}"),
        ];
        // Not ours to remove: other files' temp files, odd suffixes, this process's own.
        let kept = [
            "other.json.tmp.123".to_string(),
            "s.json.tmp.notapid".to_string(),
            "s.json.local-cloud.tmp".to_string(),
            "s.json.plan.tmp.5".to_string(),
            format!("s.json.tmp.{}", std::process::id()),
        ];
        for name in leftovers.iter().chain(&kept) {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let b = LocalBackend::new(&path);
        let id = b
            .lock(LockRequest::new("apply", Duration::ZERO))
            .await
            .unwrap();
        for name in &leftovers {
            assert!(!dir.path().join(name).exists(), "{name} was left behind");
        }
        for name in &kept {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
        b.unlock(&id).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn issue9_item13_a_waiter_names_the_holder_even_in_the_instant_after_it_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        // The holder has taken the OS lock but not yet written its info; what is there is the
        // info file of a holder that was killed earlier.
        let holder_file = LocalBackend::new(&path).open_lock_file().unwrap();
        holder_file.try_lock().unwrap();
        let mut dead = LockInfo::for_this_process("apply");
        dead.pid = DEAD_PID;
        let info_path = dir.path().join("s.json.lock.info");
        std::fs::write(&info_path, serde_json::to_vec(&dead).unwrap()).unwrap();
        let live = LockInfo::for_this_process("destroy");
        let live_id = live.id.clone();
        let writer = {
            let info_path = info_path.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                write_atomic(&info_path, &serde_json::to_vec(&live).unwrap()).unwrap();
            })
        };
        let waiter = LocalBackend::new(&path);
        let err = waiter
            .lock(LockRequest::new("plan", Duration::ZERO))
            .await
            .unwrap_err();
        writer.await.unwrap();
        match err {
            StateError::Locked {
                holder: Some(h), ..
            } => assert_eq!(
                h.id, live_id,
                "named the dead holder instead of the live one"
            ),
            other => panic!("expected the live holder to be named, got {other}"),
        }
        // With nothing but the dead holder's file, the holder is honestly unknown.
        let err = waiter
            .lock(LockRequest::new("plan", Duration::ZERO))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StateError::Locked { holder: Some(ref h), .. } if h.id == live_id),
            "{err}"
        );
        std::fs::write(&info_path, serde_json::to_vec(&dead).unwrap()).unwrap();
        let err = waiter
            .lock(LockRequest::new("plan", Duration::ZERO))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("holder unknown"), "{err}");
        drop(holder_file);
    }
}
