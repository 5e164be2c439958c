//! The Python venvs holding each supported Airflow release ([`Release`]): the whole of
//! `apache-airflow` (api-server, scheduler, dag-processor, Celery) with its task SDK, every
//! package pinned in `tests/harness/airflow-<release>.txt`.
//!
//! Every test process asks for one; nextest runs each test in its own process, concurrently, so
//! creation is guarded by an exclusive lock on a file next to the venv. The first process
//! creates the venv and installs `tests/harness/requirements.txt`; a marker file written after a
//! successful install (holding the requirements it was made from) makes every later call a
//! couple of `stat`s and one file read. A failed install is an error that says how to fix it:
//! the tests never skip silently.

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail, ensure};

/// An Airflow release the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Release {
    /// `apache-airflow==3.3.2` with `apache-airflow-task-sdk==1.3.2`: what users run today.
    V3_3,
    /// `apache-airflow==3.4.0b2` with `apache-airflow-task-sdk==1.4.0b2`: the next release.
    V3_4,
}

impl Release {
    /// Every supported release, oldest first.
    pub const ALL: [Release; 2] = [Release::V3_3, Release::V3_4];

    /// `"3.3"` or `"3.4"`: names the venv and the requirements file.
    pub fn name(self) -> &'static str {
        match self {
            Release::V3_3 => "3.3",
            Release::V3_4 => "3.4",
        }
    }

    /// The `apache-airflow` version pinned for this release.
    pub fn airflow_version(self) -> &'static str {
        match self {
            Release::V3_3 => "3.3.2",
            Release::V3_4 => "3.4.0b2",
        }
    }

    /// The `apache-airflow-task-sdk` version pinned for this release.
    pub fn task_sdk_version(self) -> &'static str {
        match self {
            Release::V3_3 => "1.3.2",
            Release::V3_4 => "1.4.0b2",
        }
    }

    /// The pinned requirements (`tests/harness/airflow-<release>.txt`).
    pub fn requirements_file(self) -> PathBuf {
        crate::harness_dir().join(format!("airflow-{}.txt", self.name()))
    }

    /// Where the tests keep this release's venv: `<target>/airflow-venv-<release>`.
    pub fn venv_dir(self) -> PathBuf {
        crate::target_dir().join(format!("airflow-venv-{}", self.name()))
    }

    /// The environment variable that names an existing interpreter for this release
    /// (`AIRFLOW_E2E_PYTHON` for 3.3, `AIRFLOW_E2E_PYTHON_3_4` for 3.4).
    pub fn python_env(self) -> &'static str {
        match self {
            Release::V3_3 => PYTHON_ENV,
            Release::V3_4 => "AIRFLOW_E2E_PYTHON_3_4",
        }
    }
}

/// The task SDK version of the default release ([`Release::V3_3`]).
pub const TASK_SDK_VERSION: &str = "1.3.2";

/// Environment variable naming an existing 3.3 interpreter to use instead of creating a venv.
pub const PYTHON_ENV: &str = "AIRFLOW_E2E_PYTHON";

/// Environment variable naming the interpreter that creates the venv (default `python3`).
pub const BASE_PYTHON_ENV: &str = "AIRFLOW_E2E_BASE_PYTHON";

const MARKER: &str = ".airflow-e2e-ready";

/// The Python interpreter of the default release's venv ([`Release::V3_3`]).
pub fn python() -> Result<PathBuf> {
    python_for(Release::V3_3)
}

