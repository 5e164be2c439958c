//! Packed bundles, read by the released 1.3.2 reader and found by its bundle lookup; and a
//! hostile corpus judged by both released readers (1.3.2 for Airflow 3.3, 1.4.0b2 for 3.4).
//!
//! Every verdict here comes from Airflow's own code (`_read_bundle_metadata`, `_Bundle.find`)
//! through `tests/harness/reader.py`, and our Rust verifier is checked against it file by file,
//! each release against its own verdict.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use airflow_bundle::verify::{AirflowRelease, Check, Report};
use airflow_bundle::{DagEntry, Manifest, TRAILER_LEN};
use airflow_e2e::fixture::{self, example_executable, example_manifest, write_bundle_raw};
use airflow_e2e::harness::{self, PyValue, ReaderReport};
use airflow_e2e::pack;
use anyhow::Result;

/// Our verdict for Airflow 3.3 alone, the release `harness::reader` runs.
fn verify_path(path: &Path) -> std::io::Result<Report> {
    airflow_bundle::verify::verify_path(path, &[AirflowRelease::V3_3])
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("airflow-e2e-reader-")
        .tempdir()
        .expect("temp dir")
}

/// Asserts that Airflow's reader accepted `bundle`, that its manifest holds exactly `dags` (ids
/// as Python `str`, task order kept), and that the lookup found `bundle` for every dag id.
fn assert_found_for_every_dag(
    report: &ReaderReport,
    bundle: &Path,
    dags: &BTreeMap<String, DagEntry>,
) {
    assert_eq!(report.package_version, "1.3.2");
    let file = report.file(bundle);
    assert!(file.scanned, "the coordinator's scan skipped {file:#?}");
    assert!(file.metadata_accepted, "1.3.2's reader refused {file:#?}");
    assert!(file.accepted, "{file:#?}");
    assert_eq!(file.schema_version.as_deref(), Some("2026-06-16"));
    let loaded: BTreeMap<String, Vec<String>> = file
        .dags()
        .into_iter()
        .map(|(id, tasks)| {
            let id = match id {
                PyValue::Str(s) => s,
                other => panic!("dag id loaded as {}: {other:?}", other.type_name()),
            };
            let tasks = tasks
                .into_iter()
                .map(|t| match t {
                    PyValue::Str(s) => s,
                    other => panic!(
                        "task id of {id:?} loaded as {}: {other:?}",
                        other.type_name()
                    ),
                })
                .collect();
            (id, tasks)
        })
        .collect();
    let expected: BTreeMap<String, Vec<String>> = dags
        .iter()
        .map(|(k, v)| (k.clone(), v.tasks.clone()))
        .collect();
    assert_eq!(loaded, expected, "the manifest as PyYAML loaded it");
    let canonical = bundle.canonicalize().unwrap();
    for dag_id in dags.keys() {
        let lookup = report.lookup(dag_id);
        assert!(lookup.found, "dag {dag_id:?} not found: {lookup:?}");
        assert_eq!(
            lookup.path.as_deref(),
            Some(canonical.as_path()),
            "dag {dag_id:?}"
        );
        assert_eq!(lookup.schema_version.as_deref(), Some("2026-06-16"));
    }
}

fn assert_not_found(report: &ReaderReport, dag_ids: &[&str]) {
    for dag_id in dag_ids {
        let lookup = report.lookup(dag_id);
        assert!(!lookup.found, "dag {dag_id:?} was found: {lookup:?}");
        let error = lookup.error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with("FileNotFoundError: cannot find executable bundle"),
            "{error}"
        );
    }
}

/// The bundle as `cargo airflow pack` writes it: found by 1.3.2 for every dag id.
#[test]
fn packed_example_is_found_for_every_dag_id() -> Result<()> {
    let dir = tempdir();
    let out = dir.path().join("example-bundle");
    let packed = pack::pack_example(&out)?;
    assert_eq!(packed.bundle.canonicalize()?, out.canonicalize()?);
    assert_eq!(packed.profile, "release");
    let metadata = fixture::metadata_of(&example_executable()?)?;
    let from_cli: BTreeMap<String, Vec<String>> = packed.dags.clone();
    let declared: BTreeMap<String, Vec<String>> = metadata
        .dags
        .iter()
        .map(|(k, v)| (k.clone(), v.tasks.clone()))
        .collect();
    assert_eq!(
        from_cli, declared,
        "pack's JSON report vs the binary's own metadata"
    );

    let ids: Vec<&String> = metadata.dags.keys().collect();
    let report = harness::reader(&[dir.path()], &ids)?;
    assert_found_for_every_dag(&report, &out, &metadata.dags);
    let file = report.file(&out);
    assert_eq!(
        file.manifest.as_ref().and_then(|m| m.get("source")),
        Some(&PyValue::Str("main.rs".into()))
    );
    assert!(verify_path(&out)?.accepted());
    Ok(())
}

/// `--executable` packs a binary built elsewhere; Airflow finds the result for every dag id.
#[test]
fn bundle_packed_with_executable_flag_is_found_for_every_dag_id() -> Result<()> {
    let dir = tempdir();
    let out = dir.path().join("prebuilt");
    let exe = example_executable()?;
    let packed = pack::pack_json([
        OsStr::new("--executable"),
        exe.as_os_str(),
        OsStr::new("--source"),
        fixture::example_source().as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
    ])?;
    assert_eq!(packed.bundle.canonicalize()?, out.canonicalize()?);
    let metadata = fixture::metadata_of(&exe)?;
    let ids: Vec<&String> = metadata.dags.keys().collect();
    let report = harness::reader(&[dir.path()], &ids)?;
    assert_found_for_every_dag(&report, &out, &metadata.dags);
    Ok(())
}

/// An explicit host triple puts cargo's outputs under `target/<triple>/`; the bundle is still
/// found by Airflow.
#[test]
fn bundle_packed_for_explicit_host_triple_is_found_for_every_dag_id() -> Result<()> {
    let host = host_triple()?;
    let dir = tempdir();
    let out = dir.path().join("example-bundle");
    let packed = pack::pack_json([
        "-p",
        "example-bundle",
        "--target",
        &host,
        "-o",
        out.to_str().unwrap(),
    ])?;
    assert_eq!(packed.target, host);
    let metadata = fixture::metadata_of(&example_executable()?)?;
    let ids: Vec<&String> = metadata.dags.keys().collect();
    let report = harness::reader(&[dir.path()], &ids)?;
    assert_found_for_every_dag(&report, &out, &metadata.dags);
    Ok(())
}

fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc).arg("-vV").output()?;
    let text = String::from_utf8(out.stdout)?;
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no host line in `rustc -vV`: {text}"))
}

