#![doc = include_str!("../README.md")]
//!
//! # Where things are
//!
//! [`build`] is the one call most build scripts need; [`Builder`] takes the options;
//! [`sidecar`] says how the nested host build is isolated from the outer one; the record is
//! [`Record`], and which files are inputs is [`airflow_inputs`]' documentation.
// The README's example is a build script: its `fn main` is the point.
#![allow(clippy::needless_doctest_main)]

use std::path::{Path, PathBuf};

use airflow_bundle::record::{EnvSignature, RECORD_FILE_NAME, Record, SidecarOutput};

use airflow_inputs::manifest::PackageManifest;
use airflow_inputs::{DIGEST_SCHEME, find_workspace_lock, package_inputs};

pub mod sidecar;

pub use sidecar::NESTED_GUARD_VAR;

/// The default name of the variable whose value goes into the environment signature.
pub const DEFAULT_SIGNATURE_VAR: &str = "AIRFLOW_BUILD_ENV_SIGNATURE";

/// The variable that controls the sidecar: `auto` (default), `always` or `never`.
pub const SIDECAR_VAR: &str = "AIRFLOW_BUILD_SIDECAR";

/// Overrides where the sidecar's target directory is (default `<target dir>/airflow-sidecar`).
pub const SIDECAR_DIR_VAR: &str = "AIRFLOW_BUILD_SIDECAR_DIR";

/// The cfg set on the bundle crate when a record was written; `airflow_sdk::main!` checks it.
pub const RECORD_CFG: &str = "airflow_build_record";

/// When the host sidecar runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidecarMode {
    /// Only when the target is not the host (overridable by `AIRFLOW_BUILD_SIDECAR`).
    #[default]
    Auto,
    /// Always, also for host builds.
    Always,
    /// Never.
    Never,
}

impl SidecarMode {
    fn parse(s: &str) -> Result<SidecarMode, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(SidecarMode::Auto),
            "always" | "1" | "true" | "yes" => Ok(SidecarMode::Always),
            "never" | "0" | "false" | "no" => Ok(SidecarMode::Never),
            other => Err(Error::BadVar {
                var: SIDECAR_VAR,
                value: other.to_owned(),
                expected: "auto, always or never",
            }),
        }
    }
}

/// Options for the build-script helper.
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until `run` or `build_or_exit` is called"]
pub struct Builder {
    extra_inputs: Vec<String>,
    signature_var: Option<String>,
    sidecar: Option<SidecarMode>,
    bins: Vec<String>,
}

