//! The host sidecar: the same package, bins and features built for the host by a nested cargo,
//! then run with `--airflow-metadata --format json`.
//!
//! Precautions (nested cargo from a build script has known deadlocks and leaks):
//! * its own persistent target directory (`<outer target dir>/airflow-sidecar`, so repeated
//!   builds are incremental), passed as `--target-dir` and as `CARGO_BUILD_BUILD_DIR`;
//! * the package's dev profile without debug info (`CARGO_PROFILE_DEV_DEBUG=false`): the host
//!   bins are run once for their metadata and never shipped;
//! * `--locked`, `--offline` when the outer build is offline (`CARGO_NET_OFFLINE`), and an explicit
//!   `--target <host>`;
//! * the recursion guard [`NESTED_GUARD_VAR`]: the nested build's own build script sees it and
//!   never starts another sidecar;
//! * the variables cargo sets for *this* build script (`TARGET`, `CARGO_CFG_*`,
//!   `CARGO_FEATURE_*`, `CARGO_ENCODED_RUSTFLAGS`, ...) and the flags meant for the outer target
//!   (`RUSTFLAGS`, `CARGO_BUILD_TARGET`, `CARGO_UNSTABLE_*`, such as `-Zbuild-std` through
//!   `CARGO_UNSTABLE_BUILD_STD`) are removed, and `build.rustflags` from config files is
//!   overridden with an empty `CARGO_BUILD_RUSTFLAGS`; `RUSTC` (the outer build's
//!   compiler, e.g. Debian's rustc) and `RUSTC_BOOTSTRAP` are kept, so the nested host build uses
//!   the same compiler, without `-Zbuild-std`;
//! * the nested build's stdout (JSON messages) is parsed, never forwarded: cargo reads directives
//!   (`cargo::`, and the older `cargo:`) from this build script's stdout. Its stderr (rendered
//!   diagnostics) is inherited. It is the same cargo as the outer build's (`$CARGO`), trusted to
//!   end, so its messages are read as they come ([`airflow_process::lines`], as cargo-airflow
//!   reads its own build's), with no timeout;
//! * each host-built bin then runs as `cargo airflow pack` runs a bundle binary, through
//!   [`airflow_process::child`]: stdin closed, a timeout (it is killed when it expires), at most
//!   16 MiB of stdout, and the end of its stderr quoted when it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use airflow_process::child::{self, Limits};
use airflow_process::error_line::chain;
use airflow_process::lines::{self, Interrupted, LineLimits, LinesError};

use crate::Error;

/// Set in the nested build's environment; a build script that sees it does not start a sidecar.
pub const NESTED_GUARD_VAR: &str = "AIRFLOW_BUILD_NESTED";

/// What one sidecar binary may take and print for `--airflow-metadata`: the output limits of
/// cargo-airflow's introspection (`cargo_airflow::introspect`), with twice its 30 s, since the
/// machine is busy building while it runs.
const METADATA_LIMITS: Limits = Limits {
    timeout: Duration::from_secs(60),
    max_stdout: 16 * 1024 * 1024,
    stderr_tail: 64 * 1024,
};

/// How the nested build's messages are read: no timeout (the same cargo as the outer build's,
/// trusted to end), and lines up to 64 MiB (cargo's longest are build-script reports).
const MESSAGE_LIMITS: LineLimits = LineLimits {
    max_line: 64 * 1024 * 1024,
    timeout: None,
};

/// What the sidecar needs to know.
#[derive(Debug, Clone)]
pub(crate) struct SidecarSpec {
    pub cargo: PathBuf,
    pub manifest_path: PathBuf,
    pub host: String,
    pub features: Vec<String>,
    pub bins: Vec<String>,
    pub target_dir: PathBuf,
    pub offline: bool,
}

/// Variables removed from the nested cargo's environment (exact names).
const REMOVED_VARS: &[&str] = &[
    "TARGET",
    "HOST",
    "OUT_DIR",
    "OPT_LEVEL",
    "DEBUG",
    "PROFILE",
    "NUM_JOBS",
    "RUSTC_LINKER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_TARGET_DIR",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_RUSTC_CURRENT_DIR",
];

