//! The example bundle really cross-compiled by `cargo airflow pack --target`, accepted by
//! the released 1.3.2 reader, and really run on the other architecture (qemu, wine), or, for the
//! static musl target, in a root that holds nothing but the bundle.
//!
//! The recipe is the one `scripts/cross-setup.sh` installs (`airflow_e2e::cross`). The packer
//! never runs a foreign binary: its dags come from the metadata airflow-build's host sidecar
//! embedded at build time (a musl binary runs here, so its answer is checked against that
//! metadata). Here the packed bundle is then run under the target's emulator and its own
//! `--airflow-metadata` answer must equal that manifest.
//!
//! Enabled by `AIRFLOW_CROSS_TESTS=1` after `scripts/cross-setup.sh` (as `.ci/run` does); with
//! `CI=true` and the variable unset these tests fail rather than skip silently.

use std::path::Path;

use airflow_bundle::Manifest;
use airflow_bundle::read::BundleReader;
use airflow_e2e::cross::{AARCH64, Cross, MUSL, WINDOWS, enabled};
use airflow_e2e::fixture::{self, EXAMPLE_PACKAGE};
use airflow_e2e::harness;
use airflow_e2e::pack::{self, PackReport};
use anyhow::{Context, Result, ensure};
use object::Object;

fn check_cross(c: &Cross) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("airflow-e2e-cross-")
        .tempdir()?;
    let root = dir.path().join("bundles");
    let bundle = root.join(c.file_name);
    let report = c.pack_example(&bundle)?;
    check_packed(c, &bundle, &report)
}

/// What holds for every cross-packed example: built for the target, packed from the sidecar's
/// metadata, accepted by the released reader, and its own answer, run on the target (under its
/// emulator), equal to the packed manifest.
fn check_packed(c: &Cross, bundle: &Path, report: &PackReport) -> Result<()> {
    let root = bundle.parent().context("a bundle without a directory")?;
    assert_eq!(report.target, c.triple);
    assert_eq!(report.bundle, bundle);
    assert_eq!(report.metadata_source, c.metadata_source);

    // Really built for the other platform.
    let exe_region_len = {
        let file = std::fs::File::open(bundle)?;
        BundleReader::new(file)?.layout().source_start
    };
    let bytes = std::fs::read(bundle)?;
    let exe = &bytes[..usize::try_from(exe_region_len)?];
    let obj = object::File::parse(exe)?;
    assert_eq!(obj.format(), c.format, "{}", bundle.display());
    assert_eq!(obj.architecture(), c.arch, "{}", bundle.display());

    // The manifest came from the embedded sidecar metadata, never from running the binary.
    let inspected: cargo_airflow_report::InspectReport = serde_json::from_str(&{
        let out = pack::cargo_airflow_command()?
            .args(["inspect", "--message-format", "json"])
            .arg(bundle)
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
    let reader = harness::reader(&[root], &dag_ids)?;
    let file = reader.file(bundle);
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
    let answered = fixture::metadata_via(c.runner, &c.env(), bundle)?;
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

/// A static musl bundle: packed from its sidecar and accepted like the other targets; `pack`
/// says it needs no glibc; and it answers in a root that holds nothing but itself, where the
/// example packed for this host (glibc) cannot even start. A worker host without glibc running
/// its tasks in a real deployment: `multihost::worker_hosts_run_rust_tasks_...`.
#[test]
fn musl_bundle_needs_no_glibc_and_runs_in_an_empty_root() -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    let (packed, report) = airflow_e2e::cross::example_bundle_musl()?;
    check_packed(&MUSL, &packed, &report)?;
    let glibc = report
        .glibc
        .as_ref()
        .context("the pack report has no glibc facts")?;
    ensure!(
        glibc.newest.is_none()
            && glibc.versions.is_empty()
            && glibc.none_because == Some(airflow_bundle::glibc::NoGlibc::NoVersionReferences),
        "pack says the musl bundle needs {glibc:?}"
    );

    let gnu = pack::example_bundle()?;
    let roots = tempfile::Builder::new()
        .prefix("airflow-e2e-empty-root-")
        .tempdir()?;
    let in_empty_root = |bundle: &Path, name: &str| -> Result<std::process::Output> {
        let root = roots.path().join(name);
        std::fs::create_dir(&root)?;
        std::fs::copy(bundle, root.join(EXAMPLE_PACKAGE))?;
        // chroot(2) needs root, as the deployment tests do.
        let mut cmd = std::process::Command::new("chroot");
        cmd.arg(&root).arg(format!("/{EXAMPLE_PACKAGE}")).args([
            "--airflow-metadata",
            "--format",
            "json",
        ]);
        cmd.output().with_context(|| format!("running {cmd:?}"))
    };
    let gnu_out = in_empty_root(&gnu, "gnu")?;
    ensure!(
        !gnu_out.status.success(),
        "the glibc build started in an empty root: the root is not empty"
    );
    let out = in_empty_root(&packed, "musl")?;
    ensure!(
        out.status.success(),
        "the musl bundle failed in an empty root ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answered = airflow_bundle::Metadata::from_json(std::str::from_utf8(&out.stdout)?.trim())?;
    let natively = fixture::metadata_via(&[], &[], &packed)?;
    ensure!(
        answered == natively,
        "the bundle answers differently in an empty root"
    );
    Ok(())
}
