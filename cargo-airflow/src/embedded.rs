//! The airflow-build record an executable carries: where `pack` gets the metadata of a binary
//! this host cannot run, the cross-check for one it can, and the freshness check against the
//! crate's current sources.
//!
//! A foreign binary is never executed: its dags come from the metadata that airflow-build's host
//! sidecar printed at build time. A native binary is run; when it also carries sidecar metadata
//! (`AIRFLOW_BUILD_SIDECAR=always`), the two answers must be the same.

use std::path::{Path, PathBuf};

use airflow_bundle::Metadata;
use airflow_bundle::record::{self, FileDigest, Record};
use airflow_inputs::Change;
use cargo_airflow_report::MetadataSource;

use crate::depinfo;
use crate::error::{Error, Result};
use crate::introspect::{self, Platform};

/// Reads the record embedded in `path`, if any.
pub fn read_record(path: &Path) -> Result<Option<Record>> {
    match record::find_in_file(path) {
        Ok(r) => Ok(r),
        // Not an object file at all (or not a plausible one): introspection reports that more
        // usefully.
        Err(record::RecordError::Object(_) | record::RecordError::Layout(_)) => Ok(None),
        Err(source) => Err(Error::Record {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The bundle's metadata: by running the binary when this host can, else from its record.
pub fn metadata(
    path: &Path,
    bin: &str,
    record: Option<&Record>,
) -> Result<(Metadata, MetadataSource)> {
    let platform = Platform::of_file(path)?;
    let embedded = record.map(|r| sidecar_metadata(path, bin, r)).transpose()?;
    if introspect::check_runnable(path, platform).is_ok() {
        let ran = introspect::run(path)?;
        return match embedded.flatten() {
            None => Ok((ran, MetadataSource::Binary)),
            Some(side) if side == ran => Ok((ran, MetadataSource::BinaryAndSidecar)),
            Some(side) => Err(Error::MetadataMismatch {
                path: path.to_owned(),
                package: record.map_or_else(|| bin.to_owned(), |r| r.package.clone()),
                difference: first_difference(&side, &ran),
            }),
        };
    }
    let here = format!(
        "it is built for {}, which this host cannot run",
        platform.describe()
    );
    match (record, embedded.flatten()) {
        (_, Some(side)) => Ok((side, MetadataSource::Sidecar)),
        (None, _) => Err(Error::NoEmbeddedMetadata {
            path: path.to_owned(),
            reason: format!(
                "{here}, and it carries no airflow-build record; add `airflow-build` to the crate's [build-dependencies], call `airflow_build::build()` from build.rs, keep `airflow_sdk::main!` in main.rs, and rebuild"
            ),
        }),
        (Some(r), None) => Err(Error::NoEmbeddedMetadata {
            path: path.to_owned(),
            reason: match &r.sidecar {
                None => format!(
                    "{here}, and its airflow-build record holds no sidecar metadata (it was built for {} with the sidecar off: airflow-build runs it when the target is not the host, unless AIRFLOW_BUILD_SIDECAR=never); rebuild it with `--target` for the machine that will run it",
                    r.target
                ),
                Some(s) => format!(
                    "{here}, and its sidecar metadata covers bins {:?}, not `{bin}`; pass --bin with one of them",
                    s.metadata_json.keys().collect::<Vec<_>>()
                ),
            },
        }),
    }
}

/// The sidecar's metadata for `bin`, parsed. A record with metadata for exactly one bin answers
/// for a renamed executable too.
fn sidecar_metadata(path: &Path, bin: &str, record: &Record) -> Result<Option<Metadata>> {
    let Some(side) = &record.sidecar else {
        return Ok(None);
    };
    let json = match side.metadata_json.get(bin) {
        Some(j) => j,
        None if side.metadata_json.len() == 1 => match side.metadata_json.values().next() {
            Some(j) => j,
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    Metadata::from_json(json)
        .map(Some)
        .map_err(|source| Error::BadMetadata {
            path: path.to_owned(),
            source,
        })
}

/// A short description of where two metadata answers first differ.
fn first_difference(embedded: &Metadata, ran: &Metadata) -> String {
    let a = serde_json::to_value(embedded).unwrap_or_default();
    let b = serde_json::to_value(ran).unwrap_or_default();
    diff_values("", &a, &b).unwrap_or_else(|| "they differ".into())
}

fn diff_values(at: &str, a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => diff_values(&path, v, w),
                    (Some(_), None) => Some(format!("`{path}` only in the embedded metadata")),
                    (None, _) => Some(format!("`{path}` only in the binary's answer")),
                }
            })
        }
        _ if a == b => None,
        _ => Some(format!("`{at}`: embedded {a}, binary says {b}")),
    }
}

/// The crate directory against which an executable's freshness is checked.
#[derive(Debug, Clone)]
pub struct CrateAtHand {
    /// The package name, as cargo metadata gives it.
    pub package: String,
    /// The directory holding its `Cargo.toml`.
    pub manifest_dir: PathBuf,
}

/// What the freshness check saw of the files the build read (see [`crate::depinfo`]).
#[derive(Debug, Default)]
pub struct ReadInputs {
    /// Every file the build read, by package-relative path, with its digest (for the manifest's
    /// `build.read_inputs`); empty when cargo's dep-info is not at hand.
    pub files: Vec<FileDigest>,
    /// Why the files beyond the record could not be checked, when they could not.
    pub unchecked: Option<depinfo::Unchecked>,
}

/// Refuses an executable whose embedded input digest differs from the crate's current inputs,
/// or that one of the files cargo's dep-info says it was built from has changed since.
///
/// `krate` is the crate found in the workspace for the record's package (`None` when it is not
/// at hand); `prebuilt` says the executable came from `--executable` (for the hint).
pub fn check_fresh(
    path: &Path,
    record: &Record,
    krate: Option<&CrateAtHand>,
    prebuilt: bool,
) -> Result<ReadInputs> {
    let Some(krate) = krate else {
        return Err(Error::CrateNotAtHand {
            path: path.to_owned(),
            reason: format!(
                "it was built from package `{}`, which is not in this workspace",
                record.package
            ),
        });
    };
    if krate.package != record.package {
        return Err(Error::CrateNotAtHand {
            path: path.to_owned(),
            reason: format!(
                "it was built from package `{}`, not `{}`",
                record.package, krate.package
            ),
        });
    }
    let lock = airflow_inputs::find_workspace_lock(&krate.manifest_dir);
    let now = airflow_inputs::recompute(record, &krate.manifest_dir, lock.as_deref()).map_err(
        |source| Error::Digest {
            path: path.to_owned(),
            package: record.package.clone(),
            source: Box::new(source),
        },
    )?;
    let mut changes = if now.inputs.source == record.inputs.source {
        Vec::new()
    } else {
        airflow_inputs::diff(&record.files, &now.files)
    };
    let mut read = ReadInputs::default();
    match depinfo::check(path, &krate.manifest_dir, &record.files, &now.files)? {
        depinfo::Outcome::Fresh(files) => read.files = files,
        depinfo::Outcome::Stale(more) => changes.extend(more),
        depinfo::Outcome::Unchecked(why) => read.unchecked = Some(why),
    }
    if changes.is_empty() && now.inputs.source == record.inputs.source {
        return Ok(read);
    }
    changes.sort();
    changes.dedup();
    Err(Error::Stale {
        path: path.to_owned(),
        package: record.package.clone(),
        changes: describe_changes(&changes),
        hint: if prebuilt {
            ", or pass --no-freshness-check to pack it as it is"
        } else {
            " (cargo did not rebuild it: a build script without exact rerun-if lines? run `cargo clean -p` for the package)"
        },
    })
}

/// `modified: src/main.rs, added: src/new.rs` (at most ten, then a count).
fn describe_changes(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "the combined digest differs but no file did; the digest scheme changed, rebuild"
            .into();
    }
    let mut parts: Vec<String> = changes.iter().take(10).map(Change::to_string).collect();
    if changes.len() > 10 {
        parts.push(format!("and {} more", changes.len() - 10));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_located() {
        let a = serde_json::json!({"sdk": {"version": "1"}, "dags": {"d": {"tasks": ["a"]}}});
        let b = serde_json::json!({"sdk": {"version": "1"}, "dags": {"d": {"tasks": ["b"]}}});
        let d = diff_values("", &a, &b).unwrap();
        assert!(d.starts_with("`dags.d.tasks`"), "{d}");
        let c = serde_json::json!({"sdk": {"version": "1"}, "dags": {}});
        assert_eq!(
            diff_values("", &a, &c).unwrap(),
            "`dags.d` only in the embedded metadata"
        );
        assert_eq!(diff_values("", &a, &a), None);
    }

    #[test]
    fn changes_are_listed_and_capped() {
        let many: Vec<Change> = (0..12)
            .map(|i| Change::Added(format!("src/{i}.rs")))
            .collect();
        let s = describe_changes(&many);
        assert!(s.starts_with("added: src/0.rs, "), "{s}");
        assert!(s.ends_with("and 2 more"), "{s}");
        assert_eq!(
            describe_changes(&[Change::Modified("src/main.rs".into())]),
            "modified: src/main.rs"
        );
    }
}
