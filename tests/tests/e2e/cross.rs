//! The example bundle really cross-compiled by `cargo airflow pack --target`, accepted by
//! the released 1.3.2 reader, and really run on the other architecture (qemu, wine).
//!
//! The recipe is the one `scripts/cross-setup.sh` installs: Debian's rustc (whose sysroot holds
//! the std sources) with `-Zbuild-std` passed through `--`, and a GNU cross linker. The packer
//! never runs the foreign binary: its dags come from the metadata airflow-build's host sidecar
//! embedded at build time. Here the packed bundle is then run under the target's emulator and its
//! own `--airflow-metadata` answer must equal that manifest.
//!
//! Enabled by `AIRFLOW_CROSS_TESTS=1` after `scripts/cross-setup.sh` (as `.ci/run` does); with
//! `CI=true` and the variable unset these tests fail rather than skip silently.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use airflow_bundle::Manifest;
use airflow_bundle::read::BundleReader;
use airflow_e2e::fixture::{self, EXAMPLE_PACKAGE};
use airflow_e2e::harness;
use airflow_e2e::pack::{self, PackReport};
use anyhow::{Context, Result, bail};
use object::{Architecture, BinaryFormat, Object};

/// Whether the cross toolchain is installed; panics in CI when it is not enabled.
fn enabled() -> bool {
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
struct Cross {
    triple: &'static str,
    /// Environment for the build (linker and flags), on top of the Debian rustc.
    env: &'static [(&'static str, &'static str)],
    /// The emulator that runs the target's executables on this host.
    runner: &'static [&'static str],
    format: BinaryFormat,
    arch: Architecture,
    file_name: &'static str,
}

const AARCH64: Cross = Cross {
    triple: "aarch64-unknown-linux-gnu",
    env: &[(
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
        "aarch64-linux-gnu-gcc",
    )],
    runner: &["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"],
    format: BinaryFormat::Elf,
    arch: Architecture::Aarch64,
    file_name: "example-bundle",
};

const WINDOWS: Cross = Cross {
    triple: "x86_64-pc-windows-gnu",
    env: &[
        (
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER",
            "x86_64-w64-mingw32-gcc-posix",
        ),
        (
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS",
            "-C link-self-contained=no",
        ),
        ("WINEDEBUG", "-all"),
    ],
    runner: &["/usr/lib/wine/wine64"],
    format: BinaryFormat::Pe,
    arch: Architecture::X86_64,
    file_name: "example-bundle.exe",
};

/// The wine prefix `scripts/cross-setup.sh` prepared (with the bcryptprimitives stub).
fn wine_prefix() -> PathBuf {
    if let Some(p) = std::env::var_os("WINEPREFIX") {
        return p.into();
    }
    let cache = std::env::var_os("AIRFLOW_CROSS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|c| Path::new(&c).join("cargo-airflow-cross"))
        })
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache")
                .join("cargo-airflow-cross")
        });
    cache.join("wineprefix")
}

