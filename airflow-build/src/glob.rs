//! A small gitignore-style glob matcher for `package.include`/`package.exclude` and
//! `[package.metadata.airflow] inputs`.
//!
//! Rules (the subset of cargo's gitignore-style rules that matters here):
//! * paths are package-relative with `/` separators;
//! * a pattern without `/` (other than a trailing one) matches a file or directory name at any
//!   depth; a pattern with `/` matches the whole path from the package root (a leading `/` is
//!   optional);
//! * `*` matches any run of characters within one path component, `?` one character, `**` any
//!   number of whole components;
//! * a pattern that matches a directory matches everything under it; a trailing `/` restricts a
//!   pattern to directories.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<String>,
    anchored: bool,
    dir_only: bool,
    raw: String,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(raw: &str) -> Pattern {
        let mut p = raw.trim();
        let dir_only = p.ends_with('/');
        p = p.trim_end_matches('/');
        let leading = p.starts_with('/');
        p = p.trim_start_matches('/');
        let anchored = leading || p.contains('/');
        let segments = p
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_owned)
            .collect();
        Pattern {
            segments,
            anchored,
            dir_only,
            raw: raw.to_owned(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True when the pattern has no glob characters.
    pub fn is_literal(&self) -> bool {
        !self.raw.contains(['*', '?', '['])
    }

    /// Whether a package-relative file path matches (directly, or through a matching ancestor
    /// directory).
    pub fn matches_file(&self, path: &str) -> bool {
        let comps: Vec<&str> = path.split('/').collect();
        // Any proper prefix is a directory; the full path is a file.
        for end in 1..=comps.len() {
            let is_dir = end < comps.len();
            if self.dir_only && !is_dir {
                continue;
            }
            if self.matches_components(&comps[..end]) {
                return true;
            }
        }
        false
    }

    /// Whether a package-relative directory could contain matches (used to prune walks).
    pub fn may_match_under(&self, dir: &str) -> bool {
        if !self.anchored {
            return true;
        }
        let comps: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        prefix_possible(&self.segments, &comps)
    }

    fn matches_components(&self, comps: &[&str]) -> bool {
        if self.anchored {
            match_segments(&self.segments, comps)
        } else {
            // Unanchored: one segment, matched against the last component.
            comps.last().is_some_and(|last| {
                self.segments.len() == 1 && match_component(&self.segments[0], last)
            })
        }
    }
}

fn match_segments(pat: &[String], comps: &[&str]) -> bool {
    match pat.split_first() {
        None => comps.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=comps.len()).any(|skip| match_segments(rest, &comps[skip..]))
        }
        Some((first, rest)) => match comps.split_first() {
            Some((c, crest)) => match_component(first, c) && match_segments(rest, crest),
            None => false,
        },
    }
}

/// Whether some path starting with `comps` could be matched by `pat`.
fn prefix_possible(pat: &[String], comps: &[&str]) -> bool {
    match (pat.split_first(), comps.split_first()) {
        (_, None) => true,
        (None, Some(_)) => true, // the pattern matched an ancestor directory
        (Some((first, _)), Some(_)) if first == "**" => true,
        (Some((first, rest)), Some((c, crest))) => {
            match_component(first, c) && prefix_possible(rest, crest)
        }
    }
}

/// `*` and `?` within one component.
fn match_component(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn rules() {
        assert!(Pattern::new("*.sql").matches_file("queries/a.sql"));
        assert!(Pattern::new("*.sql").matches_file("a.sql"));
        assert!(!Pattern::new("/*.sql").matches_file("queries/a.sql"));
        assert!(Pattern::new("queries/*.sql").matches_file("queries/a.sql"));
        assert!(!Pattern::new("queries/*.sql").matches_file("x/queries/a.sql"));
        assert!(Pattern::new("queries/**/*.sql").matches_file("queries/a/b/c.sql"));
        assert!(Pattern::new("queries/**/*.sql").matches_file("queries/c.sql"));
        assert!(Pattern::new("templates").matches_file("templates/x/y.j2"));
        assert!(Pattern::new("templates/").matches_file("templates/y.j2"));
        assert!(!Pattern::new("templates/").matches_file("templates"));
        assert!(Pattern::new("src/**").matches_file("src/a/b.rs"));
        assert!(Pattern::new("a?c").matches_file("abc"));
        assert!(Pattern::new("queries/*.sql").may_match_under("queries"));
        assert!(!Pattern::new("queries/*.sql").may_match_under("src"));
        assert!(Pattern::new("**/*.sql").may_match_under("deep/er"));
    }
}