/// Why the build-script helper failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Selecting or hashing the package's inputs failed.
    #[error(transparent)]
    Inputs(#[from] airflow_inputs::Error),
    /// A variable cargo always sets for build scripts is missing: not run by cargo.
    #[error(
        "environment variable {0} is not set: airflow-build must run from a build script (build.rs) under cargo"
    )]
    NotInBuildScript(&'static str),
    /// A variable cargo sets for build scripts holds a path (or name) that is not UTF-8.
    #[error(
        "environment variable {var} is not UTF-8 ({value}): airflow-build records the package's \
         paths as UTF-8, and `cargo metadata` (which `cargo airflow pack` reads) cannot describe a \
         package there either; move the package to a directory whose path is UTF-8"
    )]
    NotUtf8 {
        /// The variable.
        var: &'static str,
        /// Its value, with the bytes that are not UTF-8 escaped.
        value: String,
    },
    /// A variable with a value we do not understand.
    #[error("{var}={value:?} is not understood (expected {expected})")]
    BadVar {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// `$RUSTC -vV` (the compiler's version, part of the environment signature) failed.
    #[error(
        "cannot get the compiler version for the environment signature: {}; check that RUSTC (or the `rustc` on PATH) is a Rust compiler that runs",
        airflow_process::error_line::Chain(.source)
    )]
    Rustc {
        /// What failed; it names the command.
        #[source]
        source: airflow_process::toolchain::ToolchainError,
    },
    /// The nested cargo could not be started or read.
    #[error("sidecar: cannot run `{command}`: {source}")]
    SidecarSpawn {
        /// The command.
        command: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The nested host build failed.
    #[error(
        "sidecar: the host build of this package failed ({status}); its errors are above. Command: {command}. Set AIRFLOW_BUILD_SIDECAR=never to skip the sidecar (the binary then carries no metadata)"
    )]
    SidecarBuild {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
    },
    /// The nested build produced no bin of this package.
    #[error(
        "sidecar: the host build produced no bin target of this package; a bundle crate needs a bin that calls airflow_sdk::main!"
    )]
    SidecarNoBins,
    /// A host-built bin did not answer `--airflow-metadata --format json`.
    #[error(
        "sidecar: bin `{bin}` did not print its metadata: {message}. If this bin is not a bundle, list the bundle bins in [package.metadata.airflow] bins = [...]"
    )]
    SidecarRun {
        /// The bin.
        bin: String,
        /// What went wrong.
        message: String,
    },
    /// A host-built bin refused its own dag declarations at `--airflow-metadata`.
    #[error(
        "sidecar: bin `{bin}` refuses its dag declarations: {problems}; fix them in the bundle's Rust code and build again"
    )]
    SidecarDeclarations {
        /// The bin.
        bin: String,
        /// What it said, naming each dag and task.
        problems: String,
    },
    /// The record could not be encoded.
    #[error("cannot encode the build record: {0}")]
    Record(#[from] airflow_bundle::record::RecordError),
}

/// Reads a variable cargo sets for build scripts.
fn cargo_var(name: &'static str) -> Result<String, Error> {
    cargo_value(name, std::env::var(name))
}

/// The value of `name` as [`std::env::var`] read it: unset and not UTF-8 are different problems.
fn cargo_value(
    name: &'static str,
    value: Result<String, std::env::VarError>,
) -> Result<String, Error> {
    match value {
        Ok(v) => Ok(v),
        Err(std::env::VarError::NotPresent) => Err(Error::NotInBuildScript(name)),
        Err(std::env::VarError::NotUnicode(raw)) => Err(Error::NotUtf8 {
            var: name,
            value: format!("{:?}", std::path::Path::new(&raw)),
        }),
    }
}

/// Reads a user variable, announcing it with `rerun-if-env-changed`.
fn user_var(name: &str) -> Option<String> {
    println!("cargo::rerun-if-env-changed={name}");
    std::env::var(name).ok()
}

/// Writes `content` to `path` unless it already holds exactly that (keeps mtimes stable).
pub fn write_if_changed(path: &Path, content: &[u8]) -> Result<bool, Error> {
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(false);
    }
    let tmp = path.with_extension("tmp");
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, content).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(true)
}

