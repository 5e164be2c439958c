//! `cargo airflow verify`: check files exactly as Airflow's 1.3.2 reader does, never running them.

use std::path::{Path, PathBuf};

use airflow_bundle::footer::hex;
use airflow_bundle::verify::{Outcome, Report, verify_path};
use serde_json::json;

/// The verdict on one file.
#[derive(Debug)]
pub enum Verdict {
    /// The file could be read; the report says whether Airflow accepts it.
    Checked(Report),
    /// The file could not be opened or is not a regular file.
    Unreadable(std::io::Error),
}

/// Verifies each file.
pub fn verify_all(files: &[PathBuf]) -> Vec<(PathBuf, Verdict)> {
    files
        .iter()
        .map(|f| {
            let v = match verify_path(f) {
                Ok(r) => Verdict::Checked(r),
                Err(e) => Verdict::Unreadable(e),
            };
            (f.clone(), v)
        })
        .collect()
}

/// Human lines: `ok: PATH (dags: a, b)`, or `FAIL: PATH` followed by each failed check.
pub fn human_lines(path: &Path, verdict: &Verdict) -> Vec<String> {
    // Paths, dag ids and reasons quote the file: escape them for the terminal.
    human_lines_raw(path, verdict)
        .into_iter()
        .map(|l| crate::escape::line(&l).into_owned())
        .collect()
}

fn human_lines_raw(path: &Path, verdict: &Verdict) -> Vec<String> {
    match verdict {
        Verdict::Unreadable(e) => vec![format!(
            "error: cannot read {}: {e}; check the path",
            path.display()
        )],
        Verdict::Checked(r) if r.accepted() => {
            let mut v = vec![format!(
                "ok: {} (dags: {})",
                path.display(),
                r.dag_ids.join(", ")
            )];
            v.extend(r.warnings.iter().map(|w| format!("  warning: {w}")));
            v
        }
        Verdict::Checked(r) => {
            let mut v = vec![format!(
                "FAIL: {}: Airflow would not load this bundle",
                path.display()
            )];
            v.extend(
                r.failures()
                    .map(|(check, why)| format!("  {}: {why}", check.name())),
            );
            v
        }
    }
}

/// The JSON object for one file.
pub fn json_entry(path: &Path, verdict: &Verdict) -> serde_json::Value {
    match verdict {
        Verdict::Unreadable(e) => json!({
            "path": path,
            "accepted": false,
            "error": e.to_string(),
        }),
        Verdict::Checked(r) => {
            let checks: Vec<serde_json::Value> = r
                .outcomes
                .iter()
                .map(|(c, o)| match o {
                    Outcome::Pass => json!({"check": c.name(), "outcome": "pass"}),
                    Outcome::Fail(why) => {
                        json!({"check": c.name(), "outcome": "fail", "reason": why})
                    }
                    Outcome::NotReached => json!({"check": c.name(), "outcome": "not_reached"}),
                })
                .collect();
            json!({
                "path": path,
                "accepted": r.accepted(),
                "dag_ids": r.dag_ids,
                "warnings": r.warnings,
                "binary_sha256": r.trailer.map(|t| hex(&t.binary_sha256)),
                "checks": checks,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_non_bundle_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, vec![0u8; 100]).unwrap();
        let missing = dir.path().join("missing");
        let results = verify_all(&[junk.clone(), missing.clone()]);
        let lines = human_lines(&results[0].0, &results[0].1);
        assert!(lines[0].starts_with("FAIL: "), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("trailer")), "{lines:?}");
        let lines = human_lines(&results[1].0, &results[1].1);
        assert!(lines[0].starts_with("error: cannot read"), "{lines:?}");
        let v = json_entry(&results[0].0, &results[0].1);
        assert_eq!(v["accepted"], false);
        assert!(v["checks"].as_array().unwrap().len() >= 2);
    }
}
