//! A real Airflow deployment, started for a test and stopped when it is dropped.
//!
//! [`Deployment::start`] runs `tests/harness/deploy.py` with the interpreter of a pinned release
//! ([`Release`]): it writes an `AIRFLOW_HOME` (its `[sdk]` block taken from the README, see
//! [`readme_config`]), starts a private PostgreSQL cluster and migrates the metadata database
//! there, and starts the api-server, scheduler and dag-processor (with
//! [`DeployOptions::triggerer`], the triggerer; for [`Executor::Celery`], a private Redis and
//! Celery workers) on free loopback ports. PostgreSQL,
//! not SQLite: SQLite takes one writer at a time, and on a loaded CI machine its lock waits
//! outlast API calls. Everything is then driven through Airflow's public REST API
//! ([`Api`]), and judged by what Airflow's own database says through it.
//!
//! The deployment lives while `deploy.py`'s stdin is open. Dropping the [`Deployment`] closes it
//! and waits for `deploy.py` to stop exactly the processes it started; if the test process dies
//! instead, the pipe closes all the same. Its directory (service logs, task logs, `airflow.cfg`)
//! stays in `<target>/airflow-deployments/<name>` until the next run of the same deployment.

use std::fs;
use std::io::Read;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use wait_timeout::ChildExt;

pub use crate::harness::LogRecord;
use crate::venv::{self, Release};

/// How long `deploy.py` may take to migrate the database and bring every service up.
const START_TIMEOUT: Duration = Duration::from_secs(420);
/// How long it may take to stop everything once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two looks at a dag run or task instance.
const POLL: Duration = Duration::from_millis(500);

/// The marker in `README.md` that precedes the configuration the tests deploy `release` with.
pub fn readme_marker(release: Release) -> String {
    format!(
        "<!-- tested: airflow.cfg for Airflow {} -->",
        release.name()
    )
}

/// The bundle directory the README's configurations name; the tests substitute their own.
pub const README_BUNDLES_DIR: &str = "/opt/airflow/bundles";

/// Which executor the deployment runs tasks with.
#[derive(Debug, Clone)]
pub enum Executor {
    /// `LocalExecutor`: the smallest real deployment.
    Local,
    /// `CeleryExecutor` with a private Redis broker and this many Celery workers on the queues
    /// `default,rust`.
    Celery {
        /// How many `airflow celery worker` processes.
        workers: u32,
    },
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    name: String,
    release: Release,
    executor: Executor,
    bundles: Vec<PathBuf>,
    dag_files: Vec<PathBuf>,
    sdk_config: Option<String>,
    api_port: Option<u16>,
    env: Vec<(String, String)>,
    triggerer: bool,
    hosts: bool,
    git_daemon: Option<PathBuf>,
}

impl DeployOptions {
    /// A deployment named `name` (used in its directory's name) of `release`.
    pub fn new(name: &str, release: Release) -> Self {
        DeployOptions {
            name: name.to_owned(),
            release,
            executor: Executor::Local,
            bundles: Vec::new(),
            dag_files: Vec::new(),
            sdk_config: None,
            api_port: None,
            env: Vec::new(),
            triggerer: false,
            hosts: false,
            git_daemon: None,
        }
    }

    /// Also starts `airflow triggerer`, which runs the triggers of deferred tasks (the health
    /// check then waits for it too).
    pub fn triggerer(mut self) -> Self {
        self.triggerer = true;
        self
    }

    /// Runs each Celery worker on a host of its own (needs root and [`Executor::Celery`]):
    /// network namespaces `b`, `c`, ... linked to the control host `a` (PostgreSQL, Redis and
    /// the Airflow services), each with a mount namespace in which the deployment's directory,
    /// the build directories and `/tmp` are covered, but for the host's own directory
    /// ([`Host::dir`]). The bundles of [`DeployOptions::bundle`] then go into each worker host's
    /// own executables root (`<host dir>/bundles`, seen there at the configured path), not onto
    /// the control host: the "worker image" way of Airflow 3.3; so do the dag files of
    /// [`DeployOptions::dag_file`] (Python tasks need them on the host that runs them).
    pub fn on_hosts(mut self) -> Self {
        self.hosts = true;
        self
    }

    /// Serves the Git repositories under `dir` over `git://` from the control host (port 9418
    /// of its Git-only address on [`DeployOptions::on_hosts`], else a free loopback port);
    /// `{git_url}` in the configuration stands for `git://HOST:PORT`.
    pub fn git_daemon(mut self, dir: impl Into<PathBuf>) -> Self {
        self.git_daemon = Some(dir.into());
        self
    }

    /// Runs tasks with `executor` (default [`Executor::Local`]).
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }

    /// Copies the packed bundle `file` into the executables root.
    pub fn bundle(mut self, file: impl Into<PathBuf>) -> Self {
        self.bundles.push(file.into());
        self
    }

    /// Copies the stub dag file `name` of `tests/harness/dags` into the dags folder.
    pub fn stub_dag(self, name: &str) -> Self {
        self.dag_file(crate::harness_dir().join("dags").join(name))
    }

    /// Copies the Python dag file `file` into the dags folder.
    pub fn dag_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.dag_files.push(file.into());
        self
    }

    /// Serves the API on this loopback port instead of a free one.
    pub fn api_port(mut self, port: u16) -> Self {
        self.api_port = Some(port);
        self
    }

    /// Sets the environment variable `key` for every service (and so every task).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Uses this configuration (an `[sdk]` block and any other sections to add, with
    /// `{bundles_dir}` standing for the bundle directory) instead of the README's.
    pub fn sdk_config(mut self, ini: impl Into<String>) -> Self {
        self.sdk_config = Some(ini.into());
        self
    }
}

