//! The toolchain to drive: which `cargo` and `rustc` to run, `rustc -vV` and the host triple.
//!
//! Cargo sets `$CARGO` to itself for the subcommands and build scripts it runs, and `$RUSTC` to
//! the compiler it uses for build scripts: a nested `cargo build` or `rustc -vV` then runs the
//! same toolchain as the outer one. Run outside cargo, the programs on `PATH` are used.

use std::ffi::{OsStr, OsString};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::child::{self, Limits, RunError};

/// The cargo program: `$CARGO` when set and not empty, else `cargo`.
pub fn cargo() -> OsString {
    program("CARGO", "cargo")
}

/// The Rust compiler: `$RUSTC` when set and not empty, else `rustc`.
pub fn rustc() -> OsString {
    program("RUSTC", "rustc")
}

fn program(var: &str, default: &str) -> OsString {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.into())
}

/// What `rustc -vV` runs under: it answers at once, in a few hundred bytes.
const VERSION_LIMITS: Limits = Limits {
    timeout: Duration::from_secs(60),
    max_stdout: 64 * 1024,
    stderr_tail: 4 * 1024,
};

/// Why the toolchain could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    /// The command could not be run to its end.
    #[error("`{command}` failed")]
    Run {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: RunError,
    },
    /// The command exited unsuccessfully.
    #[error("`{command}` exited with {}", child::failure_line(*status, stderr))]
    Exit {
        /// The command line.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// The last lines of its stderr, on one line (may be empty).
        stderr: String,
    },
    /// `rustc -vV` printed no `host:` line.
    #[error("`{command}` printed no `host:` line")]
    NoHost {
        /// The command line.
        command: String,
    },
}

/// The output of `$RUSTC -vV` (see [`rustc`]), trimmed: the compiler's version, commit, host
/// and LLVM version. Run with a timeout and bounded output.
pub fn rustc_version() -> Result<String, ToolchainError> {
    version_of(&rustc()).map(|(_, text)| text)
}

/// The host triple, from the `host:` line of [`rustc_version`].
pub fn host_triple() -> Result<String, ToolchainError> {
    let (command, text) = version_of(&rustc())?;
    parse_host(&text).ok_or(ToolchainError::NoHost { command })
}

/// `<rustc> -vV`: the command line (for messages) and its trimmed output.
fn version_of(rustc: &OsStr) -> Result<(String, String), ToolchainError> {
    let command = format!("{} -vV", rustc.to_string_lossy());
    let finished = match child::run(Command::new(rustc).arg("-vV"), VERSION_LIMITS) {
        Ok(f) => f,
        Err(source) => return Err(ToolchainError::Run { command, source }),
    };
    if !finished.status.success() {
        return Err(ToolchainError::Exit {
            command,
            status: finished.status,
            stderr: finished.stderr_summary(5),
        });
    }
    let text = String::from_utf8_lossy(&finished.stdout).trim().to_owned();
    Ok((command, text))
}

/// The `host:` line of `rustc -vV` output.
pub fn parse_host(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Whether `var` is one of the variables cargo sets for a build script, binary or test about its
/// own package (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `OUT_DIR`, ...).
///
/// A `cargo` started from such a process must not inherit them: build scripts declare some of
/// them with `rerun-if-env-changed` (ring's reads `CARGO_MANIFEST_DIR` and `CARGO_PKG_NAME`), and
/// cargo compares them in its own environment, so each start from another package's process
/// would rebuild that crate and everything above it. See [`without_package_env`].
pub fn is_package_env_var(var: &str) -> bool {
    matches!(
        var,
        "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_MANIFEST_LINKS"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "CARGO_RUSTC_CURRENT_DIR"
            | "OUT_DIR"
    ) || var.starts_with("CARGO_PKG_")
        || var.starts_with("CARGO_BIN_EXE_")
}

/// Removes from `cmd` (one that runs cargo, directly or through a tool that does) every variable
/// of this process's environment that [`is_package_env_var`] names.
pub fn without_package_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if is_package_env_var(&k.to_string_lossy()) {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_line_is_parsed() {
        let out = "rustc 1.91.0 (f8297e351 2025-10-28)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.91.0\n";
        assert_eq!(parse_host(out).as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(parse_host("nothing"), None);
        assert_eq!(parse_host("host: \n"), None);
    }

    #[test]
    fn package_variables_are_told_from_the_toolchain_s() {
        for v in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "OUT_DIR",
            "CARGO_BIN_EXE_x",
        ] {
            assert!(is_package_env_var(v), "{v}");
        }
        for v in ["CARGO", "CARGO_HOME", "RUSTC", "CARGO_TARGET_DIR", "PATH"] {
            assert!(!is_package_env_var(v), "{v}");
        }
    }

    #[test]
    fn the_host_triple_is_this_process_s_architecture() {
        let host = host_triple().unwrap();
        assert!(host.starts_with(std::env::consts::ARCH), "{host}");
    }

    #[test]
    fn the_version_is_trimmed_and_names_the_compiler() {
        let v = rustc_version().unwrap();
        assert!(v.starts_with("rustc "), "{v}");
        assert_eq!(v, v.trim());
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_exit_is_quoted_with_its_stderr() {
        let status = Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
        let e = ToolchainError::Exit {
            command: "rustc -vV".into(),
            status,
            stderr: "error: boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "`rustc -vV` exited with exit status: 3: error: boom"
        );
    }
}
