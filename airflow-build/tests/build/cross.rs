//! Really cross-compiled: an AArch64 build (Debian's rustc, `-Zbuild-std`) carries a record with
//! the sidecar's metadata, readable with `object`, equal to what the binary prints under qemu.
//!
//! Enabled by `AIRFLOW_CROSS_TESTS=1` after `scripts/cross-setup.sh`; with `CI=true` and the
//! variable unset, these tests fail instead of silently skipping.
//!
//! Builds with the workspace's `cross-test` profile (release, stripped as bundles are, not
//! optimized), into the target directory airflow-e2e's cross tests pack `example-bundle` into
//! (`fixture-builds/xcross`): the same profile, flags and environment, so the cross standard
//! libraries (`-Zbuild-std`) and the shared dependencies are compiled once on a fresh machine, not
//! once per test crate. Both tests build the workspace's `example-bundle` itself, the very build
//! airflow-e2e's cross tests pack.

use object::{Architecture, BinaryFormat, Object};

use crate::support::{
    EXAMPLE_PACKAGE, build_workspace_example, fixture_builds_root, metadata_of, read_record,
};

/// Whether to run; panics in CI when the setup is missing.
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

const AARCH64: &str = "aarch64-unknown-linux-gnu";

/// The workspace's profile for cross builds (airflow-e2e's `Cross::pack_example` packs with it).
const PROFILE: &str = "cross-test";

/// The cargo arguments of `cargo airflow pack --profile cross-test --target TARGET --
/// -Zbuild-std`.
fn build_args_for(target: &str) -> [&str; 5] {
    ["--profile", PROFILE, "-Zbuild-std", "--target", target]
}

/// The workspace's `example-bundle`, the very build airflow-e2e's AArch64 cross test packs (as
/// the Windows test below): this test edits nothing, so a fixture copy would only be a second
/// build of airflow-sdk and its dependencies for AArch64. That the sidecar reruns after an edit
/// (and not on a no-op build) is checked on the host, where it is cheap
/// (`sidecar::sidecar_always_embeds_what_the_binary_prints`).
#[test]
fn aarch64_record_holds_the_sidecar_metadata() {
    if !enabled() {
        return;
    }
    let rustc = std::env::var("AIRFLOW_CROSS_RUSTC").unwrap_or_else(|_| "/usr/bin/rustc".into());
    let envs = [
        ("RUSTC", rustc.as_str()),
        ("RUSTC_BOOTSTRAP", "1"),
        (
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        ),
    ];
    build_workspace_example("xcross", &build_args_for(AARCH64), &envs);
    let exe = fixture_builds_root()
        .join("xcross")
        .join(AARCH64)
        .join(PROFILE)
        .join(EXAMPLE_PACKAGE);
    let bytes = std::fs::read(&exe).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    assert_eq!(obj.format(), BinaryFormat::Elf);
    assert_eq!(obj.architecture(), Architecture::Aarch64);

    let r = read_record(&exe);
    assert_eq!(r.target, AARCH64);
    let side = r
        .sidecar
        .as_ref()
        .expect("a foreign target runs the sidecar");
    assert_ne!(side.host, AARCH64);
    let embedded = r
        .sidecar_metadata(EXAMPLE_PACKAGE)
        .expect("sidecar metadata");
    let printed = metadata_of(
        &["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"],
        &exe,
    );
    assert_eq!(embedded, printed);
}

const WINDOWS: &str = "x86_64-pc-windows-gnu";

/// The workspace's `example-bundle`, not a fixture copy: this test edits nothing, and
/// airflow-e2e's Windows cross test packs the very same build (`cargo airflow pack -p
/// example-bundle --target x86_64-pc-windows-gnu --profile cross-test -- -Zbuild-std`, into
/// `fixture-builds/xcross`), so whichever of the two runs first builds it and the other finds it
/// built. A copy would be a second build of airflow-sdk and its dependencies for Windows.
#[test]
fn windows_pe_record_holds_the_sidecar_metadata() {
    if !enabled() {
        return;
    }
    let rustc = std::env::var("AIRFLOW_CROSS_RUSTC").unwrap_or_else(|_| "/usr/bin/rustc".into());
    let home = std::env::var("HOME").unwrap_or_default();
    let wineprefix = std::env::var("WINEPREFIX")
        .unwrap_or_else(|_| format!("{home}/.cache/cargo-airflow-cross/wineprefix"));
    let envs = [
        ("RUSTC", rustc.as_str()),
        ("RUSTC_BOOTSTRAP", "1"),
        (
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER",
            "x86_64-w64-mingw32-gcc-posix",
        ),
        (
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS",
            "-C link-self-contained=no",
        ),
    ];
    build_workspace_example("xcross", &build_args_for(WINDOWS), &envs);
    let exe = fixture_builds_root()
        .join("xcross")
        .join(WINDOWS)
        .join(PROFILE)
        .join(format!("{EXAMPLE_PACKAGE}.exe"));
    let bytes = std::fs::read(&exe).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    assert_eq!(obj.format(), BinaryFormat::Pe);
    assert_eq!(obj.architecture(), Architecture::X86_64);

    let r = read_record(&exe);
    assert_eq!(r.target, WINDOWS);
    let embedded = r
        .sidecar_metadata(EXAMPLE_PACKAGE)
        .expect("sidecar metadata");
    let out = std::process::Command::new("/usr/lib/wine/wine64")
        .arg(&exe)
        .args(["--airflow-metadata", "--format", "json"])
        .env("WINEPREFIX", &wineprefix)
        .env("WINEDEBUG", "-all")
        .output()
        .expect("run wine64");
    assert!(
        out.status.success(),
        "wine64 {}: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(embedded, String::from_utf8(out.stdout).unwrap());
}