/// The configuration the README documents for `release`: the ```ini fence after
/// [`readme_marker`], with the bundle directory it names replaced by `bundles_dir`.
///
/// Taking the configuration from the README keeps the documentation and the tested deployment
/// the same text.
pub fn readme_config(release: Release, bundles_dir: &Path) -> Result<String> {
    let marker = readme_marker(release);
    let block = readme_block(&marker)?;
    if !block.contains(README_BUNDLES_DIR) {
        bail!("the README's block after {marker:?} does not name {README_BUNDLES_DIR}");
    }
    let dir = bundles_dir.to_str().context("a non-UTF-8 bundle path")?;
    Ok(block.replace(README_BUNDLES_DIR, dir) + "\n")
}

/// The marker in `README.md` before the configuration every host of a multi-host deployment
/// holds besides its release's coordinator block.
pub const README_MULTIHOST_MARKER: &str =
    "<!-- tested: airflow.cfg of every host, several hosts -->";

/// The host name the README's multi-host configuration gives the control host.
pub const README_CONTROL_HOST: &str = "airflow-control";

/// The README's multi-host configuration ([`README_MULTIHOST_MARKER`]) followed by `release`'s
/// coordinator block (`coordinators`, for [`DeployOptions::sdk_config`] of a deployment
/// [`DeployOptions::on_hosts`]): its control host name becomes `{control_host}` (deploy.py puts
/// in the control host's address).
pub fn readme_multihost_config(coordinators: &str) -> Result<String> {
    let block = readme_block(README_MULTIHOST_MARKER)?;
    ensure!(
        block.contains(README_CONTROL_HOST),
        "the README's block after {README_MULTIHOST_MARKER:?} does not name {README_CONTROL_HOST}"
    );
    Ok(block.replace(README_CONTROL_HOST, "{control_host}") + "\n\n" + coordinators)
}

/// The text of the ```ini fence that follows `marker` (an HTML comment) in `README.md`.
pub fn readme_block(marker: &str) -> Result<String> {
    let readme_path = crate::workspace_root().join("README.md");
    let readme = fs::read_to_string(&readme_path)
        .with_context(|| format!("reading {}", readme_path.display()))?;
    let after = readme
        .split_once(marker)
        .with_context(|| format!("README.md has no {marker:?} marker"))?
        .1;
    let body = after
        .trim_start()
        .strip_prefix("```ini\n")
        .with_context(|| format!("the README's {marker:?} is not followed by a ```ini fence"))?;
    let block = body
        .split_once("\n```")
        .with_context(|| format!("the ```ini fence after {marker:?} is not closed"))?
        .0;
    Ok(block.to_owned())
}

/// A running deployment. Dropping it stops every process it started.
pub struct Deployment {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Receiver<Value>,
    dir: PathBuf,
    /// Set once deploy.py reported the deployment ready; before that, its exit is expected.
    ready: bool,
    /// The REST API client, logged in as the deployment's admin.
    pub api: Api,
    /// `AIRFLOW_HOME`.
    pub home: PathBuf,
    /// The executables root the bundles were copied into.
    pub bundles_dir: PathBuf,
    /// The dags folder.
    pub dags_dir: PathBuf,
    /// The interpreter of the release's venv (its `airflow` CLI sits next to it).
    pub python: PathBuf,
    /// With [`DeployOptions::on_hosts`]: the control host `a`, then the worker hosts.
    pub hosts: Vec<Host>,
    /// With [`DeployOptions::git_daemon`]: `git://HOST:PORT` of the Git server.
    pub git_url: Option<String>,
}

/// How deploy.py describes a host in its ready event.
#[derive(Deserialize)]
struct ReadyHost {
    address: String,
    netns: String,
    git_address: String,
    worker_pid: Option<u32>,
}

/// One host of a deployment [`DeployOptions::on_hosts`].
#[derive(Debug, Clone)]
pub struct Host {
    /// `a` (the control host), `b`, `c`, ...
    pub name: String,
    /// Its address, which is also the `hostname` Airflow records on the task instances it ran.
    pub address: String,
    /// Its network namespace.
    pub netns: String,
    /// The directory only this host (and the test) sees: its `home/` (`AIRFLOW_HOME`, task
    /// logs) and, on a worker host, `bundles/` (its own executables root).
    pub dir: PathBuf,
    /// Its address (with prefix) on the Git server's subnet.
    git_address: String,
    worker_pid: Option<u32>,
}

impl Host {
    /// `program args...` as a process of this worker host: in its network and mount
    /// namespaces, so it sees the files the host's worker sees (and not the others').
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Result<Command> {
        let pid = self
            .worker_pid
            .with_context(|| format!("host {} runs no worker to enter", self.name))?;
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(pid.to_string())
            .args(["-m", "-n", "--"])
            .arg(program);
        Ok(cmd)
    }

    /// Runs `cmd` (made by [`Host::command`]); its stdout, or an error naming this host, the
    /// command and what it printed on stderr.
    pub fn run(&self, cmd: &mut Command) -> Result<String> {
        checked_stdout(cmd).with_context(|| format!("on host {}", self.name))
    }

    /// Gives the host a route to the Git server, or takes it away (and only that one).
    pub fn reach_git(&self, reach: bool) -> Result<()> {
        let verb = if reach { "add" } else { "del" };
        checked_stdout(Command::new("ip").args([
            "-n",
            &self.netns,
            "addr",
            verb,
            &self.git_address,
            "dev",
            "eth0",
        ]))?;
        Ok(())
    }