/// Environment shared by the cross build and the emulated runs.
fn cross_env(c: &Cross) -> Vec<(OsString, OsString)> {
    let rustc = std::env::var_os("AIRFLOW_CROSS_RUSTC").unwrap_or_else(|| "/usr/bin/rustc".into());
    let rustdoc =
        std::env::var_os("AIRFLOW_CROSS_RUSTDOC").unwrap_or_else(|| "/usr/bin/rustdoc".into());
    let mut env: Vec<(OsString, OsString)> = vec![
        ("RUSTC".into(), rustc),
        ("RUSTDOC".into(), rustdoc),
        ("RUSTC_BOOTSTRAP".into(), "1".into()),
        ("WINEPREFIX".into(), wine_prefix().into()),
    ];
    env.extend(c.env.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    env
}

/// `cargo airflow pack -p example-bundle --target TRIPLE -o OUT -- -Zbuild-std`, into a target
/// directory that persists between runs (so repeated runs are incremental) and that
/// airflow-build's cross tests build their fixture into with the same profile and flags
/// (`fixture-builds/xcross`): a fresh machine compiles each cross standard library once.
fn pack_for(c: &Cross, out: &Path) -> Result<PackReport> {
    let target_dir = airflow_e2e::target_dir()
        .join("fixture-builds")
        .join("xcross");
    let mut cmd = pack::cargo_airflow_command()?;
    cmd.arg("pack")
        .arg("--manifest-path")
        .arg(airflow_e2e::workspace_manifest())
        .args(["-p", EXAMPLE_PACKAGE, "--target", c.triple])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("-o")
        .arg(out)
        .args(["--message-format", "json", "--", "-Zbuild-std"])
        .envs(cross_env(c));
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
            c.triple,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_str(stdout.trim()).with_context(|| format!("parsing {stdout}"))
}

fn check_cross(c: &Cross) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("airflow-e2e-cross-")
        .tempdir()?;
    let root = dir.path().join("bundles");
    let bundle = root.join(c.file_name);
    let report = pack_for(c, &bundle)?;
    assert_eq!(report.target, c.triple);
    assert_eq!(report.bundle, bundle);
    assert_eq!(
        report.metadata_source,
        cargo_airflow_report::MetadataSource::Sidecar
    );

    // Really built for the other platform.
    let exe_region_len = {
        let file = std::fs::File::open(&bundle)?;
        BundleReader::new(file)?.layout().source_start
    };
    let bytes = std::fs::read(&bundle)?;
    let exe = &bytes[..usize::try_from(exe_region_len)?];
    let obj = object::File::parse(exe)?;
    assert_eq!(obj.format(), c.format, "{}", bundle.display());
    assert_eq!(obj.architecture(), c.arch, "{}", bundle.display());

    // The manifest came from the embedded sidecar metadata, never from running the binary.
    let inspected: cargo_airflow_report::InspectReport = serde_json::from_str(&{
        let out = pack::cargo_airflow_command()?
            .args(["inspect", "--message-format", "json"])
            .arg(&bundle)
            .output()?;
        String::from_utf8(out.stdout)?
    })?;
    let manifest = Manifest::from_yaml(&inspected.manifest_text)?;
    let build = manifest.build.clone().context("build mapping")?;
    assert_eq!(build.target, c.triple);
    assert_eq!(build.source_digest.as_deref().map(str::len), Some(64));
    let sidecar = inspected
        .record
        .and_then(|r| r.sidecar)
        .context("the record holds sidecar metadata")?;
    let host = sidecar.host.as_str();
    assert!(
        host.starts_with(std::env::consts::ARCH) && host != c.triple,
        "the sidecar ran for {host:?}, not for this host"
    );
    assert!(
        sidecar.metadata_json.contains_key(EXAMPLE_PACKAGE),
        "{:?}",
        sidecar.metadata_json.keys()
    );

    // The released reader accepts it and finds it for every dag id.
    let dag_ids: Vec<&String> = manifest.dags.keys().collect();
    assert!(dag_ids.len() >= 2, "{dag_ids:?}");
    let reader = harness::reader(&[&root], &dag_ids)?;
    let file = reader.file(&bundle);
    assert!(
        file.accepted,
        "1.3.2 refused the {} bundle: {file:#?}",
        c.triple
    );
    let resolved = bundle.canonicalize()?;
    for id in &dag_ids {
        let found = reader.lookup(id);
        assert!(found.found, "{id}: {found:?}");
        assert_eq!(found.path.as_deref(), Some(resolved.as_path()), "{id}");
    }

    // Really run on the other architecture: its own answer equals the packed manifest.
    let answered = fixture::metadata_via(c.runner, &cross_env(c), &bundle)?;
    assert!(
        answered.task_handlers.is_some(),
        "{} declares no task handlers",
        c.triple
    );
    // The handler digest is the packer's hash of the foreign binary's own declarations.
    let mut expected = Manifest::packed(answered, manifest.source.clone(), manifest.build.clone());
    // The source index is the packer's, not the binary's answer.
    expected.sources = manifest.sources.clone();
    expected.entrypoint_path = manifest.entrypoint_path.clone();
    assert_eq!(expected, manifest, "{} under {:?}", c.triple, c.runner);
    Ok(())
}

#[test]
fn aarch64_bundle_is_packed_from_its_sidecar_accepted_and_runs_under_qemu() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    check_cross(&AARCH64)
}

#[test]
fn windows_bundle_is_packed_from_its_sidecar_accepted_and_runs_under_wine() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    check_cross(&WINDOWS)
}