/// The same facts for a bundle written with `airflow-bundle` over the real example executable,
/// so the reader side is covered independently of the CLI.
#[test]
fn bundle_of_the_example_executable_is_found_for_every_dag_id() -> Result<()> {
    let dir = tempdir();
    let bundle = fixture::example_bundle_in(dir.path())?;
    let manifest = example_manifest()?;
    let mut ids: Vec<&str> = manifest.dags.keys().map(String::as_str).collect();
    assert!(!ids.is_empty(), "the example declares no dags");
    ids.push("no_such_dag");
    let report = harness::reader(&[dir.path()], &ids)?;
    assert_found_for_every_dag(&report, &bundle, &manifest.dags);
    assert_not_found(&report, &["no_such_dag"]);
    Ok(())
}

/// One flipped byte in the executable region: 1.3.2's hash check refuses the file.
#[test]
fn flipped_byte_in_the_executable_is_refused() -> Result<()> {
    let dir = tempdir();
    let bundle = fixture::example_bundle_in(dir.path())?;
    let size = fs::metadata(&bundle)?.len();
    // Well inside the executable region (the appended regions are a few KiB at most).
    fixture::flip_byte(&bundle, size / 2)?;
    let manifest = example_manifest()?;
    let ids: Vec<&str> = manifest.dags.keys().map(String::as_str).collect();
    let report = harness::reader(&[dir.path()], &ids)?;
    let file = report.file(&bundle);
    assert!(file.scanned);
    assert!(!file.metadata_accepted, "{file:#?}");
    assert!(!file.accepted);
    assert_not_found(&report, &ids);

    let ours = verify_path(&bundle)?;
    assert!(!ours.accepted());
    assert_eq!(
        ours.verdicts[0]
            .failures()
            .map(|(c, _)| c)
            .collect::<Vec<_>>(),
        [Check::BinarySha256]
    );
    Ok(())
}

/// Without the execute bit the coordinator's scan never looks at the file.
#[cfg(unix)]
#[test]
fn bundle_without_execute_bit_is_refused() -> Result<()> {
    let dir = tempdir();
    let bundle = fixture::example_bundle_in(dir.path())?;
    fixture::set_mode(&bundle, 0o644)?;
    let manifest = example_manifest()?;
    let ids: Vec<&str> = manifest.dags.keys().map(String::as_str).collect();
    let report = harness::reader(&[dir.path()], &ids)?;
    let file = report.file(&bundle);
    assert!(!file.scanned, "{file:#?}");
    // The content is fine: only the mode keeps Airflow from using it.
    assert!(file.metadata_accepted);
    assert!(!file.accepted);
    assert_not_found(&report, &ids);

    let ours = verify_path(&bundle)?;
    assert_eq!(
        ours.verdicts[0]
            .failures()
            .map(|(c, _)| c)
            .collect::<Vec<_>>(),
        [Check::Executable]
    );
    Ok(())
}

/// Ids that YAML 1.1 would type as numbers, bools, nulls, dates or sexagesimals, or that are
/// YAML syntax.
const HOSTILE_IDS: &[&str] = &[
    "123",
    "1_000",
    "yes",
    "on",
    "null",
    "2026-01-01",
    "1:30",
    "café",
    "0x1f",
    "~",
    "=",
    // more of the same families
    "true",
    "No",
    "OFF",
    "y",
    "1e3",
    "0o17",
    "0b101",
    "-1",
    "+12",
    ".5",
    ".inf",
    ".NaN",
    "190:20:30",
    "2026-01-01 10:00:00",
    "<<",
    "-",
    "0",
    "007",
    "1.0",
];

fn hostile_manifest() -> Result<Manifest> {
    let mut manifest = example_manifest()?;
    manifest.dags = HOSTILE_IDS
        .iter()
        .enumerate()
        .map(|(i, id)| {
            // Each dag gets every hostile id as a task, in a rotated order (order must be kept).
            let mut tasks: Vec<String> = HOSTILE_IDS.iter().map(|t| (*t).to_owned()).collect();
            tasks.rotate_left(i);
            (
                (*id).to_owned(),
                DagEntry {
                    tasks,
                    declared: None,
                },
            )
        })
        .collect();
    Ok(manifest)
}