    /// The processes running on the host (in its network namespace).
    fn pids(&self) -> Result<Vec<String>> {
        let pids = checked_stdout(Command::new("ip").args(["netns", "pids", &self.netns]))?;
        Ok(pids.split_whitespace().map(str::to_owned).collect())
    }

    /// Whether any process still runs on the host (none after [`Host::kill`]).
    pub fn is_up(&self) -> Result<bool> {
        Ok(!self.pids()?.is_empty())
    }

    /// Takes glibc away from this worker host's root (`harness/strip_glibc.py`): every file of
    /// Debian's libc6 package reads empty there from now on, so no dynamically linked program
    /// starts on it; its running worker keeps what it mapped. Returns how many files it covered.
    pub fn strip_glibc(&self) -> Result<usize> {
        let pid = self
            .worker_pid
            .with_context(|| format!("host {} runs no worker", self.name))?;
        let out = self.run(
            Command::new("python3")
                .arg(crate::harness_dir().join("strip_glibc.py"))
                .arg(pid.to_string())
                .current_dir(crate::harness_dir()),
        )?;
        #[derive(Deserialize)]
        struct Stripped {
            covered: usize,
        }
        let s: Stripped = serde_json::from_str(out.trim())
            .with_context(|| format!("strip_glibc.py on host {} printed {out:?}", self.name))?;
        Ok(s.covered)
    }

    /// Takes the host down at once, as a power cut would: SIGKILL to every process in it.
    pub fn kill(&self) -> Result<()> {
        let pids = self.pids()?;
        if !pids.is_empty() {
            // Exit status ignored: a process may be gone before its turn.
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
        Ok(())
    }
}

/// Runs `cmd`; its stdout, or an error quoting the command and its stderr.
fn checked_stdout(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a worker host must not see: every directory of the cargo target directory (where the
/// bundles are built and packed, and the deployments' own directories) but the one holding
/// the Airflow venv, which plays the worker image's Python.
fn worker_hidden_dirs(python: &Path) -> Result<Vec<PathBuf>> {
    let target = crate::target_dir();
    let mut hide = Vec::new();
    for entry in fs::read_dir(&target).with_context(|| format!("reading {}", target.display()))? {
        let path = entry?.path();
        if path.is_dir() && !python.starts_with(&path) {
            hide.push(path);
        }
    }
    Ok(hide)
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("api", &self.api.base)
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// Starts a deployment and waits until it is healthy (and every Celery worker answers).
    ///
    /// A service that fails to start, or a deployment that is not healthy in time, is one error
    /// that carries the tail of every service's log; nothing is left running.
    pub fn start(opts: DeployOptions) -> Result<Deployment> {
        let python = venv::python_for(opts.release)?;
        // A fixed place per deployment name, replaced by the next run: after a failure, its
        // service logs, task logs and airflow.cfg are there to read.
        let dir = crate::target_dir()
            .join("airflow-deployments")
            .join(&opts.name);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let home = dir.join("home");
        let bundles_dir = dir.join("bundles");
        let dags_dir = dir.join("dags");
        for d in [&home, &bundles_dir, &dags_dir] {
            fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        // On hosts, the bundles go into the worker image (deploy.py gives each worker host its
        // own copy of it and of the dags folder: Python tasks need the dag files there); the
        // control host holds none.
        let image_bundles = dir.join("worker-image").join("bundles");
        let bundles_into = if opts.hosts {
            &image_bundles
        } else {
            &bundles_dir
        };
        fs::create_dir_all(bundles_into)
            .with_context(|| format!("creating {}", bundles_into.display()))?;
        let copies = (opts.bundles.iter().map(|f| (bundles_into, f)))
            .chain(opts.dag_files.iter().map(|f| (&dags_dir, f)));
        for (d, f) in copies {
            let name = f.file_name().context("a path without a file name")?;
            // fs::copy keeps the execute bit the coordinator looks for.
            fs::copy(f, d.join(name)).with_context(|| format!("copying {}", f.display()))?;
        }
        let sdk = match &opts.sdk_config {
            Some(ini) => ini.replace(
                "{bundles_dir}",
                bundles_dir.to_str().context("a non-UTF-8 path")?,
            ),
            None => readme_config(opts.release, &bundles_dir)?,
        };
        let sdk_file = dir.join("sdk.ini");
        fs::write(&sdk_file, sdk).with_context(|| format!("writing {}", sdk_file.display()))?;

        let mut cmd = Command::new(&python);
        cmd.arg(crate::harness_dir().join("deploy.py"))
            .arg("--home")
            .arg(&home)
            .arg("--dags")
            .arg(&dags_dir)
            .arg("--sdk-config")
            .arg(&sdk_file);
        if let Some(port) = opts.api_port {
            cmd.arg(format!("--api-port={port}"));
        }
        for (k, v) in &opts.env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        if opts.triggerer {
            cmd.arg("--triggerer");
        }
        if let Executor::Celery { workers } = opts.executor {
            cmd.args(["--executor", "celery", "--private-services"])
                .arg(format!("--celery-workers={workers}"));
        }
        if opts.hosts {
            cmd.arg("--hosts")
                .arg("--worker-image")
                .args([&image_bundles, &bundles_dir])
                .arg("--worker-image")
                .args([&dags_dir, &dags_dir]);
            for d in worker_hidden_dirs(&python)? {
                cmd.arg("--worker-hide").arg(d);
            }
        }
        if let Some(git) = &opts.git_daemon {
            cmd.arg("--git-daemon").arg(git);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                fs::File::create(dir.join("deploy.log")).context("creating deploy.log")?,
            ));
        let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("deploy.py has no stdout")?;
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"event": "output", "line": line}));
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let mut dep = Deployment {
            child,
            stdin,
            events,
            dir,
            ready: false,
            api: Api::unauthenticated(""),
            home,
            bundles_dir,
            dags_dir,
            python,
            hosts: Vec::new(),
            git_url: None,
        };
        let ready = dep.wait_event("ready", START_TIMEOUT)?;
        let base = ready["api"]
            .as_str()
            .context("deploy.py's ready event has no api")?;
        let hosts: std::collections::BTreeMap<String, ReadyHost> =
            serde_json::from_value(ready["hosts"].clone())
                .context("deploy.py's ready event: hosts")?;
        dep.hosts = hosts
            .into_iter()
            .map(|(name, h)| Host {
                dir: dep.dir.join("hosts").join(&name),
                name,
                address: h.address,
                netns: h.netns,
                git_address: h.git_address,
                worker_pid: h.worker_pid,
            })
            .collect();
        dep.git_url = ready["git_url"].as_str().map(str::to_owned);
        dep.api = Api::login(base, "admin", "admin")?;
        dep.api.server_log = Some(dep.home.join("services").join("api-server.log"));
        dep.ready = true;
        Ok(dep)
    }

