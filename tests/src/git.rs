//! Git repositories that ship bundles to Airflow 3.4's `GitDagBundle`, driven through the `git`
//! CLI: a bare repository ([`init_bare`]), served read-only over `git://` by `git daemon`
//! ([`GitServer`]), and a working clone that commits bundle files with mode 100755 and pushes
//! them ([`WorkingClone`]).
//!
//! Every git command runs with a fixed identity and no user or system configuration, so the
//! tests do not depend on the machine's `~/.gitconfig`; a failing command is an error quoting
//! the command and what it printed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// `git daemon` serving the bare repositories under a directory over `git://`, read-only
/// (`--export-all --base-path`), stopped when dropped.
#[derive(Debug)]
pub struct GitServer {
    child: Option<Child>,
    launcher: Vec<String>,
    base: PathBuf,
    host: String,
    port: u16,
    log: PathBuf,
}

/// How long `git daemon` may take to answer after it starts.
const DAEMON_START: Duration = Duration::from_secs(20);

impl GitServer {
    /// Serves the repositories under `base` on `host` (an address of this machine, e.g.
    /// `127.0.0.1`) at a free port; its log goes to `log`. Returns once `git ls-remote` gets an
    /// answer from it.
    pub fn start(base: &Path, host: &str, log: &Path) -> Result<GitServer> {
        let port = TcpListener::bind((host, 0))
            .and_then(|l| l.local_addr())
            .with_context(|| format!("finding a free port on {host}"))?
            .port();
        GitServer::start_with(&[], base, host, port, log)
    }

    /// [`GitServer::start`] on a given `port`, with the daemon and the readiness probe run
    /// through `launcher` (e.g. `["ip", "netns", "exec", "host-a"]`, which execs the command,
    /// so the process stopped is the daemon itself); an empty launcher runs them directly.
    pub fn start_with(
        launcher: &[&str],
        base: &Path,
        host: &str,
        port: u16,
        log: &Path,
    ) -> Result<GitServer> {
        let mut server = GitServer {
            child: None,
            launcher: launcher.iter().map(|s| (*s).to_owned()).collect(),
            base: base.to_owned(),
            host: host.to_owned(),
            port,
            log: log.to_owned(),
        };
        server.restart()?;
        Ok(server)
    }

    /// `program`, through the launcher when there is one.
    fn command(&self, program: &Path) -> Command {
        match self.launcher.split_first() {
            None => Command::new(program),
            Some((first, rest)) => {
                let mut cmd = Command::new(first);
                cmd.args(rest).arg(program);
                cmd
            }
        }
    }

    /// The `git://` URL of the repository `name` (a path under the served directory).
    pub fn url(&self, name: &str) -> String {
        format!("git://{}:{}/{name}", self.host, self.port)
    }

    /// Starts the daemon again on the same port after [`GitServer::stop`] (a no-op when it
    /// runs), and waits until it answers.
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let daemon = ["/usr/lib/git-core/git-daemon", "/usr/libexec/git-core/git-daemon"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .context("no git-daemon in /usr/lib/git-core or /usr/libexec/git-core (install git-daemon-run or git)")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut cmd = self.command(daemon);
        cmd.arg("--export-all")
            .arg("--reuseaddr")
            .arg("--informative-errors")
            .arg(format!("--base-path={}", self.base.display()))
            .arg(format!("--listen={}", self.host))
            .arg(format!("--port={}", self.port))
            .arg(&self.base)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + DAEMON_START;
        let probe = format!("git://{}:{}/", self.host, self.port);
        loop {
            // Any answer from the daemon, even "no such repository", means it listens.
            let mut ls_remote = self.command(Path::new("git"));
            // The same clean environment as every other git command here.
            for (k, v) in git().get_envs() {
                if let Some(v) = v {
                    ls_remote.env(k, v);
                }
            }
            let out = ls_remote
                .args(["ls-remote", &probe])
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("running {ls_remote:?}"))?;
            let said = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || !said.contains("Connection refused") {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "git daemon exited with {status}; see {}",
                    self.log.display()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "git daemon on {probe} did not answer within {} s: {said}",
                    DAEMON_START.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the daemon (SIGKILL to the process this started, by its id); clients then get
    /// "connection refused".
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("stopping git daemon")?;
            child.wait().context("waiting for git daemon")?;
        }
        Ok(())
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