/// Prefixes of variables removed from the nested cargo's environment.
const REMOVED_PREFIXES: &[&str] = &[
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
    "CARGO_UNSTABLE_",
    "DEP_",
];

/// The environment the nested cargo gets: ours, minus what belongs to the outer target.
fn nested_command(spec: &SidecarSpec) -> Command {
    let mut cmd = Command::new(&spec.cargo);
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        let outer_target_specific = k.starts_with("CARGO_TARGET_")
            && k.ends_with("_RUSTFLAGS")
            && !k.starts_with(&format!("CARGO_TARGET_{}_", env_triple(&spec.host)));
        if REMOVED_VARS.contains(&k)
            || REMOVED_PREFIXES.iter().any(|p| k.starts_with(p))
            || outer_target_specific
        {
            cmd.env_remove(k);
        }
    }
    // `build.rustflags` from a config file were meant for the outer target (a host-specific
    // `target.<host>.rustflags` still applies: it takes precedence over this).
    cmd.env("CARGO_BUILD_RUSTFLAGS", "");
    // The host bins only print their metadata, once per build, and are never shipped: debug
    // info is a third of the nested build's CPU time (a cold host build of the example bundle:
    // 196 s of CPU with it, 129 s without) and half its directory (944 MB, 426 MB). This
    // overrides only `debug` of the package's dev profile; a panic still prints its message.
    cmd.env("CARGO_PROFILE_DEV_DEBUG", "false");
    cmd.env(NESTED_GUARD_VAR, "1")
        .env("CARGO_BUILD_BUILD_DIR", &spec.target_dir)
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "never");
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&spec.manifest_path)
        .arg("--target")
        .arg(&spec.host)
        .arg("--target-dir")
        .arg(&spec.target_dir)
        .arg("--locked")
        .arg("--message-format=json-render-diagnostics")
        .arg("--no-default-features");
    if !spec.features.is_empty() {
        cmd.arg("--features").arg(spec.features.join(","));
    }
    if spec.offline {
        cmd.arg("--offline");
    }
    if spec.bins.is_empty() {
        cmd.arg("--bins");
    } else {
        for b in &spec.bins {
            cmd.arg("--bin").arg(b);
        }
    }
    cmd
}

/// `x86_64-unknown-linux-gnu` -> `X86_64_UNKNOWN_LINUX_GNU`.
pub(crate) fn env_triple(triple: &str) -> String {
    triple.to_ascii_uppercase().replace(['-', '.'], "_")
}

/// What the sidecar produced.
#[derive(Debug, Clone)]
pub(crate) struct SidecarResult {
    /// Per bin name, what it printed for `--airflow-metadata --format json`.
    pub metadata_json: BTreeMap<String, String>,
    /// Every source file the host bins were compiled from (from cargo's dep-info), outside
    /// `CARGO_HOME` and the sidecar's target directory: path dependencies such as airflow-sdk
    /// change the metadata too, so the build script must rerun when they change.
    pub sources: BTreeSet<PathBuf>,
}

/// Parses a makefile-style dep-info file (`target: dep dep ...`, spaces escaped with `\`).
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let Some(first) = text.lines().next() else {
        return Vec::new();
    };
    let Some((_, deps)) = first.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathBuf::from(cur));
    }
    out
}

