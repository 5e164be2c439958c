//! Reading a bundle binary's metadata by running it with `--airflow-metadata --format json`.
//!
//! [`Platform::of_file`] reads the file's object format and architecture with the `object` crate
//! and [`check_runnable`] says whether this host can run it, so a foreign binary is never started
//! ([`crate::embedded`] packs it from its embedded record instead). [`run`] has stdin closed, a
//! timeout (the child is killed on expiry) and bounded stdout and stderr.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use airflow_bundle::Metadata;
use object::{Architecture, BinaryFormat, Object, ReadCache};

use crate::child::{self, Limits};
use crate::error::{Error, Result};

/// How long the binary may take to print its metadata.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The most stdout read from the binary.
pub const MAX_STDOUT: u64 = 16 * 1024 * 1024;
/// The most stderr kept for the error message: its last bytes, where the reason usually is.
pub const MAX_STDERR: u64 = 64 * 1024;

/// What an executable is built for, as read from its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// ELF, Mach-O, PE, ...
    pub format: BinaryFormat,
    /// The instruction set.
    pub arch: Architecture,
}

impl Platform {
    /// Reads the format and architecture of the file at `path` without running it.
    pub fn of_file(path: &Path) -> Result<Platform> {
        let file = airflow_bundle::read::open_regular(path)
            .map_err(|e| Error::io("cannot open", path, e))?;
        let cache = ReadCache::new(file);
        let obj = object::File::parse(&cache).map_err(|e| Error::NotRunnable {
            path: path.to_owned(),
            reason: format!(
                "it is not an executable this tool can read ({e}); a bundle must be a native ELF, Mach-O or PE executable"
            ),
        })?;
        Ok(Platform {
            format: obj.format(),
            arch: obj.architecture(),
        })
    }

    /// A short description such as `aarch64 ELF`.
    pub fn describe(&self) -> String {
        format!("{} {}", arch_name(self.arch), format_name(self.format))
    }
}

/// A lower-case architecture name in Rust's `target_arch` spelling where one exists.
pub fn arch_name(arch: Architecture) -> String {
    match arch {
        Architecture::X86_64 => "x86_64".into(),
        Architecture::X86_64_X32 => "x86_64 (x32)".into(),
        Architecture::I386 => "x86".into(),
        Architecture::Aarch64 => "aarch64".into(),
        Architecture::Aarch64_Ilp32 => "aarch64 (ilp32)".into(),
        Architecture::Arm => "arm".into(),
        Architecture::Riscv32 => "riscv32".into(),
        Architecture::Riscv64 => "riscv64".into(),
        Architecture::PowerPc => "powerpc".into(),
        Architecture::PowerPc64 => "powerpc64".into(),
        Architecture::S390x => "s390x".into(),
        Architecture::LoongArch64 => "loongarch64".into(),
        Architecture::Mips => "mips".into(),
        Architecture::Mips64 => "mips64".into(),
        Architecture::Sparc64 => "sparc64".into(),
        Architecture::Wasm32 => "wasm32".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// `ELF`, `Mach-O`, `PE`, ...
pub fn format_name(format: BinaryFormat) -> &'static str {
    match format {
        BinaryFormat::Elf => "ELF",
        BinaryFormat::MachO => "Mach-O",
        BinaryFormat::Pe => "PE",
        BinaryFormat::Coff => "COFF",
        BinaryFormat::Wasm => "Wasm",
        BinaryFormat::Xcoff => "XCOFF",
        _ => "unknown-format",
    }
}

/// The object format this host executes natively, if known.
pub fn host_format() -> Option<BinaryFormat> {
    if cfg!(target_vendor = "apple") {
        Some(BinaryFormat::MachO)
    } else if cfg!(windows) {
        Some(BinaryFormat::Pe)
    } else if cfg!(unix) {
        Some(BinaryFormat::Elf)
    } else {
        None
    }
}

/// Refuses a platform the host cannot run (different format or architecture).
pub fn check_runnable(path: &Path, platform: Platform) -> Result<()> {
    let arch_ok = arch_name(platform.arch) == std::env::consts::ARCH;
    let format_ok = host_format().is_none_or(|f| f == platform.format);
    if arch_ok && format_ok {
        return Ok(());
    }
    Err(Error::NotRunnable {
        path: path.to_owned(),
        reason: format!(
            "built for {}; cargo-airflow cannot run it to read its metadata (this host runs {} {}); pack it from the metadata airflow-build embeds at build time",
            platform.describe(),
            std::env::consts::ARCH,
            host_format().map_or("executables", format_name)
        ),
    })
}

/// Runs `path` with `--airflow-metadata --format json` and parses what it prints. The caller
/// has checked with [`check_runnable`] that this host can run it.
pub fn run(path: &Path) -> Result<Metadata> {
    run_with(path, TIMEOUT)
}

fn run_with(path: &Path, timeout: Duration) -> Result<Metadata> {
    let failed = |reason: String| Error::Introspection {
        path: path.to_owned(),
        reason,
    };
    // A bare file name would be looked up on PATH; run the file that was named.
    let program = if path.components().count() == 1 && path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_owned()
    };
    let limits = Limits {
        timeout,
        max_stdout: MAX_STDOUT,
        stderr_tail: MAX_STDERR,
    };
    let mut cmd = Command::new(&program);
    cmd.args(["--airflow-metadata", "--format", "json"]);
    let finished = child::run(&mut cmd, limits).map_err(|source| Error::IntrospectionRun {
        path: path.to_owned(),
        source,
    })?;
    if let Some(problems) = refused_declarations(&finished) {
        return Err(Error::Declarations {
            path: path.to_owned(),
            problems,
        });
    }
    if !finished.status.success() {
        return Err(failed(format!(
            "`{} --airflow-metadata --format json` exited with {}; is it a bundle built with airflow-sdk?",
            path.display(),
            finished.failure(5)
        )));
    }
    let text = String::from_utf8(finished.stdout).map_err(|_| {
        failed("`--airflow-metadata --format json` printed bytes that are not UTF-8".into())
    })?;
    // A program without `airflow_sdk::main!` ignores the flag: it prints nothing, or its own
    // output, rather than a JSON object.
    if !text.trim_start().starts_with('{') {
        let printed = match text.trim() {
            "" => "nothing".to_owned(),
            t => format!("{:?}", child::last_lines(t, 1)),
        };
        return Err(failed(format!(
            "`--airflow-metadata --format json` printed {printed}, not the bundle's metadata; a bundle's main.rs must end with `airflow_sdk::main!(...)`"
        )));
    }
    Metadata::from_json(&text).map_err(|source| Error::BadMetadata {
        path: path.to_owned(),
        source,
    })
}

