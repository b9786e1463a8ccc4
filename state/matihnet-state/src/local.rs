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

use crate::backend::{Backend, LockInfo, StateError};
use crate::format;
use crate::model::State;

pub struct LocalBackend {
    path: PathBuf,
    held: Mutex<Option<(File, String)>>,
    backed_up: Arc<AtomicBool>,
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalBackend {
            path: path.into(),
            held: Mutex::new(None),
            backed_up: Arc::new(AtomicBool::new(false)),
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
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&self.path)(e)),
        };
        format::decode(&bytes)
            .map(Some)
            .map_err(|source| StateError::Corrupt {
                path: self.path.clone(),
                source,
            })
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        // Encoding here costs one serialized copy instead of a clone of the whole state; the
        // file IO and fsync, the slow part, stay off the async workers.
        let bytes = format::encode(state);
        let path = self.path.clone();
        let backup = self.backup_path();
        let backed_up = Arc::clone(&self.backed_up);
        tokio::task::spawn_blocking(move || write_state(&path, &backup, &backed_up, &bytes))
            .await
            .map_err(|join| self.io(&self.path)(std::io::Error::other(join.to_string())))?
    }

    async fn lock(&self, mut info: LockInfo, timeout: Duration) -> Result<String, StateError> {
        let file = self.open_lock_file()?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        return Err(StateError::Locked {
                            path: self.path.clone(),
                            holder: self.read_lock_info(),
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
                path: self.path.clone(),
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
                    path: self.path.clone(),
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

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        path: path.clone(),
        source,
    }
}

/// Writes an encoded state, first keeping the file as it was before this process's first write.
fn write_state(
    path: &Path,
    backup: &Path,
    backed_up: &AtomicBool,
    encoded: &[u8],
) -> Result<(), StateError> {
    if !backed_up.swap(true, Ordering::SeqCst) {
        match std::fs::read(path) {
            Ok(previous) => write_atomic(backup, &previous)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(path)(e)),
        }
    }
    write_atomic(path, encoded)
}

/// Temp file, fsync, rename, fsync of the directory: a crash leaves the old or the new file.
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), StateError> {
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
    drop(f);
    std::fs::rename(&tmp, target).map_err(io_error(target))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_backend_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.state.json");
        crate::conformance::run(|| LocalBackend::new(&path)).await;
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
            .lock(LockInfo::for_this_process("plan"), Duration::ZERO)
            .await
            .unwrap();
        b.unlock(&id).await.unwrap();
    }
}
