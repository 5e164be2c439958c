//! What a bundle binary says about itself, and the manifest a packer embeds.
//!
//! The YAML is emitted with `serde-saphyr`, which quotes every string that a YAML 1.1 loader
//! (PyYAML, which Airflow uses) would otherwise read as a number, bool, null or date, so ids such
//! as `123`, `yes`, `null` or `2026-01-01` load back as the same strings. Dag ids are kept in a
//! [`BTreeMap`] (sorted by bytes) and task ids in registration order, so the same input always
//! gives the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::declare::DagDeclaration;
use crate::ids::{IdWarning, check_id};
use crate::{KNOWN_METADATA_VERSIONS, KNOWN_SUPERVISOR_SCHEMA_VERSIONS};

/// The `sdk` mapping: who built the binary and which supervisor protocol it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sdk {
    /// Implementation language, lower case (`"rust"`).
    pub language: String,
    /// Version of the SDK the binary links.
    pub version: String,
    /// The supervisor schema (coordinator protocol) version the binary speaks.
    pub supervisor_schema_version: String,
    /// Every supervisor schema version the SDK inside the binary can speak (written by
    /// airflow-sdk; empty when the binary does not say). The declared version must be one of
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supervisor_schema_versions: Vec<String>,
}

/// One dag: its task ids, in registration order, and what the bundle declares about its shape.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DagEntry {
    /// Task ids, in the order they were declared.
    pub tasks: Vec<String>,
    /// Schedule, settings and dependencies (written by airflow-sdk; absent from other SDKs'
    /// metadata). Airflow's readers ignore the key; the packer checks it and generates the Python
    /// stub from it, and Airflow 3.4 gets native Dags built from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<DagDeclaration>,
}

/// One file of the source region (Airflow 3.4's optional `sources` index), so the Dag code view
/// can show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// The file's display path.
    pub path: String,
    /// Where it starts, counted from the start of the source region.
    pub offset: u64,
    /// Its length in bytes.
    pub length: u64,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
}

/// Digests a reader takes as they are, without hashing the bundle (the manifest's `digests`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digests {
    /// Changes whenever the task handlers the bundle declares can change: upstream main's Dag
    /// processor asks the bundle again (`TaskHandlerParseRequest`) only when it does. Opaque, at
    /// most 128 characters (a longer one counts as none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
}

#[cfg(feature = "sha256")]
impl Digests {
    /// The digests of a bundle whose binary declares `task_handlers` (the `task_handlers` it
    /// answers a `TaskHandlerParseRequest` with): `cache` is the SHA-256 of their canonical JSON
    /// (object keys sorted, no whitespace), lower-case hex. The answer is a function of the
    /// declarations alone, so the digest changes exactly when the answer can.
    pub fn of_task_handlers(task_handlers: &serde_json::Value) -> Self {
        let canonical = canonical_json(task_handlers).to_string();
        let digest = crate::sha256::Sha256::digest(canonical.as_bytes());
        Digests {
            cache: Some(crate::footer::hex(&digest)),
        }
    }
}

/// `value` with every object's keys inserted in sorted order, so it prints the same whether or
/// not `serde_json` preserves insertion order.
#[cfg(feature = "sha256")]
fn canonical_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical_json(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

/// What a bundle binary prints for `--airflow-metadata`: the manifest without `source`.
///
/// Unknown keys are ignored when reading, as the bundle spec requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Version of the manifest format (`"1.0"`).
    pub airflow_bundle_metadata_version: String,
    /// The SDK the binary links.
    pub sdk: Sdk,
    /// The task handlers the binary answers a `TaskHandlerParseRequest` with (its
    /// `task_handlers`: declarations by dag id), for `pack` to digest into the manifest's
    /// `digests.cache`; older SDKs print none. Not part of the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_handlers: Option<serde_json::Value>,
    /// Dags by id, sorted.
    pub dags: BTreeMap<String, DagEntry>,
}