/// Builds the host bins and runs them; see [`SidecarResult`].
pub(crate) fn run(spec: &SidecarSpec) -> Result<SidecarResult, Error> {
    std::fs::create_dir_all(&spec.target_dir).map_err(|source| Error::Io {
        path: spec.target_dir.clone(),
        source,
    })?;
    let mut cmd = nested_command(spec);
    let shown = format!("{cmd:?}");
    let manifest_path = spec.manifest_path.clone();
    let mut bins: BTreeMap<String, PathBuf> = BTreeMap::new();
    let ended = lines::run(
        &mut cmd,
        MESSAGE_LIMITS,
        |_| (),
        |line| {
            // Cargo's messages are UTF-8 JSON; a line that is not JSON is no message of interest.
            let line = std::str::from_utf8(line)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if let Some(a) = artifact(line) {
                let ours = same_file(&a.manifest_path, &manifest_path);
                if let (true, true, Some(exe)) = (ours, a.is_bin, a.executable) {
                    bins.insert(a.name, exe);
                }
            }
            Ok(())
        },
    )
    .map_err(|e| match e {
        LinesError::Spawn { source } | LinesError::Wait { source } => Error::SidecarSpawn {
            command: shown.clone(),
            source,
        },
        // No timeout is set: the same cargo as the outer build's is trusted to end.
        LinesError::TimedOut { .. } => Error::SidecarBuild {
            command: shown.clone(),
            status: e.to_string(),
        },
    })?;
    if let Some(why) = ended.interrupted {
        return Err(Error::SidecarSpawn {
            command: shown,
            source: match why {
                Interrupted::Caller(e) | Interrupted::Read(e) => e,
                Interrupted::LineTooLong { limit } => {
                    io::Error::other(format!("a message line is longer than {limit} bytes"))
                }
            },
        });
    }
    let status = ended.status;
    if !status.success() {
        return Err(Error::SidecarBuild {
            command: shown,
            status: status.to_string(),
        });
    }
    if bins.is_empty() {
        return Err(Error::SidecarNoBins);
    }
    let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from);
    let mut sources = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (name, exe) in bins {
        if let Ok(text) = std::fs::read_to_string(exe.with_extension("d")) {
            sources.extend(dep_info_sources(&text).into_iter().filter(|p| {
                p.is_absolute()
                    && !p.starts_with(&spec.target_dir)
                    && !cargo_home.as_ref().is_some_and(|h| p.starts_with(h))
                    && !p.components().any(|c| c.as_os_str() == "registry")
            }));
        }
        out.insert(name.clone(), run_metadata(&name, &exe, METADATA_LIMITS)?);
    }
    Ok(SidecarResult {
        metadata_json: out,
        sources,
    })
}

/// What the sidecar uses of a `compiler-artifact` message of `cargo build --message-format=json`.
#[derive(Debug, PartialEq)]
struct Artifact {
    /// The `Cargo.toml` of the package built.
    manifest_path: PathBuf,
    /// The target's name.
    name: String,
    /// Whether the target is a bin.
    is_bin: bool,
    /// The executable built, for a bin.
    executable: Option<PathBuf>,
}