/// The enabled features, named as in `Cargo.toml`, sorted: cargo's own list in
/// `CARGO_CFG_FEATURE` (comma-separated, unset when none is enabled). Unlike the
/// `CARGO_FEATURE_<NAME>` variables it keeps the exact names (`a-b` and `a_b` differ), names the
/// implicit features of optional dependencies wherever they are declared (target-specific
/// tables too), and no `dep:` name that is not a feature.
fn enabled_features(cfg_feature: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = cfg_feature
        .unwrap_or_default()
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// SHA-256 of an environment signature: a domain prefix, then its canonical JSON.
pub fn env_signature_digest(sig: &EnvSignature) -> String {
    let mut h = airflow_bundle::sha256::Sha256::new();
    h.update(b"airflow-build/env-signature\0");
    h.update(&serde_json::to_vec(sig).unwrap_or_default());
    airflow_bundle::footer::hex(&h.finalize())
}

/// The outer build's target directory, derived from `OUT_DIR`
/// (`<target dir>[/<triple>]/<profile>/build/<pkg>-<hash>/out`).
fn outer_target_dir(out_dir: &Path, target: &str) -> Option<PathBuf> {
    let base = out_dir.ancestors().nth(4)?;
    if base.file_name().and_then(|n| n.to_str()) == Some(target) {
        base.parent().map(Path::to_path_buf)
    } else {
        Some(base.to_path_buf())
    }
}

impl Builder {
    /// Default options.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds extra inputs (globs relative to the package directory, or literal paths), on top of
    /// `[package.metadata.airflow] inputs`.
    pub fn extra_inputs<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_inputs
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Names the variable whose value goes into the environment signature (default
    /// `AIRFLOW_BUILD_ENV_SIGNATURE`).
    pub fn env_signature_var(mut self, name: impl Into<String>) -> Self {
        self.signature_var = Some(name.into());
        self
    }

    /// Sets the sidecar mode. `AIRFLOW_BUILD_SIDECAR`, when set, wins over this.
    pub fn sidecar(mut self, mode: SidecarMode) -> Self {
        self.sidecar = Some(mode);
        self
    }

    /// Restricts the sidecar to these bins (default: `[package.metadata.airflow] bins`, or every
    /// bin of the package).
    pub fn sidecar_bins<I, S>(mut self, bins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bins.extend(bins.into_iter().map(Into::into));
        self
    }

    /// Runs the helper, printing `cargo::` directives on stdout, and returns the record it wrote.
    pub fn run(self) -> Result<Record, Error> {
        let manifest_dir = PathBuf::from(cargo_var("CARGO_MANIFEST_DIR")?);
        let out_dir = PathBuf::from(cargo_var("OUT_DIR")?);
        let target = cargo_var("TARGET")?;
        let host = cargo_var("HOST")?;
        let profile = cargo_var("PROFILE")?;
        let package = cargo_var("CARGO_PKG_NAME")?;
        let version = cargo_var("CARGO_PKG_VERSION")?;

        // 1. Inputs.
        let manifest = PackageManifest::read(&manifest_dir)?;
        let lock = find_workspace_lock(&manifest_dir);
        let digests = package_inputs(&manifest_dir, lock.as_deref(), &self.extra_inputs)?;
        for f in &digests.watched_files {
            println!("cargo::rerun-if-changed={}", f.display());
        }
        for d in &digests.watched_dirs {
            println!("cargo::rerun-if-changed={}", d.display());
        }
        if lock.is_none() {
            // A lock file appearing later must rerun us: watch where cargo will put it.
            println!(
                "cargo::rerun-if-changed={}",
                manifest_dir.join("Cargo.lock").display()
            );
        }

        // 2. Environment signature.
        let sig_var = self
            .signature_var
            .clone()
            .unwrap_or_else(|| DEFAULT_SIGNATURE_VAR.to_owned());
        let env = EnvSignature {
            digest_scheme: DIGEST_SCHEME,
            target: target.clone(),
            profile: profile.clone(),
            features: enabled_features(std::env::var("CARGO_CFG_FEATURE").ok().as_deref()),
            rustc_version: airflow_process::toolchain::rustc_version()
                .map_err(|source| Error::Rustc { source })?,
            user: user_var(&sig_var),
            user_var: sig_var,
        };
        let env_signature = env_signature_digest(&env);

        // 3. Sidecar.
        let nested = user_var(NESTED_GUARD_VAR).is_some_and(|v| !v.is_empty());
        let mode = match user_var(SIDECAR_VAR) {
            Some(v) => SidecarMode::parse(&v)?,
            None => self.sidecar.unwrap_or_default(),
        };
        let want = match mode {
            SidecarMode::Always => true,
            SidecarMode::Never => false,
            SidecarMode::Auto => target != host,
        };
        let offline =
            user_var("CARGO_NET_OFFLINE").is_some_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
        let dir_override = user_var(SIDECAR_DIR_VAR);
        let sidecar = if want && !nested {
            let target_dir = match dir_override {
                Some(d) => PathBuf::from(d),
                None => outer_target_dir(&out_dir, &target)
                    .unwrap_or_else(|| out_dir.clone())
                    .join("airflow-sidecar"),
            };
            let bins = if self.bins.is_empty() {
                manifest.airflow_bins.clone()
            } else {
                self.bins.clone()
            };
            let spec = sidecar::SidecarSpec {
                // The cargo running this build: the nested build is the same toolchain.
                cargo: airflow_process::toolchain::cargo().into(),
                manifest_path: manifest_dir.join("Cargo.toml"),
                host: host.clone(),
                features: env.features.clone(),
                bins,
                target_dir,
                offline,
            };
            let result = sidecar::run(&spec)?;
            for src in &result.sources {
                if !digests.watched_files.contains(src) {
                    println!("cargo::rerun-if-changed={}", src.display());
                }
            }
            Some(SidecarOutput {
                host: host.clone(),
                metadata_json: result.metadata_json,
            })
        } else {
            None
        };

        // 4. The record.
        let record = Record {
            package,
            version,
            target,
            profile,
            inputs: digests.inputs,
            files: digests.files,
            builder_extra_inputs: self.extra_inputs,
            env,
            env_signature,
            sidecar,
        };
        let bytes = airflow_bundle::record::encode(&record)?;
        write_if_changed(&out_dir.join(RECORD_FILE_NAME), &bytes)?;
        println!("cargo::rustc-check-cfg=cfg({RECORD_CFG})");
        println!("cargo::rustc-cfg={RECORD_CFG}");
        Ok(record)
    }

    /// Runs the helper and ends the build script with a clear message if it fails.
    pub fn build_or_exit(self) {
        if let Err(e) = self.run() {
            eprintln!("error: airflow-build: {e}");
            println!("cargo::error=airflow-build: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs the helper with default options; the one line a bundle's `build.rs` needs.
pub fn build() {
    Builder::new().build_or_exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A build script under a directory whose path is not UTF-8 is told so, not that cargo set
    /// no CARGO_MANIFEST_DIR.
    #[cfg(unix)]
    #[test]
    fn a_variable_that_is_not_utf8_is_not_called_unset() {
        use std::os::unix::ffi::OsStringExt;
        let raw = std::ffi::OsString::from_vec(b"/tmp/bad\xff/crate".to_vec());
        let e = cargo_value(
            "CARGO_MANIFEST_DIR",
            Err(std::env::VarError::NotUnicode(raw)),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "environment variable CARGO_MANIFEST_DIR is not UTF-8 (\"/tmp/bad\\xFF/crate\")"
            ),
            "{e}"
        );
        assert!(
            e.contains("move the package to a directory whose path is UTF-8"),
            "{e}"
        );
        assert!(!e.contains("not set"), "{e}");
        let unset = cargo_value("OUT_DIR", Err(std::env::VarError::NotPresent)).unwrap_err();
        assert!(unset.to_string().contains("OUT_DIR is not set"), "{unset}");
    }

    #[test]
    fn a_compiler_that_cannot_run_is_named_with_its_cause_and_what_to_do() {
        use airflow_process::{child::RunError, toolchain::ToolchainError};
        let e = Error::Rustc {
            source: ToolchainError::Run {
                command: "/no/rustc -vV".into(),
                source: RunError::Spawn {
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                },
            },
        };
        assert_eq!(
            e.to_string(),
            "cannot get the compiler version for the environment signature: `/no/rustc -vV` \
             failed: cannot start it: entity not found; check that RUSTC (or the `rustc` on \
             PATH) is a Rust compiler that runs"
        );
    }

    #[test]
    fn features_come_from_cargo_cfg_feature() {
        assert!(enabled_features(None).is_empty());
        assert!(enabled_features(Some("")).is_empty());
        assert_eq!(
            enabled_features(Some("with-opt,default,a_b,a-b")),
            ["a-b", "a_b", "default", "with-opt"]
        );
    }
}