/// YAML-hostile dag and task ids load back in Python as the very same `str`s, and the lookup
/// finds the bundle by each of them.
#[test]
fn yaml_hostile_ids_round_trip_through_airflow() -> Result<()> {
    let dir = tempdir();
    let manifest = hostile_manifest()?;
    let bundle = dir.path().join("hostile");
    fixture::write_bundle(&example_executable()?, b"// source\n", &manifest, &bundle)?;
    let report = harness::reader(&[dir.path()], HOSTILE_IDS)?;
    assert_found_for_every_dag(&report, &bundle, &manifest.dags);
    // The rest of the manifest keeps its strings too (the version is the classic trap).
    let loaded = report.file(&bundle).manifest.clone().unwrap();
    let sdk = loaded.get("sdk").unwrap();
    assert_eq!(
        sdk.get("supervisor_schema_version"),
        Some(&PyValue::Str("2026-06-16".into()))
    );
    assert_eq!(
        loaded.get("airflow_bundle_metadata_version"),
        Some(&PyValue::Str("1.0".into()))
    );
    assert!(verify_path(&bundle)?.accepted());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Our verifier against Airflow's reader, file by file

/// A bundle variant: its name, how to make it, and whether 1.3.2 should accept it.
struct Variant {
    name: &'static str,
    accepted: bool,
    make: fn(&Path) -> Result<()>,
}

fn good(path: &Path) -> Result<()> {
    let manifest = example_manifest()?;
    fixture::write_bundle(&example_executable()?, b"fn main() {}\n", &manifest, path)
}

fn raw(path: &Path, manifest: &str) -> Result<()> {
    write_bundle_raw(&example_executable()?, b"", manifest.as_bytes(), path)
}

fn edit_trailer(path: &Path, offset: usize, bytes: &[u8]) -> Result<()> {
    let mut data = fs::read(path)?;
    let start = data.len() - TRAILER_LEN + offset;
    data[start..start + bytes.len()].copy_from_slice(bytes);
    fs::write(path, data)?;
    Ok(())
}

const MANIFEST_HEAD: &str =
    "airflow_bundle_metadata_version: \"1.0\"\nsdk:\n  language: rust\n  version: 0.1.0\n";

fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "good",
            accepted: true,
            make: good,
        },
        Variant {
            name: "json_manifest",
            accepted: true,
            make: |p| {
                raw(
                    p,
                    r#"{"airflow_bundle_metadata_version": "1.0", "sdk": {"language": "rust", "version": "0.1.0", "supervisor_schema_version": "2026-06-16"}, "source": "main.rs", "dags": {"d": {"tasks": ["t"]}}}"#,
                )
            },
        },
        Variant {
            name: "flipped_executable_byte",
            accepted: false,
            make: |p| {
                good(p)?;
                fixture::flip_byte(p, 100)
            },
        },
        Variant {
            name: "flipped_first_byte",
            accepted: false,
            make: |p| {
                good(p)?;
                fixture::flip_byte(p, 0)
            },
        },
        Variant {
            name: "no_execute_bit",
            accepted: false,
            make: |p| {
                good(p)?;
                fixture::set_mode(p, 0o644)
            },
        },
        Variant {
            name: "footer_ver_2",
            accepted: false,
            make: |p| {
                good(p)?;
                edit_trailer(p, 8, &2u32.to_le_bytes())
            },
        },
        Variant {
            name: "reserved_nonzero",
            accepted: false,
            make: |p| {
                good(p)?;
                edit_trailer(p, 50, &[1])
            },
        },
        Variant {
            name: "bad_magic",
            accepted: false,
            make: |p| {
                good(p)?;
                edit_trailer(p, 56, b"AFBNDL02")
            },
        },
        Variant {
            name: "lengths_past_start",
            accepted: false,
            make: |p| {
                good(p)?;
                edit_trailer(p, 0, &u32::MAX.to_le_bytes())
            },
        },
        Variant {
            name: "no_executable_region",
            accepted: false,
            make: |p| {
                // The source length claims the whole executable.
                good(p)?;
                let size = fs::metadata(p)?.len() as usize;
                let mut data = fs::read(p)?;
                let t = size - TRAILER_LEN;
                let metadata_len = u32::from_le_bytes(data[t + 4..t + 8].try_into().unwrap());
                let source_len = (size - TRAILER_LEN - metadata_len as usize) as u32;
                data[t..t + 4].copy_from_slice(&source_len.to_le_bytes());
                fs::write(p, data)?;
                Ok(())
            },
        },
        Variant {
            name: "truncated",
            accepted: false,
            make: |p| {
                fs::write(p, b"AFBNDL01")?;
                fixture::set_mode(p, 0o755)
            },
        },
        Variant {
            name: "plain_executable",
            accepted: false,
            make: |p| {
                fixture::copy(&example_executable()?, p)?;
                fixture::set_mode(p, 0o755)
            },
        },
        Variant {
            name: "manifest_not_utf8",
            accepted: false,
            make: |p| {
                let mut m = format!("{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d:\n    tasks: [t]\n# ")
                    .into_bytes();
                m.extend_from_slice(&[0xff, 0xfe, b'\n']);
                write_bundle_raw(&example_executable()?, b"", &m, p)
            },
        },
        Variant {
            name: "manifest_not_yaml",
            accepted: false,
            make: |p| raw(p, "dags: {d: [\n"),
        },
        Variant {
            name: "manifest_a_list",
            accepted: false,
            make: |p| raw(p, "- dags\n- sdk\n"),
        },
        Variant {
            name: "schema_version_unquoted_date",
            accepted: false,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: 2026-06-16\ndags:\n  d:\n    tasks: [t]\n"
                    ),
                )
            },
        },
        Variant {
            name: "schema_version_unknown",
            accepted: false,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-17\"\ndags:\n  d:\n    tasks: [t]\n"
                    ),
                )
            },
        },
        Variant {
            name: "schema_version_missing",
            accepted: false,
            make: |p| raw(p, &format!("{MANIFEST_HEAD}dags:\n  d:\n    tasks: [t]\n")),
        },
        Variant {
            name: "dags_a_list",
            accepted: false,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags:\n  - d\n"
                    ),
                )
            },
        },
        Variant {
            name: "dags_empty",
            accepted: false,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags: {{}}\n"
                    ),
                )
            },
        },
        Variant {
            name: "dag_id_an_int",
            accepted: false,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags:\n  123:\n    tasks: [t]\n"
                    ),
                )
            },
        },
        Variant {
            // 1.3.2 finds the bundle for "d"; the int key only makes "123" unfindable.
            name: "dag_ids_str_and_int",
            accepted: true,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d:\n    tasks: [t]\n  123:\n    tasks: [t]\n"
                    ),
                )
            },
        },
        Variant {
            // Tasks are not read by 1.3.2.
            name: "tasks_not_a_list",
            accepted: true,
            make: |p| {
                raw(
                    p,
                    &format!(
                        "{MANIFEST_HEAD}  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d: 7\n"
                    ),
                )
            },
        },
    ]
}

fn make_variants(dir: &Path) -> Result<Vec<(&'static str, bool, PathBuf)>> {
    variants()
        .into_iter()
        .map(|v| {
            let path = dir.join(v.name);
            (v.make)(&path)?;
            Ok((v.name, v.accepted, path))
        })
        .collect()
}

