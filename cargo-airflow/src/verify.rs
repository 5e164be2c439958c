//! `cargo airflow verify`: check files exactly as Airflow's 1.3.2 reader does, never running them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use airflow_bundle::DagIds;
use airflow_bundle::footer::hex;
use airflow_bundle::verify::{Outcome, Report, verify_path};
use cargo_airflow_report::{CheckResult, VerifiedFile, VerifyReport};

use crate::shell::Shell;

/// The verdict on one file.
#[derive(Debug)]
pub enum Verdict {
    /// The file could be read; the report says whether Airflow accepts it.
    Checked(Box<Report>),
    /// The file could not be opened or is not a regular file.
    Unreadable(std::io::Error),
}

impl Verdict {
    /// Whether Airflow would load the file.
    pub fn accepted(&self) -> bool {
        matches!(self, Verdict::Checked(r) if r.accepted())
    }
}

/// Verifies each file.
pub fn verify_all(files: &[PathBuf]) -> Vec<(PathBuf, Verdict)> {
    files
        .iter()
        .map(|f| {
            let v = match verify_path(f) {
                Ok(r) => Verdict::Checked(Box::new(r)),
                Err(e) => Verdict::Unreadable(e),
            };
            (f.clone(), v)
        })
        .collect()
}

/// Prints the verdicts for people: `ok: PATH (dags: a, b)` on stdout, or on stderr
/// `FAIL: PATH` followed by each failed check (`error:` for a file that cannot be read).
pub fn print_human(results: &[(PathBuf, Verdict)], shell: &mut Shell) {
    for (path, verdict) in results {
        let out = if verdict.accepted() {
            shell.out()
        } else {
            shell.err()
        };
        let _ = write_human(path, verdict, out);
    }
}

/// Writes one verdict. Paths, dag ids and reasons quote the file: escaped for the terminal. The
/// dag ids are written one by one, never joined: a manifest can hold millions.
fn write_human(path: &Path, verdict: &Verdict, out: &mut dyn Write) -> io::Result<()> {
    let line = |s: &str| crate::escape::line(s).into_owned();
    match verdict {
        Verdict::Unreadable(e) => writeln!(
            out,
            "{}",
            line(&format!(
                "error: cannot read {}: {e}; check the path",
                path.display()
            ))
        ),
        Verdict::Checked(r) if r.accepted() => {
            write!(out, "ok: {} (dags: ", line(&path.display().to_string()))?;
            for (i, id) in r.dag_ids.iter().enumerate() {
                if i > 0 {
                    out.write_all(b", ")?;
                }
                out.write_all(crate::escape::line(id).as_bytes())?;
            }
            writeln!(out, ")")?;
            for w in &r.warnings {
                writeln!(out, "  warning: {}", line(w))?;
            }
            Ok(())
        }
        Verdict::Checked(r) => {
            writeln!(
                out,
                "{}",
                line(&format!(
                    "FAIL: {}: Airflow would not load this bundle",
                    path.display()
                ))
            )?;
            for (check, why) in r.failures() {
                writeln!(out, "  {}", line(&format!("{}: {why}", check.name())))?;
            }
            Ok(())
        }
    }
}

/// The machine-readable report of the verdicts. It takes them over, so that the dag ids move
/// into the report rather than being copied.
pub fn report(results: Vec<(PathBuf, Verdict)>) -> VerifyReport {
    VerifyReport {
        format_version: cargo_airflow_report::FORMAT_VERSION,
        ok: results.iter().all(|(_, v)| v.accepted()),
        files: results
            .into_iter()
            .map(|(p, v)| file_report(p, v))
            .collect(),
    }
}

fn file_report(path: PathBuf, verdict: Verdict) -> VerifiedFile {
    match verdict {
        Verdict::Unreadable(e) => VerifiedFile {
            path,
            accepted: false,
            error: Some(e.to_string()),
            dag_ids: DagIds::new(),
            warnings: Vec::new(),
            binary_sha256: None,
            checks: Vec::new(),
        },
        Verdict::Checked(r) => {
            let r = *r;
            VerifiedFile {
                path,
                accepted: r.accepted(),
                error: None,
                binary_sha256: r.trailer.map(|t| hex(&t.binary_sha256)),
                checks: r
                    .outcomes
                    .iter()
                    .map(|(c, o)| {
                        let (outcome, reason) = match o {
                            Outcome::Pass => (cargo_airflow_report::Outcome::Pass, None),
                            Outcome::Fail(why) => {
                                (cargo_airflow_report::Outcome::Fail, Some(why.clone()))
                            }
                            Outcome::NotReached => {
                                (cargo_airflow_report::Outcome::NotReached, None)
                            }
                        };
                        CheckResult {
                            check: c.name().to_owned(),
                            outcome,
                            reason,
                        }
                    })
                    .collect(),
                dag_ids: r.dag_ids,
                warnings: r.warnings,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::Verbosity;

    #[cfg(unix)]
    #[test]
    fn missing_and_non_bundle_files_are_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, vec![0u8; 100]).unwrap();
        std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o644)).unwrap();
        let missing = dir.path().join("missing");
        let results = verify_all(&[junk.clone(), missing.clone()]);
        let (mut shell, captured) = Shell::captured(Verbosity::Normal);
        print_human(&results, &mut shell);
        assert_eq!(captured.stdout(), "");
        let text = captured
            .stderr()
            .replace(dir.path().to_str().unwrap(), "[ROOT]");
        snapbox::assert_data_eq!(
            text,
            snapbox::str![[r#"
FAIL: [ROOT]/junk: Airflow would not load this bundle
  executable: mode is 0644: no execute bit, so Airflow's scan skips the file (chmod 0755 it)
  trailer: the last 8 bytes are not the AFBNDL01 magic: not a bundle
error: cannot read [ROOT]/missing: No such file or directory (os error 2); check the path

"#]]
        );
        let r = report(results);
        assert!(!r.ok);
        assert!(!r.files[0].accepted);
        assert!(r.files[0].checks.len() >= 2);
        assert!(r.files[1].error.is_some());
    }
}