/// Facts about how a bundle was built, under the manifest's `build` key (ignored by Airflow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The target triple the executable was built for.
    pub target: String,
    /// The cargo profile it was built with.
    pub profile: String,
    /// The packer, as `name version`.
    pub packer: String,
    /// Combined SHA-256 of the crate's inputs, from the embedded build record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// SHA-256 of the build environment signature, from the embedded build record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_signature: Option<String>,
    /// Every file the build read, as cargo's dep-info lists them (sources, `include_str!` and
    /// `include_bytes!` data, `#[path]` modules, path dependencies, files outside the package;
    /// not the registry, the toolchain or generated files), by path relative to the package
    /// directory, digested when the bundle was packed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_inputs: Vec<crate::record::FileDigest>,
}

/// The manifest embedded in a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of the manifest format (`"1.0"`).
    pub airflow_bundle_metadata_version: String,
    /// The SDK the binary links.
    pub sdk: Sdk,
    /// Display name (basename) of the root source file held in the source region.
    pub source: String,
    /// How the bundle was built; readers that do not know the key ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildInfo>,
    /// The files of the source region (Airflow 3.4 shows them in the Dag code view; 3.3 ignores
    /// the key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceEntry>,
    /// Which of [`sources`](Self::sources) is the entry point, shown for the bundle's dags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_path: Option<String>,
    /// Digests a reader takes as they are (released readers ignore the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digests: Option<Digests>,
    /// Dags by id, sorted; still written when `digests` is, since 3.3 and 3.4.0b2 route stub
    /// tasks by it.
    pub dags: BTreeMap<String, DagEntry>,
}

/// Why metadata cannot go into a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The binary speaks a manifest format version this packer does not know.
    #[error(
        "the binary declares airflow_bundle_metadata_version {found:?}, which this packer does not know (it knows {known:?}); upgrade cargo-airflow or use an airflow-sdk that speaks a known version"
    )]
    UnknownMetadataVersion {
        /// What the binary declared.
        found: String,
        /// What is known.
        known: &'static [&'static str],
    },
    /// The binary speaks a supervisor schema no released Airflow is known to accept.
    #[error(
        "the binary speaks supervisor_schema_version {found:?}, which no known Airflow release accepts (known: {known:?}); use an airflow-sdk release that speaks one of them"
    )]
    UnknownSchemaVersion {
        /// What the binary declared.
        found: String,
        /// What is known.
        known: &'static [&'static str],
    },
    /// The binary declares a supervisor schema version the SDK inside it does not speak.
    #[error(
        "the binary declares supervisor_schema_version {declared:?}, but the airflow-sdk inside it speaks only {spoken:?}: Airflow would talk {declared:?} to a runtime that cannot; rebuild with an airflow-sdk that speaks it, or declare one it speaks"
    )]
    SchemaNotSpoken {
        /// What the manifest declares.
        declared: String,
        /// What the binary's SDK speaks.
        spoken: Vec<String>,
    },
    /// The binary declares no dags, so Airflow could never find it.
    #[error(
        "the binary declares no dags: nothing to pack (declare at least one dag with airflow_sdk::Dag)"
    )]
    NoDags,
    /// The binary's answer was not valid metadata.
    #[error("the metadata is not valid: {0}")]
    Malformed(String),
}

/// A non-fatal finding about metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataWarning {
    /// An id breaks Airflow's rules.
    Id(IdWarning),
    /// A dag has no tasks.
    EmptyDag(String),
    /// A dag lists the same task id more than once.
    DuplicateTask {
        /// The dag.
        dag_id: String,
        /// The repeated task id.
        task_id: String,
    },
}

impl std::fmt::Display for MetadataWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetadataWarning::Id(w) => w.fmt(f),
            MetadataWarning::EmptyDag(d) => write!(f, "dag {d:?} has no tasks"),
            MetadataWarning::DuplicateTask { dag_id, task_id } => write!(
                f,
                "dag {dag_id:?} lists task {task_id:?} more than once; Airflow keeps one task per id, so give each task its own id"
            ),
        }
    }
}

/// The keys of a JSON answer's `dags` object, in order, repeats included.
#[derive(Deserialize)]
struct DagKeys {
    #[serde(default)]
    dags: Option<KeyList>,
}