/// For every variant, `airflow_bundle::verify::verify_path` accepts exactly when 1.3.2's
/// lookup would use the file, and both match what the variant is meant to be.
#[test]
fn rust_verifier_agrees_with_airflow_on_every_variant() -> Result<()> {
    let dir = tempdir();
    let files = make_variants(dir.path())?;
    let report = harness::reader(&[dir.path()], &["d"])?;
    let mut disagreements = Vec::new();
    for (name, expected, path) in &files {
        let airflow = report.file(path);
        let ours = verify_path(path)?;
        if airflow.accepted != *expected || ours.accepted() != airflow.accepted {
            disagreements.push(format!(
                "{name}: meant {expected}, Airflow {} (metadata_accepted {}, schema_error {:?}), ours {} {:?}",
                airflow.accepted,
                airflow.metadata_accepted,
                airflow.schema_error,
                ours.accepted(),
                ours.verdicts[0].failures().collect::<Vec<_>>()
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    Ok(())
}

/// `cargo airflow verify --airflow 3.3` exits 0 for a good bundle and 3 for each file Airflow
/// 3.3 refuses.
#[test]
fn cli_verify_agrees_with_airflow() -> Result<()> {
    let dir = tempdir();
    let files = make_variants(dir.path())?;
    let report = harness::reader(&[dir.path()], &["d"])?;
    fn for_3_3(p: &Path) -> [&OsStr; 3] {
        [OsStr::new("--airflow"), OsStr::new("3.3"), p.as_os_str()]
    }
    for (name, _, path) in &files {
        let airflow = report.file(path).accepted;
        let out = pack::verify(for_3_3(path))?;
        let code = out.status.code();
        assert_eq!(
            code,
            Some(if airflow { 0 } else { 3 }),
            "{name}: Airflow accepted={airflow}, `cargo airflow verify` exited {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Several files at once: one refused file makes the whole run exit 3.
    let all: Vec<&OsStr> = files.iter().map(|(_, _, p)| p.as_os_str()).collect();
    assert_eq!(pack::verify(&all)?.status.code(), Some(3));
    let good = &files.iter().find(|(n, _, _)| *n == "good").unwrap().2;
    let json = &files
        .iter()
        .find(|(n, _, _)| *n == "json_manifest")
        .unwrap()
        .2;
    assert_eq!(pack::verify([good, json])?.status.code(), Some(0));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Differential corpus: generated hostile bundles, each judged by our verifier and by each released
// reader on its own (`reader.py --corpus` in the 3.3 and the 3.4 venv); for each release they must
// agree on every file.

/// What a reader makes of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The lookup would use it.
    Accepted,
    /// The reader skips it.
    Rejected,
    /// `_read_bundle_metadata` lets an exception escape: every lookup under the root fails.
    Raises,
}

const HEAD: &str = "airflow_bundle_metadata_version: \"1.0\"\nsdk:\n  language: rust\n  supervisor_schema_version: \"2026-06-16\"\n";

/// A manifest with `dags` holding one key spelled `key` (as YAML source).
fn with_dag_key(key: &str) -> String {
    format!("{HEAD}dags:\n  {key}:\n    tasks: [t]\n")
}

/// Hand-picked manifests: each way the reader can refuse a file, plus PyYAML quirks found while
/// building it.
fn manifest_cases() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, text: String| cases.push((name.to_owned(), text.into_bytes()));
    add("good", with_dag_key("d"));
    // Billion laughs: ten levels of ten aliases (PyYAML shares the nodes, so does ours).
    let mut lol = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        lol.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    add("billion_laughs", format!("{lol}{}", with_dag_key("d")));
    add(
        "billion_laughs_as_dags",
        format!("{lol}{HEAD}dags: {{d: *l10}}\n"),
    );
    for c in [
        '\u{1}', '\u{7}', '\u{1b}', '\u{7f}', '\u{9f}', '\u{fffe}', '\u{ffff}',
    ] {
        add(
            &format!("control_U+{:04X}", c as u32),
            format!("{HEAD}x: \"a{c}b\"\ndags:\n  d: {{}}\n"),
        );
    }
    add(
        "python_tag",
        format!("{HEAD}x: !!python/object:os.system 1\ndags:\n  d: {{}}\n"),
    );
    add(
        "python_name_tag",
        format!("{HEAD}x: !!python/name:os.system ''\ndags:\n  d: {{}}\n"),
    );
    add(
        "unknown_tag",
        format!("{HEAD}x: !custom 1\ndags:\n  d: {{}}\n"),
    );
    add("yaml_2_0", format!("%YAML 2.0\n---\n{}", with_dag_key("d")));
    add("yaml_1_2", format!("%YAML 1.2\n---\n{}", with_dag_key("d")));
    add("yaml_1_1", format!("%YAML 1.1\n---\n{}", with_dag_key("d")));
    add(
        "bad_date_key",
        format!("{}  2026-13-45:\n    tasks: [t]\n", with_dag_key("d")),
    );
    add(
        "feb_29_non_leap",
        format!("{HEAD}x: 2026-02-29\ndags:\n  d: {{}}\n"),
    );
    add(
        "feb_29_leap",
        format!("{HEAD}x: 2024-02-29\ndags:\n  d: {{}}\n"),
    );
    add(
        "hour_25",
        format!("{HEAD}x: 2024-01-01 25:00:00\ndags:\n  d: {{}}\n"),
    );
    add(
        "offset_25",
        format!("{HEAD}x: 2024-01-01 10:00:00 +25\ndags:\n  d: {{}}\n"),
    );
    add("year_0", format!("{HEAD}x: 0000-01-01\ndags:\n  d: {{}}\n"));
    add("int_0b_", format!("{HEAD}x: 0b_\ndags:\n  d: {{}}\n"));
    add("int_0x_", format!("{HEAD}x: 0x_\ndags:\n  d: {{}}\n"));
    add(
        "int_4301_digits",
        format!("{HEAD}x: {}\ndags:\n  d: {{}}\n", "1".repeat(4301)),
    );
    add(
        "int_4300_digits",
        format!("{HEAD}x: {}\ndags:\n  d: {{}}\n", "1".repeat(4300)),
    );
    add(
        "tagged_int_abc",
        format!("{HEAD}x: !!int abc\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_bool_x",
        format!("{HEAD}x: !!bool x\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_float_1",
        format!("{HEAD}x: !!float 1\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_binary_bad",
        format!("{HEAD}x: !!binary 'YQ'\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_binary_good",
        format!("{HEAD}x: !!binary 'YWJj'\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_set",
        format!("{HEAD}x: !!set {{a, b}}\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_omap",
        format!("{HEAD}x: !!omap [a: 1, b: 2]\ndags:\n  d: {{}}\n"),
    );
    add(
        "tagged_omap_on_map",
        format!("{HEAD}x: !!omap {{a: 1}}\ndags:\n  d: {{}}\n"),
    );
    add("nel_breaks", with_dag_key("d").replace('\n', "\u{85}"));
    add("ls_breaks", with_dag_key("d").replace('\n', "\u{2028}"));
    add(
        "surrogate_escape",
        format!("{HEAD}x: \"\\ud800\"\ndags:\n  d: {{}}\n"),
    );
    add("surrogate_escape_dag", with_dag_key("\"\\udfff\""));
    add("equals_key", with_dag_key("="));
    add("equals_value", format!("{HEAD}x: =\ndags:\n  d: {{}}\n"));
    add(
        "merge_key_value",
        format!("{HEAD}x: <<\ndags:\n  d: {{}}\n"),
    );
    add(
        "merge_dags",
        format!("base: &b {{d: {{}}}}\n{HEAD}dags:\n  <<: *b\n"),
    );
    add(
        "merge_root",
        "base: &b\n  sdk: {supervisor_schema_version: \"2026-06-16\"}\n<<: *b\ndags: {d: {}}\n"
            .to_owned(),
    );
    add(
        "merge_seq_inline",
        format!("{HEAD}dags:\n  <<: [{{d: {{}}}}, {{e: {{}}}}]\n"),
    );
    add("merge_scalar", format!("{HEAD}dags:\n  <<: 1\n  d: {{}}\n"));
    merge_cases(&mut add);
    add("bool_key_only", with_dag_key("yes"));
    add("int_key_only", with_dag_key("123"));
    add(
        "int_and_str_keys",
        format!("{}  123: {{}}\n", with_dag_key("d")),
    );
    add("list_key", format!("{}  ? [a]\n  : 1\n", with_dag_key("d")));
    add("two_documents", format!("{}---\na: 1\n", with_dag_key("d")));
    add("empty_document", String::new());
    add("only_comment", "# nothing\n".into());
    add("scalar_document", "just a string\n".into());
    add("bom", format!("\u{feff}{}", with_dag_key("d")));
    add(
        "schema_unquoted",
        "sdk:\n  supervisor_schema_version: 2026-06-16\ndags:\n  d: {}\n".into(),
    );
    add(
        "schema_tagged_str",
        "sdk:\n  supervisor_schema_version: !!str 2026-06-16\ndags:\n  d: {}\n".into(),
    );
    add(
        "schema_non_specific",
        "sdk:\n  supervisor_schema_version: ! 2026-06-16\ndags:\n  d: {}\n".into(),
    );
    add(
        "schema_via_alias",
        "v: &v \"2026-06-16\"\nsdk:\n  supervisor_schema_version: *v\ndags:\n  d: {}\n".into(),
    );
    add(
        "undefined_alias",
        format!("{HEAD}x: *nowhere\ndags:\n  d: {{}}\n"),
    );
    add(
        "duplicate_dags_last_wins",
        format!("{HEAD}dags: {{d: {{}}}}\ndags: [d]\n"),
    );
    add(
        "block_depth_400",
        format!("{HEAD}dags:\n  d: {{}}\nx:\n{}x\n", "- ".repeat(400)),
    );
    add(
        "block_depth_600",
        format!("{HEAD}dags:\n  d: {{}}\nx:\n{}x\n", "- ".repeat(600)),
    );
    add(
        "flow_depth_200",
        format!(
            "{HEAD}dags:\n  d: {{}}\nx: {}{}\n",
            "[".repeat(200),
            "]".repeat(200)
        ),
    );
    add(
        "flow_depth_1000",
        format!(
            "{HEAD}dags:\n  d: {{}}\nx: {}{}\n",
            "[".repeat(1000),
            "]".repeat(1000)
        ),
    );
    // Over 16 MiB: Airflow has no size limit.
    let mut big = with_dag_key("d");
    big.push_str("filler: \"");
    big.push_str(&"x".repeat(17 * 1024 * 1024));
    big.push_str("\"\n");
    add("manifest_17_mib", big);
    cases
}

/// Merge keys (`<<`) where the verdict reads them (`dags`, `sdk`, the root), as PyYAML 6.0.4
/// flattens them: precedence by key identity, merge sources of any tag, refused non-mappings;
/// then anchors, `!!omap` items and the order of faults, which the same loader decides.
fn merge_cases(add: &mut impl FnMut(&str, String)) {
    const GOOD: &str = "dags:\n  d: {}\n";
    const V: &str = "\"2026-06-16\"";
    const BAD_V: &str = "\"1999-01-01\"";
    let sdk = |body: &str| format!("airflow_bundle_metadata_version: \"1.0\"\nsdk:\n{body}{GOOD}");
    // In `dags`.
    add(
        "merge_alias_list",
        format!("a: &a {{d: {{}}}}\nb: &b {{e: {{}}}}\n{HEAD}dags:\n  <<: [*a, *b]\n"),
    );
    add(
        "merge_in_merged",
        format!("a: &a {{d: {{}}}}\nb: &b {{<<: *a}}\n{HEAD}dags:\n  <<: *b\n"),
    );
    add(
        "merge_inline_nested",
        format!("{HEAD}dags:\n  <<: {{<<: {{<<: {{d: {{}}}}}}}}\n"),
    );
    add(
        "merge_scalar_alias",
        format!("v: &v x\n{HEAD}dags:\n  <<: *v\n  d: {{}}\n"),
    );
    add("merge_null", format!("{HEAD}dags:\n  <<: ~\n  d: {{}}\n"));
    add(
        "merge_list_with_scalar",
        format!("{HEAD}dags:\n  <<: [{{d: {{}}}}, 1]\n"),
    );
    add(
        "merge_empty_list",
        format!("{HEAD}dags:\n  <<: []\n  d: {{}}\n"),
    );
    add(
        "merge_unread_list_with_scalar",
        format!("{HEAD}{GOOD}x: {{<<: [1]}}\n"),
    );
    add(
        "merge_set_source",
        format!("{HEAD}dags:\n  <<: !!set {{d}}\n"),
    );
    add(
        "merge_omap_source",
        format!("{HEAD}dags:\n  <<: !!omap [d: {{}}]\n"),
    );
    add(
        "merge_unknown_tag_source",
        format!("{HEAD}dags:\n  <<: !foo {{d: {{}}}}\n"),
    );
    add(
        "merge_unknown_tag_source_aliased",
        format!("{HEAD}dags:\n  <<: &x !foo {{d: {{}}}}\nz: *x\n"),
    );
    add(
        "merge_in_set_scalar",
        format!("{HEAD}{GOOD}x: !!set {{<<: 1}}\n"),
    );
    add(
        "merge_tagged_key",
        format!("{HEAD}dags:\n  !!merge x: {{d: {{}}}}\n"),
    );
    add(
        "merge_quoted_key",
        format!("{HEAD}dags:\n  '<<': {{d: {{}}}}\n"),
    );
    add(
        "merge_short_keys_first_wins",
        format!("{HEAD}dags:\n  <<: [{{d: []}}, {{d: {{}}}}]\n"),
    );
    add(
        "merge_quoted_and_plain_one",
        format!("{HEAD}dags:\n  <<: [{{1: {{}}}}, {{'1': {{}}}}]\n"),
    );
    add(
        "merge_plain_and_quoted_one",
        format!("{HEAD}dags:\n  <<: [{{'1': {{}}}}, {{1: {{}}}}]\n"),
    );
    // In `sdk`: which supervisor_schema_version wins.
    add(
        "merge_sdk",
        sdk(&format!(
            "  <<: {{supervisor_schema_version: {V}}}\n  language: rust\n"
        )),
    );
    add(
        "merge_sdk_explicit_after_wins",
        format!(
            "v: &v {{supervisor_schema_version: {V}}}\nsdk:\n  <<: *v\n  supervisor_schema_version: {BAD_V}\n{GOOD}"
        ),
    );
    add(
        "merge_sdk_explicit_before_wins",
        format!(
            "v: &v {{supervisor_schema_version: {BAD_V}}}\nsdk:\n  supervisor_schema_version: {V}\n  <<: *v\n{GOOD}"
        ),
    );
    add(
        "merge_sdk_list_later_wins",
        sdk(&format!(
            "  <<: [{{supervisor_schema_version: {BAD_V}}}, {{supervisor_schema_version: {V}}}]\n"
        )),
    );
    add(
        "merge_sdk_list_later_wins_bad",
        sdk(&format!(
            "  <<: [{{supervisor_schema_version: {V}}}, {{supervisor_schema_version: {BAD_V}}}]\n"
        )),
    );
    add(
        "merge_sdk_two_keys_later_wins",
        sdk(&format!(
            "  <<: {{supervisor_schema_version: {BAD_V}}}\n  <<: {{supervisor_schema_version: {V}}}\n"
        )),
    );
    add(
        "merge_sdk_aliased_key_first_wins",
        format!(
            "k: &k supervisor_schema_version\nsdk:\n  <<: [{{*k : {V}}}, {{*k : {BAD_V}}}]\n{GOOD}"
        ),
    );
    add(
        "merge_sdk_nested_override",
        format!(
            "a: &a {{supervisor_schema_version: {V}}}\nb: &b {{<<: *a, supervisor_schema_version: {BAD_V}}}\nsdk:\n  <<: *b\n{GOOD}"
        ),
    );
    // At the root.
    add(
        "merge_root_dags",
        format!("<<: {{dags: {{d: {{}}}}}}\n{HEAD}"),
    );
    add(
        "merge_root_explicit_dags_wins",
        format!("<<: {{dags: {{d: {{}}}}}}\n{HEAD}dags: []\n"),
    );
    add(
        "merge_root_list_later_wins",
        format!("<<: [{{dags: {{d: {{}}}}}}, {{dags: []}}]\n{HEAD}"),
    );
    add(
        "merge_root_merged_sdk_merges",
        format!("a: &a {{sdk: {{<<: {{supervisor_schema_version: {V}}}}}}}\n<<: *a\n{GOOD}"),
    );
    add(
        "merge_root_seq_alias",
        format!("l: &l [{{dags: {{d: {{}}}}}}]\n<<: *l\n{HEAD}"),
    );
    // Anchors, recursion, `!!omap` items, the order of faults.
    add("recursive_list", format!("{HEAD}{GOOD}x: &a [*a]\n"));
    add(
        "recursive_self_merge",
        format!("{HEAD}dags: &d {{<<: *d, e: {{}}}}\n"),
    );
    add(
        "duplicate_anchor",
        format!("a: &x 1\nb: &x 2\n{HEAD}{GOOD}"),
    );
    add("anchor_name_dot", format!("{HEAD}{GOOD}x: &a.b 1\n"));
    add(
        "anchor_after_utf8_comment",
        format!("# é ж 𝄞\nc: 'é𝄞' # ж\n{HEAD}{GOOD}x: &a 1\ny: &a 2\n"),
    );
    add(
        "omap_two_pairs",
        format!("{HEAD}{GOOD}x: !!omap [{{a: 1, b: 2}}]\n"),
    );
    add(
        "omap_list_key",
        format!("{HEAD}{GOOD}x: !!omap [? [a] : 1]\n"),
    );
    add(
        "fault_crash_then_syntax",
        format!("a: 2026-13-45\n{HEAD}{GOOD}b: [\n"),
    );
    add(
        "fault_nested_reject_then_crash",
        format!("{HEAD}{GOOD}b: [!foo x]\na: 2026-13-45\n"),
    );
    add(
        "fault_merged_pair_first",
        format!("{HEAD}{GOOD}z: !!int abc\n<<: {{y: !foo 1}}\n"),
    );
}

/// YAML-1.1-hazard spellings for generated dag keys and schema versions.
const SPELLINGS: &[&str] = &[
    "d",
    "\"d\"",
    "'d'",
    "123",
    "\"123\"",
    "1_000",
    "0x1f",
    "0o17",
    "017",
    "08",
    "1:30",
    "190:20:30",
    "1.5",
    "1e3",
    "1.e+3",
    ".inf",
    ".NaN",
    "yes",
    "No",
    "ON",
    "y",
    "n",
    "true",
    "null",
    "~",
    "\"\"",
    "2026-01-01",
    "2026-1-1 1:00:00",
    "2026-01-01t10:00:00Z",
    "2026-02-30",
    "=",
    "'='",
    "<<",
    "!!str 12",
    "!!int 12",
    "!!binary ZA==",
    "! 12",
    "\"\\N\"",
    "\"\\_\"",
    "café",
    "a b",
    "-1",
    "+1",
    "0b101",
    "0b102",
    "0x",
    "0xg",
    "1_",
    "_1",
    "1__0",
    ".5",
    "5.",
    "-.inf",
    "+.inf",
    "2026-13-01",
];

/// Manifests generated from [`SPELLINGS`]: each as a dag key, and each as the schema version.
fn generated_cases() -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for (i, s) in SPELLINGS.iter().enumerate() {
        cases.push((format!("gen_key_{i:02}"), with_dag_key(s).into_bytes()));
        cases.push((
            format!("gen_schema_{i:02}"),
            format!("sdk:\n  supervisor_schema_version: {s}\ndags:\n  d: {{}}\n").into_bytes(),
        ));
        cases.push((
            format!("gen_value_{i:02}"),
            format!("{HEAD}x: {s}\ny: [{s}]\ndags:\n  d: {{}}\n").into_bytes(),
        ));
    }
    cases
}

/// Writes one corpus bundle over a tiny fake executable (the reader never runs it), mode 0755.
fn write_raw(path: &Path, exe: &[u8], manifest: &[u8]) -> Result<()> {
    write_raw_mode(path, exe, manifest, 0o755)
}

fn write_raw_mode(path: &Path, exe: &[u8], manifest: &[u8], mode: u32) -> Result<()> {
    let mut out = Vec::new();
    airflow_bundle::write::write_bundle(&mut &exe[..], &mut out, b"fn main() {}\n", manifest)?;
    fs::write(path, out)?;
    fixture::set_mode(path, mode)
}

/// Files on which the readers of 3.3 and 3.4 differ, or might: the execute bit, the schema
/// versions each supervisor knows, and which exceptions of `yaml.safe_load` each catches. Each
/// with the verdicts the released readers give, 3.3's first (checked against them too, so that
/// the cases keep separating the releases).
fn release_cases(dir: &Path) -> Result<Vec<(PathBuf, [Verdict; 2])>> {
    use Verdict::{Accepted, Raises, Rejected};
    const NEW: &str = "airflow_bundle_metadata_version: \"1.0\"\nsdk:\n  language: rust\n  supervisor_schema_version: \"2026-10-30\"\n";
    let good = with_dag_key("d");
    let cases: Vec<(&str, String, u32, [Verdict; 2])> = vec![
        ("rel_mode_0644", good.clone(), 0o644, [Rejected, Accepted]),
        ("rel_mode_0600", good.clone(), 0o600, [Rejected, Accepted]),
        (
            "rel_schema_2026_10_30",
            format!("{NEW}dags:\n  d: {{}}\n"),
            0o755,
            [Rejected, Accepted],
        ),
        (
            "rel_schema_2026_10_30_mode_0644",
            format!("{NEW}dags:\n  d: {{}}\n"),
            0o644,
            [Rejected, Accepted],
        ),
        (
            "rel_schema_2026_10_30_unquoted",
            "sdk:\n  supervisor_schema_version: 2026-10-30\ndags:\n  d: {}\n".into(),
            0o755,
            [Rejected, Rejected],
        ),
        (
            "rel_schema_2026_10_31",
            "sdk:\n  supervisor_schema_version: \"2026-10-31\"\ndags:\n  d: {}\n".into(),
            0o755,
            [Rejected, Rejected],
        ),
        (
            "rel_impossible_date_key",
            format!("{good}  2026-13-45: {{}}\n"),
            0o755,
            [Raises, Rejected],
        ),
        (
            "rel_impossible_date_key_mode_0644",
            format!("{good}  2026-13-45: {{}}\n"),
            0o644,
            // 3.3's scan never opens a file without the execute bit.
            [Rejected, Rejected],
        ),
        (
            "rel_impossible_date_new_schema",
            format!("{NEW}dags:\n  d: {{}}\n  2026-02-30: {{}}\n"),
            0o755,
            [Raises, Rejected],
        ),
        (
            "rel_int_too_long",
            format!("{good}x: {}\n", "7".repeat(4301)),
            0o755,
            [Raises, Rejected],
        ),
        (
            "rel_tagged_int",
            format!("{good}x: !!int twelve\n"),
            0o755,
            [Raises, Rejected],
        ),
        (
            "rel_tagged_float",
            format!("{good}x: !!float twelve\n"),
            0o755,
            [Raises, Rejected],
        ),
        (
            "rel_tagged_bool_keyerror",
            format!("{good}x: !!bool maybe\n"),
            0o755,
            [Raises, Raises],
        ),
        (
            "rel_tagged_float_empty_indexerror",
            format!("{good}x: !!float ''\n"),
            0o755,
            [Raises, Raises],
        ),
        (
            "rel_tagged_timestamp_attributeerror",
            format!("{good}x: !!timestamp soon\n"),
            0o755,
            [Raises, Raises],
        ),
        (
            "rel_recursion",
            format!("{good}x: {}{}\n", "[".repeat(1000), "]".repeat(1000)),
            0o755,
            [Raises, Raises],
        ),
        // The lookup reads no file name: a bundle with an extension is found by both (but 3.4's
        // Dag processor runs only extension-less files for native dags: see `native_parse`).
        ("rel_name.bin", good.clone(), 0o755, [Accepted, Accepted]),
        ("rel_name-0.1.2", good.clone(), 0o755, [Accepted, Accepted]),
        ("rel_name.", good.clone(), 0o755, [Accepted, Accepted]),
        (".rel_hidden", good.clone(), 0o755, [Accepted, Accepted]),
    ];
    let mut out = Vec::new();
    for (name, manifest, mode, expected) in cases {
        let p = dir.join(name);
        write_raw_mode(&p, b"EXE", manifest.as_bytes(), mode)?;
        out.push((p, expected));
    }
    Ok(out)
}

/// Trailer and region mutations of a good bundle.
fn trailer_cases(dir: &Path) -> Result<Vec<PathBuf>> {
    let good = with_dag_key("d").into_bytes();
    let mut base = Vec::new();
    airflow_bundle::write::write_bundle(&mut &b"EXE"[..], &mut base, b"src", &good)?;
    let n = base.len();
    let t = n - TRAILER_LEN;
    let le = |v: u32| v.to_le_bytes();
    type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        ("tr_bad_magic", Box::new(move |b| b[n - 1] = b'2')),
        (
            "tr_version_2",
            Box::new(move |b| b[t + 8..t + 12].copy_from_slice(&le(2))),
        ),
        (
            "tr_version_0",
            Box::new(move |b| b[t + 8..t + 12].copy_from_slice(&le(0))),
        ),
        ("tr_reserved", Box::new(move |b| b[t + 50] = 1)),
        (
            "tr_source_len_huge",
            Box::new(move |b| b[t..t + 4].copy_from_slice(&le(u32::MAX))),
        ),
        (
            "tr_metadata_len_huge",
            Box::new(move |b| b[t + 4..t + 8].copy_from_slice(&le(u32::MAX))),
        ),
        (
            "tr_metadata_len_0",
            Box::new(move |b| b[t + 4..t + 8].copy_from_slice(&le(0))),
        ),
        (
            "tr_empty_exe",
            Box::new(move |b| {
                let s = u32::from_le_bytes(b[t..t + 4].try_into().unwrap());
                b[t..t + 4].copy_from_slice(&le(s + 3));
            }),
        ),
        ("tr_sha_flipped", Box::new(move |b| b[t + 12] ^= 1)),
        ("tr_exe_flipped", Box::new(|b| b[0] ^= 1)),
        ("tr_truncated", Box::new(|b| b.truncate(40))),
        (
            "tr_only_trailer",
            Box::new(move |b| {
                b.drain(..t);
            }),
        ),
        ("tr_bad_utf8", Box::new(move |b| b[t - 3] = 0xff)),
    ];
    let mut paths = Vec::new();
    for (name, mutate) in mutations {
        let mut bytes = base.clone();
        mutate(&mut bytes);
        let p = dir.join(name);
        fs::write(&p, bytes)?;
        fixture::set_mode(&p, 0o755)?;
        paths.push(p);
    }
    Ok(paths)
}

/// Our verdict for `release`: the verdict, why, the dag ids, and whether it warns that the file
/// name keeps the Dag processor from parsing native dags.
fn ours(path: &Path, release: AirflowRelease) -> Result<(Verdict, String, Vec<String>, bool)> {
    let r = airflow_bundle::verify::verify_path(path, &[release])?;
    let v = &r.verdicts[0];
    let no_native = v
        .warnings
        .iter()
        .any(|w| w.contains("parses native dags only from files without one"));
    let why = v
        .failures()
        .map(|(c, w)| format!("{c}: {w}"))
        .collect::<Vec<_>>()
        .join("; ");
    let verdict = if v.breaks_lookup.is_some() {
        Verdict::Raises
    } else if v.accepted() {
        Verdict::Accepted
    } else {
        Verdict::Rejected
    };
    let ids = r.dag_ids.iter().map(str::to_owned).collect();
    Ok((verdict, why.chars().take(300).collect(), ids, no_native))
}

/// One released reader's verdict on one file.
#[derive(Debug)]
struct Theirs {
    verdict: Verdict,
    detail: String,
    /// The `str` dag ids, when the metadata reader returned a mapping.
    dag_ids: Option<Vec<String>>,
    /// The lookup gave the file an execute bit it lacked.
    mode_set: bool,
    /// The Dag processor would run the file for native dags (1.4.0b2; `None` with 1.3.2).
    native_parse: Option<bool>,
}

/// The test-venv release whose task SDK models `release`.
fn venv_release(release: AirflowRelease) -> airflow_e2e::venv::Release {
    match release {
        AirflowRelease::V3_3 => airflow_e2e::venv::Release::V3_3,
        AirflowRelease::V3_4 => airflow_e2e::venv::Release::V3_4,
    }
}

/// Runs `reader.py --corpus` over `dir` with `release`'s task SDK: its verdict on each file.
fn airflow_corpus(dir: &Path, release: AirflowRelease) -> Result<BTreeMap<PathBuf, Theirs>> {
    let venv = venv_release(release);
    let python = airflow_e2e::venv::python_for(venv)?;
    let out = std::process::Command::new(python)
        .arg(airflow_e2e::harness_dir().join("reader.py"))
        .args(["--corpus", "--root"])
        .arg(dir)
        .env_remove("AIRFLOW_HOME")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::null())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "reader.py --corpus ({release}) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["package_version"], venv.task_sdk_version());
    assert_eq!(v["package_version"], release.task_sdk());
    let mut map = BTreeMap::new();
    for f in v["files"].as_array().expect("files") {
        let verdict = match f["verdict"].as_str() {
            Some("accepted") => Verdict::Accepted,
            Some("rejected") => Verdict::Rejected,
            Some("raises") => Verdict::Raises,
            other => panic!("unknown verdict {other:?}"),
        };
        let dag_ids = f["dag_ids"].as_array().map(|ids| {
            ids.iter()
                .map(|id| id.as_str().expect("a str dag id").to_owned())
                .collect()
        });
        map.insert(
            PathBuf::from(f["path"].as_str().expect("path")),
            Theirs {
                verdict,
                detail: f["detail"].as_str().unwrap_or("").to_owned(),
                dag_ids,
                mode_set: f["mode_set"].as_bool().expect("mode_set"),
                native_parse: f["native_parse"].as_bool(),
            },
        );
    }
    Ok(map)
}

/// Every corpus file gets the same verdict from `verify --airflow R` as from release R's reader:
/// accepted (with the same dag ids), skipped, or raising past the reader (which breaks the whole
/// root); for both released readers, each against its own verdict.
#[test]
fn differential_corpus_agrees_with_both_airflow_releases() -> Result<()> {
    let dir = tempdir();
    let mut paths = trailer_cases(dir.path())?;
    for (name, manifest) in manifest_cases().into_iter().chain(generated_cases()) {
        let p = dir.path().join(&name);
        write_raw(&p, b"EXE", &manifest)?;
        paths.push(p);
    }
    let separating = release_cases(dir.path())?;
    paths.extend(separating.iter().map(|(p, _)| p.clone()));
    // Ours first, for both releases: 1.4.0b2's lookup sets the execute bit of what it finds.
    let mut mine = BTreeMap::new();
    for p in &paths {
        for release in AirflowRelease::ALL {
            mine.insert((p.canonicalize()?, release), ours(p, release)?);
        }
    }
    let mut disagreements = Vec::new();
    let mut theirs_by_release = BTreeMap::new();
    for release in AirflowRelease::ALL {
        let airflow = airflow_corpus(dir.path(), release)?;
        let mut counts = BTreeMap::new();
        for p in &paths {
            let canonical = p.canonicalize()?;
            let name = p.file_name().unwrap().to_string_lossy();
            let theirs = airflow
                .get(&canonical)
                .unwrap_or_else(|| panic!("reader.py ({release}) did not judge {}", p.display()));
            let (verdict, why, ids, no_native) = &mine[&(canonical.clone(), release)];
            // An accepted bundle whose name the Dag processor passes over is warned about.
            if *verdict == Verdict::Accepted
                && theirs
                    .native_parse
                    .is_some_and(|parsed| parsed == *no_native)
            {
                disagreements.push(format!(
                    "{name} ({release}): the Dag processor parses it for native dags: {:?}, verify warns it does not: {no_native}",
                    theirs.native_parse
                ));
            }
            *counts.entry(format!("{:?}", theirs.verdict)).or_insert(0) += 1;
            if *verdict != theirs.verdict {
                disagreements.push(format!(
                    "{name} ({release}): Airflow {:?} ({}), verify {verdict:?} ({why})",
                    theirs.verdict, theirs.detail
                ));
            }
            if let Some(their_ids) = &theirs.dag_ids
                && their_ids != ids
            {
                disagreements.push(format!(
                    "{name} ({release}): Airflow's dag ids {their_ids:?}, verify's {ids:?}"
                ));
            }
        }
        // The corpus exercises all three outcomes on each release.
        assert_eq!(counts.len(), 3, "{release}: {counts:?}");
        theirs_by_release.insert(release, airflow);
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements over {} files and 2 releases:\n{}",
        disagreements.len(),
        paths.len(),
        disagreements.join("\n")
    );
    // The separating files separate: each released reader gives the verdict they were made for,
    // and 3.4 really set the execute bit of the 0644 files it accepted.
    for (p, expected) in &separating {
        let canonical = p.canonicalize()?;
        for (release, want) in AirflowRelease::ALL.into_iter().zip(expected) {
            let theirs = &theirs_by_release[&release][&canonical];
            assert_eq!(
                theirs.verdict,
                *want,
                "{} ({release}): {theirs:?}",
                p.display()
            );
            let chmodded = p.to_string_lossy().contains("mode_06") && *want == Verdict::Accepted;
            assert_eq!(theirs.mode_set, chmodded, "{} ({release})", p.display());
        }
    }
    let differing = separating.iter().filter(|(_, [a, b])| a != b).count();
    assert!(
        differing >= 8,
        "only {differing} files separate the releases"
    );
    // 3.4's Dag processor passes over exactly the names with an extension.
    let passed_over: Vec<&str> = separating
        .iter()
        .filter(|(p, _)| {
            theirs_by_release[&AirflowRelease::V3_4][&p.canonicalize().unwrap()].native_parse
                == Some(false)
        })
        .map(|(p, _)| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(passed_over, ["rel_name.bin", "rel_name-0.1.2"]);
    Ok(())
}