/// The Python interpreter of a venv that has `release` installed.
///
/// Uses the release's [`Release::python_env`] variable if set (and checks that it has the right
/// task SDK version); otherwise creates or reuses [`Release::venv_dir`]. The result is cached for
/// the process.
pub fn python_for(release: Release) -> Result<PathBuf> {
    type Cached = OnceLock<std::result::Result<PathBuf, String>>;
    static PYTHON: [Cached; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = &PYTHON[Release::ALL.iter().position(|&r| r == release).unwrap_or(0)];
    slot.get_or_init(|| find_or_create(release).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// Where the tests keep the default release's venv.
pub fn venv_dir() -> PathBuf {
    Release::V3_3.venv_dir()
}

/// The default release's pinned requirements file.
pub fn requirements_file() -> PathBuf {
    Release::V3_3.requirements_file()
}

fn find_or_create(release: Release) -> Result<PathBuf> {
    let var = release.python_env();
    if let Some(python) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let python = PathBuf::from(python);
        check_interpreter(&python, release).with_context(|| {
            format!(
                "{var}={} is not usable: it must be the python of a venv with apache-airflow-task-sdk=={} (unset it to let the tests create {})",
                python.display(),
                release.task_sdk_version(),
                release.venv_dir().display()
            )
        })?;
        return Ok(python);
    }
    ensure_venv_for(&release.venv_dir(), &release.requirements_file(), release)
}

/// The interpreter inside a venv directory.
pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Creates `venv` with the packages of `requirements` (which pin `release`) unless a complete
/// one is already there, using `$AIRFLOW_E2E_BASE_PYTHON` or `python3` to create it.
///
/// Safe to call from many processes at once: they serialize on `<venv>.lock`.
pub fn ensure_venv_for(venv: &Path, requirements: &Path, release: Release) -> Result<PathBuf> {
    let base: OsString = std::env::var_os(BASE_PYTHON_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    ensure_venv_with(venv, requirements, Path::new(&base), release)
}

/// [`ensure_venv_for`] with an explicit interpreter to create the venv with.
pub fn ensure_venv_with(
    venv: &Path,
    requirements: &Path,
    base_python: &Path,
    release: Release,
) -> Result<PathBuf> {
    ensure_venv(
        venv,
        requirements,
        base_python,
        &|python| check_interpreter(python, release),
        &format!("the Airflow {} venv", release.airflow_version()),
        release.python_env(),
    )
}

/// Environment variable naming an existing `moto_server` (an S3-compatible server from PyPI's
/// `moto`) to use instead of creating [`moto_venv_dir`].
pub const MOTO_SERVER_ENV: &str = "AIRFLOW_E2E_MOTO_SERVER";

/// Where the tests keep the venv holding `moto_server`: `<target>/moto-venv`.
pub fn moto_venv_dir() -> PathBuf {
    crate::target_dir().join("moto-venv")
}

/// `moto_server`, the S3-compatible server the object-store checks write to: `$AIRFLOW_E2E_MOTO_SERVER`,
/// else from a small venv of its own (`tests/harness/moto.txt`, 26 pinned packages, created
/// once like the Airflow venvs; kept apart so that they stay exactly Airflow's pins).
pub fn moto_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(MOTO_SERVER_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let base: OsString = std::env::var_os(BASE_PYTHON_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    let venv = moto_venv_dir();
    let server = venv.join("bin").join("moto_server");
    let check = |_: &Path| -> Result<()> {
        ensure!(server.is_file(), "{} was not installed", server.display());
        Ok(())
    };
    ensure_venv(
        &venv,
        &crate::harness_dir().join("moto.txt"),
        Path::new(&base),
        &check,
        "the moto venv",
        MOTO_SERVER_ENV,
    )?;
    Ok(server)
}

/// Creates `venv` from `requirements` unless a complete one is there; `check` vets the new
/// interpreter. Serialized across processes on `<venv>.lock`.
fn ensure_venv(
    venv: &Path,
    requirements: &Path,
    base_python: &Path,
    check: &dyn Fn(&Path) -> Result<()>,
    what: &str,
    env_var: &str,
) -> Result<PathBuf> {
    let wanted = fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let python = venv_python(venv);
    let marker = venv.join(MARKER);
    // Fast path without the lock: a finished venv is never modified again.
    if is_ready(&marker, &wanted, &python) {
        return Ok(python);
    }
    let parent = venv.parent().context("venv path has no parent")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let mut lock_path = venv.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = File::create(PathBuf::from(&lock_path))
        .with_context(|| format!("creating lock file {}", Path::new(&lock_path).display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", Path::new(&lock_path).display()))?;
    // Another process may have finished while we waited.
    if is_ready(&marker, &wanted, &python) {
        return Ok(python);
    }
    create(venv, requirements, &python, base_python, check).with_context(|| {
        format!(
            "could not create {what} at {venv} (needs python3 >= 3.10 with the venv module, and network access to PyPI).\n\
             Fix the cause above, or create one yourself and point the tests at it:\n  \
             python3 -m venv {venv} && {venv}/bin/pip install -r {req}\n  \
             export {env_var}=<its interpreter or server>",
            venv = venv.display(),
            req = requirements.display(),
        )
    })?;
    fs::write(&marker, &wanted).with_context(|| format!("writing {}", marker.display()))?;
    drop(lock);
    Ok(python)
}

fn is_ready(marker: &Path, wanted: &str, python: &Path) -> bool {
    python.is_file() && fs::read_to_string(marker).is_ok_and(|m| m == wanted)
}

fn create(
    venv: &Path,
    requirements: &Path,
    python: &Path,
    base: &Path,
    check: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    if venv.exists() {
        fs::remove_dir_all(venv)
            .with_context(|| format!("removing the incomplete venv {}", venv.display()))?;
    }
    run(Command::new(base).arg("-m").arg("venv").arg(venv)).with_context(|| {
        format!(
            "`{} -m venv` failed (set {BASE_PYTHON_ENV} to another interpreter, or install python3-venv)",
            base.display()
        )
    })?;
    run(Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "-r",
        ])
        .arg(requirements))
    .context("`pip install` of the pinned requirements failed")?;
    check(python)
}

/// Checks that `python` runs and has the release's task-sdk version installed.
fn check_interpreter(python: &Path, release: Release) -> Result<()> {
    let out = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('apache-airflow-task-sdk'))",
        ])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot import the task SDK's metadata: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if version != release.task_sdk_version() {
        bail!(
            "{} has apache-airflow-task-sdk {version}, the tests need {}",
            python.display(),
            release.task_sdk_version()
        );
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("spawning {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} exited with {}:\n{}{}",
            out.status,
            tail(&out.stdout),
            tail(&out.stderr)
        );
    }
    Ok(())
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(30);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_creation_says_how_to_fix_it_and_leaves_no_marker() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let err = ensure_venv_with(
            &venv,
            &requirements_file(),
            Path::new("/nonexistent/python3"),
            Release::V3_3,
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("could not create the Airflow 3.3.2 venv"),
            "{text}"
        );
        assert!(text.contains(PYTHON_ENV), "{text}");
        assert!(text.contains(BASE_PYTHON_ENV), "{text}");
        assert!(text.contains("airflow-3.3.txt"), "{text}");
        assert!(!venv.join(MARKER).exists());
    }

    #[test]
    fn requirements_pin_the_tested_versions() {
        for release in Release::ALL {
            let text = fs::read_to_string(release.requirements_file()).unwrap();
            for pin in [
                format!("apache-airflow=={}", release.airflow_version()),
                format!("apache-airflow-task-sdk=={}", release.task_sdk_version()),
            ] {
                assert!(text.lines().any(|l| l.trim() == pin), "{release:?}: {pin}");
            }
        }
        assert_eq!(Release::V3_3.task_sdk_version(), TASK_SDK_VERSION);
    }
}
