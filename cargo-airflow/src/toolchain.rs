//! The toolchain cargo-airflow drives: which `cargo` and `rustc` to run, and the host triple.
//!
//! `cargo airflow` is run by cargo, which sets `$CARGO` to itself: the nested `cargo build` is
//! then the same cargo (and toolchain) as the one the user ran. `$RUSTC` is honoured the same
//! way. Run directly, the programs on `PATH` are used.

use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use crate::child::{self, Limits};
use crate::error::{Error, Result};

/// The cargo program: `$CARGO`, else `cargo`.
pub fn cargo() -> OsString {
    program("CARGO", "cargo")
}

/// The rust compiler: `$RUSTC`, else `rustc`.
pub fn rustc() -> OsString {
    program("RUSTC", "rustc")
}

fn program(var: &str, default: &str) -> OsString {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.into())
}

/// The host triple, from `rustc -vV`.
pub fn host_triple() -> Result<String> {
    let rustc = rustc();
    let command = format!("{} -vV", rustc.to_string_lossy());
    let limits = Limits {
        timeout: Duration::from_secs(60),
        max_stdout: 64 * 1024,
        stderr_tail: 4 * 1024,
    };
    let finished =
        child::run(Command::new(&rustc).arg("-vV"), limits).map_err(|source| Error::Toolchain {
            command: command.clone(),
            source,
        })?;
    parse_host(&String::from_utf8_lossy(&finished.stdout))
        .filter(|_| finished.status.success())
        .ok_or(Error::HostTriple { command })
}

/// The `host:` line of `rustc -vV` output.
pub fn parse_host(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_line_is_parsed() {
        let out = "rustc 1.91.0 (f8297e351 2025-10-28)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.91.0\n";
        assert_eq!(parse_host(out).as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(parse_host("nothing"), None);
    }

    #[test]
    fn the_host_triple_is_this_process_s_architecture() {
        let host = host_triple().unwrap();
        assert!(host.starts_with(std::env::consts::ARCH), "{host}");
    }
}
