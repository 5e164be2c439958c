//! Checks a file the way the released Airflow bundle readers do (task SDK 1.3.2 for Airflow 3.3,
//! 1.4.0b2 for Airflow 3.4), and says which check failed for which release.
//!
//! A reader skips a file silently at its first failure, so a subtly wrong bundle simply "is not
//! there" for Airflow. This module applies the same checks in the same order, keeps going where a
//! later check can still be evaluated, and reports every outcome. The file is read once; what
//! differs between releases is decided from what was found, by the rules of [`AirflowRelease`].

use std::fmt;
use std::io::{Read, Seek};
use std::path::Path;
use std::str::FromStr;

use crate::dag_ids::DagIds;
use crate::footer::{FooterError, Layout, Trailer};
use crate::read::{BundleReader, ReadError};
use crate::yaml11::{self, LoadError, Value};

/// An Airflow release whose bundle reader [`verify`] models: the task SDK it ships decides which
/// files its `ExecutableCoordinator` finds.
///
/// Every rule that differs between releases is a method here, read from the released sources
/// (`airflow/sdk/coordinators/executable/coordinator.py` and, in 1.4, `_bundle_metadata.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AirflowRelease {
    /// Airflow 3.3 with `apache-airflow-task-sdk` 1.3.2.
    V3_3,
    /// Airflow 3.4 with `apache-airflow-task-sdk` 1.4.0b2.
    V3_4,
}

impl AirflowRelease {
    /// Every release modelled, oldest first.
    pub const ALL: [AirflowRelease; 2] = [AirflowRelease::V3_3, AirflowRelease::V3_4];

    /// `"3.3"` or `"3.4"`.
    pub fn name(self) -> &'static str {
        match self {
            AirflowRelease::V3_3 => "3.3",
            AirflowRelease::V3_4 => "3.4",
        }
    }

    /// The `apache-airflow-task-sdk` version whose reader this models.
    pub fn task_sdk(self) -> &'static str {
        match self {
            AirflowRelease::V3_3 => "1.3.2",
            AirflowRelease::V3_4 => "1.4.0b2",
        }
    }

    /// The `sdk.supervisor_schema_version` values its supervisor resolves
    /// (`get_schema_version_migrator().resolve_version`).
    pub fn supervisor_schema_versions(self) -> &'static [&'static str] {
        match self {
            AirflowRelease::V3_3 => &["2026-06-16"],
            AirflowRelease::V3_4 => &["2026-06-16", "2026-10-30"],
        }
    }

    /// Whether its scan needs the execute bit. 1.3.2 walks only executable regular files;
    /// 1.4.0b2 considers every regular file, finds bundles by their trailer and sets the bit
    /// itself (`_ensure_executable`) before running one.
    pub fn needs_execute_bit(self) -> bool {
        match self {
            AirflowRelease::V3_3 => true,
            AirflowRelease::V3_4 => false,
        }
    }

    /// Whether its reader catches `exception` raised by `yaml.safe_load` on a manifest, and so
    /// only skips that file. Both catch `yaml.YAMLError`; 1.4.0b2 also catches `ValueError`
    /// (`_open_verified_bundle`). What is not caught escapes `_Bundle.find`, so the lookup of
    /// every dag under the same root fails.
    pub fn catches(self, exception: PyException) -> bool {
        match self {
            AirflowRelease::V3_3 => false,
            AirflowRelease::V3_4 => exception == PyException::ValueError,
        }
    }

    /// Whether its Dag processor parses native dags only from files without an extension.
    /// 1.4.0b2's `ExecutableDagImporter.can_handle` takes a file only when its `Path.suffix` is
    /// empty (the lookup for stub dags reads no name); 1.3.2 has no native dags.
    pub fn native_dags_need_no_extension(self) -> bool {
        match self {
            AirflowRelease::V3_3 => false,
            AirflowRelease::V3_4 => true,
        }
    }

    /// What its coordinator scans for bundles, for messages.
    fn scan_root(self) -> &'static str {
        match self {
            AirflowRelease::V3_3 => "the same executables_root",
            AirflowRelease::V3_4 => "the same Dag bundle",
        }
    }
}

impl fmt::Display for AirflowRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Airflow {}", self.name())
    }
}