    fn wait_event(&mut self, want: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(ev) if ev["event"] == want => return Ok(ev),
                Ok(ev) if ev["event"] == "failed" || ev["event"] == "died" => {
                    bail!("the Airflow deployment failed: {}", describe_failure(&ev))
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => bail!(
                    "the Airflow deployment did not report {want:?} within {} s; see {}",
                    timeout.as_secs(),
                    self.home.display()
                ),
                Err(RecvTimeoutError::Disconnected) => bail!(
                    "deploy.py exited before reporting {want:?}: {}",
                    tail_file(&self.dir.join("deploy.log"), 30)
                ),
            }
        }
    }

    /// The `airflow` CLI of the deployment's release, with its `AIRFLOW_HOME` (and the
    /// harness's settings module on `PYTHONPATH`, as every service has it).
    pub fn airflow_cli(&self) -> Command {
        let mut cmd = Command::new(self.python.with_file_name("airflow"));
        cmd.env("AIRFLOW_HOME", &self.home)
            .env("PYTHONPATH", crate::harness_dir().join("pylib"))
            .stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AIRFLOW__") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    /// Runs `cmd` (such as [`Deployment::airflow_cli`]`.args(["dags", "test", ...])`) so that
    /// nothing it starts outlives the test: see [`run_owned`].
    pub fn run_owned(&self, cmd: &Command, timeout: Duration) -> Result<Output> {
        run_owned(&self.python, cmd, timeout)
    }

    /// The last `lines` lines of a service's log (`scheduler`, `api-server`, ...).
    pub fn service_log(&self, service: &str, lines: usize) -> String {
        tail_file(
            &self.home.join("services").join(format!("{service}.log")),
            lines,
        )
    }

    /// The host named `name` (`a`, `b`, ...) of a deployment [`DeployOptions::on_hosts`].
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .with_context(|| format!("the deployment has no host {name:?}"))
    }

    /// The host whose address Airflow recorded as a task instance's `hostname`.
    pub fn host_at(&self, hostname: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.address == hostname)
    }

    /// Starts a deployment, runs `scenarios` on it, and stops it: the scenarios' error if they
    /// failed, else the stop's.
    pub fn run<T>(
        opts: DeployOptions,
        scenarios: impl FnOnce(&Deployment) -> Result<T>,
    ) -> Result<T> {
        let dep = Deployment::start(opts)?;
        let result = scenarios(&dep);
        let stopped = dep.stop();
        let value = result?;
        stopped?;
        Ok(value)
    }

    /// Stops the deployment and checks that `deploy.py` stopped everything it started.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(stdin) = self.stdin.take() else {
            return Ok(());
        };
        drop(stdin);
        match self.child.wait_timeout(STOP_TIMEOUT)? {
            Some(status) if status.success() || !self.ready => Ok(()),
            Some(status) => Err(anyhow!("deploy.py exited with {status} while stopping")),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(anyhow!(
                    "deploy.py did not stop within {} s; killed it",
                    STOP_TIMEOUT.as_secs()
                ))
            }
        }
    }
}

/// Runs `cmd` under `tests/harness/owned.py` with `python` and returns what it printed, like
/// [`Command::output`], such that neither the command nor anything it started (LocalExecutor
/// workers, task supervisors, bundles) outlives it: the command runs in a process group of its
/// own below a subreaper that stops every descendant (SIGTERM, then SIGKILL) when the command
/// exits, when this process closes the pipe to its stdin (a timeout here, a failed or panicking
/// test unwinding, or this process dying of SIGTERM, SIGINT or SIGKILL), or when it gets SIGTERM
/// or SIGINT itself (nextest signals the test's whole process group on a timeout).
pub fn run_owned(python: &Path, cmd: &Command, timeout: Duration) -> Result<Output> {
    let mut owned = Command::new(python);
    owned
        .arg(crate::harness_dir().join("owned.py"))
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => owned.env(k, v),
            None => owned.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        owned.current_dir(dir);
    }
    // If it hangs, owned.py's SIGABRT makes each of its Python processes print its stacks.
    owned.env("PYTHONFAULTHANDLER", "1");
    owned
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let mut child = owned
        .spawn()
        .with_context(|| format!("starting {shown} under owned.py"))?;
    // Held until the command is done: closing it (or dying) stops everything the command began.
    let lifeline = child.stdin.take();
    let reader = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut s) = stream {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = reader(child.stderr.take().map(|s| Box::new(s) as _));
    let status = match child.wait_timeout(timeout)? {
        Some(status) => status,
        None => {
            drop(lifeline);
            if child.wait_timeout(STOP_TIMEOUT)?.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            // What it printed before it was stopped is the only clue to where it hung.
            let printed = [stdout, stderr]
                .map(|reader| finished_output(reader, STOP_TIMEOUT))
                .concat();
            bail!(
                "{shown} did not finish within {} s; it and everything it started were stopped. \
                 The last lines of its output (stdout, then stderr):\n{}",
                timeout.as_secs(),
                last_lines(&String::from_utf8_lossy(&printed), 100)
            );
        }
    };
    drop(lifeline);
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// A reader thread's output if it ends within `wait` (a process that escaped its stop may still
/// hold the pipe open), else nothing.
fn finished_output(reader: std::thread::JoinHandle<Vec<u8>>, wait: Duration) -> Vec<u8> {
    let deadline = Instant::now() + wait;
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if reader.is_finished() {
        reader.join().unwrap_or_default()
    } else {
        b"(its output pipe is still held open by a process it started)\n".to_vec()
    }
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("airflow deployment: {e:#}");
        }
        eprintln!(
            "airflow deployment stopped; its files stay in {} until the next run (service logs in home/services, task logs in home/logs)",
            self.dir.display()
        );
    }
}

