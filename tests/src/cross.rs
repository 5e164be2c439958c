//! The example bundle packed for another target, as `scripts/cross-setup.sh` makes possible
//! here: Debian's rustc (whose sysroot holds the std sources) with `-Zbuild-std` passed through
//! `--`, and the target's linker. Shared by the cross tests (`e2e::cross`) and the multi-host
//! deployment that runs a static musl bundle on a worker host without glibc.
//!
//! Enabled by `AIRFLOW_CROSS_TESTS=1` after `scripts/cross-setup.sh` (as `.ci/run` does); with
//! `CI=true` and the variable unset, [`enabled`] panics rather than let a test skip silently.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cargo_airflow_report::MetadataSource;
use object::{Architecture, BinaryFormat};

use crate::fixture::EXAMPLE_PACKAGE;
use crate::pack::{self, PackReport};

/// Whether the cross toolchain is installed; panics in CI when it is not enabled.
pub fn enabled() -> bool {
    if std::env::var("AIRFLOW_CROSS_TESTS").is_ok_and(|v| v == "1") {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!(
            "CI=true but AIRFLOW_CROSS_TESTS is not 1: run `bash scripts/cross-setup.sh && export AIRFLOW_CROSS_TESTS=1` before the tests (as .ci/run does)"
        );
    }
    eprintln!("skipping cross test: set AIRFLOW_CROSS_TESTS=1 after scripts/cross-setup.sh");
    false
}

/// One cross target: how to build for it and how to run its binaries here.
pub struct Cross {
    /// The target triple.
    pub triple: &'static str,
    /// Environment for the build (linker and flags), on top of the Debian rustc.
    env: fn() -> Vec<(OsString, OsString)>,
    /// The emulator that runs the target's executables on this host (none: they run natively).
    pub runner: &'static [&'static str],
    /// The object format of its executables.
    pub format: BinaryFormat,
    /// The architecture of its executables.
    pub arch: Architecture,
    /// The example's executable file name on this target.
    pub file_name: &'static str,
    /// Where `pack` takes the dags from: the sidecar's metadata alone for a binary that cannot
    /// run here; the binary's own answer, checked against the sidecar's, for one that can.
    pub metadata_source: MetadataSource,
    /// Whether its build runs at the lowest CPU priority (`nice -n 19`), taking only the CPU the
    /// other tests leave idle: in CI that is mostly while the deployment tests wait on Airflow,
    /// enough for the AArch64 and Windows builds. Not the musl one: the 3.3 multi-host
    /// deployment waits for it, so it is built first, at normal priority.
    low_priority: bool,
}

/// 64-bit Arm Linux with glibc, run under qemu-user.
pub const AARCH64: Cross = Cross {
    triple: "aarch64-unknown-linux-gnu",
    env: || {
        vars(&[(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )])
    },
    runner: &["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"],
    format: BinaryFormat::Elf,
    arch: Architecture::Aarch64,
    file_name: EXAMPLE_PACKAGE,
    metadata_source: MetadataSource::Sidecar,
    low_priority: true,
};

/// 64-bit Windows (MinGW), run under wine.
pub const WINDOWS: Cross = Cross {
    triple: "x86_64-pc-windows-gnu",
    env: || {
        let mut env = vars(&[
            (
                "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER",
                "x86_64-w64-mingw32-gcc-posix",
            ),
            (
                "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS",
                "-C link-self-contained=no",
            ),
            ("WINEDEBUG", "-all"),
        ]);
        env.push(("WINEPREFIX".into(), cache_dir().join("wineprefix").into()));
        env
    },
    runner: &["/usr/lib/wine/wine64"],
    format: BinaryFormat::Pe,
    arch: Architecture::X86_64,
    file_name: "example-bundle.exe",
    metadata_source: MetadataSource::Sidecar,
    low_priority: true,
};