/// A release name that is not one of [`AirflowRelease::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Airflow release {0:?}: use 3.3 or 3.4")]
pub struct UnknownRelease(String);

impl FromStr for AirflowRelease {
    type Err = UnknownRelease;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AirflowRelease::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRelease(s.chars().take(20).collect()))
    }
}

/// A Python exception `yaml.safe_load` raises on a manifest besides `yaml.YAMLError`, as the
/// YAML 1.1 loader predicts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyException {
    /// A scalar that `int()`, `float()` or `datetime` refuses (`2026-13-45`, `!!int abc`).
    ValueError,
    /// An empty `!!float`.
    IndexError,
    /// A `!!bool` that is not a YAML 1.1 bool.
    KeyError,
    /// A `!!timestamp` its regular expression does not match.
    AttributeError,
    /// Collections nested deeper than PyYAML's recursive composer can go.
    RecursionError,
}

impl fmt::Display for PyException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PyException::ValueError => "ValueError",
            PyException::IndexError => "IndexError",
            PyException::KeyError => "KeyError",
            PyException::AttributeError => "AttributeError",
            PyException::RecursionError => "RecursionError",
        })
    }
}

/// One check of the readers, in the order 1.3.2 applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The file has the execute bit (1.3.2 only considers executable regular files; 1.4.0b2
    /// sets the bit itself).
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
    /// `sdk.supervisor_schema_version` is a string the release's supervisor knows.
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

/// What one release's reader makes of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The release judged.
    pub release: AirflowRelease,
    /// Each check with its outcome, in [`Check::ALL`] order.
    pub outcomes: Vec<(Check, Outcome)>,
    /// Notes that hold for this release only and do not make it skip the file.
    pub warnings: Vec<String>,
    /// Set when `yaml.safe_load` raises on the manifest an exception this release's reader does
    /// not catch ([`AirflowRelease::catches`]): the dag lookup of every bundle under the same
    /// root fails, not just this file's.
    pub breaks_lookup: Option<String>,
}

impl Verdict {
    /// Whether this release would accept the file (every check passed).
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
}

/// Everything the verifier found about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One verdict per release asked for, in the order asked.
    pub verdicts: Vec<Verdict>,
    /// The decoded trailer, when it could be decoded.
    pub trailer: Option<Trailer>,
    /// The region layout, when the trailer fits the file.
    pub layout: Option<Layout>,
    /// The dag ids a reader would match (keys of `dags` that load as strings; the same for every
    /// release), sorted, in one buffer however many there are.
    pub dag_ids: DagIds,
    /// Problems that do not make any release skip the file but that a user should fix, such as
    /// dag keys that load as something other than a string (Airflow can never match those dags).
    pub warnings: Vec<String>,
}

impl Report {
    /// Whether every release judged would accept the file.
    pub fn accepted(&self) -> bool {
        self.verdicts.iter().all(Verdict::accepted)
    }

    /// The verdict of `release`, if it was judged.
    pub fn verdict(&self, release: AirflowRelease) -> Option<&Verdict> {
        self.verdicts.iter().find(|v| v.release == release)
    }
}

/// What a file's `sdk.supervisor_schema_version` is, kept small whatever the file holds.
#[derive(Debug, Clone)]
enum Schema {
    /// Not evaluated (the manifest did not load).
    NotReached,
    /// Not a usable string in any release, with the reason.
    Unusable(String),
    /// A string: the known version it equals (of any release), and the text quoted for messages.
    Str(Option<&'static str>, String),
}

/// The release-independent findings, from one read of the file.
struct Findings {
    outcomes: Vec<(Check, Outcome)>,
    trailer: Option<Trailer>,
    layout: Option<Layout>,
    dag_ids: DagIds,
    warnings: Vec<String>,
    /// The permission bits, when the file's metadata is known.
    mode: Option<u32>,
    /// The file name's extension as Python's `Path.suffix` sees it, quoted, when it has one.
    extension: Option<String>,
    /// What `safe_load` raises besides `yaml.YAMLError`, and the message.
    crash: Option<(PyException, String)>,
    schema: Schema,
}

impl Findings {
    fn set(&mut self, check: Check, outcome: Outcome) {
        if let Some(slot) = self.outcomes.iter_mut().find(|(c, _)| *c == check) {
            slot.1 = outcome;
        }
    }