/// A JSON object's keys, repeats included (its values are skipped).
struct KeyList(Vec<String>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyList;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of dag ids")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<KeyList, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(KeyList(keys))
            }
        }
        d.deserialize_map(V)
    }
}

impl Metadata {
    /// Parses a binary's `--airflow-metadata --format json` answer.
    ///
    /// A dag id given twice is refused: a JSON object keeps only the last value of a key, so
    /// the first dag would vanish without a word.
    ///
    /// # Errors
    ///
    /// [`MetadataError`] for text that is not the expected JSON, or a dag id given twice.
    pub fn from_json(text: &str) -> Result<Self, MetadataError> {
        let metadata: Metadata =
            serde_json::from_str(text).map_err(|e| MetadataError::Malformed(e.to_string()))?;
        if let Ok(DagKeys { dags: Some(keys) }) = serde_json::from_str::<DagKeys>(text) {
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = keys.0.into_iter().find(|k| !seen.insert(k.clone())) {
                return Err(MetadataError::Malformed(format!(
                    "dag id {dup:?} appears more than once in `dags`; give each dag its own id"
                )));
            }
        }
        Ok(metadata)
    }

    /// Parses a binary's `--airflow-metadata` YAML answer.
    ///
    /// # Errors
    ///
    /// [`MetadataError`] for text that is not the expected YAML.
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Self, MetadataError> {
        serde_saphyr::from_str(text).map_err(|e| malformed_yaml(&e))
    }

    /// Pretty JSON, one trailing newline.
    ///
    /// # Panics
    ///
    /// Never in practice: every field is a string, number, list or map with string keys.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("metadata is always serializable");
        s.push('\n');
        s
    }

    /// YAML that PyYAML reads back to the same strings.
    #[cfg(feature = "yaml-emit")]
    pub fn to_yaml(&self) -> String {
        to_yaml(self)
    }

    /// Refuses versions this packer does not know and empty bundles; warns about ids Airflow's
    /// server would refuse and dags without tasks.
    ///
    /// # Errors
    ///
    /// [`MetadataError`] for a version this packer does not know or a bundle without dags.
    pub fn validate(&self) -> Result<Vec<MetadataWarning>, MetadataError> {
        if !KNOWN_METADATA_VERSIONS.contains(&self.airflow_bundle_metadata_version.as_str()) {
            return Err(MetadataError::UnknownMetadataVersion {
                found: self.airflow_bundle_metadata_version.clone(),
                known: KNOWN_METADATA_VERSIONS,
            });
        }
        if !KNOWN_SUPERVISOR_SCHEMA_VERSIONS.contains(&self.sdk.supervisor_schema_version.as_str())
        {
            return Err(MetadataError::UnknownSchemaVersion {
                found: self.sdk.supervisor_schema_version.clone(),
                known: KNOWN_SUPERVISOR_SCHEMA_VERSIONS,
            });
        }
        let spoken = &self.sdk.supervisor_schema_versions;
        if !spoken.is_empty() && !spoken.contains(&self.sdk.supervisor_schema_version) {
            return Err(MetadataError::SchemaNotSpoken {
                declared: self.sdk.supervisor_schema_version.clone(),
                spoken: spoken.clone(),
            });
        }
        if self.dags.is_empty() {
            return Err(MetadataError::NoDags);
        }
        let mut warnings = Vec::new();
        for (dag_id, dag) in &self.dags {
            if let Some(problem) = check_id(dag_id) {
                warnings.push(MetadataWarning::Id(IdWarning {
                    dag_id: dag_id.clone(),
                    task_id: None,
                    problem,
                }));
            }
            if dag.tasks.is_empty() {
                warnings.push(MetadataWarning::EmptyDag(dag_id.clone()));
            }
            let mut seen = std::collections::BTreeSet::new();
            for task_id in &dag.tasks {
                if !seen.insert(task_id.as_str()) {
                    warnings.push(MetadataWarning::DuplicateTask {
                        dag_id: dag_id.clone(),
                        task_id: task_id.clone(),
                    });
                }
                if let Some(problem) = check_id(task_id) {
                    warnings.push(MetadataWarning::Id(IdWarning {
                        dag_id: dag_id.clone(),
                        task_id: Some(task_id.clone()),
                        problem,
                    }));
                }
            }
        }
        Ok(warnings)
    }

    /// Number of tasks over all dags.
    pub fn task_count(&self) -> usize {
        self.dags.values().map(|d| d.tasks.len()).sum()
    }
}

