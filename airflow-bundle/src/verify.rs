//! Checks a file the way the released `apache-airflow-task-sdk` 1.3.2 reader does, and says which
//! check failed.
//!
//! The reader skips a file silently at its first failure, so a subtly wrong bundle simply "is not
//! there" for Airflow. This module applies the same checks in the same order, keeps going where a
//! later check can still be evaluated, and reports every outcome.

use std::fmt;
use std::io::{Read, Seek};
use std::path::Path;

use crate::KNOWN_SUPERVISOR_SCHEMA_VERSIONS;
use crate::dag_ids::DagIds;
use crate::footer::{FooterError, Layout, Trailer};
use crate::read::{BundleReader, ReadError};
use crate::yaml11::{self, LoadError, Value};

/// One check of the 1.3.2 reader, in the order it applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The file has the execute bit (the reader only considers executable regular files).
    Executable,
    /// At least 64 bytes, ending in the `AFBNDL01` magic.
    Trailer,
    /// `footer_ver` is 1.
    FooterVersion,
    /// Reserved trailer bytes are zero.
    Reserved,
    /// The regions fit in the file and leave a non-empty executable region.
    Regions,
    /// The executable region hashes to `binary_sha256`.
    BinarySha256,
    /// The manifest is strict UTF-8.
    ManifestUtf8,
    /// The manifest loads with `yaml.safe_load` (YAML 1.1) to a mapping.
    ManifestMapping,
    /// `dags` is a mapping whose keys load as strings.
    Dags,
    /// `sdk.supervisor_schema_version` is a string the supervisor knows.
    SupervisorSchemaVersion,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 10] = [
        Check::Executable,
        Check::Trailer,
        Check::FooterVersion,
        Check::Reserved,
        Check::Regions,
        Check::BinarySha256,
        Check::ManifestUtf8,
        Check::ManifestMapping,
        Check::Dags,
        Check::SupervisorSchemaVersion,
    ];

    /// A stable, machine-readable name.
    pub fn name(self) -> &'static str {
        match self {
            Check::Executable => "executable",
            Check::Trailer => "trailer",
            Check::FooterVersion => "footer_ver",
            Check::Reserved => "reserved",
            Check::Regions => "regions",
            Check::BinarySha256 => "binary_sha256",
            Check::ManifestUtf8 => "manifest_utf8",
            Check::ManifestMapping => "manifest_mapping",
            Check::Dags => "dags",
            Check::SupervisorSchemaVersion => "supervisor_schema_version",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed, with the reason.
    Fail(String),
    /// Could not be evaluated because an earlier check failed.
    NotReached,
}

/// Everything the verifier found about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Each check with its outcome, in [`Check::ALL`] order.
    pub outcomes: Vec<(Check, Outcome)>,
    /// The decoded trailer, when it could be decoded.
    pub trailer: Option<Trailer>,
    /// The region layout, when the trailer fits the file.
    pub layout: Option<Layout>,
    /// The dag ids Airflow would match (keys of `dags` that load as strings), sorted, in one
    /// buffer however many there are.
    pub dag_ids: DagIds,
    /// Problems that do not make Airflow skip the file but that a user should fix, such as dag
    /// keys that load as something other than a string (Airflow can never match those dags).
    pub warnings: Vec<String>,
    /// Set when `yaml.safe_load` raises something other than a `yaml.YAMLError` on the manifest
    /// (a `ValueError` for `2026-13-45`, a `RecursionError` for deep nesting): 1.3.2's reader does
    /// not catch it, so the dag lookup of the whole `executables_root` fails, not just this file.
    pub breaks_lookup: Option<String>,
}

impl Report {
    /// Whether Airflow 1.3.2 would accept the file (every check passed).
    pub fn accepted(&self) -> bool {
        self.outcomes.iter().all(|(_, o)| *o == Outcome::Pass)
    }

    /// The failed checks and their reasons.
    pub fn failures(&self) -> impl Iterator<Item = (Check, &str)> {
        self.outcomes.iter().filter_map(|(c, o)| match o {
            Outcome::Fail(why) => Some((*c, why.as_str())),
            _ => None,
        })
    }

    fn set(&mut self, check: Check, outcome: Outcome) {
        if let Some(slot) = self.outcomes.iter_mut().find(|(c, _)| *c == check) {
            slot.1 = outcome;
        }
    }
}

/// Verifies the file at `path`, including its execute bit. I/O errors opening it are returned;
/// everything about its content is in the report.
pub fn verify_path(path: &Path) -> std::io::Result<Report> {
    let file = crate::read::open_regular(path)?;
    let meta = file.metadata()?;
    let mut report = verify(file);
    report.set(Check::Executable, executable_outcome(&meta));
    Ok(report)
}

