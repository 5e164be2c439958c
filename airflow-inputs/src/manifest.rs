//! Reading a package's `Cargo.toml`: what decides its inputs, and `[package.metadata.airflow]`.

use std::path::{Path, PathBuf};

use crate::Error;

/// What the input selection (and airflow-build) reads from a package's `Cargo.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageManifest {
    /// `package.name`.
    pub name: String,
    /// `package.include`, when set (it replaces the default file selection).
    pub include: Option<Vec<String>>,
    /// `package.exclude`.
    pub exclude: Vec<String>,
    /// The build script path (`package.build`, default `build.rs` when it exists), if any.
    pub build_script: Option<String>,
    /// Explicit target paths (`[lib] path`, `[[bin]] path`, ...), package-relative.
    pub target_paths: Vec<String>,
    /// `[package.metadata.airflow] inputs`.
    pub airflow_inputs: Vec<String>,
    /// `[package.metadata.airflow] bins`: the bins the sidecar builds and runs (all when empty).
    pub airflow_bins: Vec<String>,
    /// Path dependencies, normal and build (also target-specific and optional ones), as written.
    pub path_deps: Vec<PathDep>,
    /// `package.workspace`: the workspace root directory, when the package names it.
    pub workspace_dir: Option<String>,
}

/// A dependency whose source is a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathDep {
    /// `name = { path = "..." }`: the directory, relative to the package.
    Path(String),
    /// `name = { workspace = true }`: the key to look up in `[workspace.dependencies]`, which
    /// may or may not give a path.
    Workspace(String),
}

/// The dependency tables of a manifest whose entries can be path dependencies of what a bundle
/// binary links or runs at build time (dev-dependencies never reach the binary).
fn dependency_tables(doc: &toml::Table) -> Vec<&toml::Table> {
    const KINDS: [&str; 3] = ["dependencies", "build-dependencies", "build_dependencies"];
    let mut out: Vec<&toml::Table> = KINDS
        .iter()
        .filter_map(|k| doc.get(*k).and_then(toml::Value::as_table))
        .collect();
    if let Some(targets) = doc.get("target").and_then(toml::Value::as_table) {
        for t in targets.values().filter_map(toml::Value::as_table) {
            out.extend(
                KINDS
                    .iter()
                    .filter_map(|k| t.get(*k).and_then(toml::Value::as_table)),
            );
        }
    }
    out
}

/// The path dependencies listed in a manifest's dependency tables.
fn path_deps(doc: &toml::Table) -> Vec<PathDep> {
    let mut out = Vec::new();
    for table in dependency_tables(doc) {
        for (key, v) in table {
            if let Some(p) = v.get("path").and_then(toml::Value::as_str) {
                out.push(PathDep::Path(p.to_owned()));
            } else if v.get("workspace").and_then(toml::Value::as_bool) == Some(true) {
                out.push(PathDep::Workspace(key.clone()));
            }
        }
    }
    out
}