/// x86-64 Linux with musl, linked statically: runs on any Linux kernel, with no libc on the
/// host at all. Debian has no self-contained musl crt objects or `libunwind.a` for Rust, so the
/// link uses musl-gcc's crt and the LLVM libunwind `scripts/cross-setup.sh` prepares in
/// `<cache>/musl` (`-C link-self-contained=no`); `relocation-model=static` makes a static
/// executable rather than a static PIE, which musl-gcc's crt cannot start.
pub const MUSL: Cross = Cross {
    triple: "x86_64-unknown-linux-musl",
    env: || {
        let mut flags =
            OsString::from("-C link-self-contained=no -C relocation-model=static -L native=");
        flags.push(cache_dir().join("musl"));
        let mut env = vars(&[("CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER", "musl-gcc")]);
        env.push((
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS".into(),
            flags,
        ));
        env
    },
    runner: &[],
    format: BinaryFormat::Elf,
    arch: Architecture::X86_64,
    file_name: EXAMPLE_PACKAGE,
    // A static x86-64 executable runs on this host too.
    metadata_source: MetadataSource::BinaryAndSidecar,
    low_priority: false,
};

fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

/// Where `scripts/cross-setup.sh` keeps what it prepares (the wine prefix, the musl unwinder):
/// `AIRFLOW_CROSS_CACHE`, else `$XDG_CACHE_HOME/cargo-airflow-cross`, else
/// `~/.cache/cargo-airflow-cross`.
fn cache_dir() -> PathBuf {
    std::env::var_os("AIRFLOW_CROSS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|c| Path::new(&c).join("cargo-airflow-cross"))
        })
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache")
                .join("cargo-airflow-cross")
        })
}

impl Cross {
    /// Environment shared by the cross build and the emulated runs: Debian's rustc (and
    /// rustdoc), `RUSTC_BOOTSTRAP` for `-Zbuild-std`, and the target's own variables.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let rustc =
            std::env::var_os("AIRFLOW_CROSS_RUSTC").unwrap_or_else(|| "/usr/bin/rustc".into());
        let rustdoc =
            std::env::var_os("AIRFLOW_CROSS_RUSTDOC").unwrap_or_else(|| "/usr/bin/rustdoc".into());
        let mut env: Vec<(OsString, OsString)> = vec![
            ("RUSTC".into(), rustc),
            ("RUSTDOC".into(), rustdoc),
            ("RUSTC_BOOTSTRAP".into(), "1".into()),
        ];
        env.extend((self.env)());
        env
    }

    /// `cargo airflow pack -p example-bundle --target TRIPLE --profile cross-test -o OUT --
    /// -Zbuild-std` (the workspace's profile for cross builds: release, not optimized), into a
    /// target directory that persists between runs (so repeated runs are incremental) and that
    /// airflow-build's cross tests build their fixture into with the same profile and flags
    /// (`fixture-builds/xcross`): a fresh machine compiles each cross standard library once.
    /// Test processes packing the same target serialize on cargo's lock of that directory.
    pub fn pack_example(&self, out: &Path) -> Result<PackReport> {
        let target_dir = crate::target_dir().join("fixture-builds").join("xcross");
        let mut cmd = if self.low_priority {
            pack::cargo_airflow_command_at_low_priority()?
        } else {
            pack::cargo_airflow_command()?
        };
        cmd.arg("pack")
            .arg("--manifest-path")
            .arg(crate::workspace_manifest())
            .args(["-p", EXAMPLE_PACKAGE, "--target", self.triple])
            .args(["--profile", PROFILE])
            .arg("--target-dir")
            .arg(&target_dir)
            .arg("-o")
            .arg(out)
            .args(["--message-format", "json", "--", "-Zbuild-std"])
            .envs(self.env());
        // The sidecar mode is the default one here: on for a foreign target.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AIRFLOW_BUILD_") {
                cmd.env_remove(k);
            }
        }
        let output = cmd.output().with_context(|| format!("running {cmd:?}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "cargo airflow pack --target {} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
                self.triple,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        serde_json::from_str(stdout.trim()).with_context(|| format!("parsing {stdout}"))
    }
}

/// The workspace's profile for cross builds (`[profile.cross-test]` in its `Cargo.toml`: release,
/// not optimized); airflow-build's cross tests build with it too.
const PROFILE: &str = "cross-test";

/// The example bundle packed for [`MUSL`] (static, `cross-test` profile), once per test process,
/// into `<target>/airflow-e2e/example-musl/example-bundle` under a lock file (the cross tests and
/// a deployment test may want it at once); returns the bundle and its pack report.
pub fn example_bundle_musl() -> Result<(PathBuf, PackReport)> {
    let base = crate::target_dir().join("airflow-e2e");
    let dir = base.join("example-musl");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock_path = base.join("example-musl.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let out = dir.join(MUSL.file_name);
    let report = MUSL.pack_example(&out)?;
    drop(lock);
    Ok((out, report))
}