    /// `release`'s verdict: the shared outcomes with the rules of that release applied.
    fn judge(&self, release: AirflowRelease) -> Verdict {
        let mut verdict = Verdict {
            release,
            outcomes: self.outcomes.clone(),
            warnings: Vec::new(),
            breaks_lookup: None,
        };
        let set = |v: &mut Verdict, check: Check, outcome: Outcome| {
            if let Some(slot) = v.outcomes.iter_mut().find(|(c, _)| *c == check) {
                slot.1 = outcome;
            }
        };
        let no_execute_bit = self.mode.filter(|m| m & 0o111 == 0);
        if let Some(mode) = no_execute_bit.filter(|_| release.needs_execute_bit()) {
            let why = format!(
                "mode is {:04o}: no execute bit, so {release}'s scan skips the file (chmod 0755 it)",
                mode & 0o7777
            );
            set(&mut verdict, Check::Executable, Outcome::Fail(why));
        }
        if let Some((exception, e)) = &self.crash {
            let why = if release.catches(*exception) {
                format!("{e}; {release}'s reader catches the {exception} and skips this file")
            } else if no_execute_bit.is_some() && release.needs_execute_bit() {
                // The scan never opens the file, so nothing raises: yet.
                format!(
                    "{e}, an exception {release}'s reader does not catch: once the file is executable, the dag lookup of every bundle under {} fails",
                    release.scan_root()
                )
            } else {
                let why = format!(
                    "{e}, an exception {release}'s reader does not catch: the dag lookup of every bundle under {} fails until this file is fixed or removed",
                    release.scan_root()
                );
                verdict.breaks_lookup = Some(why.clone());
                why
            };
            set(&mut verdict, Check::ManifestMapping, Outcome::Fail(why));
        }
        let schema = match &self.schema {
            Schema::NotReached => Outcome::NotReached,
            Schema::Unusable(why) => Outcome::Fail(why.clone()),
            Schema::Str(Some(v), _) if release.supervisor_schema_versions().contains(v) => {
                Outcome::Pass
            }
            Schema::Str(known, quoted) => {
                let later = AirflowRelease::ALL
                    .into_iter()
                    .filter(|r| known.is_some_and(|v| r.supervisor_schema_versions().contains(&v)))
                    .map(AirflowRelease::name)
                    .collect::<Vec<_>>();
                let hint = if later.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; it is Airflow {}'s (airflow-sdk declares 2026-06-16 unless `Bundle::supervisor_schema` asks for another)",
                        later.join(", ")
                    )
                };
                Outcome::Fail(format!(
                    "supervisor_schema_version {quoted} is not one {release}'s supervisor knows ({:?}){hint}",
                    release.supervisor_schema_versions()
                ))
            }
        };
        set(&mut verdict, Check::SupervisorSchemaVersion, schema);
        // Said only of a bundle the release would use: otherwise the mode is not what matters.
        if let Some(mode) = no_execute_bit.filter(|_| !release.needs_execute_bit())
            && verdict.accepted()
        {
            verdict.warnings.push(format!(
                "mode is {:04o}: {release} sets the execute bit itself before running the bundle, which fails where the worker cannot chmod the file (chmod 0755 it)",
                mode & 0o7777
            ));
        }
        if let Some(ext) = &self.extension
            && release.native_dags_need_no_extension()
            && verdict.accepted()
        {
            verdict.warnings.push(format!(
                "the name ends in {ext}, a file extension to {release}'s Dag processor, which parses native dags only from files without one: a native dag of this bundle would never appear (stub dags still find it; rename the file)"
            ));
        }
        verdict
    }
}

/// The extension of the file name as Python's `Path.suffix` has it (from the last dot, unless
/// that dot starts or ends the name), quoted for messages.
fn python_suffix(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    let dot = name.rfind('.')?;
    (dot > 0 && dot + 1 < name.len()).then(|| quote(&name[dot..]))
}

