//! Bundles made directly with `airflow-bundle` over a real executable, for tests that need
//! hand-made or deliberately broken bundles (and that must not depend on the CLI).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use airflow_bundle::{Manifest, Metadata};
use anyhow::{Context, Result, bail};

/// The package (and binary) name of the workspace's example bundle.
pub const EXAMPLE_PACKAGE: &str = "example-bundle";

/// Builds the `example-bundle` executable (release, as `cargo airflow pack` builds by default)
/// once per process and returns its path. It is cargo's artifact: never modify it.
pub fn example_executable() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        crate::package_env_vars()
            .into_iter()
            .fold(escargot::CargoBuild::new(), escargot::CargoBuild::env_remove)
            .manifest_path(crate::workspace_manifest())
            .package(EXAMPLE_PACKAGE)
            .bin(EXAMPLE_PACKAGE)
            .release()
            .run()
            .map(|run| run.path().to_owned())
            .map_err(|e| format!("building {EXAMPLE_PACKAGE} with cargo failed (run `cargo build --release -p {EXAMPLE_PACKAGE}` to see the compiler errors): {e}"))
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

/// The root source file of the example bundle.
pub fn example_source() -> PathBuf {
    crate::workspace_root()
        .join(EXAMPLE_PACKAGE)
        .join("src")
        .join("main.rs")
}

/// What an executable says about itself: `EXE --airflow-metadata --format json`.
pub fn metadata_of(executable: &Path) -> Result<Metadata> {
    metadata_via(&[], &[], executable)
}

/// [`metadata_of`] through an emulator: `RUNNER... EXE --airflow-metadata --format json`, with
/// extra environment variables (for a foreign executable under qemu or wine).
pub fn metadata_via(
    runner: &[&str],
    envs: &[(OsString, OsString)],
    executable: &Path,
) -> Result<Metadata> {
    let mut cmd = match runner.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(executable);
            c
        }
        None => Command::new(executable),
    };
    let out = cmd
        .args(["--airflow-metadata", "--format", "json"])
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {runner:?} {}", executable.display()))?;
    if !out.status.success() {
        bail!(
            "{runner:?} {} --airflow-metadata --format json exited with {}: {}",
            executable.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout).context("metadata is not UTF-8")?;
    // wine may translate line endings; the JSON itself is what matters.
    Metadata::from_json(text.trim()).with_context(|| format!("parsing metadata {text}"))
}

/// The manifest the example bundle should carry: its own metadata, source `main.rs`.
pub fn example_manifest() -> Result<Manifest> {
    let metadata = metadata_of(&example_executable()?)?;
    Ok(Manifest::new(metadata, "main.rs".to_owned(), None))
}

/// Writes a bundle at `out` (mode 0755): `executable`, then `source`, the manifest's YAML and
/// the trailer, with `airflow_bundle::write::write_bundle`.
pub fn write_bundle(
    executable: &Path,
    source: &[u8],
    manifest: &Manifest,
    out: &Path,
) -> Result<()> {
    write_bundle_raw(executable, source, manifest.to_yaml().as_bytes(), out)
}

/// Like [`write_bundle`] with manifest bytes as given (to test what the reader does with them).
pub fn write_bundle_raw(
    executable: &Path,
    source: &[u8],
    manifest: &[u8],
    out: &Path,
) -> Result<()> {
    let mut exe =
        File::open(executable).with_context(|| format!("opening {}", executable.display()))?;
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut writer = BufWriter::new(file);
    airflow_bundle::write::write_bundle(&mut exe, &mut writer, source, manifest)
        .with_context(|| format!("writing bundle {}", out.display()))?;
    writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("flushing {}", out.display()))?
        .sync_all()?;
    set_mode(out, 0o755)
}

/// Writes the example bundle (its real executable, source and manifest) into `dir` as
/// `example-bundle` and returns the path.
pub fn example_bundle_in(dir: &Path) -> Result<PathBuf> {
    let source = fs::read(example_source())?;
    let out = dir.join(EXAMPLE_PACKAGE);
    write_bundle(&example_executable()?, &source, &example_manifest()?, &out)?;
    Ok(out)
}

/// Sets the file's permission bits.
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {mode:o} {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Inverts every bit of the byte at `offset`.
pub fn flip_byte(path: &Path, offset: u64) -> Result<()> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut b = [0u8];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut b)?;
    b[0] = !b[0];
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(&b)?;
    f.sync_all()?;
    Ok(())
}

/// Copies `from` to `to`, keeping the permission bits.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}
