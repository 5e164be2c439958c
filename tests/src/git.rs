//! Git repositories that ship bundles to Airflow 3.4's `GitDagBundle`, driven through the `git`
//! CLI: a bare repository ([`init_bare`]), which a deployment serves over `git://`
//! (`DeployOptions::git_daemon`), and a working clone that commits bundle files with mode 100755
//! and pushes them ([`WorkingClone`]).
//!
//! Every git command runs with a fixed identity and no user or system configuration, so the
//! tests do not depend on the machine's `~/.gitconfig`; a failing command is an error quoting
//! the command and what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail, ensure};

/// The branch every repository here uses (`GitDagBundle`'s `tracking_ref`).
pub const BRANCH: &str = "main";

/// `git` with no user or system configuration and a fixed identity.
fn git() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "airflow-e2e")
        .env("GIT_AUTHOR_EMAIL", "airflow-e2e@localhost")
        .env("GIT_COMMITTER_NAME", "airflow-e2e")
        .env("GIT_COMMITTER_EMAIL", "airflow-e2e@localhost")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    cmd
}

/// Runs `git ARGS` in `dir` (when given); its stdout, trimmed, or an error quoting the command
/// and its output.
fn run_git(dir: Option<&Path>, args: &[&str]) -> Result<String> {
    let mut cmd = git();
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.args(args);
    let out: Output = cmd
        .output()
        .with_context(|| format!("running {cmd:?} (is git installed?)"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Creates an empty bare repository at `path` whose default branch is [`BRANCH`].
pub fn init_bare(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    let dir = path.to_str().context("a non-UTF-8 repository path")?;
    run_git(None, &["init", "--bare", "--quiet", "-b", BRANCH, dir])?;
    Ok(())
}

/// A working clone to commit bundle files in and push them to its origin.
#[derive(Debug, Clone)]
pub struct WorkingClone {
    /// The clone's directory.
    pub dir: PathBuf,
}

impl WorkingClone {
    /// Clones `origin` (a path or URL; an empty repository is fine) into `dir` and checks out
    /// [`BRANCH`].
    pub fn clone_from(origin: &str, dir: &Path) -> Result<WorkingClone> {
        let to = dir.to_str().context("a non-UTF-8 clone path")?;
        run_git(None, &["clone", "--quiet", origin, to])?;
        let clone = WorkingClone {
            dir: dir.to_owned(),
        };
        // An empty origin has no branch to check out yet: name the unborn one.
        clone.git(&["symbolic-ref", "HEAD", &format!("refs/heads/{BRANCH}")])?;
        Ok(clone)
    }

    /// Runs `git ARGS` in the clone; its stdout, trimmed.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        run_git(Some(&self.dir), args)
    }

    /// Copies `file` to `path` (relative to the clone) and commits it as an executable (mode
    /// 100755, whatever the file's own mode and `core.fileMode`). Returns the new commit's sha.
    pub fn commit_executable(&self, file: &Path, path: &str, message: &str) -> Result<String> {
        let dest = self.dir.join(path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(file, &dest)
            .with_context(|| format!("copying {} to {}", file.display(), dest.display()))?;
        self.git(&["add", "--", path])?;
        self.git(&["update-index", "--chmod=+x", "--", path])?;
        self.git(&["commit", "--quiet", "-m", message])?;
        let mode = self.mode_at("HEAD", path)?;
        ensure!(
            mode == "100755",
            "{path} was committed with mode {mode}, not 100755"
        );
        self.head()
    }

    /// Pushes [`BRANCH`] to origin.
    pub fn push(&self) -> Result<()> {
        self.git(&[
            "push",
            "--quiet",
            "origin",
            &format!("HEAD:refs/heads/{BRANCH}"),
        ])?;
        Ok(())
    }

    /// Replaces origin's history with one new root commit holding the current tree (`git
    /// checkout --orphan`, commit, force push): every earlier commit becomes unreachable on the
    /// server, as after a history rewrite. Returns the new commit's sha.
    pub fn force_push_rewritten(&self, message: &str) -> Result<String> {
        let branch = "rewritten";
        self.git(&["checkout", "--quiet", "--orphan", branch])?;
        self.git(&["commit", "--quiet", "-m", message])?;
        self.git(&[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("HEAD:refs/heads/{BRANCH}"),
        ])?;
        // Back on BRANCH, at the rewritten commit.
        self.git(&["checkout", "--quiet", "-B", BRANCH])?;
        self.head()
    }

    /// The sha of `HEAD`.
    pub fn head(&self) -> Result<String> {
        self.git(&["rev-parse", "HEAD"])
    }

    /// The mode git records for `path` at `rev` (`100755` for an executable).
    pub fn mode_at(&self, rev: &str, path: &str) -> Result<String> {
        let line = self.git(&["ls-tree", rev, "--", path])?;
        line.split_whitespace()
            .next()
            .map(str::to_owned)
            .with_context(|| format!("{path} is not in {rev}"))
    }

    /// The size in bytes of the objects of the repository at `repo` (`git count-objects -v`'s
    /// `size` plus `size-pack`), to see what the bundles cost in git.
    pub fn repo_size(repo: &Path) -> Result<u64> {
        let text = run_git(Some(repo), &["count-objects", "-v"])?;
        let kib: u64 = text
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(k, _)| *k == "size" || *k == "size-pack")
            .map(|(_, v)| v.trim().parse::<u64>().unwrap_or(0))
            .sum();
        Ok(kib * 1024)
    }
}