/// The artifact one line of cargo's messages reports, or `None` for any other message and for a
/// line that is not JSON (read as a few fields of the JSON, not the whole `cargo_metadata` crate,
/// which a bundle's build script would compile for this alone).
fn artifact(line: &str) -> Option<Artifact> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = v.get("target")?;
    Some(Artifact {
        manifest_path: PathBuf::from(v.get("manifest_path")?.as_str()?),
        name: target.get("name")?.as_str()?.to_owned(),
        is_bin: target
            .get("kind")?
            .as_array()?
            .iter()
            .any(|k| k.as_str() == Some("bin")),
        executable: v
            .get("executable")
            .and_then(serde_json::Value::as_str)
            .map(PathBuf::from),
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Runs `exe --airflow-metadata --format json` under `limits` and returns its stdout.
fn run_metadata(name: &str, exe: &Path, limits: Limits) -> Result<String, Error> {
    let failed = |message: String| Error::SidecarRun {
        bin: name.to_owned(),
        message,
    };
    let command = format!("`{} --airflow-metadata --format json`", exe.display());
    let mut cmd = Command::new(exe);
    cmd.args(["--airflow-metadata", "--format", "json"])
        .env(NESTED_GUARD_VAR, "1");
    let finished = child::run(&mut cmd, limits)
        .map_err(|e| failed(format!("{command} failed: {}", chain(&e))))?;
    if finished.status.code() == Some(i32::from(airflow_bundle::EXIT_INVALID_DECLARATIONS))
        && let Some(problems) = String::from_utf8_lossy(&finished.stderr)
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
    {
        let problems = problems
            .strip_prefix("the bundle's declarations are invalid: ")
            .unwrap_or(problems);
        return Err(Error::SidecarDeclarations {
            bin: name.to_owned(),
            problems: problems.chars().take(4000).collect(),
        });
    }
    if !finished.status.success() {
        return Err(failed(format!(
            "{command} exited with {}",
            finished.failure(5)
        )));
    }
    let text = String::from_utf8(finished.stdout)
        .map_err(|_| failed("its metadata is not UTF-8".into()))?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| failed(format!("its metadata is not JSON ({e})")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executable shell script in a fresh directory.
    #[cfg(unix)]
    fn script(body: &str) -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("bin");
        std::fs::write(&exe, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, exe)
    }

    #[cfg(unix)]
    #[test]
    fn metadata_is_read_from_a_bin_that_answers() {
        let (_dir, exe) = script(r#"[ "$AIRFLOW_BUILD_NESTED" = 1 ] && echo '{"dags": {}}'"#);
        let text = run_metadata("b", &exe, METADATA_LIMITS).unwrap();
        assert_eq!(text.trim(), r#"{"dags": {}}"#);
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_bin_is_named_with_its_last_stderr_lines() {
        let (_dir, exe) = script("echo 'thread main panicked' >&2; echo boom >&2; exit 3");
        let e = run_metadata("b", &exe, METADATA_LIMITS)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("sidecar: bin `b` did not print its metadata: `"),
            "{e}"
        );
        assert!(
            e.contains("exited with exit status: 3: thread main panicked | boom."),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    /// airflow-sdk's exit code for refused declarations: the problem is the declarations, not
    /// a bin that is no bundle.
    #[cfg(unix)]
    #[test]
    fn refused_declarations_are_named_as_such() {
        let (_dir, exe) = script(&format!(
            "echo \"error: the bundle's declarations are invalid: dag \\\"d\\\": a cycle\" >&2; exit {}",
            airflow_bundle::EXIT_INVALID_DECLARATIONS
        ));
        let e = run_metadata("b", &exe, METADATA_LIMITS)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "sidecar: bin `b` refuses its dag declarations: dag \"d\": a cycle; fix them in the \
             bundle's Rust code and build again"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_bin_is_bounded_in_time_and_output() {
        let (_dir, exe) = script("head -c 100000 /dev/zero");
        let limits = Limits {
            max_stdout: 1000,
            ..METADATA_LIMITS
        };
        let e = run_metadata("b", &exe, limits).unwrap_err().to_string();
        assert!(e.contains("failed: it printed more than 1000 bytes"), "{e}");
        let (_dir, exe) = script("sleep 30");
        let limits = Limits {
            timeout: Duration::from_millis(300),
            ..METADATA_LIMITS
        };
        let e = run_metadata("b", &exe, limits).unwrap_err().to_string();
        assert!(e.contains("and was killed"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_bin_that_does_not_answer_with_json_is_refused() {
        let (_dir, exe) = script("echo hello");
        let e = run_metadata("b", &exe, METADATA_LIMITS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("its metadata is not JSON"), "{e}");
    }

    #[test]
    fn artifacts_are_read_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/b#0.1.0","manifest_path":"/w/b/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"b","src_path":"/w/b/src/main.rs","edition":"2024","doc":true,"doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/t/debug/b"],"executable":"/t/debug/b","fresh":false}"#;
        assert_eq!(
            artifact(line),
            Some(Artifact {
                manifest_path: PathBuf::from("/w/b/Cargo.toml"),
                name: "b".into(),
                is_bin: true,
                executable: Some(PathBuf::from("/t/debug/b")),
            })
        );
        let lib = line
            .replace(r#""kind":["bin"]"#, r#""kind":["lib"]"#)
            .replace(r#""executable":"/t/debug/b""#, r#""executable":null"#);
        let lib = artifact(&lib).unwrap();
        assert!(!lib.is_bin && lib.executable.is_none());
        assert_eq!(
            artifact(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(artifact("warning: not JSON"), None);
        assert_eq!(artifact(r#"{"reason":"compiler-artifact"}"#), None);
    }

    #[test]
    fn dep_info() {
        let d = dep_info_sources("/t/bin: /a/src/main.rs /a\\ b/x.rs /c.rs\n\n/a/src/main.rs:\n");
        assert_eq!(
            d,
            [
                PathBuf::from("/a/src/main.rs"),
                PathBuf::from("/a b/x.rs"),
                PathBuf::from("/c.rs")
            ]
        );
    }
}