impl Manifest {
    /// The manifest for `metadata`, with the display name of the root source file.
    pub fn new(metadata: Metadata, source: String, build: Option<BuildInfo>) -> Self {
        Manifest {
            airflow_bundle_metadata_version: metadata.airflow_bundle_metadata_version,
            sdk: metadata.sdk,
            source,
            build,
            sources: Vec::new(),
            entrypoint_path: None,
            digests: None,
            dags: metadata.dags,
        }
    }

    /// The manifest `cargo airflow pack` writes for `metadata`: [`Manifest::new`], plus
    /// `digests.cache` from the task handlers the binary declares (none for an SDK that prints
    /// no declarations: upstream's Dag processor then asks the bundle on every parse).
    #[cfg(feature = "sha256")]
    pub fn packed(metadata: Metadata, source: String, build: Option<BuildInfo>) -> Self {
        let digests = metadata
            .task_handlers
            .as_ref()
            .map(Digests::of_task_handlers);
        let mut manifest = Manifest::new(metadata, source, build);
        manifest.digests = digests;
        manifest
    }

    /// The metadata part (what the binary itself would print).
    pub fn metadata(&self) -> Metadata {
        Metadata {
            airflow_bundle_metadata_version: self.airflow_bundle_metadata_version.clone(),
            sdk: self.sdk.clone(),
            task_handlers: None,
            dags: self.dags.clone(),
        }
    }

    /// Parses a manifest (YAML or JSON). For what *Airflow* makes of the bytes, use
    /// [`crate::verify`], which follows YAML 1.1 typing.
    ///
    /// # Errors
    ///
    /// [`MetadataError`] for text that is not a manifest.
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Self, MetadataError> {
        serde_saphyr::from_str(text).map_err(|e| malformed_yaml(&e))
    }

    /// The canonical YAML bytes embedded in the bundle.
    #[cfg(feature = "yaml-emit")]
    pub fn to_yaml(&self) -> String {
        to_yaml(self)
    }
}

/// A YAML error as one line: the parser's message and position, without the source snippet it
/// renders below them (several lines of the untrusted input, which belong in no one-line error).
#[cfg(feature = "yaml")]
fn malformed_yaml(e: &serde_saphyr::Error) -> MetadataError {
    let text = e.without_snippet().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    MetadataError::Malformed(text.to_owned())
}

