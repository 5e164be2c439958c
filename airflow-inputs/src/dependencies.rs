//! Path dependencies: the local packages a package builds from, found transitively through
//! `path = ...` and `workspace = true` entries.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::Error;
use crate::manifest::{self, PackageManifest, PathDep};

/// The `Cargo.toml` files read during one selection, each parsed once: the workspace root's is
/// consulted for every `workspace = true` dependency of every member, and each package's by
/// both the dependency walk and the file selection.
#[derive(Debug, Default)]
pub(crate) struct Manifests {
    /// Directory -> its parsed `Cargo.toml`, or `None` when it has none that parses.
    docs: HashMap<PathBuf, Option<Rc<toml::Table>>>,
}

impl Manifests {
    /// The parsed `Cargo.toml` in `dir`.
    fn doc(&mut self, dir: &Path) -> Result<Rc<toml::Table>, Error> {
        if let Some(Some(doc)) = self.docs.get(dir) {
            return Ok(Rc::clone(doc));
        }
        let path = dir.join("Cargo.toml");
        let parsed = std::fs::read_to_string(&path)
            .map_err(Error::io(&path))
            .and_then(|text| manifest::parse_table(&text, &path))
            .map(Rc::new);
        self.docs
            .insert(dir.to_path_buf(), parsed.as_ref().ok().map(Rc::clone));
        parsed
    }

    /// What decides the inputs of the package in `dir` (see [`PackageManifest::read`]).
    pub(crate) fn package(&mut self, dir: &Path) -> Result<PackageManifest, Error> {
        let doc = self.doc(dir)?;
        PackageManifest::from_table(&doc, &dir.join("Cargo.toml"))
    }

    /// Whether `dir` holds a `Cargo.toml` with a `[workspace]` table (unreadable: no).
    fn is_workspace_root(&mut self, dir: &Path) -> bool {
        if let Some(known) = self.docs.get(dir) {
            return known.as_deref().is_some_and(manifest::has_workspace_table);
        }
        self.doc(dir)
            .is_ok_and(|doc| manifest::has_workspace_table(&doc))
    }
}

/// The directories of every path dependency of the package in `manifest_dir`, transitively
/// (normal and build dependencies, including target-specific and optional ones: a superset of
/// what a build uses, so a change can only make the check stricter). Canonical, deduplicated, in
/// discovery order, without the package itself.
///
/// # Errors
///
/// [`Error`] when a `Cargo.toml` cannot be read or parsed, or a dependency path cannot be resolved.
pub fn path_dependencies(manifest_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    path_dependencies_in(manifest_dir, &mut Manifests::default())
}

/// [`path_dependencies`], reading manifests through `manifests`.
pub(crate) fn path_dependencies_in(
    manifest_dir: &Path,
    manifests: &mut Manifests,
) -> Result<Vec<PathBuf>, Error> {
    let root = canonical(manifest_dir)?;
    let mut seen: BTreeSet<PathBuf> = BTreeSet::from([root.clone()]);
    let mut out = Vec::new();
    let mut queue = vec![(root, manifests.package(manifest_dir)?)];
    while let Some((dir, manifest)) = queue.pop() {
        for dep in &manifest.path_deps {
            let Some(dep_dir) = resolve(&dir, &manifest, dep, manifests)? else {
                continue;
            };
            let dep_dir = canonical(&dep_dir)?;
            if seen.insert(dep_dir.clone()) {
                let dep_manifest = manifests.package(&dep_dir)?;
                out.push(dep_dir.clone());
                queue.push((dep_dir, dep_manifest));
            }
        }
    }
    Ok(out)
}

/// `dir`, canonicalised (symlinks resolved), so that one package reached twice is seen once.
pub(crate) fn canonical(dir: &Path) -> Result<PathBuf, Error> {
    dir.canonicalize().map_err(Error::io(dir))
}

/// Where a path dependency of the package in `dir` lives (`None`: `workspace = true` naming a
/// dependency that is not a path one).
fn resolve(
    dir: &Path,
    manifest: &PackageManifest,
    dep: &PathDep,
    manifests: &mut Manifests,
) -> Result<Option<PathBuf>, Error> {
    match dep {
        PathDep::Path(p) => Ok(Some(dir.join(p))),
        PathDep::Workspace(key) => {
            let Some(ws) = workspace_root(dir, manifest, manifests) else {
                return Err(Error::Manifest {
                    path: dir.join("Cargo.toml"),
                    message: format!(
                        "dependency `{key}` has `workspace = true` but no workspace root was found above the package"
                    ),
                });
            };
            let doc = manifests.doc(&ws)?;
            Ok(manifest::dependency_path_in(&doc, key).map(|p| ws.join(p)))
        }
    }
}

/// The workspace root of the package in `dir`: `package.workspace`, else the nearest directory
/// (the package's own included) whose `Cargo.toml` has a `[workspace]` table, as cargo finds it.
fn workspace_root(
    dir: &Path,
    manifest: &PackageManifest,
    manifests: &mut Manifests,
) -> Option<PathBuf> {
    if let Some(w) = &manifest.workspace_dir {
        return Some(dir.join(w));
    }
    dir.ancestors()
        .find(|d| manifests.is_workspace_root(d))
        .map(Path::to_path_buf)
}
