//! `state migrate`: copies the state from where it is (a file, or another `[state]` section)
//! into the backend this file names, with its lineage and serial, under both locks. The copy is
//! read back through a fresh instance and compared before anything is reported done, and the
//! source is never modified: the user removes it once satisfied.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use matihnet_net::StateBackend;
use matihnet_state::{Backend, LocalBackend, LockRequest};

use crate::cli::MigrateArgs;
use crate::environment::EnvironmentFile;
use crate::signals::Interrupts;
use crate::terminal::Terminal;
use crate::Exit;

pub async fn migrate_command(
    env: &EnvironmentFile,
    args: &MigrateArgs,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let source: Arc<dyn Backend> = match (&args.from, &args.from_config) {
        (Some(path), _) => Arc::new(LocalBackend::new(path)),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--from-config {}", file.display()))?;
            let lookup = |name: &str| std::env::var(name).ok();
            let section = matihnet_net::load_state_section(
                &file.display().to_string(),
                &text,
                &lookup,
                env.name(),
            )
            .map_err(|diags| {
                let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                anyhow::anyhow!("{}", lines.join("\n"))
            })?;
            match section.backend {
                // A local path in that file is relative to that file, as it is when it is used.
                StateBackend::Local => {
                    let dir = file.parent().unwrap_or_else(|| Path::new("."));
                    let path = match &section.path {
                        Some(p) => dir.join(p),
                        None => {
                            let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                            dir.join(format!("{stem}.state.json"))
                        }
                    };
                    Arc::new(LocalBackend::new(path))
                }
                _ => env.backend_for(&section, false).await?,
            }
        }
        (None, None) => Arc::new(LocalBackend::new(env.default_state_path())),
    };
    let target = env.backend(false).await?;
    if source.describe() == target.describe() {
        bail!(
            "the state is already in {}: there is nothing to migrate\n  hint: set the [state] section of {} to the new backend, then run `matihnet state migrate` (add --from FILE or --from-config FILE when the state is not the file beside it)",
            target.describe(),
            env.path.display()
        );
    }

    let request = |op: &str| LockRequest {
        break_stale: args.lock.break_stale_lock,
        ..LockRequest::new(op, args.lock.lock_timeout)
    };
    let source_lock = source
        .lock(request("state migrate (source)"))
        .await
        .with_context(|| format!("locking the source {}", source.describe()))?;
    interrupts.holding(Some((Arc::clone(&source), source_lock.clone())));
    let result = async {
        let target_lock = target
            .lock(request("state migrate (target)"))
            .await
            .with_context(|| format!("locking the target {}", target.describe()))?;
        let copied = copy(env, source.as_ref(), target.as_ref(), term).await;
        target.unlock(&target_lock).await?;
        copied
    }
    .await;
    interrupts.holding(None);
    source.unlock(&source_lock).await?;
    result
}

async fn copy(
    env: &EnvironmentFile,
    source: &dyn Backend,
    target: &dyn Backend,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let Some(state) = source.read().await? else {
        bail!(
            "there is no state at {} to migrate\n  hint: name where the state is now with --from STATE_FILE or --from-config FILE",
            source.describe()
        );
    };
    match target.read().await? {
        Some(existing) if existing == state => {
            term.line(&format!(
                "{} already holds this state (serial {}, lineage {}): nothing to copy. The source {} was left as it was.",
                target.describe(),
                state.serial,
                state.lineage,
                source.describe()
            ));
            return Ok(Exit::Success);
        }
        Some(existing) => bail!(
            "{} already holds a state (serial {}, lineage {}); migrate never overwrites one\n  hint: if that state is obsolete, remove it with the storage's own tools first; if it is the one to keep, point [state] of {} elsewhere",
            target.describe(),
            existing.serial,
            existing.lineage,
            env.path.display()
        ),
        None => {}
    }
    target.write(&state).await?;
    // Read back through a fresh instance, as the next command will.
    let verify = env.backend(false).await?;
    let back = verify.read().await?;
    if back.as_ref() != Some(&state) {
        bail!(
            "the copy in {} does not read back as the state that was written; the source {} was left as it was, so nothing is lost\n  hint: run `matihnet state migrate` again",
            target.describe(),
            source.describe()
        );
    }
    term.line(&format!(
        "Copied the state (serial {}, lineage {}, {} resources) from {} to {} and read it back.",
        state.serial,
        state.lineage,
        state.resources.len(),
        source.describe(),
        target.describe()
    ));
    term.line(&format!(
        "The source {} was left as it was; remove it once you no longer need it.",
        source.describe()
    ));
    Ok(Exit::Success)
}