#[cfg(feature = "yaml-emit")]
fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).expect("manifest types always serialize to YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser's message and position, once, on one line: no snippet of the input below it.
    #[test]
    #[cfg(feature = "yaml")]
    fn a_yaml_error_is_one_line_without_a_snippet() {
        let e = Manifest::from_yaml("dags:\n  d: {tasks: [a]}\n  d: {tasks: [b]}\n").unwrap_err();
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text:?}");
        assert!(text.contains("at line 3, column 3"), "{text}");
        assert!(text.contains("duplicate mapping key: d"), "{text}");
        assert!(!text.contains("error: "), "{text}");
        // A key that holds a newline keeps it (the terminal escapes it); only the snippet goes.
        let e = Metadata::from_yaml("x: [\"a\\nb\"\n").unwrap_err();
        assert!(!e.to_string().contains("-->"), "{e}");
    }

    pub(crate) fn metadata(dags: &[(&str, &[&str])]) -> Metadata {
        Metadata {
            airflow_bundle_metadata_version: "1.0".into(),
            sdk: Sdk {
                language: "rust".into(),
                version: "0.1.0".into(),
                supervisor_schema_version: "2026-06-16".into(),
                supervisor_schema_versions: Vec::new(),
            },
            task_handlers: None,
            dags: dags
                .iter()
                .map(|(d, ts)| {
                    (
                        d.to_string(),
                        DagEntry {
                            tasks: ts.iter().map(|t| t.to_string()).collect(),
                            declared: None,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn repeated_dag_ids_are_refused_and_repeated_task_ids_warned() {
        let json = |dags: &str| {
            format!(
                r#"{{"airflow_bundle_metadata_version": "1.0", "sdk": {{"language": "rust", "version": "0", "supervisor_schema_version": "2026-06-16"}}, "dags": {dags}}}"#
            )
        };
        let e = Metadata::from_json(&json(r#"{"d": {"tasks": ["a"]}, "d": {"tasks": ["b"]}}"#))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("dag id \"d\" appears more than once"),
            "{e}"
        );
        let m = Metadata::from_json(&json(r#"{"d": {"tasks": ["a", "b", "a"]}}"#)).unwrap();
        let w: Vec<String> = m
            .validate()
            .unwrap()
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("lists task \"a\" more than once"), "{w:?}");
    }

    #[test]
    #[cfg(feature = "yaml")]
    fn yaml_quotes_the_schema_version_and_keeps_task_order() {
        let m = Manifest::new(
            metadata(&[("zeta", &["b", "a"]), ("alpha", &["x"])]),
            "main.rs".into(),
            None,
        );
        let y = m.to_yaml();
        assert!(
            y.contains("supervisor_schema_version: \"2026-06-16\""),
            "{y}"
        );
        assert!(y.find("alpha").unwrap() < y.find("zeta").unwrap());
        assert!(y.find("- b").unwrap() < y.find("- a").unwrap());
        assert_eq!(Manifest::from_yaml(&y).unwrap(), m);
    }

    #[test]
    #[cfg(feature = "yaml")]
    fn hostile_ids_round_trip_through_our_own_reader() {
        let ids = [
            "123",
            "1_000",
            "0x1f",
            "1:30",
            "yes",
            "on",
            "null",
            "~",
            "2026-01-01",
            "=",
            "<<",
            "café",
        ];
        let dags: Vec<(&str, &[&str])> = ids.iter().map(|i| (*i, &ids[..])).collect();
        let m = Manifest::new(metadata(&dags), "main.rs".into(), None);
        assert_eq!(Manifest::from_yaml(&m.to_yaml()).unwrap(), m);
    }

    #[test]
    #[cfg(feature = "yaml")]
    fn read_inputs_round_trip_and_are_left_out_when_empty() {
        let build = |read_inputs| BuildInfo {
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            packer: "cargo-airflow 0".into(),
            source_digest: None,
            env_signature: None,
            read_inputs,
        };
        let m = Manifest::new(
            metadata(&[("d", &["t"])]),
            "main.rs".into(),
            Some(build(vec![])),
        );
        assert!(!m.to_yaml().contains("read_inputs"), "{}", m.to_yaml());
        // File names are the user's: YAML-1.1 hazards and spaces stay strings.
        let files = ["2026-13-45:", "yes", "../shared/x y.txt", "a: b", "#c"]
            .map(|path| crate::record::FileDigest {
                path: path.into(),
                len: 3,
                sha256: "ab".repeat(32),
            })
            .to_vec();
        let m = Manifest::new(
            metadata(&[("d", &["t"])]),
            "main.rs".into(),
            Some(build(files)),
        );
        assert_eq!(Manifest::from_yaml(&m.to_yaml()).unwrap(), m);
    }

    #[test]
    fn validate_refuses_unknown_versions_and_empty_bundles() {
        let mut m = metadata(&[("d", &["t"])]);
        assert_eq!(m.validate(), Ok(vec![]));
        m.sdk.supervisor_schema_version = "2027-01-01".into();
        assert!(
            matches!(m.validate(), Err(MetadataError::UnknownSchemaVersion { found, .. }) if found == "2027-01-01")
        );
        let mut m = metadata(&[("d", &["t"])]);
        m.airflow_bundle_metadata_version = "2.0".into();
        assert!(matches!(
            m.validate(),
            Err(MetadataError::UnknownMetadataVersion { .. })
        ));
        assert_eq!(metadata(&[]).validate(), Err(MetadataError::NoDags));
    }

    #[test]
    fn validate_refuses_a_declared_schema_the_binary_does_not_speak() {
        let mut m = metadata(&[("d", &["t"])]);
        m.sdk.supervisor_schema_versions = vec!["2026-06-16".into()];
        assert!(m.validate().is_ok());
        m.sdk.supervisor_schema_version = "2026-10-30".into();
        let err = m.validate().unwrap_err();
        assert!(
            matches!(&err, MetadataError::SchemaNotSpoken { declared, .. } if declared == "2026-10-30"),
            "{err}"
        );
        assert!(err.to_string().contains("speaks only"), "{err}");
        // A binary that does not list what it speaks (another SDK) is taken at its word.
        m.sdk.supervisor_schema_versions.clear();
        assert!(m.validate().is_ok());
    }

    #[test]
    fn validate_warns_about_ids_and_empty_dags() {
        let w = metadata(&[("bad id", &["ok", "a..b"]), ("empty", &[])])
            .validate()
            .unwrap();
        let text: Vec<String> = w.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with("dag id \"bad id\""));
        assert!(text[1].starts_with("task id \"a..b\" in dag \"bad id\""));
        assert_eq!(text[2], "dag \"empty\" has no tasks");
    }

    #[test]
    fn json_ignores_unknown_keys() {
        let j = r#"{"airflow_bundle_metadata_version":"1.0","sdk":{"language":"rust","version":"1","supervisor_schema_version":"2026-06-16","x":1},"dags":{"d":{"tasks":["t"]}},"dag_source_files":{}}"#;
        assert_eq!(
            Metadata::from_json(j).unwrap().dags["d"].tasks,
            vec!["t".to_string()]
        );
    }
}

/// The exact bytes of the YAML form, whichever serde-saphyr features are on: the SDK links only
/// its serializer (`yaml-emit`), cargo-airflow all of it (`yaml`), and bundles packed with either
/// must carry the same manifest. Run with `--no-default-features --features yaml-emit` too.
#[cfg(all(test, feature = "yaml-emit"))]
mod yaml_bytes {
    use super::*;
    use crate::declare::{ParamDeclaration, Schedule, TaskDeclaration, TaskSettings, TriggerRule};

    fn sample() -> Manifest {
        let mut m = Manifest::new(
            tests::metadata(&[
                ("etl", &["extract", "load"]),
                (
                    "123",
                    &[
                        "yes",
                        "null",
                        "2026-01-01",
                        " lead",
                        "a: b",
                        "#x",
                        "café\tπ",
                    ],
                ),
            ]),
            "main.rs".into(),
            Some(BuildInfo {
                target: "x86_64-unknown-linux-gnu".into(),
                profile: "release".into(),
                packer: "cargo-airflow 0.1.0".into(),
                source_digest: Some("ab".repeat(32)),
                env_signature: None,
                read_inputs: vec![crate::record::FileDigest {
                    path: "src/main.rs".into(),
                    len: 42,
                    sha256: "cd".repeat(32),
                }],
            }),
        );
        m.sources = vec![SourceEntry {
            path: "main.rs".into(),
            offset: 0,
            length: 42,
            sha256: "cd".repeat(32),
        }];
        m.entrypoint_path = Some("main.rs".into());
        m.digests = Some(Digests {
            cache: Some("ef".repeat(32)),
        });
        m.dags.get_mut("etl").unwrap().declared = Some(DagDeclaration {
            native: true,
            coordinator_queues: vec!["rust".into()],
            schedule: Schedule::Cron {
                expression: "0 3 * * *".into(),
                timezone: "Europe/Paris".into(),
            },
            start_date: Some("2026-01-01T00:00:00+00:00".into()),
            catchup: Some(false),
            description: Some("two lines\nof text".into()),
            tags: vec!["on".into(), "~".into()],
            params: vec![ParamDeclaration {
                name: "limit".into(),
                default: serde_json::json!({"n": 10, "ratio": 0.5, "big": 1e300, "none": null, "list": [true, "x", -3]}),
                description: Some("how many".into()),
            }],
            max_active_runs: Some(1),
            dagrun_timeout: Some(3600.0),
            default_task: TaskSettings::new().retries(2).owner("data"),
            tasks: vec![
                TaskDeclaration {
                    id: "extract".into(),
                    settings: TaskSettings::new()
                        .retry_delay(std::time::Duration::from_millis(1500))
                        .trigger_rule(TriggerRule::AllDone)
                        .priority_weight(-1),
                    downstream: vec!["load".into()],
                    args: Vec::new(),
                    arg_sources: Vec::new(),
                    branch: false,
                    map_index_template: None,
                    inlets: vec![],
                    outlets: vec![],
                },
                TaskDeclaration {
                    id: "load".into(),
                    settings: TaskSettings::new(),
                    downstream: Vec::new(),
                    args: vec!["table".into()],
                    arg_sources: Vec::new(),
                    branch: false,
                    map_index_template: None,
                    inlets: vec![],
                    outlets: vec![],
                },
            ],
            ..DagDeclaration::default()
        });
        m
    }

    /// `SNAPSHOTS=overwrite` rewrites the files (review the diff: they are what bundles carry).
    #[test]
    fn the_yaml_bytes_do_not_depend_on_the_features() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        for (file, text) in [
            ("manifest-golden.yaml", sample().to_yaml()),
            ("metadata-golden.yaml", sample().metadata().to_yaml()),
        ] {
            let path = dir.join(file);
            if std::env::var_os("SNAPSHOTS").is_some_and(|v| v == "overwrite") {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let expected = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, expected, "{}", path.display());
        }
    }
}

#[cfg(all(test, feature = "sha256"))]
mod cache_digest {
    use super::*;
    use serde_json::json;

    fn handlers(schema: serde_json::Value) -> serde_json::Value {
        json!({"etl": [{"task_id": "load", "binding": "named", "params": [
            {"name": "rows", "value_schema": schema, "exact_name": true}]}]})
    }

    #[test]
    fn the_cache_digest_changes_exactly_when_the_handlers_do() {
        let int = json!({"type": "integer", "format": "int64"});
        let a = Digests::of_task_handlers(&handlers(int.clone()));
        let cache = a.cache.clone().unwrap();
        assert!(cache.len() <= 128, "{cache}");
        assert!(cache.bytes().all(|b| b.is_ascii_hexdigit()), "{cache}");
        // The same declarations, keys in another order: the same digest.
        let reordered: serde_json::Value = serde_json::from_str(
            r#"{"etl": [{"params": [{"exact_name": true, "value_schema":
                {"format": "int64", "type": "integer"}, "name": "rows"}],
                "binding": "named", "task_id": "load"}]}"#,
        )
        .unwrap();
        assert_eq!(Digests::of_task_handlers(&reordered), a);
        // Any change to what the Dag processor checks: another digest.
        for other in [
            handlers(json!({"type": "string"})),
            handlers(serde_json::Value::Null),
            json!({"etl": []}),
            json!({}),
        ] {
            assert_ne!(Digests::of_task_handlers(&other), a, "{other}");
        }
    }

    #[test]
    fn digests_are_written_before_dags_and_read_back() {
        let mut m = Manifest::new(tests::metadata(&[("etl", &["a"])]), "main.rs".into(), None);
        m.digests = Some(Digests::of_task_handlers(&json!({})));
        let json_text = serde_json::to_string(&m).unwrap();
        assert!(
            json_text.find("\"digests\"").unwrap() < json_text.find("\"dags\"").unwrap(),
            "{json_text}"
        );
        let back: Manifest = serde_json::from_str(&json_text).unwrap();
        assert_eq!(back.digests, m.digests);
        // Metadata never carries the declarations into the manifest.
        assert_eq!(back.metadata().task_handlers, None);
    }
}
