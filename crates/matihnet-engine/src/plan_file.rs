//! Saved plans (`matihnet plan -o FILE`, `matihnet apply FILE`): the plan's JSON beside its format
//! version, written atomically and privately (a plan holds every attribute it will set).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::plan::{Plan, PLAN_FORMAT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the saved plan {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a plan saved by `matihnet plan -o`: {reason}")]
    NotAPlan { path: PathBuf, reason: String },
    #[error("{path} was saved by a newer matihnet (plan format {found}); upgrade matihnet or plan again")]
    TooNew { path: PathBuf, found: u32 },
}

/// Writes `plan` to `path` through a temp file (mode 0600, fsync, rename).
pub fn write(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = serde_json::to_vec_pretty(plan).map_err(|e| PlanFileError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    let tmp = path.with_extension("tmp");
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PlanFileError::Write { path, source }
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(failed(&tmp))?;
    f.write_all(&bytes).map_err(failed(&tmp))?;
    f.sync_all().map_err(failed(&tmp))?;
    std::fs::rename(&tmp, path).map_err(failed(path))
}

/// Reads a saved plan, refusing files that are not plans or come from a newer format.
pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let bytes = std::fs::read(path).map_err(|source| PlanFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if plan.format_version > PLAN_FORMAT_VERSION {
        return Err(PlanFileError::TooNew {
            path: path.to_path_buf(),
            found: plan.format_version,
        });
    }
    Ok(plan)
}
