//! The Python venv holding the released `apache-airflow-task-sdk`.
//!
//! Every test process asks for it; nextest runs each test in its own process, concurrently, so
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

use anyhow::{Context, Result, bail};

/// The package the tests run against, as pinned in `tests/harness/requirements.txt`.
pub const TASK_SDK_VERSION: &str = "1.3.2";

/// Environment variable naming an existing interpreter to use instead of creating a venv.
pub const PYTHON_ENV: &str = "AIRFLOW_E2E_PYTHON";

/// Environment variable naming the interpreter that creates the venv (default `python3`).
pub const BASE_PYTHON_ENV: &str = "AIRFLOW_E2E_BASE_PYTHON";

const MARKER: &str = ".airflow-e2e-ready";

/// The Python interpreter of a venv that has `apache-airflow-task-sdk==1.3.2` installed.
///
/// Uses `$AIRFLOW_E2E_PYTHON` if set (and checks that it has the right package version);
/// otherwise creates or reuses `<target>/airflow-venv`. The result is cached for the process.
pub fn python() -> Result<PathBuf> {
    static PYTHON: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| find_or_create().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// Where the tests keep their venv: `<target>/airflow-venv`.
pub fn venv_dir() -> PathBuf {
    crate::target_dir().join("airflow-venv")
}

/// The pinned requirements file (`tests/harness/requirements.txt`).
pub fn requirements_file() -> PathBuf {
    crate::harness_dir().join("requirements.txt")
}

fn find_or_create() -> Result<PathBuf> {
    if let Some(python) = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) {
        let python = PathBuf::from(python);
        check_interpreter(&python).with_context(|| {
            format!(
                "{PYTHON_ENV}={} is not usable: it must be the python of a venv with apache-airflow-task-sdk=={TASK_SDK_VERSION} (unset it to let the tests create {})",
                python.display(),
                venv_dir().display()
            )
        })?;
        return Ok(python);
    }
    ensure_venv(&venv_dir(), &requirements_file())
}

/// The interpreter inside a venv directory.
pub fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Creates `venv` with the packages of `requirements` unless a complete one is already there,
/// using `$AIRFLOW_E2E_BASE_PYTHON` or `python3` to create it.
///
/// Safe to call from many processes at once: they serialize on `<venv>.lock`.
pub fn ensure_venv(venv: &Path, requirements: &Path) -> Result<PathBuf> {
    let base: OsString = std::env::var_os(BASE_PYTHON_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    ensure_venv_with(venv, requirements, Path::new(&base))
}

/// [`ensure_venv`] with an explicit interpreter to create the venv with.
pub fn ensure_venv_with(venv: &Path, requirements: &Path, base_python: &Path) -> Result<PathBuf> {
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
    create(venv, requirements, &python, base_python).with_context(|| {
        format!(
            "could not create the Airflow venv at {venv} (needs python3 >= 3.10 with the venv module, and network access to PyPI).\n\
             Fix the cause above, or create one yourself and point the tests at it:\n  \
             python3 -m venv {venv} && {venv}/bin/pip install -r {req}\n  \
             export {PYTHON_ENV}={venv}/bin/python",
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

fn create(venv: &Path, requirements: &Path, python: &Path, base: &Path) -> Result<()> {
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
    .context("`pip install` of the pinned Airflow task SDK failed")?;
    check_interpreter(python)
}

/// Checks that `python` runs and has the pinned task-sdk version installed.
fn check_interpreter(python: &Path) -> Result<()> {
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
    if version != TASK_SDK_VERSION {
        bail!(
            "{} has apache-airflow-task-sdk {version}, the tests need {TASK_SDK_VERSION}",
            python.display()
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
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("could not create the Airflow venv"), "{text}");
        assert!(text.contains(PYTHON_ENV), "{text}");
        assert!(text.contains(BASE_PYTHON_ENV), "{text}");
        assert!(text.contains("requirements.txt"), "{text}");
        assert!(!venv.join(MARKER).exists());
    }

    #[test]
    fn requirements_pin_the_tested_version() {
        let text = fs::read_to_string(requirements_file()).unwrap();
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("apache-airflow-task-sdk=={TASK_SDK_VERSION}")),
            "{text}"
        );
    }
}