/// The problems a bundle binary named when it refused its own declarations: it exited with
/// [`airflow_bundle::EXIT_INVALID_DECLARATIONS`] and its last `error: ` line on stderr says
/// what (airflow-sdk prints `error: the bundle's declarations are invalid: ...`). Any other
/// failure is not one of these.
fn refused_declarations(finished: &child::Finished) -> Option<Vec<String>> {
    if finished.status.code() != Some(i32::from(airflow_bundle::EXIT_INVALID_DECLARATIONS)) {
        return None;
    }
    let stderr = String::from_utf8_lossy(&finished.stderr);
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))?;
    let problems = line
        .strip_prefix("the bundle's declarations are invalid: ")
        .unwrap_or(line)
        .trim();
    if problems.is_empty() {
        return None;
    }
    // The first problems name the dags; a very long list is cut at its end.
    let mut shown: String = problems.chars().take(MAX_PROBLEMS_CHARS).collect();
    if shown.len() < problems.len() {
        shown.push_str("...");
    }
    Some(vec![shown])
}

/// The most of a refused declaration's problems quoted in the error line.
const MAX_PROBLEMS_CHARS: usize = 4000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_runnable_here() {
        let me = std::env::current_exe().unwrap();
        let p = Platform::of_file(&me).unwrap();
        assert_eq!(arch_name(p.arch), std::env::consts::ARCH);
        check_runnable(&me, p).unwrap();
    }

    #[test]
    fn a_foreign_arch_is_refused_with_the_explanation() {
        let p = Platform {
            format: BinaryFormat::Elf,
            arch: if std::env::consts::ARCH == "aarch64" {
                Architecture::X86_64
            } else {
                Architecture::Aarch64
            },
        };
        let e = check_runnable(Path::new("/x/bundle"), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot introspect /x/bundle: built for"), "{e}");
        assert!(
            e.contains("ELF; cargo-airflow cannot run it to read its metadata (this host runs"),
            "{e}"
        );
    }

    #[test]
    fn a_text_file_is_not_an_executable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("script");
        std::fs::write(&f, "#!/bin/sh\necho hi\n").unwrap();
        let e = Platform::of_file(&f).unwrap_err().to_string();
        assert!(e.contains("not an executable"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_hanging_binary_is_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hang");
        std::fs::write(&f, "#!/bin/sh\nsleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        let t = std::time::Instant::now();
        let e = run_with(&f, Duration::from_millis(300)).unwrap_err();
        assert!(
            crate::error::render(&e).contains("did not finish within 0.3 s"),
            "{e}"
        );
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    /// The exit code airflow-sdk gives refused declarations makes them a declaration problem;
    /// the same line with another exit code stays an introspection failure. (The SDK's side of
    /// the contract is tested in airflow-sdk's `cli` module, and end to end in the CLI tests.)
    #[cfg(unix)]
    #[test]
    fn refused_declarations_are_a_declaration_problem() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, code: u8| {
            let f = dir.path().join(name);
            std::fs::write(
                &f,
                format!(
                    "#!/bin/sh\necho note >&2\necho \"error: the bundle's declarations are \
                     invalid: dag \\\"d\\\": its dependencies form a cycle\" >&2\nexit {code}\n"
                ),
            )
            .unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
            f
        };
        let refused = script("refuses", airflow_bundle::EXIT_INVALID_DECLARATIONS);
        let e = run(&refused).unwrap_err();
        assert!(matches!(e, Error::Declarations { .. }), "{e:?}");
        assert_eq!(e.exit(), crate::error::Exit::Failure);
        let line = crate::error::render(&e);
        assert!(
            line.ends_with(
                "are invalid: dag \"d\": its dependencies form a cycle; fix them in the \
                 bundle's Rust code and build again"
            ),
            "{line}"
        );
        assert!(!line.contains("introspection"), "{line}");
        let other = script("fails", 1);
        let e = run(&other).unwrap_err();
        assert!(matches!(e, Error::Introspection { .. }), "{e:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_binary_reports_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("fail");
        std::fs::write(&f, "#!/bin/sh\necho boom >&2\nexit 4\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = run(&f).unwrap_err().to_string();
        assert!(e.contains("exit status: 4") && e.contains("boom"), "{e}");
    }
}
