//! Path dependencies: the local packages a package builds from, found transitively through
//! `path = ...` and `workspace = true` entries.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::manifest::{self, PackageManifest, PathDep};

/// The directories of every path dependency of the package in `manifest_dir`, transitively
/// (normal and build dependencies, including target-specific and optional ones: a superset of
/// what a build uses, so a change can only make the check stricter). Canonical, deduplicated, in
/// discovery order, without the package itself.
pub fn path_dependencies(manifest_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let root = canonical(manifest_dir)?;
    let mut seen: BTreeSet<PathBuf> = BTreeSet::from([root.clone()]);
    let mut out = Vec::new();
    let mut queue = vec![(root, PackageManifest::read(manifest_dir)?)];
    while let Some((dir, manifest)) = queue.pop() {
        for dep in &manifest.path_deps {
            let Some(dep_dir) = resolve(&dir, &manifest, dep)? else {
                continue;
            };
            let dep_dir = canonical(&dep_dir)?;
            if seen.insert(dep_dir.clone()) {
                let dep_manifest = PackageManifest::read(&dep_dir)?;
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
) -> Result<Option<PathBuf>, Error> {
    match dep {
        PathDep::Path(p) => Ok(Some(dir.join(p))),
        PathDep::Workspace(key) => {
            let Some(ws) = workspace_root(dir, manifest) else {
                return Err(Error::Manifest {
                    path: dir.join("Cargo.toml"),
                    message: format!(
                        "dependency `{key}` has `workspace = true` but no workspace root was found above the package"
                    ),
                });
            };
            let ws_manifest = ws.join("Cargo.toml");
            let text = std::fs::read_to_string(&ws_manifest).map_err(Error::io(&ws_manifest))?;
            Ok(manifest::workspace_dependency_path(&text, key).map(|p| ws.join(p)))
        }
    }
}

/// The workspace root of the package in `dir`: `package.workspace`, else the nearest directory
/// (the package's own included) whose `Cargo.toml` has a `[workspace]` table, as cargo finds it.
fn workspace_root(dir: &Path, manifest: &PackageManifest) -> Option<PathBuf> {
    if let Some(w) = &manifest.workspace_dir {
        return Some(dir.join(w));
    }
    dir.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|text| manifest::is_workspace_root(&text))
        })
        .map(Path::to_path_buf)
}
