//! The Rust declarations checked before Airflow sees them, and the Python stub dag file generated
//! from them.
//!
//! A bundle's `--airflow-metadata` (or, for a foreign target, the sidecar record) carries each
//! dag's declarations ([`airflow_bundle::declare`]). `cargo airflow pack` refuses declarations
//! Airflow would refuse ([`check`]), and writes one Python file with a stub dag for every dag that
//! is not native ([`airflow_bundle::stubs::render`], which treats the manifest as untrusted), so
//! dag ids, task ids, dependencies, schedule and task settings can never drift from the Rust
//! side. `cargo airflow stubs BUNDLE` writes the same file from a bundle packed elsewhere,
//! without running it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use airflow_bundle::Manifest;
use airflow_bundle::declare::{CRON_PRESETS, Schedule};
use airflow_bundle::manifest::Metadata;
use airflow_bundle::read::{BundleReader, open_regular};
use airflow_bundle::sha256::Sha256;
pub use airflow_bundle::stubs::Rendered;
use airflow_bundle::stubs::render;

use crate::error::{Error, Result};
use crate::output::{self, Kind};

/// Everything wrong with the declarations in `metadata`, each naming the dag and task: cycles,
/// unknown task ids, catchup without a start date, bad dates and numbers, invalid cron
/// expressions, and for native dags a task whose queue is not routed to the coordinator.
pub fn check(metadata: &Metadata) -> Vec<String> {
    let mut out = Vec::new();
    for (dag_id, entry) in &metadata.dags {
        let Some(decl) = &entry.declared else {
            continue;
        };
        let ids: Vec<&str> = decl.tasks.iter().map(|t| t.id.as_str()).collect();
        if ids != entry.tasks.iter().map(String::as_str).collect::<Vec<_>>() {
            out.push(format!(
                "dag {dag_id:?}: the declared tasks {ids:?} differ from the task list {:?}; \
                 rebuild the bundle with one airflow-sdk",
                entry.tasks
            ));
        }
        out.extend(decl.problems(dag_id).iter().map(ToString::to_string));
        if decl.native {
            out.extend(
                decl.routing_problems(dag_id)
                    .iter()
                    .map(ToString::to_string),
            );
            for t in decl.tasks.iter().filter(|t| !t.args.is_empty()) {
                out.push(format!(
                    "task {:?} of dag {dag_id:?} takes typed arguments, which only a Python stub \
                     can bind: declare it with Dag::task, or make the dag not native",
                    t.id
                ));
            }
        }
        if let Schedule::Cron { expression, .. } = &decl.schedule
            && let Err(e) = check_cron(expression)
        {
            out.push(format!(
                "dag {dag_id:?}: the cron expression {expression:?} is invalid: {e}"
            ));
        }
    }
    out
}

/// Checks a cron expression as Airflow's cron timetables read it: five fields (minute, hour,
/// day of month, month, day of week) or a preset. Lists, ranges, steps, month and day names,
/// `?`, `L` and `#` are accepted.
pub fn check_cron(expression: &str) -> std::result::Result<(), String> {
    let e = expression.trim();
    if e.starts_with('@') {
        return if CRON_PRESETS.iter().any(|(p, _)| *p == e) {
            Ok(())
        } else {
            Err(format!(
                "unknown preset; known: {}",
                CRON_PRESETS
                    .iter()
                    .map(|(p, _)| *p)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
    }
    let fields: Vec<&str> = e.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "it has {} field(s); a cron expression has 5: minute hour day-of-month month \
             day-of-week",
            fields.len()
        ));
    }
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let spec: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, MONTHS, 1),
        ("day of week", 0, 7, DAYS, 0),
    ];
    for (field, (name, lo, hi, names, base)) in fields.iter().zip(spec) {
        let value = |s: &str| -> std::result::Result<u32, String> {
            let lower = s.to_ascii_lowercase();
            if let Some(i) = names.iter().position(|n| *n == lower) {
                return Ok(i as u32 + base);
            }
            let v: u32 = s
                .parse()
                .map_err(|_| format!("{name}: {s:?} is not a number"))?;
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(format!("{name}: {v} is outside {lo}-{hi}"))
            }
        };
        for item in field.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            if let Some(s) = step
                && !s.parse::<u32>().is_ok_and(|n| n > 0)
            {
                return Err(format!("{name}: the step {s:?} is not a positive number"));
            }
            match range {
                "*" => {}
                "?" if name.starts_with("day") => {}
                "L" if name == "day of month" => {}
                r if name == "day of week" && r.contains('#') => {
                    let (d, n) = r.split_once('#').unwrap_or_default();
                    value(d)?;
                    if !n.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n)) {
                        return Err(format!("{name}: {r:?} needs a week number 1-5 after #"));
                    }
                }
                r if name == "day of week" && r.len() > 1 && r.ends_with('L') => {
                    value(&r[..r.len() - 1])?;
                }
                r => match r.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (value(a)?, value(b)?);
                        if a > b {
                            return Err(format!("{name}: the range {r:?} runs backwards"));
                        }
                    }
                    None if r.is_empty() => return Err(format!("{name}: an empty item")),
                    None => {
                        value(r)?;
                    }
                },
            }
        }
    }
    Ok(())
}

