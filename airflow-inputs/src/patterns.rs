//! Gitignore-style patterns (`package.include`/`exclude`, glob extra inputs), compiled as cargo
//! compiles `include`/`exclude`, and what they tell a walk about directories it may skip.

use std::fmt;
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::Error;

/// Where a pattern was given; named in [`Error::BadPattern`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternOrigin {
    /// `package.include`.
    Include,
    /// `package.exclude`.
    Exclude,
    /// `[package.metadata.airflow] inputs`.
    MetadataInputs,
    /// The build script's extra inputs (`airflow_build::Builder::extra_inputs`, kept in a record
    /// as `builder_extra_inputs`).
    BuilderInputs,
}

impl fmt::Display for PatternOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatternOrigin::Include => "`package.include`",
            PatternOrigin::Exclude => "`package.exclude`",
            PatternOrigin::MetadataInputs => "`[package.metadata.airflow] inputs`",
            PatternOrigin::BuilderInputs => {
                "the extra inputs given to `airflow_build::Builder` in build.rs"
            }
        })
    }
}

/// A list of gitignore-style patterns, compiled as cargo compiles `package.include`/`exclude`.
pub(crate) struct Patterns {
    matcher: Gitignore,
    /// Per pattern, the literal directories it is anchored under (see [`literal_root`]); only
    /// used to skip directories in walks.
    roots: Vec<Option<Vec<String>>>,
}

impl Patterns {
    /// Compiles `patterns`; `manifest` (the package's `Cargo.toml`) and `origin` name them in
    /// errors.
    pub(crate) fn new<'a>(
        manifest: &Path,
        origin: PatternOrigin,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Patterns, Error> {
        // Paths are always given package-relative, so the matcher's root is `.`: it then strips
        // nothing from them (with the package directory as root, a relative package directory
        // would be stripped from a same-named subdirectory).
        let patterns: Vec<&str> = patterns.into_iter().collect();
        let mut builder = GitignoreBuilder::new(".");
        let mut roots = Vec::new();
        for &pattern in &patterns {
            builder
                .add_line(Some(manifest.to_path_buf()), pattern)
                .map_err(|source| Error::BadPattern {
                    manifest: manifest.to_path_buf(),
                    origin,
                    pattern: pattern.to_owned(),
                    source,
                })?;
            roots.push(literal_root(pattern));
        }
        let matcher = builder.build().map_err(|source| Error::BadPattern {
            manifest: manifest.to_path_buf(),
            origin,
            pattern: patterns.join(", "),
            source,
        })?;
        Ok(Patterns { matcher, roots })
    }

    /// Whether a package-relative file path matches, directly or through a matching ancestor
    /// directory (the last matching pattern decides, so a `!` pattern can take it back out).
    pub(crate) fn matches_file(&self, rel: &str) -> bool {
        self.matcher
            .matched_path_or_any_parents(rel, false)
            .is_ignore()
    }

    /// Whether files under the package-relative directory `dir` may match (false only when
    /// every pattern is anchored under other literal directories), to skip it in walks.
    pub(crate) fn may_match_under(&self, dir: &str) -> bool {
        let comps: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        self.roots.iter().any(|root| match root {
            None => true,
            Some(root) => root.iter().zip(&comps).all(|(r, c)| r == c),
        })
    }
}

/// The leading directories of a pattern anchored at the package root, as long as they hold no
/// glob character: `queries/**/*.sql` gives `["queries"]`. `None` for a pattern that can match
/// at any depth (no `/` but a trailing one), and, to stay on the safe side, for negations,
/// comments and escapes. Files outside the returned directories can never match the pattern.
fn literal_root(pattern: &str) -> Option<Vec<String>> {
    let p = pattern.trim_end();
    if p.starts_with(['!', '#', '\\']) {
        return None;
    }
    let anchored = p.starts_with('/');
    let p = p.strip_prefix('/').unwrap_or(p);
    let p = p.strip_suffix('/').unwrap_or(p);
    // An empty pattern (`/`) matches the root itself, so everything.
    if p.is_empty() || (!anchored && !p.contains('/')) {
        return None;
    }
    Some(
        p.split('/')
            .take_while(|c| !c.contains(GLOB_CHARS) && !c.contains('\\'))
            .map(str::to_owned)
            .collect(),
    )
}

