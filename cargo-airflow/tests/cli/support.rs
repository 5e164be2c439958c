//! Helpers: running the binary, packing the example bundle once per test process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wait_timeout::ChildExt;

pub use cargo_airflow_report::{InspectReport, PackReport, VerifyReport};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cargo-airflow")
}

/// The workspace's Cargo.toml.
pub fn workspace_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("Cargo.toml")
}

/// The example bundle's root source file.
pub fn example_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("example-bundle")
        .join("src")
        .join("main.rs")
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Stdout, lossy.
    pub stdout: String,
    /// Stderr, lossy.
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The one report on stdout (`--message-format json`), of the current format version.
    #[track_caller]
    pub fn report<T: serde::de::DeserializeOwned>(&self) -> T {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one JSON line, got {:?}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        let version: serde_json::Value = serde_json::from_str(lines[0]).expect("stdout is JSON");
        assert_eq!(
            version["format_version"],
            cargo_airflow_report::FORMAT_VERSION,
            "{}",
            lines[0]
        );
        serde_json::from_str(lines[0]).expect("stdout is the report")
    }

    /// The report of `pack --message-format json`.
    #[track_caller]
    pub fn pack_report(&self) -> PackReport {
        self.report()
    }
}

/// Runs `cargo-airflow ARGS` in `cwd` (or the crate directory).
pub fn run_in(cwd: Option<&Path>, args: &[&str]) -> Run {
    command(cwd, args, &[])
}

/// Runs `cargo-airflow ARGS` in the crate directory with extra environment variables.
pub fn run_env(args: &[&str], envs: &[(&str, &str)]) -> Run {
    command(None, args, envs)
}

fn command(cwd: Option<&Path>, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .current_dir(cwd.unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR"))));
    // The tests decide the sidecar mode; the caller's environment must not.
    for (k, _) in std::env::vars() {
        if k.starts_with("AIRFLOW_BUILD_") {
            cmd.env_remove(k);
        }
    }
    // Nor may the variables cargo sets for this test process (`CARGO_MANIFEST_DIR`,
    // `CARGO_PKG_NAME`, ...) reach the cargo a pack starts: ring's build script declares some with
    // `rerun-if-env-changed`, and cargo compares them in its own environment, so packs into the
    // target directories airflow-e2e's and airflow-build's tests build in too would rebuild ring
    // and everything above it (airflow-bundle, airflow-build, the bundle) at each switch.
    airflow_process::toolchain::without_package_env(&mut cmd);
    // Help is wrapped to this width when no terminal is attached: the snapshots' width.
    cmd.env("COLUMNS", "100");
    // Colour never reaches a pipe; NO_COLOR makes sure of it whatever the caller sets.
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd.envs(envs.iter().copied());
    Run::from(cmd.output().expect("runs cargo-airflow"))
}

/// Runs `cargo-airflow ARGS`.
pub fn run(args: &[&str]) -> Run {
    run_in(None, args)
}

/// Runs `cargo-airflow pack --manifest-path <ws> -p example-bundle --message-format json EXTRA`.
pub fn pack_example(extra: &[&str]) -> Run {
    let manifest = workspace_manifest();
    let mut args = vec![
        "pack",
        "--manifest-path",
        manifest.to_str().expect("utf-8 path"),
        "-p",
        "example-bundle",
        "--message-format",
        "json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// A bundle packed once per test process, and the facts about it.
pub struct Packed {
    /// Keeps the temp dir alive.
    _dir: tempfile::TempDir,
    /// The bundle.
    pub bundle: PathBuf,
    /// Cargo's executable that was packed.
    pub executable: PathBuf,
    /// The pack's report.
    pub summary: PackReport,
}

/// Packs the example bundle (release) once and shares the result.
pub fn packed() -> &'static Packed {
    static PACKED: OnceLock<Packed> = OnceLock::new();
    PACKED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path().join("bundle").join("example-bundle");
        let r = pack_example(&["-o", bundle.to_str().expect("utf-8")]);
        r.expect_code(0);
        let summary = r.pack_report();
        let executable = summary.executable.clone();
        Packed {
            _dir: dir,
            bundle,
            executable,
            summary,
        }
    })
}

/// A path as `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Host triple from `rustc -vV`.
pub fn host_triple() -> String {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("host line")
}

/// Copies the ELF executable `from` to `to` (mode 0755) with its e_machine changed to another
/// architecture than the host's (AArch64, or x86_64 on an AArch64 host), so this host will not
/// run it; only the header changes, so its sections (and any record in them) stay readable.
/// Returns the architecture it now claims, as `cargo airflow` names it.
pub fn as_foreign_elf(from: &Path, to: &Path) -> &'static str {
    let mut bytes = std::fs::read(from).expect("read the executable");
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", from.display());
    assert_eq!(bytes[5], 1, "little-endian ELF expected");
    // e_machine: 2 bytes at offset 18; EM_AARCH64 = 0xB7, EM_X86_64 = 0x3E.
    let (machine, arch): (u16, _) = if std::env::consts::ARCH == "aarch64" {
        (0x3E, "x86_64")
    } else {
        (0xB7, "aarch64")
    };
    bytes[18..20].copy_from_slice(&machine.to_le_bytes());
    std::fs::write(to, bytes).expect("write the copy");
    chmod(to, 0o755);
    arch
}

/// Sets a file's mode (unix; a no-op elsewhere).
pub fn chmod(p: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = (p, mode);
}

/// `text` with the machine-specific parts replaced, for snapshots: each `(path, name)` pair
/// (longest first), the workspace root as `[WS]`, and the host triple as `[HOST]`.
pub fn redact(text: &str, paths: &[(&Path, &str)]) -> String {
    let ws = workspace_manifest()
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .expect("the workspace root");
    let mut pairs: Vec<(String, &str)> = paths
        .iter()
        .map(|(p, name)| (p.to_string_lossy().into_owned(), *name))
        .collect();
    pairs.push((ws.to_string_lossy().into_owned(), "[WS]"));
    pairs.push((
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .to_string_lossy()
            .into_owned(),
        "[WS]",
    ));
    pairs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let mut out = text.to_owned();
    for (p, name) in pairs {
        out = out.replace(&p, name);
    }
    out.replace(&host_triple(), "[HOST]")
}

/// Writes a bundle of the executable bytes `EXE`, the source `src` and `manifest` to
/// `dir/name`, mode 0755: a bundle with exactly the manifest a test needs.
pub fn bundle_with_manifest(dir: &Path, name: &str, manifest: &str) -> PathBuf {
    let mut bytes = Vec::new();
    airflow_bundle::write::write_bundle(&mut &b"EXE"[..], &mut bytes, b"src", manifest.as_bytes())
        .expect("an in-memory bundle");
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write the bundle");
    chmod(&p, 0o755);
    p
}

/// Runs the binary with `args`, failing the test if it has not finished within 60 s (a hang).
/// Output goes through files, so a chatty child never blocks on a full pipe.
pub fn run_bounded(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let Some(status) = child.wait_timeout(Duration::from_secs(60)).unwrap() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("`cargo-airflow {}` hung", args.join(" "));
    };
    (
        status.code().unwrap_or(-1),
        fs::read_to_string(out).unwrap(),
        fs::read_to_string(err).unwrap(),
    )
}

/// Makes a FIFO at `p`.
pub fn mkfifo(p: &Path) {
    assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
}

/// How many cargo-airflow temp files (`.cargo-airflow-*`) are in `dir`.
pub fn temp_files_in(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".cargo-airflow-")
        })
        .count()
}
