//! Which files are a package's inputs: the package files, its extra inputs and its path
//! dependencies' package files (the rules are in the crate documentation).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use airflow_bundle::record::InputKind;

use crate::Error;
use crate::dependencies::{Manifests, canonical, path_dependencies_in};
use crate::manifest::PackageManifest;
use crate::paths::{normalize, relative_to};
use crate::patterns::{GLOB_CHARS, PatternOrigin, Patterns};
use crate::walk::walk;

/// Files chosen for hashing, before hashing.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// package-relative path -> (absolute path, kind); the first kind given for a path stays.
    pub files: BTreeMap<String, (PathBuf, InputKind)>,
    /// Directories watched whole (see [`crate::Digests::watched_dirs`]).
    pub watched_dirs: BTreeSet<PathBuf>,
}

impl Selection {
    fn add(&mut self, rel: String, abs: PathBuf, kind: InputKind) {
        self.files.entry(rel).or_insert((abs, kind));
    }

    /// Walks `start` under `root` (see [`walk`]), watches the directories the walk allows, and
    /// adds the files that `keep` accepts (given their package-relative path) with `kind`.
    /// Returns how many files were kept.
    fn add_walk(
        &mut self,
        root: &Path,
        start: &str,
        prune: &dyn Fn(&str) -> bool,
        kind: InputKind,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Result<usize, Error> {
        let found = walk(root, start, prune)?;
        self.watched_dirs.extend(found.watched_dirs);
        let mut kept = 0;
        for w in found.files {
            if keep(&w.rel) {
                self.add(w.rel()?, w.abs, kind);
                kept += 1;
            }
        }
        Ok(kept)
    }
}

/// The inputs of the package in `root` and of its path dependencies. `builder_extras` are the
/// build script's extra input patterns, on top of `[package.metadata.airflow] inputs`.
pub(crate) fn select_with_dependencies(
    root: &Path,
    builder_extras: &[String],
) -> Result<Selection, Error> {
    let mut manifests = Manifests::default();
    let manifest = manifests.package(root)?;
    let mut sel = select(root, &manifest, builder_extras)?;
    let deps = path_dependencies_in(root, &mut manifests)?;
    if deps.is_empty() {
        return Ok(sel);
    }
    let base = canonical(root)?;
    for dep in deps {
        let prefix = relative_to(&base, &dep)?;
        let dep_sel = select(&dep, &manifests.package(&dep)?, &[])?;
        for (rel, (abs, _)) in dep_sel.files {
            let rel = if prefix.is_empty() {
                rel
            } else {
                format!("{prefix}/{rel}")
            };
            sel.add(rel, abs, InputKind::Dependency);
        }
        sel.watched_dirs.extend(dep_sel.watched_dirs);
    }
    Ok(sel)
}

/// The package files and extra inputs of one package.
fn select(
    root: &Path,
    manifest: &PackageManifest,
    builder_extras: &[String],
) -> Result<Selection, Error> {
    let manifest_path = root.join("Cargo.toml");
    let mut sel = Selection::default();
    sel.add(
        "Cargo.toml".into(),
        manifest_path.clone(),
        InputKind::Package,
    );
    // Compiled even when `include` makes it moot, so that a broken pattern is always reported.
    let exclude = Patterns::new(
        &manifest_path,
        PatternOrigin::Exclude,
        manifest.exclude.iter().map(String::as_str),
    )?;
    match &manifest.include {
        None => {
            // The build script is an input even when excluded: cargo cannot build without it.
            if let Some(b) = &manifest.build_script {
                let rel = normalize(b)?;
                let abs = root.join(&rel);
                if abs.is_file() {
                    sel.add(rel, abs, InputKind::Package);
                }
            }
            for t in &manifest.target_paths {
                let rel = normalize(t)?;
                let abs = root.join(&rel);
                if abs.is_file() && !exclude.matches_file(&rel) {
                    sel.add(rel, abs, InputKind::Package);
                }
            }
            if root.join("src").is_dir() {
                sel.add_walk(root, "src", &|_| false, InputKind::Package, |rel| {
                    !exclude.matches_file(rel)
                })?;
            }
        }
        Some(include) => {
            // As in cargo, `include` overrides `exclude`.
            let include = Patterns::new(
                &manifest_path,
                PatternOrigin::Include,
                include.iter().map(String::as_str),
            )?;
            let prune = |rel: &str| !include.may_match_under(rel);
            sel.add_walk(root, "", &prune, InputKind::Package, |rel| {
                include.matches_file(rel)
            })?;
        }
    }

    let extras = (manifest.airflow_inputs.iter())
        .map(|raw| (raw, PatternOrigin::MetadataInputs))
        .chain(
            builder_extras
                .iter()
                .map(|raw| (raw, PatternOrigin::BuilderInputs)),
        );
    let mut globs: Vec<(&String, Patterns)> = Vec::new();
    for (raw, origin) in extras {
        if raw.contains(GLOB_CHARS) {
            if raw.contains("..") {
                return Err(Error::AbsoluteInput(raw.clone()));
            }
            // One matcher per pattern, to tell which one matched nothing.
            globs.push((raw, Patterns::new(&manifest_path, origin, [raw.as_str()])?));
            continue;
        }
        let rel = normalize(raw.trim_end_matches('/'))?;
        let abs = root.join(&rel);
        let found = if abs.is_file() {
            sel.add(rel, abs, InputKind::Extra);
            1
        } else if abs.is_dir() {
            sel.add_walk(root, &rel, &|_| false, InputKind::Extra, |_| true)?
        } else {
            0
        };
        if found == 0 {
            return Err(Error::ExtraInputMatchedNothing(raw.clone()));
        }
    }
    if !globs.is_empty() {
        let prune = |rel: &str| !globs.iter().any(|(_, g)| g.may_match_under(rel));
        let mut hits = vec![false; globs.len()];
        sel.add_walk(root, "", &prune, InputKind::Extra, |rel| {
            let mut matched = false;
            for (hit, (_, g)) in hits.iter_mut().zip(&globs) {
                if g.matches_file(rel) {
                    *hit = true;
                    matched = true;
                }
            }
            matched
        })?;
        if let Some(i) = hits.iter().position(|h| !h) {
            return Err(Error::ExtraInputMatchedNothing(globs[i].0.clone()));
        }
    }
    Ok(sel)
}
