#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use airflow_bundle::glibc::{GlibcNeeds, GlibcVersion};
use airflow_bundle::record::Record;
use airflow_bundle::{DagIds, Manifest};
use serde::{Deserialize, Serialize};

/// The `format_version` of the reports this crate describes.
///
/// 2: a [`VerifiedFile`] holds one [`ReleaseVerdict`] per Airflow release judged, in place of
/// version 1's single list of checks.
pub const FORMAT_VERSION: u32 = 2;

/// What `cargo airflow pack --message-format json` prints once the bundle is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The bundle written (absolute).
    pub bundle: PathBuf,
    /// The package it was built from, when a cargo package was involved.
    pub package: Option<String>,
    /// The bin target (or, for a prebuilt executable outside a package, the file's name).
    pub bin: String,
    /// The executable that was packed: cargo's artifact, or `--executable` (absolute).
    pub executable: PathBuf,
    /// The target triple.
    pub target: String,
    /// The cargo profile; `unknown` for a prebuilt executable that records none.
    pub profile: String,
    /// Dag ids (sorted) with their task ids (in registration order).
    pub dags: BTreeMap<String, Vec<String>>,
    /// The number of tasks over all dags.
    pub tasks: usize,
    /// The bundle's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the executable region (the trailer's `binary_sha256`).
    pub binary_sha256: String,
    /// The output already held exactly these bytes and was left untouched.
    pub fresh: bool,
    /// Where the dags came from.
    pub metadata_source: MetadataSource,
    /// The combined input digest of the executable's airflow-build record, when it has one.
    pub source_digest: Option<String>,
    /// Warnings about the metadata (ids Airflow's server would refuse, empty dags, ...).
    pub warnings: Vec<String>,
    /// The Python stub dag file written next to the bundle; none with `--no-stubs` or when
    /// every dag is native.
    pub stubs: Option<PathBuf>,
    /// Stub files cargo-airflow generated earlier for this bundle, removed because they would
    /// still declare its dags: at the default path once every dag is native, or at the name
    /// cargo-airflow 0.1 gave stub files (`-` and `.` made `_`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stubs_removed: Vec<PathBuf>,
    /// Why the files the build read beyond the airflow-build record (`include_str!` data,
    /// `#[path]` modules, files outside the package) could not be checked for freshness, when
    /// they could not (no cargo dep-info beside the executable); the rest was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_inputs_unchecked: Option<String>,
    /// Which glibc the executable needs (the newest `GLIBC_` symbol version it references, and
    /// the symbols bound to each), or why it needs none. Absent only from the reports of
    /// cargo-airflow releases before it was added.
    #[serde(default)]
    pub glibc: Option<GlibcNeeds>,
    /// The oldest glibc the bundle had to run on (`--glibc`, else `[package.metadata.airflow]
    /// glibc`), when one was declared: the pack refuses an executable that needs a newer one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc_floor: Option<GlibcVersion>,
}

/// Where the packed dags and tasks came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataSource {
    /// Running the executable with `--airflow-metadata`.
    Binary,
    /// The metadata airflow-build's host sidecar embedded at build time (the executable cannot
    /// run on this host).
    Sidecar,
    /// Running the executable, which agreed with the embedded sidecar metadata.
    BinaryAndSidecar,
}

/// What `cargo airflow verify --message-format json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Every file was read and every release judged would load it.
    pub ok: bool,
    /// One entry per file, in the order given.
    pub files: Vec<VerifiedFile>,
}

/// The verdicts on one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedFile {
    /// The file, as given on the command line.
    pub path: PathBuf,
    /// The file was read and every release judged would load it.
    pub accepted: bool,
    /// Why the file could not be read at all (then there are no verdicts).
    #[serde(default)]
    pub error: Option<String>,
    /// The dag ids a reader matches once it accepts the file (the same for every release),
    /// sorted (a JSON list of strings; held in one buffer, as a manifest can hold millions).
    #[serde(default)]
    pub dag_ids: DagIds,
    /// Problems that stop no release from loading the file.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The trailer's `binary_sha256`, when the trailer could be decoded.
    #[serde(default)]
    pub binary_sha256: Option<String>,
    /// One verdict per release judged (`--airflow`, or every release), oldest first.
    #[serde(default)]
    pub verdicts: Vec<ReleaseVerdict>,
}

/// What one Airflow release's bundle reader makes of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseVerdict {
    /// The Airflow release: `"3.3"` or `"3.4"`.
    pub airflow: String,
    /// The `apache-airflow-task-sdk` version whose reader was modelled (`"1.3.2"`, `"1.4.0b2"`).
    pub task_sdk: String,
    /// This release would load the file.
    pub accepted: bool,
    /// Set when the manifest makes this release's reader raise past its own checks: the dag
    /// lookup of every bundle under the same root fails, not just this file's.
    #[serde(default)]
    pub breaks_lookup: Option<String>,
    /// Notes for this release only that do not stop it from loading the file.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Every check of the reader, in the order it applies them.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
}