/// The characters that make an extra input a pattern rather than a literal path.
pub(crate) const GLOB_CHARS: [char; 4] = ['*', '?', '[', '{'];

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Patterns {
        Patterns::new(Path::new("Cargo.toml"), PatternOrigin::Include, [p]).unwrap()
    }

    #[test]
    fn pattern_rules() {
        // A name without `/` matches at any depth; with `/`, from the package root.
        assert!(pattern("*.sql").matches_file("queries/a.sql"));
        assert!(pattern("*.sql").matches_file("a.sql"));
        assert!(!pattern("/*.sql").matches_file("queries/a.sql"));
        assert!(pattern("/*.sql").matches_file("a.sql"));
        assert!(pattern("queries/*.sql").matches_file("queries/a.sql"));
        assert!(!pattern("queries/*.sql").matches_file("x/queries/a.sql"));
        assert!(!pattern("queries/*.sql").matches_file("queries/a/b.sql"));
        // `**` is any number of whole components.
        assert!(pattern("queries/**/*.sql").matches_file("queries/a/b/c.sql"));
        assert!(pattern("queries/**/*.sql").matches_file("queries/c.sql"));
        assert!(pattern("**/*.sql").matches_file("a/b/c.sql"));
        assert!(pattern("src/**").matches_file("src/a/b.rs"));
        // A matching directory matches everything under it; a trailing `/` wants a directory.
        assert!(pattern("templates").matches_file("templates/x/y.j2"));
        assert!(pattern("templates").matches_file("templates"));
        assert!(pattern("templates/").matches_file("templates/y.j2"));
        assert!(!pattern("templates/").matches_file("templates"));
        assert!(pattern("a/templates/").matches_file("a/templates/y.j2"));
        // `?`, classes and alternatives within a component.
        assert!(pattern("a?c").matches_file("abc"));
        assert!(!pattern("a?c").matches_file("a/c"));
        assert!(pattern("[ab].sql").matches_file("q/b.sql"));
        assert!(!pattern("[ab].sql").matches_file("c.sql"));
        assert!(pattern("*.{sql,j2}").matches_file("t/x.j2"));
        // Comments, blank patterns and trailing spaces, as in `.gitignore`.
        assert!(!pattern("# a.sql").matches_file("# a.sql"));
        assert!(!pattern("").matches_file("a"));
        assert!(pattern("a.sql  ").matches_file("a.sql"));
    }

    #[test]
    fn negation_takes_paths_back() {
        let p = Patterns::new(
            Path::new("Cargo.toml"),
            PatternOrigin::Exclude,
            ["src/a", "!src/a/keep.rs"],
        )
        .unwrap();
        assert!(p.matches_file("src/a/b.rs"));
        assert!(!p.matches_file("src/a/keep.rs"));
        assert!(!p.matches_file("src/main.rs"));
    }

    #[test]
    fn walk_pruning() {
        assert!(pattern("queries/*.sql").may_match_under("queries"));
        assert!(pattern("queries/*.sql").may_match_under("queries/deeper"));
        assert!(!pattern("queries/*.sql").may_match_under("src"));
        assert!(!pattern("/build.rs").may_match_under("src"));
        assert!(pattern("a/b*/c").may_match_under("a/x"));
        assert!(!pattern("a/b/c").may_match_under("a/x"));
        assert!(pattern("**/*.sql").may_match_under("deep/er"));
        assert!(pattern("*.sql").may_match_under("deep/er"));
        assert!(pattern("templates/").may_match_under("x/y"));
        assert!(pattern("!queries/*.sql").may_match_under("src"));
        // `/` matches the package root, so everything.
        assert!(pattern("/").matches_file("src/a.rs"));
        assert!(pattern("/").may_match_under("src"));
    }
}