/// Verifies the file at `path` for each of `releases`, including its execute bit. I/O errors
/// opening it are returned; everything about its content is in the report.
///
/// # Errors
///
/// The I/O error of opening or reading the file at `path`.
pub fn verify_path(path: &Path, releases: &[AirflowRelease]) -> std::io::Result<Report> {
    let file = crate::read::open_regular(path)?;
    let meta = file.metadata()?;
    let mut findings = find(file);
    findings.mode = mode_of(&meta);
    findings.extension = python_suffix(path);
    Ok(report(findings, releases))
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps)] // the same signature as the non-Unix twin, which has no mode
fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode())
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// Verifies bundle bytes from any seekable source for each of `releases`. The execute bit is
/// not known here and is reported as passed; [`verify_path`] checks it.
pub fn verify<R: Read + Seek>(inner: R, releases: &[AirflowRelease]) -> Report {
    report(find(inner), releases)
}

fn report(findings: Findings, releases: &[AirflowRelease]) -> Report {
    Report {
        verdicts: releases.iter().map(|r| findings.judge(*r)).collect(),
        trailer: findings.trailer,
        layout: findings.layout,
        dag_ids: findings.dag_ids,
        warnings: findings.warnings,
    }
}

/// Reads the file once and evaluates every check; the execute bit and the release-dependent
/// outcomes are left to [`Findings::judge`].
fn find<R: Read + Seek>(inner: R) -> Findings {
    let mut report = Findings {
        outcomes: Check::ALL
            .iter()
            .map(|c| (*c, Outcome::NotReached))
            .collect(),
        trailer: None,
        layout: None,
        dag_ids: DagIds::new(),
        warnings: Vec::new(),
        mode: None,
        extension: None,
        crash: None,
        schema: Schema::NotReached,
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

fn check_manifest(bytes: Vec<u8>, report: &mut Findings) {
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
        Err(LoadError::Crashes(exception, e)) => {
            // Each release decides whether this only skips the file ([`Findings::judge`]).
            report.set(Check::ManifestMapping, Outcome::Fail(e.clone()));
            report.crash = Some((exception, e));
            return;
        }
    };
    report.set(Check::ManifestMapping, Outcome::Pass);
    report.schema = check_schema(&root);
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
        Err(LoadError::Rejected(why) | LoadError::Crashes(_, why)) => {
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

fn check_schema(root: &Value) -> Schema {
    let unusable = |why: String| Schema::Unusable(why);
    let Some(sdk) = root.get("sdk") else {
        return unusable("the manifest has no `sdk` mapping".into());
    };
    if sdk.as_dict().is_none() {
        return unusable(format!("`sdk` is a {}, not a mapping", sdk.kind()));
    }
    match sdk.get("supervisor_schema_version") {
        None => unusable("`sdk.supervisor_schema_version` is missing".into()),
        Some(Value::Str(s)) if s.is_empty() => {
            unusable("`sdk.supervisor_schema_version` is empty".into())
        }
        Some(Value::Str(s)) => {
            let known = AirflowRelease::ALL
                .iter()
                .flat_map(|r| r.supervisor_schema_versions())
                .find(|v| ***v == **s)
                .copied();
            Schema::Str(known, quote(s))
        }
        Some(v) => unusable(format!(
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

    const BOTH: &[AirflowRelease] = &AirflowRelease::ALL;
    use AirflowRelease::{V3_3, V3_4};

    /// The failed checks of one release.
    fn failed(r: &Report, release: AirflowRelease) -> Vec<Check> {
        r.verdict(release)
            .unwrap()
            .failures()
            .map(|(c, _)| c)
            .collect()
    }

    fn check(man: &str) -> Report {
        verify(Cursor::new(bundle(man)), BOTH)
    }

    #[test]
    fn accepts_a_good_bundle() {
        let r = check(GOOD);
        assert!(r.accepted(), "{r:?}");
        assert_eq!(r.verdicts.len(), 2);
        assert_eq!(r.dag_ids, ["123", "etl"]);
    }

    #[test]
    fn a_non_string_dag_key_only_hides_its_own_dag() {
        let man = "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d: {}\n  123: {}\n";
        let r = check(man);
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
            let r = super::verify(Cursor::new(bundle(man)), BOTH);
            for release in AirflowRelease::ALL {
                assert_eq!(failed(&r, release), vec![check], "{release}: {man}");
            }
        }
        let mut b = bundle(GOOD);
        b[0] ^= 1;
        let r = verify(Cursor::new(b), BOTH);
        assert_eq!(failed(&r, V3_3), vec![Check::BinarySha256]);
        assert_eq!(failed(&r, V3_4), vec![Check::BinarySha256]);
        let mut b = Vec::new();
        write_bundle(&mut &b"exe"[..], &mut b, b"", b"\xff\xfe").unwrap();
        let r = verify(Cursor::new(b), BOTH);
        assert_eq!(failed(&r, V3_3), vec![Check::ManifestUtf8]);
        let r = verify(Cursor::new(b"short".to_vec()), BOTH);
        assert_eq!(failed(&r, V3_4), vec![Check::Trailer]);
    }

    #[test]
    fn extensions_are_what_python_calls_a_suffix() {
        let ext = |name: &str| python_suffix(Path::new(name));
        assert_eq!(ext("dir.d/bundle"), None);
        assert_eq!(ext(".hidden"), None);
        assert_eq!(ext("bundle."), None);
        assert_eq!(ext("bundle-0.1.2").as_deref(), Some("\".2\""));
        assert_eq!(ext("b.bin").as_deref(), Some("\".bin\""));
    }

    #[test]
    fn the_releases_know_exactly_the_schema_versions_pack_accepts() {
        let mut known: Vec<&str> = AirflowRelease::ALL
            .iter()
            .flat_map(|r| r.supervisor_schema_versions())
            .copied()
            .collect();
        known.sort_unstable();
        known.dedup();
        assert_eq!(known, crate::KNOWN_SUPERVISOR_SCHEMA_VERSIONS);
    }

    #[test]
    fn schema_2026_10_30_is_airflow_3_4_only() {
        let man = "sdk:\n  supervisor_schema_version: \"2026-10-30\"\ndags:\n  d: {}\n";
        let r = check(man);
        assert!(!r.accepted());
        assert!(r.verdict(V3_4).unwrap().accepted(), "{r:?}");
        assert_eq!(failed(&r, V3_3), [Check::SupervisorSchemaVersion]);
        let (_, why) = r.verdict(V3_3).unwrap().failures().next().unwrap();
        assert!(
            why.contains("Airflow 3.3") && why.contains("it is Airflow 3.4's"),
            "{why}"
        );
        // Judged for 3.4 alone, the file is fine.
        assert!(verify(Cursor::new(bundle(man)), &[V3_4]).accepted());
    }

    #[test]
    fn an_impossible_date_breaks_the_root_on_3_3_and_skips_the_file_on_3_4() {
        let r = check(
            "sdk:\n  supervisor_schema_version: \"2026-06-16\"\ndags:\n  d: {}\n  2026-13-45: {}\n",
        );
        let (old, new) = (r.verdict(V3_3).unwrap(), r.verdict(V3_4).unwrap());
        assert!(
            old.breaks_lookup
                .as_deref()
                .unwrap()
                .contains("executables_root"),
            "{old:?}"
        );
        assert_eq!(new.breaks_lookup, None);
        assert_eq!(failed(&r, V3_4), [Check::ManifestMapping]);
        let (_, why) = new.failures().next().unwrap();
        assert!(
            why.contains("catches the ValueError and skips this file"),
            "{why}"
        );
    }

    #[test]
    fn exceptions_other_than_value_error_break_the_root_on_both() {
        for man in [
            "x: !!bool maybe\n",
            "x: !!float ''\n",
            "x: !!timestamp soon\n",
        ] {
            let r = check(man);
            for release in AirflowRelease::ALL {
                assert!(
                    r.verdict(release).unwrap().breaks_lookup.is_some(),
                    "{release}: {man}"
                );
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_execute_bit_matters_on_3_3_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        std::fs::write(&path, bundle(GOOD)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = verify_path(&path, BOTH).unwrap();
        assert_eq!(failed(&r, V3_3), [Check::Executable]);
        let new = r.verdict(V3_4).unwrap();
        assert!(new.accepted());
        assert!(
            new.warnings[0].contains("sets the execute bit itself"),
            "{new:?}"
        );
        assert!("3.4".parse::<AirflowRelease>().unwrap() == V3_4);
        assert!("3.5".parse::<AirflowRelease>().is_err());
    }
}