#[cfg(unix)]
fn executable_outcome(meta: &std::fs::Metadata) -> Outcome {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        Outcome::Fail(format!(
            "mode is {:04o}: no execute bit, so Airflow's scan skips the file (chmod 0755 it)",
            mode & 0o7777
        ))
    } else {
        Outcome::Pass
    }
}

#[cfg(not(unix))]
fn executable_outcome(_: &std::fs::Metadata) -> Outcome {
    Outcome::Pass
}

/// Verifies bundle bytes from any seekable source. The execute bit is not known here and is
/// reported as passed; [`verify_path`] checks it.
pub fn verify<R: Read + Seek>(inner: R) -> Report {
    let mut report = Report {
        outcomes: Check::ALL
            .iter()
            .map(|c| (*c, Outcome::NotReached))
            .collect(),
        trailer: None,
        layout: None,
        dag_ids: DagIds::new(),
        warnings: Vec::new(),
        breaks_lookup: None,
    };
    report.set(Check::Executable, Outcome::Pass);
    let mut reader = match BundleReader::new(inner) {
        Ok(r) => r,
        Err(ReadError::Footer(e)) => {
            let failed = match e {
                FooterError::TooShort { .. } | FooterError::BadMagic => Check::Trailer,
                FooterError::UnsupportedVersion(_) => Check::FooterVersion,
                FooterError::NonZeroReserved => Check::Reserved,
                FooterError::RegionsPastStart { .. } | FooterError::EmptyBinaryRegion => {
                    Check::Regions
                }
            };
            for c in Check::ALL.iter().skip(1).take_while(|c| **c != failed) {
                report.set(*c, Outcome::Pass);
            }
            report.set(failed, Outcome::Fail(e.to_string()));
            return report;
        }
        Err(e) => {
            report.set(Check::Trailer, Outcome::Fail(e.to_string()));
            return report;
        }
    };
    for c in [
        Check::Trailer,
        Check::FooterVersion,
        Check::Reserved,
        Check::Regions,
    ] {
        report.set(c, Outcome::Pass);
    }
    report.trailer = Some(*reader.trailer());
    report.layout = Some(*reader.layout());
    report.set(
        Check::BinarySha256,
        match reader.check_hash() {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e.to_string()),
        },
    );
    let bytes = match reader.manifest_bytes() {
        Ok(b) => b,
        Err(e) => {
            report.set(Check::ManifestUtf8, Outcome::Fail(e.to_string()));
            return report;
        }
    };
    check_manifest(bytes, &mut report);
    report
}

fn check_manifest(bytes: Vec<u8>, report: &mut Report) {
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            report.set(
                Check::ManifestUtf8,
                Outcome::Fail(format!("the manifest is not UTF-8: {}", e.utf8_error())),
            );
            return;
        }
    };
    report.set(Check::ManifestUtf8, Outcome::Pass);
    let loaded = yaml11::load(&text);
    // What was loaded owns what it keeps: the text goes before the keys of `dags` are united.
    drop(text);
    let root = match loaded {
        Ok(Some(v)) if v.as_dict().is_some() => v,
        Ok(Some(v)) => {
            let why = format!("the manifest loads as a {}, not a mapping", v.kind());
            report.set(Check::ManifestMapping, Outcome::Fail(why));
            return;
        }
        Ok(None) => {
            report.set(
                Check::ManifestMapping,
                Outcome::Fail("the manifest is empty".into()),
            );
            return;
        }
        Err(LoadError::Rejected(e)) => {
            report.set(
                Check::ManifestMapping,
                Outcome::Fail(format!("the manifest {e}")),
            );
            return;
        }
        Err(LoadError::Crashes(e)) => {
            let why = format!(
                "{e}, an exception Airflow's reader does not catch: the dag lookup of every bundle under the same executables_root fails until this file is fixed or removed"
            );
            report.breaks_lookup = Some(why.clone());
            report.set(Check::ManifestMapping, Outcome::Fail(why));
            return;
        }
    };
    report.set(Check::ManifestMapping, Outcome::Pass);
    report.set(Check::SupervisorSchemaVersion, check_schema(&root));
    // Only `dags` is left to read: the rest of the document goes first, so that a `dags` mapping
    // nothing else holds gives up its keys without a copy.
    let dags = root.get("dags").cloned();
    drop(root);
    let outcome = check_dags(dags, &mut report.dag_ids, &mut report.warnings);
    report.set(Check::Dags, outcome);
}

