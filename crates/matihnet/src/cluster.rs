//! `render`: the cluster half of the model, written from the state (never from the cloud) once
//! the state is known to match the environment file; and `render --check` of manifests from any
//! source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use matihnet_cluster::{Built, File, Format};

use crate::cli::{RenderArgs, RenderFormat};
use crate::environment::EnvironmentFile;
use crate::terminal::{self, Terminal};
use crate::Exit;

const MISMATCH_HINT: &str = "run `matihnet apply` with this file first; if this state belongs to another environment file, point [state] path at the right one";

pub async fn render_command(
    env: &EnvironmentFile,
    args: &RenderArgs,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let config = env.path.display();
    let backend = env.backend(false).await?;
    let state = match backend.read().await? {
        Some(s) if !s.resources.is_empty() => s,
        _ => bail!(
            "the state at {} records nothing: render writes what apply built, so there is nothing to render yet\n  hint: run `matihnet -c {config} apply` first",
            backend.describe()
        ),
    };
    let (schemas, desired) = env.offline_mapping().await?;
    let schemas: HashMap<_, _> = schemas
        .into_iter()
        .map(|s| (s.type_name.clone(), s))
        .collect();
    let outputs = matihnet_net::outputs(&desired);
    let plan = match matihnet_engine::plan_recorded(&desired, &outputs, &state, &schemas) {
        Ok(p) => p,
        Err(e) => bail!(
            "the state at {} does not match {config}: {e}\n  hint: {MISMATCH_HINT}",
            backend.describe()
        ),
    };
    if plan.has_changes() {
        term.err(&terminal::render_plan(&plan, term.colour));
        let s = plan.summary();
        bail!(
            "the state at {} does not match {config} ({} to add, {} to change, {} to destroy, as shown above): render reads only the state, so it would describe objects that are not what the file asks for\n  hint: {MISMATCH_HINT}",
            backend.describe(),
            s.add,
            s.change,
            s.destroy
        );
    }
    let built = Built::new(
        state
            .resources
            .iter()
            .map(|(a, r)| (a.clone(), r.attributes.clone())),
    );
    let format = match args.format {
        RenderFormat::Yaml => Format::Yaml,
        RenderFormat::Json => Format::Json,
    };
    let files = matihnet_cluster::render(&env.loaded.env, &built, format)
        .map_err(|e| anyhow::anyhow!("{config}: {e}\n  hint: {}", e.hint()))?;
    let out = args.out.clone().unwrap_or_else(|| {
        env.path
            .parent()
            .unwrap_or(Path::new(""))
            .join("rendered")
            .join(env.name())
    });
    write_directory(&out, &files)?;
    term.line(&format!(
        "Rendered {} files for environment \"{}\" into {}:",
        files.len() - 1,
        env.name(),
        out.display()
    ));
    for f in files.iter().filter(|f| !f.path.starts_with('.')) {
        term.line(&format!("  {}", f.path));
    }
    Ok(Exit::Success)
}

/// Writes `files` into a fresh directory beside `out`, then swaps it in: a reader sees the old
/// directory or the new one, never a half-written mix; an error leaves `out` as it was.
fn write_directory(out: &Path, files: &[File]) -> anyhow::Result<()> {
    let name = out
        .file_name()
        .with_context(|| format!("--out {}: name a directory", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if out.exists() {
        if !out.is_dir() {
            bail!(
                "--out {} is a file, not a directory\n  hint: name a directory for the rendered files",
                out.display()
            );
        }
        let ours = out.join(matihnet_cluster::MARKER).exists();
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_none();
        if !ours && !empty {
            bail!(
                "{} exists and was not written by `matihnet render` (it has no {} file), so it is left alone\n  hint: choose another --out, or empty the directory",
                out.display(),
                matihnet_cluster::MARKER
            );
        }
    }
    std::fs::create_dir_all(&parent).with_context(|| {
        format!(
            "cannot create {} for the rendered files\n  hint: choose a writable --out",
            parent.display()
        )
    })?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.rendering-", name.to_string_lossy()))
        .tempdir_in(&parent)
        .with_context(|| {
            format!(
                "cannot write in {}\n  hint: choose a writable --out",
                parent.display()
            )
        })?;
    for f in files {
        let path = staging.path().join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let staged = staging.keep();
    let previous = parent.join(format!(
        ".{}.previous-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> anyhow::Result<()> {
        if out.exists() {
            std::fs::rename(out, &previous)
                .with_context(|| format!("cannot move {} aside", out.display()))?;
        }
        if let Err(e) = std::fs::rename(&staged, out) {
            // Put the previous render back: the directory must never be left missing.
            if previous.exists() {
                let _ = std::fs::rename(&previous, out);
            }
            return Err(e)
                .with_context(|| format!("cannot move the new files to {}", out.display()));
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staged);
    }
    result?;
    if previous.exists() {
        std::fs::remove_dir_all(&previous).with_context(|| {
            format!(
                "cannot remove the previous render at {}",
                previous.display()
            )
        })?;
    }
    Ok(())
}

/// `render --check PATH`.
pub fn check_command(path: &Path, term: Terminal) -> anyhow::Result<Exit> {
    let mut files = Vec::new();
    collect(path, &mut files)?;
    if files.is_empty() {
        bail!(
            "{} holds no .yaml, .yml or .json file to check",
            path.display()
        );
    }
    let findings = matihnet_cluster::check::check(&files);
    for f in &findings {
        term.line(&f.to_string());
    }
    if findings.is_empty() {
        term.line(&format!(
            "Checked {} files: every namespace has a default-deny, no policy opens 9092 or a port the table does not name.",
            files.len()
        ));
        Ok(Exit::Success)
    } else {
        term.err(&format!(
            "\n{} problem(s) in {} checked files.",
            findings.len(),
            files.len()
        ));
        Ok(Exit::Error)
    }
}

fn collect(path: &Path, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot read {}", path.display()))?;
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden {
                collect(&e, out)?;
            }
        }
    } else {
        let manifest = path
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
        if manifest {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            out.push((path.display().to_string(), text));
        }
    }
    Ok(())
}