fn describe_failure(ev: &Value) -> String {
    let mut text = ev["error"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} exited with {}", ev["service"], ev["code"]));
    if let Some(logs) = ev["logs"].as_object() {
        for (service, tail) in logs {
            text.push_str(&format!(
                "\n--- {service} (last lines) ---\n{}",
                tail.as_str().unwrap_or("")
            ));
        }
    }
    text
}

fn tail_file(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => last_lines(&String::from_utf8_lossy(&bytes), lines),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

// ---------------------------------------------------------------------------------------------
// The REST API (v2)

/// A client of Airflow's public REST API (v2).
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    /// The api-server's log, quoted when it answers 5xx: its body only names an error id.
    server_log: Option<PathBuf>,
}

/// A dag run, as `GET /api/v2/dags/{dag_id}/dagRuns/{run_id}` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct DagRun {
    /// The run id.
    pub dag_run_id: String,
    /// `queued`, `running`, `success` or `failed`.
    pub state: String,
    /// The run's conf.
    #[serde(default)]
    pub conf: Value,
}

/// A task instance (or one try of it), as the REST API returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskInstance {
    /// The task id.
    pub task_id: String,
    /// `-1` when unmapped.
    pub map_index: i64,
    /// The state; `None` before it is scheduled.
    pub state: Option<String>,
    /// The try number (0 before the first try).
    pub try_number: u32,
    /// The host that ran it, as its `hostname_callable` said.
    pub hostname: Option<String>,
    /// When the try started (RFC 3339).
    pub start_date: Option<String>,
    /// When the try ended (RFC 3339).
    pub end_date: Option<String>,
    /// The queue it ran on.
    pub queue: Option<String>,
    /// When the scheduler queued the try for an executor (RFC 3339).
    #[serde(default)]
    pub queued_when: Option<String>,
}

impl TaskInstance {
    /// `end_date - start_date` in seconds, when both are known.
    pub fn duration(&self) -> Option<f64> {
        Some(seconds(&self.end_date)? - seconds(&self.start_date)?)
    }

    /// Seconds from this try's end to `next`'s being queued, when both are known: the retry
    /// delay Airflow applied between two tries.
    pub fn pause_before(&self, next: &TaskInstance) -> Option<f64> {
        Some(seconds(&next.queued_when)? - seconds(&self.end_date)?)
    }
}

/// An RFC 3339 time from the REST API as seconds since the epoch.
fn seconds(at: &Option<String>) -> Option<f64> {
    let t = time::OffsetDateTime::parse(
        at.as_deref()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// A task log: every record of one try.
#[derive(Debug, Clone)]
pub struct TaskLog(pub Vec<LogRecord>);

impl TaskLog {
    /// The first record whose message contains `text`.
    pub fn find(&self, text: &str) -> Option<&LogRecord> {
        self.0.iter().find(|r| r.message().contains(text))
    }

    /// The first record whose message contains `text`, or an error showing the whole log.
    pub fn expect(&self, text: &str) -> Result<&LogRecord> {
        self.find(text)
            .with_context(|| format!("no log record contains {text:?}; the log:\n{self}"))
    }
}

impl std::fmt::Display for TaskLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.0 {
            writeln!(f, "  {r}")?;
        }
        Ok(())
    }
}

/// An import error the dag processor recorded.
#[derive(Debug, Clone, Deserialize)]
pub struct ImportError {
    /// The file.
    pub filename: String,
    /// What went wrong.
    pub stack_trace: String,
}

#[derive(Deserialize)]
struct TaskInstances {
    task_instances: Vec<TaskInstance>,
}

#[derive(Deserialize)]
struct ImportErrors {
    import_errors: Vec<ImportError>,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
}