/// Where the stub file of the bundle at `bundle` goes by default: next to it, named
/// `<bundle file name>_dags.py` with the file name kept whole (`.exe`, `-` and `.` included), so
/// that bundles with different names never share a stub file. Airflow imports a dag file by its
/// path under a module name of its own making, so the name need not be a Python identifier.
pub fn default_path(bundle: &Path) -> PathBuf {
    let mut name = bundle
        .file_name()
        .map_or_else(|| OsString::from("bundle"), OsStr::to_os_string);
    name.push("_dags.py");
    bundle.with_file_name(name)
}

/// The manifest and the SHA-256 (hex) of the bundle file at `path`, read without running it.
pub fn read_bundle(path: &Path) -> Result<(Manifest, String)> {
    let mut file = open_regular(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = airflow_bundle::footer::hex(&hasher.finalize());
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let bad = |reason: String| Error::Stubs {
        bundle: path.to_owned(),
        reason,
    };
    let mut reader = BundleReader::new(file).map_err(|e| bad(e.to_string()))?;
    let bytes = reader.manifest_bytes().map_err(|e| bad(e.to_string()))?;
    let manifest = Manifest::from_yaml(&String::from_utf8_lossy(&bytes))
        .map_err(|e| bad(format!("its manifest cannot be read: {e}")))?;
    Ok((manifest, digest))
}

/// What writing a bundle's stub file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubsWritten {
    /// The stub file, when one was needed (written, or already up to date).
    pub path: Option<PathBuf>,
    /// Stub files generated earlier for this bundle that were removed, and why.
    pub removed: Vec<RemovedStub>,
    /// What was rendered.
    pub rendered: Rendered,
}

/// A stub file generated earlier for a bundle, removed because it would still declare the
/// bundle's dags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedStub {
    /// The file removed.
    pub path: PathBuf,
    /// Why it was removed.
    pub reason: RemovedReason,
}

/// Why a generated stub file was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovedReason {
    /// No dag of the bundle gets a generated stub now (every dag is native, or the rest
    /// cannot be stubbed): the file would declare dags as they no longer are.
    NoStubNeeded,
    /// cargo-airflow 0.1 wrote it under the name it used then (`-` and `.` made `_`), which
    /// is no longer the bundle's stub path: left in place, it would declare the dags twice.
    OldName,
}

impl RemovedStub {
    /// Why, in a few words, for the terminal.
    pub fn explain(&self) -> &'static str {
        match self.reason {
            RemovedReason::NoStubNeeded => {
                "generated earlier; no dag of the bundle gets a generated stub any more"
            }
            RemovedReason::OldName => {
                "generated by cargo-airflow 0.1 under the stub name it used then; the stub \
                 file is now named after the whole bundle file name"
            }
        }
    }
}