/// One check of Airflow's reader and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name (`executable`, `trailer`, `binary_sha256`, ...).
    pub check: String,
    /// What came of it.
    pub outcome: Outcome,
    /// Why it failed (only for [`Outcome::Fail`]).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed; the reason is in [`CheckResult::reason`].
    Fail,
    /// An earlier check failed, so this one could not be evaluated.
    NotReached,
}

/// What `cargo airflow inspect --message-format json` prints.
///
/// `Text` is how the manifest and the source are held: a `String` for readers (the default);
/// `cargo airflow` itself serializes them straight from the bytes it read, so that a big
/// manifest is never copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectReport<Text = String> {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The file, as given on the command line.
    pub path: PathBuf,
    /// The airflow-build record of the executable region, when it carries one.
    pub record: Option<Record>,
    /// The manifest as stored (invalid UTF-8 replaced by U+FFFD).
    pub manifest_text: Text,
    /// The manifest parsed, when it is UTF-8 and parses.
    pub manifest: Option<Manifest>,
    /// The source region as text (invalid UTF-8 replaced by U+FFFD); none when it is over
    /// 16 MiB.
    pub source: Option<Text>,
    /// The trailer's fields.
    pub trailer: TrailerFields,
    /// Where each region lies in the file.
    pub layout: Layout,
    /// Which glibc the executable region needs (see [`PackReport::glibc`]); absent only from
    /// the reports of cargo-airflow releases before it was added.
    #[serde(default)]
    pub glibc: Option<GlibcNeeds>,
}

/// What `cargo airflow inspect --glibc --message-format json FILE` prints, for a bundle or a
/// plain executable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlibcReport {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The file, as given on the command line.
    pub path: PathBuf,
    /// Which glibc it needs, or why none.
    pub glibc: GlibcNeeds,
}

/// The 64-byte trailer's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailerFields {
    /// Length of the source region.
    pub source_len: u32,
    /// Length of the manifest region.
    pub metadata_len: u32,
    /// The footer version.
    pub footer_ver: u32,
    /// Lower-case hex SHA-256 of the executable region, as recorded.
    pub binary_sha256: String,
    /// The reserved bytes are all zero.
    pub reserved_zero: bool,
}

/// The regions of a bundle file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The file's size in bytes.
    pub file_size: u64,
    /// The executable region (starts at 0).
    pub executable: Region,
    /// The source region.
    pub source: Region,
    /// The manifest region.
    pub manifest: Region,
    /// The trailer (64 bytes at the end).
    pub trailer: Region,
}

/// A byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Its first byte.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_ignored_and_missing_optional_ones_default() {
        let v: VerifyReport = serde_json::from_str(
            r#"{"format_version":2,"ok":false,"later":"x","files":[
                {"path":"b","accepted":false,"error":"gone"},
                {"path":"c","accepted":true,"verdicts":[
                    {"airflow":"3.4","task_sdk":"1.4.0b2","accepted":true}]}]}"#,
        )
        .unwrap();
        assert_eq!(v.files[0].error.as_deref(), Some("gone"));
        assert!(v.files[0].verdicts.is_empty());
        assert!(v.files[1].verdicts[0].checks.is_empty());
        assert_eq!(v.files[1].verdicts[0].breaks_lookup, None);
    }

    #[test]
    fn a_pack_report_without_glibc_facts_still_reads() {
        let line = r#"{"format_version":2,"bundle":"/b","package":null,"bin":"b",
            "executable":"/e","target":"x86_64-unknown-linux-gnu","profile":"release",
            "dags":{},"tasks":0,"size":1,"binary_sha256":"00","fresh":false,
            "metadata_source":"binary","source_digest":null,"warnings":[],"stubs":null}"#;
        let r: PackReport = serde_json::from_str(line).unwrap();
        assert_eq!((r.glibc, r.glibc_floor), (None, None));
        let with = line.replace(
            r#""stubs":null"#,
            r#""stubs":null,"glibc":{"newest":"2.34","versions":[{"name":"GLIBC_2.34",
                "version":"2.34","symbols":["__libc_start_main"]}]},"glibc_floor":"2.36""#,
        );
        let r: PackReport = serde_json::from_str(&with).unwrap();
        assert_eq!(r.glibc.unwrap().newest, Some(GlibcVersion::new(2, 34)));
        assert_eq!(r.glibc_floor, Some(GlibcVersion::new(2, 36)));
    }

    #[test]
    fn enumerations_are_snake_case() {
        assert_eq!(
            serde_json::to_string(&MetadataSource::BinaryAndSidecar).unwrap(),
            "\"binary_and_sidecar\""
        );
        assert_eq!(
            serde_json::to_string(&Outcome::NotReached).unwrap(),
            "\"not_reached\""
        );
        assert_eq!(
            serde_json::to_string(&airflow_bundle::glibc::NoGlibc::NoVersionReferences).unwrap(),
            "\"no_version_references\""
        );
    }
}