impl Api {
    fn unauthenticated(base: &str) -> Api {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            token: None,
            agent,
            server_log: None,
        }
    }

    /// Logs in with the simple auth manager's `POST /auth/token`.
    pub fn login(base: &str, username: &str, password: &str) -> Result<Api> {
        let mut api = Api::unauthenticated(base);
        let token: Token = api.call(
            "POST",
            "/auth/token",
            Some(json!({"username": username, "password": password})),
        )?;
        api.token = Some(token.access_token);
        Ok(api)
    }

    /// The API's base URL (`http://127.0.0.1:PORT`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and decodes a 2xx JSON answer; any other status is an error naming the
    /// request and showing the body.
    pub fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<T> {
        let (status, text) = self.raw(method, path, body)?;
        if !(200..300).contains(&status) {
            let server = match (&self.server_log, status >= 500) {
                (Some(log), true) => format!(
                    "\n--- {} after the error ---\n{}",
                    log.display(),
                    server_error_excerpt(log, &text)
                ),
                _ => String::new(),
            };
            bail!("{method} {path} answered {status}: {text}{server}");
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text)
            .with_context(|| format!("decoding the answer to {method} {path}: {text}"))
    }

    /// Sends a request; returns the status and the body text, whatever the status.
    pub fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let with_auth = |mut b: ureq::http::request::Builder| {
            b = b.header("Accept", "application/json");
            if let Some(a) = &auth {
                b = b.header("Authorization", a);
            }
            b
        };
        let request = with_auth(ureq::http::Request::builder().method(method).uri(&url));
        let response = match body {
            Some(body) => self.agent.run(
                request
                    .header("Content-Type", "application/json")
                    .body(body.to_string())?,
            ),
            None => self.agent.run(request.body(())?),
        }
        .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        Ok((status, text))
    }

    /// `GET`, decoded.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call("GET", path, None)
    }

    /// Sets a Variable (creating or replacing it).
    pub fn set_variable(&self, key: &str, value: &str) -> Result<()> {
        let (status, _) = self.raw("DELETE", &format!("/api/v2/variables/{key}"), None)?;
        if status != 204 && status != 404 {
            bail!("DELETE variable {key} answered {status}");
        }
        self.call::<Value>(
            "POST",
            "/api/v2/variables",
            Some(json!({"key": key, "value": value})),
        )?;
        Ok(())
    }

    /// Creates a Connection; `fields` are the REST API's (`conn_type`, `host`, `extra` as a
    /// JSON string, ...).
    pub fn set_connection(&self, conn_id: &str, mut fields: Value) -> Result<()> {
        fields["connection_id"] = json!(conn_id);
        self.delete_connection(conn_id)?;
        self.call::<Value>("POST", "/api/v2/connections", Some(fields))?;
        Ok(())
    }

    /// Creates the pool `name` with `slots` slots, or sets the slots of the existing one (`0`
    /// holds every task that needs a slot of it; `-1` is unlimited).
    pub fn set_pool(&self, name: &str, slots: i64) -> Result<()> {
        let path = format!("/api/v2/pools/{name}");
        let (status, text) = self.raw("GET", &path, None)?;
        match status {
            404 => self.call::<Value>(
                "POST",
                "/api/v2/pools",
                Some(json!({"name": name, "slots": slots})),
            )?,
            200 => self.call::<Value>(
                "PATCH",
                &format!("{path}?update_mask=slots"),
                // 3.4.0b2 validates the whole body even with an update mask.
                Some(json!({"pool": name, "slots": slots, "include_deferred": false})),
            )?,
            _ => bail!("GET {path} answered {status}: {text}"),
        };
        Ok(())
    }

    /// Deletes a Connection (no error when it does not exist).
    pub fn delete_connection(&self, conn_id: &str) -> Result<()> {
        let (status, text) = self.raw("DELETE", &format!("/api/v2/connections/{conn_id}"), None)?;
        if status != 204 && status != 404 {
            bail!("DELETE connection {conn_id} answered {status}: {text}");
        }
        Ok(())
    }

    /// A Variable's value; `None` when there is no such Variable.
    pub fn variable(&self, key: &str) -> Result<Option<String>> {
        let path = format!("/api/v2/variables/{key}");
        let (status, text) = self.raw("GET", &path, None)?;
        match status {
            404 => Ok(None),
            200 => {
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("decoding the Variable at {path}: {text}"))?;
                Ok(v["value"].as_str().map(str::to_owned))
            }
            _ => bail!("GET {path} answered {status}: {text}"),
        }
    }

    /// Asset events, filtered by the query string `query` (e.g.
    /// `source_dag_id=d&source_run_id=r`), as the REST API returns them.
    pub fn asset_events(&self, query: &str) -> Result<Vec<Value>> {
        let v: Value = self.get(&format!("/api/v2/assets/events?{query}&limit=100"))?;
        Ok(v["asset_events"].as_array().cloned().unwrap_or_default())
    }

    /// Every run of `dag_id`, as the REST API returns them.
    pub fn dag_runs(&self, dag_id: &str) -> Result<Vec<Value>> {
        let v: Value = self.get(&format!("/api/v2/dags/{dag_id}/dagRuns?limit=100"))?;
        Ok(v["dag_runs"].as_array().cloned().unwrap_or_default())
    }

    /// The import errors the dag processor recorded.
    pub fn import_errors(&self) -> Result<Vec<ImportError>> {
        Ok(self
            .get::<ImportErrors>("/api/v2/importErrors?limit=100")?
            .import_errors)
    }

    /// Waits until every dag of `dag_ids` is known to the API server; fails early, with the
    /// import errors, when the dag processor could not load a file.
    pub fn wait_for_dags(&self, dag_ids: &[&str], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut missing = Vec::new();
            for id in dag_ids {
                let (status, _) = self.raw("GET", &format!("/api/v2/dags/{id}"), None)?;
                if status != 200 {
                    missing.push(*id);
                }
            }
            if missing.is_empty() {
                return Ok(());
            }
            let errors = self.import_errors()?;
            if !errors.is_empty() || Instant::now() >= deadline {
                bail!(
                    "dags {missing:?} did not appear within {} s; import errors: {}",
                    timeout.as_secs(),
                    errors
                        .iter()
                        .map(|e| format!("\n{}: {}", e.filename, e.stack_trace))
                        .collect::<String>()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Triggers a run of `dag_id` with id `run_id` and `conf`.
    pub fn trigger(&self, dag_id: &str, run_id: &str, conf: Value) -> Result<()> {
        self.call::<Value>(
            "POST",
            &format!("/api/v2/dags/{dag_id}/dagRuns"),
            Some(json!({"dag_run_id": run_id, "logical_date": null, "conf": conf})),
        )?;
        Ok(())
    }

    /// A dag run.
    pub fn dag_run(&self, dag_id: &str, run_id: &str) -> Result<DagRun> {
        self.get(&format!("/api/v2/dags/{dag_id}/dagRuns/{run_id}"))
    }

    /// Waits until the run ends (`success` or `failed`); returns the run. The error on timeout
    /// lists the state of every task instance.
    pub fn wait_run(&self, dag_id: &str, run_id: &str, timeout: Duration) -> Result<DagRun> {
        let deadline = Instant::now() + timeout;
        loop {
            let run = self.dag_run(dag_id, run_id)?;
            if run.state == "success" || run.state == "failed" {
                return Ok(run);
            }
            if Instant::now() >= deadline {
                let tis = self.task_instances(dag_id, run_id)?;
                bail!(
                    "dag run {dag_id}/{run_id} is still {} after {} s: {}",
                    run.state,
                    timeout.as_secs(),
                    states(&tis)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Every task instance of a run.
    pub fn task_instances(&self, dag_id: &str, run_id: &str) -> Result<Vec<TaskInstance>> {
        Ok(self
            .get::<TaskInstances>(&format!(
                "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000"
            ))?
            .task_instances)
    }

    /// One task instance of a run (unmapped).
    pub fn task_instance(&self, dag_id: &str, run_id: &str, task_id: &str) -> Result<TaskInstance> {
        self.get(&format!(
            "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        ))
    }

    /// Every try of a task instance, oldest first.
    pub fn tries(&self, dag_id: &str, run_id: &str, task_id: &str) -> Result<Vec<TaskInstance>> {
        let mut tries = self
            .get::<TaskInstances>(&format!(
                "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
            ))?
            .task_instances;
        tries.sort_by_key(|t| t.try_number);
        Ok(tries)
    }

    /// Waits until a task instance is in `state`.
    pub fn wait_task_state(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        state: &str,
        timeout: Duration,
    ) -> Result<TaskInstance> {
        let deadline = Instant::now() + timeout;
        loop {
            let ti = self.task_instance(dag_id, run_id, task_id)?;
            if ti.state.as_deref() == Some(state) {
                return Ok(ti);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{dag_id}/{run_id}/{task_id} is {:?}, not {state:?}, after {} s",
                    ti.state,
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sets a task instance's state, as "mark failed/success" in the UI does.
    ///
    /// Retried a few times on a 5xx: the write can meet a lock the scheduler holds, as it would
    /// for a user clicking in the UI.
    pub fn set_task_state(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        state: &str,
    ) -> Result<()> {
        let path = format!("/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}");
        let body = json!({"new_state": state});
        let mut attempt = 1;
        loop {
            let (status, text) = self.raw("PATCH", &path, Some(body.clone()))?;
            match status {
                200..300 => return Ok(()),
                500..600 if attempt < 5 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(300));
                }
                _ => bail!("PATCH {path} answered {status}: {text}"),
            }
        }
    }

    /// The human-in-the-loop request of an (unmapped) task instance and its answer so far, as
    /// `GET .../taskInstances/{task_id}/-1/hitlDetails` returns it.
    pub fn hitl_detail(&self, dag_id: &str, run_id: &str, task_id: &str) -> Result<Value> {
        self.get(&format!(
            "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
        ))
    }

    /// Answers the human-in-the-loop request of an (unmapped) task instance as the logged-in
    /// user, as the UI's "required actions" form does: `PATCH .../hitlDetails` with the chosen
    /// options and the params filled in. Returns Airflow's record of the answer.
    pub fn answer_hitl(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        chosen_options: &[&str],
        params_input: Value,
    ) -> Result<Value> {
        self.call(
            "PATCH",
            &format!(
                "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
            ),
            Some(json!({"chosen_options": chosen_options, "params_input": params_input})),
        )
    }

    /// The one asset named exactly `name`, as `GET /api/v2/assets` lists it.
    pub fn asset_named(&self, name: &str) -> Result<Value> {
        let v: Value = self.get(&format!("/api/v2/assets?name_pattern={name}&limit=100"))?;
        v["assets"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["name"] == name).cloned())
            .with_context(|| format!("no asset named {name:?} in {v}"))
    }

    /// Triggers run `run_id` of `dag_id` with `conf` and waits for it to end; an error naming
    /// what happened (`explain_run`) unless it succeeded.
    pub fn run_to_success(
        &self,
        dag_id: &str,
        run_id: &str,
        conf: Value,
        timeout: Duration,
    ) -> Result<DagRun> {
        self.trigger(dag_id, run_id, conf)?;
        self.wait_success(dag_id, run_id, timeout)
    }

    /// Waits for run `run_id` of `dag_id` to end; an error naming what happened
    /// (`explain_run`) unless it succeeded.
    pub fn wait_success(&self, dag_id: &str, run_id: &str, timeout: Duration) -> Result<DagRun> {
        let run = self.wait_run(dag_id, run_id, timeout)?;
        ensure!(
            run.state == "success",
            "{dag_id} run {run_id} ended {}: {}",
            run.state,
            self.explain_run(dag_id, run_id)
        );
        Ok(run)
    }

    /// A task instance's `return_value` XCom; an error naming it when there is none.
    pub fn return_value(&self, dag_id: &str, run_id: &str, task_id: &str) -> Result<Value> {
        self.xcom(dag_id, run_id, task_id, "return_value")?
            .with_context(|| format!("{dag_id}/{run_id}/{task_id} has no return_value XCom"))
    }

    /// Fails unless the task instance is in `state` now, naming the state of every task of the
    /// run (and the end of the log of each that did not succeed).
    pub fn expect_state(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        state: &str,
    ) -> Result<()> {
        let s = self.task_instance(dag_id, run_id, task_id)?.state;
        if s.as_deref() != Some(state) {
            bail!(
                "{dag_id}/{run_id}/{task_id} is {s:?}, not {state}; all: {}",
                self.explain_run(dag_id, run_id)
            );
        }
        Ok(())
    }

    /// An XCom's value; `None` when there is no such XCom.
    pub fn xcom(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        key: &str,
    ) -> Result<Option<Value>> {
        let path = format!(
            "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        );
        let (status, text) = self.raw("GET", &path, None)?;
        match status {
            404 => Ok(None),
            200 => {
                let entry: Value = serde_json::from_str(&text)
                    .with_context(|| format!("decoding the XCom at {path}: {text}"))?;
                Ok(Some(entry["value"].clone()))
            }
            _ => bail!("GET {path} answered {status}: {text}"),
        }
    }

    /// The task log of one try, once it holds a record containing each of `texts`: the
    /// supervisor writes a try's log file as records arrive and may still be writing when the
    /// task instance's state has already changed.
    pub fn wait_log(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        try_number: u32,
        texts: &[&str],
    ) -> Result<TaskLog> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log(dag_id, run_id, task_id, try_number)?;
            if texts.iter().all(|t| log.find(t).is_some()) || Instant::now() >= deadline {
                return Ok(log);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Why a run did not succeed, for a failure message: the state of every task instance and
    /// the end of the last try's log of each one that did not succeed.
    pub fn explain_run(&self, dag_id: &str, run_id: &str) -> String {
        let tis = match self.task_instances(dag_id, run_id) {
            Ok(tis) => tis,
            Err(e) => return format!("<no task instances: {e:#}>"),
        };
        let mut text = states(&tis);
        for ti in &tis {
            let ok = matches!(ti.state.as_deref(), Some("success" | "skipped") | None);
            if ok || ti.try_number == 0 {
                continue;
            }
            let tail = match self.log(dag_id, run_id, &ti.task_id, ti.try_number) {
                Ok(log) => {
                    let shown = log.0.len().saturating_sub(25);
                    TaskLog(log.0[shown..].to_vec()).to_string()
                }
                Err(e) => format!("<no log: {e:#}>"),
            };
            text.push_str(&format!(
                "\n--- {} try {} ({}), end of its log ---\n{tail}",
                ti.task_id,
                ti.try_number,
                ti.state.as_deref().unwrap_or("none")
            ));
        }
        text
    }

    /// The task log of one try, as it is now.
    pub fn log(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        try_number: u32,
    ) -> Result<TaskLog> {
        #[derive(Deserialize)]
        struct Content {
            content: Vec<LogRecord>,
        }
        let c: Content = self.get(&format!(
            "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
        ))?;
        Ok(TaskLog(c.content))
    }
}

/// The api-server log from the line naming the error id of a 5xx answer ("... look for ID
/// KgPTg5O6"): the traceback that explains it, which CI shows where no log file survives.
fn server_error_excerpt(log: &Path, answer: &str) -> String {
    const LINES: usize = 60;
    let text = match fs::read(log) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return format!("<cannot read {}: {e}>", log.display()),
    };
    let lines: Vec<&str> = text.lines().collect();
    let id = answer.split("look for ID ").nth(1).map(|rest| {
        rest.chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
    });
    let start = id
        .filter(|id| !id.is_empty())
        .and_then(|id| lines.iter().position(|l| l.contains(&id)))
        .unwrap_or(lines.len().saturating_sub(LINES));
    lines[start..lines.len().min(start + LINES)].join("\n")
}

/// `task=state` pairs, for messages.
pub fn states(tis: &[TaskInstance]) -> String {
    let mut pairs: Vec<String> = tis
        .iter()
        .map(|t| format!("{}={}", t.task_id, t.state.as_deref().unwrap_or("none")))
        .collect();
    pairs.sort();
    pairs.join(", ")
}

/// Runs every check, then fails once with every failure: a deployment runs many scenarios, and
/// one failing must not hide the others.
#[derive(Debug, Default)]
pub struct Checks {
    failures: Vec<String>,
    passed: Vec<String>,
}

impl Checks {
    /// Runs one named check.
    pub fn check(&mut self, name: &str, f: impl FnOnce() -> Result<()>) {
        let start = Instant::now();
        match f() {
            Ok(()) => {
                eprintln!("ok   {name} ({:.1} s)", start.elapsed().as_secs_f64());
                self.passed.push(name.to_owned());
            }
            Err(e) => {
                eprintln!("FAIL {name}: {e:#}");
                self.failures.push(format!("{name}: {e:#}"));
            }
        }
    }

    /// Fails with every failure, if there was one.
    pub fn finish(self) -> Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        bail!(
            "{} of {} checks failed:\n\n{}",
            self.failures.len(),
            self.failures.len() + self.passed.len(),
            self.failures.join("\n\n")
        )
    }
}

/// An RFC 3339 timestamp as the REST API and task logs give it, in seconds since the epoch.
pub fn unix_seconds(ts: Option<&str>) -> Result<f64> {
    let s = ts.context("no timestamp")?;
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("parsing timestamp {s:?}"))?;
    Ok(t.unix_timestamp_nanos() as f64 / 1e9)
}
