//! What `pack` reports: cargo-style status lines on stderr, or one JSON object on stdout.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::Color;
use crate::pack::Progress;

/// The facts about a packed bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackSummary {
    /// Where the bundle is.
    pub bundle: PathBuf,
    /// The package it was built from, when known.
    pub package: Option<String>,
    /// The bin target (or the executable's name).
    pub bin: String,
    /// The executable that was packed (cargo's artifact or `--executable`).
    pub executable: PathBuf,
    /// The target triple.
    pub target: String,
    /// The cargo profile (`unknown` for a prebuilt executable without `--profile`).
    pub profile: String,
    /// Dag ids (sorted) with their task ids (in registration order).
    pub dags: BTreeMap<String, Vec<String>>,
    /// Number of tasks over all dags.
    pub tasks: usize,
    /// The bundle's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the executable region.
    pub binary_sha256: String,
    /// The output already held these bytes and was left untouched.
    pub fresh: bool,
    /// Where the dags came from: running the binary, its embedded sidecar metadata, or both.
    pub metadata_source: crate::embedded::MetadataSource,
    /// The combined input digest from the executable's airflow-build record, when it has one.
    pub source_digest: Option<String>,
    /// Warnings about the metadata (ids Airflow's server would refuse, empty dags).
    pub warnings: Vec<String>,
    /// The Python stub dag file written next to the bundle (none with `--no-stubs`, or when
    /// every dag is native).
    pub stubs: Option<PathBuf>,
}

impl PackSummary {
    /// The JSON object printed by `--message-format json` (one line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human summary: a status line and indented facts, relative to `cwd` where possible.
    pub fn to_human(&self, cwd: &Path) -> (String, Vec<String>) {
        // A few dags inline; a bundle with hundreds gets a count, not a megabyte line.
        let mut dags = self
            .dags
            .iter()
            .take(INLINE_DAGS)
            .map(|(id, tasks)| format!("{id}: {} task{}", tasks.len(), plural(tasks.len())))
            .collect::<Vec<_>>()
            .join(", ");
        if self.dags.len() > INLINE_DAGS {
            dags.push_str(&format!(
                ", and {} more dags (see `cargo airflow inspect`)",
                self.dags.len() - INLINE_DAGS
            ));
        }
        let name = self.package.clone().unwrap_or_else(|| self.bin.clone());
        let line = format!(
            "{name} ({dags}) -> {}{}",
            relative(&self.bundle, cwd).display(),
            if self.fresh { " (fresh)" } else { "" }
        );
        let mut facts = vec![
            format!("target: {} ({} profile)", self.target, self.profile),
            format!("dags: {}, tasks: {}", self.dags.len(), self.tasks),
            format!("size: {} bytes", self.size),
            format!("binary sha256: {}", self.binary_sha256),
        ];
        if let Some(s) = &self.stubs {
            facts.push(format!("python stubs: {}", relative(s, cwd).display()));
        }
        (line, facts)
    }
}

/// How many dags the `Packed` line names.
pub const INLINE_DAGS: usize = 3;

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `path` relative to `cwd` when it is inside it.
pub fn relative(path: &Path, cwd: &Path) -> PathBuf {
    path.strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Cargo-style output on stderr: right-aligned green verbs, `warning:` in yellow.
#[derive(Debug)]
pub struct Shell {
    color: bool,
    quiet: bool,
}

impl Shell {
    /// A shell honouring `--color` and `-q`.
    pub fn new(color: Option<Color>, quiet: bool) -> Self {
        let color = match color {
            Some(Color::Always) => true,
            Some(Color::Never) => false,
            _ => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        Shell { color, quiet }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn line(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// An indented fact under a status line.
    pub fn note(&mut self, text: &str) {
        let text = crate::escape::line(text);
        if !self.quiet {
            self.line(&format!("{:>12} {text}", ""));
        }
    }

    /// `error: ...`, always printed.
    pub fn error(&mut self, text: &str) {
        let text = crate::escape::line(text);
        let head = self.paint("1;31", "error");
        self.line(&format!("{head}: {text}"));
    }
}

impl Progress for Shell {
    fn status(&mut self, verb: &str, message: &str) {
        // Ids and paths come from the bundle's own metadata: untrusted.
        let message = crate::escape::line(message);
        if !self.quiet {
            let verb = self.paint("1;32", &format!("{verb:>12}"));
            self.line(&format!("{verb} {message}"));
        }
    }

    fn warning(&mut self, message: &str) {
        let message = crate::escape::line(message);
        let head = self.paint("1;33", "warning");
        self.line(&format!("{head}: {message}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> PackSummary {
        PackSummary {
            bundle: "/w/target/airflow/x86_64-unknown-linux-gnu/ex".into(),
            package: Some("example".into()),
            bin: "ex".into(),
            executable: "/w/target/release/ex".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            dags: BTreeMap::from([(
                "etl".to_owned(),
                vec!["extract".to_owned(), "load".to_owned()],
            )]),
            tasks: 2,
            size: 1234,
            binary_sha256: "ab".repeat(32),
            fresh: false,
            metadata_source: crate::embedded::MetadataSource::Sidecar,
            source_digest: Some("cd".repeat(32)),
            warnings: vec!["w".into()],
            stubs: None,
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        let v: serde_json::Value = serde_json::from_str(&summary().to_json()).unwrap();
        for key in [
            "bundle",
            "target",
            "profile",
            "dags",
            "tasks",
            "size",
            "binary_sha256",
            "fresh",
            "warnings",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["dags"]["etl"], serde_json::json!(["extract", "load"]));
        assert_eq!(v["tasks"], 2);
        assert_eq!(v["size"], 1234);
        assert_eq!(v["fresh"], false);
        assert_eq!(v["warnings"], serde_json::json!(["w"]));
        assert_eq!(v["metadata_source"], "sidecar");
        assert_eq!(v["source_digest"], "cd".repeat(32));
        assert!(!summary().to_json().contains('\n'));
    }

    #[test]
    fn human_summary_is_relative_and_names_dags() {
        let (line, facts) = summary().to_human(Path::new("/w"));
        assert_eq!(
            line,
            "example (etl: 2 tasks) -> target/airflow/x86_64-unknown-linux-gnu/ex"
        );
        assert!(facts.iter().any(|f| f.contains("x86_64-unknown-linux-gnu")));
        assert!(facts.iter().any(|f| f.contains(&"ab".repeat(32))));
        let mut many = summary();
        many.dags = (0..200_000)
            .map(|i| (format!("dag_{i:06}"), vec!["t".to_owned()]))
            .collect();
        let (line, _) = many.to_human(Path::new("/w"));
        assert!(line.len() < 200, "{line}");
        assert!(line.contains("and 199997 more dags"), "{line}");
        let mut fresh = summary();
        fresh.fresh = true;
        assert!(fresh.to_human(Path::new("/")).0.ends_with("(fresh)"));
    }
}