/// Writes the stub file of the bundle at `bundle` to `out` (default: [`default_path`]), or
/// nothing when every dag is native. An unchanged file is not rewritten; the bundle itself is
/// never overwritten.
pub fn write_for(bundle: &Path, out: Option<&Path>) -> Result<StubsWritten> {
    let (manifest, digest) = read_bundle(bundle)?;
    let problems = check(&manifest.metadata());
    if !problems.is_empty() {
        return Err(Error::Declarations {
            path: bundle.to_owned(),
            problems,
        });
    }
    write_checked(bundle, &manifest, &digest, out, &[("bundle", bundle)])
}

/// [`write_for`] when the caller has the bundle's manifest and digest (hex SHA-256 of the whole
/// file) at hand and has [`check`]ed its declarations: `pack`, which has just written it.
///
/// The file is written through [`crate::output`] (regular file or symbolic link to one, never
/// one of `inputs`, atomic, mode 0644). When no dag needs a stub, a stub file that cargo-airflow
/// generated earlier at the default path is removed, as it would still declare the old dags; a
/// file it did not generate is never touched.
pub fn write_checked(
    bundle: &Path,
    manifest: &Manifest,
    digest: &str,
    out: Option<&Path>,
    inputs: &[(&'static str, &Path)],
) -> Result<StubsWritten> {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rendered = render(manifest, &name, digest);
    let mut removed = Vec::new();
    // Only the default path is ours to tidy: a stub written with `-o` is the user's to place.
    if out.is_none()
        && let Some(old) = old_default_path(bundle)
        && let Some(path) = remove_generated(&old, inputs, Some(&name))?
    {
        removed.push(RemovedStub {
            path,
            reason: RemovedReason::OldName,
        });
    }
    let Some(text) = &rendered.text else {
        if out.is_none()
            && let Some(path) = remove_generated(&default_path(bundle), inputs, None)?
        {
            removed.push(RemovedStub {
                path,
                reason: RemovedReason::NoStubNeeded,
            });
        }
        return Ok(StubsWritten {
            path: None,
            removed,
            rendered,
        });
    };
    let path = out.map_or_else(|| default_path(bundle), Path::to_path_buf);
    let dest = output::check(&path, Kind::Stubs, inputs)?;
    output::write_bytes(&dest, text.as_bytes())?;
    Ok(StubsWritten {
        path: Some(path),
        removed,
        rendered,
    })
}

/// Where cargo-airflow 0.1 put the stub file of the bundle at `bundle` (`-` and `.` of the name
/// made `_`, `.exe` dropped), when that differs from [`default_path`].
fn old_default_path(bundle: &Path) -> Option<PathBuf> {
    let name = bundle.file_name()?.to_str()?;
    let stem = name.strip_suffix(".exe").unwrap_or(name);
    let old = bundle.with_file_name(format!("{}_dags.py", stem.replace(['-', '.'], "_")));
    (old != default_path(bundle)).then_some(old)
}

/// The first line of every stub file cargo-airflow generates.
use airflow_bundle::stubs::FIRST_LINE as GENERATED_FIRST_LINE;

/// How the first line of a stub file written by cargo-airflow 0.1 started.
const GENERATED_FIRST_LINE_0_1: &str = "# Generated by cargo-airflow from the bundle ";

/// Whether the file at `path` is a regular file whose first line says cargo-airflow generated
/// it; with `bundle_0_1`, only a file that cargo-airflow 0.1 generated for the bundle of that
/// file name (its first line named the bundle). Reads at most one short line, and never waits
/// on a FIFO.
fn is_generated(path: &Path, bundle_0_1: Option<&str>) -> bool {
    let Ok(file) = open_regular(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(256);
    if file.take(256).read_to_end(&mut head).is_err() {
        return false;
    }
    let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    match bundle_0_1 {
        // 0.1 wrote the name as a JSON string, then ` (sha256 `.
        Some(name) => {
            let named = format!(
                "{GENERATED_FIRST_LINE_0_1}{} (sha256 ",
                serde_json::Value::from(name)
            );
            first.starts_with(named.as_bytes())
        }
        None => {
            first == GENERATED_FIRST_LINE.as_bytes()
                || first.starts_with(GENERATED_FIRST_LINE_0_1.as_bytes())
        }
    }
}

/// Removes the file at `path` when it is a stub file cargo-airflow generated (a regular file,
/// not a symbolic link, not one of `inputs`; see [`is_generated`] for `bundle_0_1`); returns it
/// when it was removed.
fn remove_generated(
    path: &Path,
    inputs: &[(&'static str, &Path)],
    bundle_0_1: Option<&str>,
) -> Result<Option<PathBuf>> {
    // A symbolic link is the user's arrangement (a deployed file elsewhere): left alone.
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    if !regular
        || output::check(path, Kind::Stubs, inputs).is_err()
        || !is_generated(path, bundle_0_1)
    {
        return Ok(None);
    }
    std::fs::remove_file(path)
        .map_err(|e| Error::io("cannot remove the stale stub file", path, e))?;
    Ok(Some(path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use airflow_bundle::declare::{DagDeclaration, TaskSettings};

    #[test]
    fn cron_expressions_are_checked_field_by_field() {
        for ok in [
            "0 3 * * *",
            "*/15 0-6,22 1,15 jan-mar mon-fri",
            "0 0 L * ?",
            "0 0 * * 5#3",
            "0 0 * * 5L",
            "@daily",
            "0 0 * * 7",
        ] {
            assert_eq!(check_cron(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("0 3 * *", "4 field(s)"),
            ("60 * * * *", "minute: 60 is outside 0-59"),
            ("0 24 * * *", "hour: 24"),
            ("0 0 0 * *", "day of month: 0"),
            ("0 0 * 13 *", "month: 13"),
            ("0 0 * * mon-xyz", "\"xyz\" is not a number"),
            ("*/0 * * * *", "step \"0\""),
            ("5-1 * * * *", "runs backwards"),
            ("@sometimes", "unknown preset"),
            ("0 0 * * 1#9", "week number"),
        ] {
            let err = check_cron(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    fn manifest(decl: DagDeclaration) -> Manifest {
        let tasks = decl.tasks.iter().map(|t| t.id.clone()).collect();
        let mut m = Manifest::new(
            Metadata {
                airflow_bundle_metadata_version: "1.0".into(),
                sdk: airflow_bundle::Sdk {
                    language: "rust".into(),
                    version: "0.1.0".into(),
                    supervisor_schema_version: "2026-06-16".into(),
                    supervisor_schema_versions: vec![],
                },
                dags: Default::default(),
            },
            "main.rs".into(),
            None,
        );
        m.dags.insert(
            "etl".into(),
            airflow_bundle::DagEntry {
                tasks,
                declared: Some(decl),
            },
        );
        m
    }

    fn task(
        id: &str,
        down: &[&str],
        settings: TaskSettings,
    ) -> airflow_bundle::declare::TaskDeclaration {
        airflow_bundle::declare::TaskDeclaration {
            id: id.into(),
            settings,
            downstream: down.iter().map(|d| d.to_string()).collect(),
            args: vec![],
        }
    }

    #[test]
    fn check_names_the_dag_and_task_of_each_problem() {
        let mut d = DagDeclaration::default();
        d.native = true;
        d.coordinator_queues = vec!["rust".into()];
        d.schedule = Schedule::cron("0 25 * * *");
        d.catchup = Some(true);
        d.tasks = vec![
            task("a", &["b"], TaskSettings::new().queue("rust")),
            task("b", &["a", "zz"], TaskSettings::new().queue("default")),
        ];
        let problems = check(&manifest(d).metadata());
        let text = problems.join("\n");
        for needle in [
            "names task \"zz\"",
            "cycle through task \"a\"",
            "dag \"etl\" sets catchup but no start date",
            "task \"b\" of dag \"etl\" runs on queue \"default\"",
            "the cron expression \"0 25 * * *\" is invalid: hour: 25 is outside 0-23",
        ] {
            assert!(text.contains(needle), "{needle} not in:\n{text}");
        }
        assert_eq!(problems.len(), 5, "{text}");
    }

    fn native_dag() -> DagDeclaration {
        let mut d = DagDeclaration::default();
        d.native = true;
        d.coordinator_queues = vec!["rust".into()];
        d.tasks = vec![task("a", &[], TaskSettings::new().queue("rust"))];
        d
    }

    #[test]
    fn what_render_writes_is_recognised_as_generated() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("my-bundle");
        let mut d = native_dag();
        d.native = false;
        let w = write_checked(&bundle, &manifest(d), "00", None, &[]).unwrap();
        let path = w.path.unwrap();
        assert_eq!(path, default_path(&bundle));
        assert!(
            is_generated(&path, None),
            "{}",
            std::fs::read_to_string(&path).unwrap()
        );
    }

    #[test]
    fn a_generated_stub_is_removed_once_every_dag_is_native_and_no_other_file_is() {
        use std::fs;
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("my-bundle");
        let stub = default_path(&bundle);
        let native = manifest(native_dag());
        let old_header = format!("{GENERATED_FIRST_LINE_0_1}\"my-bundle\" (sha256 00).");
        for first in [GENERATED_FIRST_LINE, old_header.as_str()] {
            fs::write(
                &stub,
                format!("{first}\nwith DAG(dag_id=\"etl\"):\n    pass\n"),
            )
            .unwrap();
            let w = write_checked(&bundle, &native, "00", None, &[]).unwrap();
            assert_eq!(w.path, None);
            let paths: Vec<&Path> = w.removed.iter().map(|r| r.path.as_path()).collect();
            assert_eq!(paths, [stub.as_path()], "{first}");
            assert!(!stub.exists());
        }
        // Hand-written files are kept, however much they look like ours further down.
        for text in [
            "# my dags\n# Generated by cargo-airflow from the bundle x\n",
            "#Generated by cargo-airflow. Do not edit: change the dags in Rust and pack again.\n",
            "",
        ] {
            fs::write(&stub, text).unwrap();
            let w = write_checked(&bundle, &native, "00", None, &[]).unwrap();
            assert_eq!(w.removed, [], "{text:?}");
            assert_eq!(fs::read_to_string(&stub).unwrap(), text);
        }
        // A generated stub is kept when it is an input, or not at the default path (-o).
        fs::write(&stub, format!("{GENERATED_FIRST_LINE}\n")).unwrap();
        let inputs = [("input of the build", stub.as_path())];
        let w = write_checked(&bundle, &native, "00", None, &inputs).unwrap();
        assert_eq!(w.removed, []);
        let elsewhere = dir.path().join("elsewhere.py");
        let w = write_checked(&bundle, &native, "00", Some(&elsewhere), &[]).unwrap();
        assert_eq!(w.removed, []);
        assert!(stub.exists());
        // A symbolic link at the default path is the user's arrangement: kept, and its target.
        #[cfg(unix)]
        {
            let target = dir.path().join("deployed.py");
            fs::rename(&stub, &target).unwrap();
            std::os::unix::fs::symlink(&target, &stub).unwrap();
            let w = write_checked(&bundle, &native, "00", None, &[]).unwrap();
            assert_eq!(w.removed, []);
            assert!(
                fs::symlink_metadata(&stub)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert!(target.exists());
        }
    }

    #[test]
    fn the_default_stub_path_keeps_the_bundle_file_name_whole() {
        assert_eq!(
            default_path(Path::new("/o/example-bundle")),
            Path::new("/o/example-bundle_dags.py")
        );
        // Names that differ only by `-`, `.` or `_` (or `.exe`) get different stub files.
        let names = ["a-b", "a_b", "a.b", "a-b.exe", "a_b.exe"];
        let paths: std::collections::BTreeSet<PathBuf> = names
            .iter()
            .map(|n| default_path(&Path::new("/o").join(n)))
            .collect();
        assert_eq!(paths.len(), names.len(), "{paths:?}");
    }
}