/// Parses the text of the `Cargo.toml` at `path` (named in the error).
pub(crate) fn parse_table(text: &str, path: &Path) -> Result<toml::Table, Error> {
    toml::from_str(text).map_err(|e| Error::Manifest {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The `path` of `[workspace.dependencies] <key>` in a workspace root manifest, if it has one.
pub fn workspace_dependency_path(root_manifest: &str, key: &str) -> Option<String> {
    let doc: toml::Table = toml::from_str(root_manifest).ok()?;
    dependency_path_in(&doc, key)
}

/// [`workspace_dependency_path`] of a parsed workspace root manifest.
pub(crate) fn dependency_path_in(doc: &toml::Table, key: &str) -> Option<String> {
    doc.get("workspace")?
        .get("dependencies")?
        .get(key)?
        .get("path")?
        .as_str()
        .map(str::to_owned)
}

/// Whether the text of a `Cargo.toml` has a `[workspace]` table (it is a workspace root).
pub fn is_workspace_root(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|d| has_workspace_table(&d))
}

/// [`is_workspace_root`] of a parsed manifest.
pub(crate) fn has_workspace_table(doc: &toml::Table) -> bool {
    doc.get("workspace").is_some_and(toml::Value::is_table)
}

fn str_list(v: Option<&toml::Value>, what: &str, path: &Path) -> Result<Vec<String>, Error> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let bad = || Error::Manifest {
        path: path.to_path_buf(),
        message: format!("`{what}` must be an array of strings"),
    };
    let arr = v.as_array().ok_or_else(bad)?;
    arr.iter()
        .map(|x| x.as_str().map(str::to_owned).ok_or_else(bad))
        .collect()
}

impl PackageManifest {
    /// Reads `<manifest_dir>/Cargo.toml`.
    ///
    /// # Errors
    ///
    /// [`Error`] when the file cannot be read or parsed (see [`PackageManifest::parse`]).
    pub fn read(manifest_dir: &Path) -> Result<PackageManifest, Error> {
        let path: PathBuf = manifest_dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        Self::parse(&text, &path)
    }

    /// Parses the text of a `Cargo.toml`; `path` is only used in error messages.
    ///
    /// # Errors
    ///
    /// [`Error`] naming `path` when the text is not TOML or its `[package]` settings cannot be
    /// used.
    pub fn parse(text: &str, path: &Path) -> Result<PackageManifest, Error> {
        Self::from_table(&parse_table(text, path)?, path)
    }

    /// Reads what decides the inputs from a parsed `Cargo.toml` at `path` (the build script's
    /// default, `build.rs`, is looked up beside it).
    pub(crate) fn from_table(doc: &toml::Table, path: &Path) -> Result<PackageManifest, Error> {
        let package = doc
            .get("package")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| Error::Manifest {
                path: path.to_path_buf(),
                message: "no [package] table".into(),
            })?;
        let name = package
            .get("name")
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for key in ["include", "exclude"] {
            if package.get(key).is_some_and(toml::Value::is_table) {
                return Err(Error::Manifest {
                    path: path.to_path_buf(),
                    message: format!(
                        "`package.{key}` inherited from the workspace is not supported by airflow-build's input digests; list the patterns in the package"
                    ),
                });
            }
        }
        let include = match package.get("include") {
            None => None,
            v => Some(str_list(v, "package.include", path)?),
        };
        let exclude = str_list(package.get("exclude"), "package.exclude", path)?;
        let build_script = match package.get("build") {
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(toml::Value::Boolean(false)) => None,
            _ => {
                let dir = path.parent().unwrap_or(Path::new("."));
                dir.join("build.rs")
                    .is_file()
                    .then(|| "build.rs".to_owned())
            }
        };
        let mut target_paths = Vec::new();
        let mut push_path = |t: &toml::Value| {
            if let Some(p) = t.get("path").and_then(toml::Value::as_str) {
                target_paths.push(p.replace('\\', "/").trim_start_matches("./").to_owned());
            }
        };
        if let Some(lib) = doc.get("lib") {
            push_path(lib);
        }
        // Only bins: examples, tests and benches never go into a bundle binary.
        if let Some(arr) = doc.get("bin").and_then(toml::Value::as_array) {
            arr.iter().for_each(&mut push_path);
        }
        let airflow = package
            .get("metadata")
            .and_then(|m| m.get("airflow"))
            .and_then(toml::Value::as_table);
        let airflow_inputs = str_list(
            airflow.and_then(|a| a.get("inputs")),
            "package.metadata.airflow.inputs",
            path,
        )?;
        let airflow_bins = str_list(
            airflow.and_then(|a| a.get("bins")),
            "package.metadata.airflow.bins",
            path,
        )?;
        let workspace_dir = package
            .get("workspace")
            .and_then(toml::Value::as_str)
            .map(str::to_owned);
        Ok(PackageManifest {
            path_deps: path_deps(doc),
            workspace_dir,
            name,
            include,
            exclude,
            build_script,
            target_paths,
            airflow_inputs,
            airflow_bins,
        })
    }
}