fn check_dags(dags: Option<Value>, ids: &mut DagIds, warnings: &mut Vec<String>) -> Outcome {
    let Some(dags) = dags else {
        return Outcome::Fail("the manifest has no `dags` key, so no dag id can match".into());
    };
    let node = match dags {
        Value::Map(node) if !node.is_set() => node,
        other => {
            return Outcome::Fail(format!(
                "`dags` is a {}, not a mapping of dag ids",
                other.kind()
            ));
        }
    };
    let (found, bad) = match yaml11::keys(node) {
        Ok(keys) => keys,
        Err(LoadError::Rejected(why) | LoadError::Crashes(why)) => {
            return Outcome::Fail(format!("the manifest {why}"));
        }
    };
    *ids = found;
    // 1.3.2 looks each dag id up as a string key, so a non-string key only hides its own dag;
    // the file is still used for the others.
    if bad.count > 0 {
        let more = bad.count - bad.examples.len() as u64;
        let why = format!(
            "dag ids that YAML 1.1 does not read as strings can never match: {}{} (quote them)",
            bad.examples.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        );
        if ids.is_empty() {
            return Outcome::Fail(why);
        }
        warnings.push(why);
    }
    if ids.is_empty() {
        return Outcome::Fail("`dags` is empty, so no dag id can match".into());
    }
    Outcome::Pass
}

fn check_schema(root: &Value) -> Outcome {
    let Some(sdk) = root.get("sdk") else {
        return Outcome::Fail("the manifest has no `sdk` mapping".into());
    };
    if sdk.as_dict().is_none() {
        return Outcome::Fail(format!("`sdk` is a {}, not a mapping", sdk.kind()));
    }
    match sdk.get("supervisor_schema_version") {
        None => Outcome::Fail("`sdk.supervisor_schema_version` is missing".into()),
        Some(Value::Str(s)) if s.is_empty() => {
            Outcome::Fail("`sdk.supervisor_schema_version` is empty".into())
        }
        Some(Value::Str(s)) if KNOWN_SUPERVISOR_SCHEMA_VERSIONS.contains(&&**s) => Outcome::Pass,
        Some(Value::Str(s)) => Outcome::Fail(format!(
            "supervisor_schema_version {} is not one the supervisor knows ({KNOWN_SUPERVISOR_SCHEMA_VERSIONS:?})",
            quote(s)
        )),
        Some(v) => Outcome::Fail(format!(
            "`sdk.supervisor_schema_version` loads as {} under YAML 1.1, not a string (quote it)",
            v.kind()
        )),
    }
}

/// `text` quoted for a message, cut to its first 40 characters: it comes from the file and may
/// be megabytes long.
fn quote(text: &str) -> String {
    match text.char_indices().nth(40) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!(
            "{:?}... ({} characters)",
            &text[..cut],
            text.chars().count()
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::write::write_bundle;

    fn bundle(man: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_bundle(&mut &b"exe"[..], &mut out, b"src", man.as_bytes()).unwrap();
        out
    }

    const GOOD: &str = "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  \"123\":\n    tasks: [a]\n  etl:\n    tasks: [b]\n";

    fn failed(r: &Report) -> Vec<Check> {
        r.failures().map(|(c, _)| c).collect()
    }

    #[test]
    fn accepts_a_good_bundle() {
        let r = verify(Cursor::new(bundle(GOOD)));
        assert!(r.accepted(), "{r:?}");
        assert_eq!(r.dag_ids, ["123", "etl"]);
    }

    #[test]
    fn a_non_string_dag_key_only_hides_its_own_dag() {
        let man = "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d: {}\n  123: {}\n";
        let r = verify(Cursor::new(bundle(man)));
        assert!(r.accepted(), "{r:?}");
        assert_eq!(r.dag_ids, ["d"]);
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].contains("\"123\" loads as int"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn names_the_failing_check() {
        let cases = [
            (
                "sdk:\n  supervisor_schema_version: 2026-06-16\ndags:\n  d: {}\n",
                Check::SupervisorSchemaVersion,
            ),
            (
                "sdk:\n  supervisor_schema_version: \"2027-01-01\"\ndags:\n  d: {}\n",
                Check::SupervisorSchemaVersion,
            ),
            (
                "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  123: {}\n",
                Check::Dags,
            ),
            (
                "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  - d\n",
                Check::Dags,
            ),
            ("- a\n", Check::ManifestMapping),
            ("a: [", Check::ManifestMapping),
        ];
        for (man, check) in cases {
            let r = verify(Cursor::new(bundle(man)));
            assert_eq!(failed(&r), vec![check], "{man}");
        }
        let mut b = bundle(GOOD);
        b[0] ^= 1;
        assert_eq!(failed(&verify(Cursor::new(b))), vec![Check::BinarySha256]);
        let mut b = Vec::new();
        write_bundle(&mut &b"exe"[..], &mut b, b"", b"\xff\xfe").unwrap();
        assert_eq!(failed(&verify(Cursor::new(b))), vec![Check::ManifestUtf8]);
        assert_eq!(
            failed(&verify(Cursor::new(b"short".to_vec()))),
            vec![Check::Trailer]
        );
    }
}
