//! `cargo airflow verify`: check files exactly as the bundle readers of the Airflow releases
//! asked for do (3.3 and 3.4 by default), never running them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use airflow_bundle::DagIds;
use airflow_bundle::footer::hex;
use airflow_bundle::verify::{self as bundle_verify, AirflowRelease, Outcome, Report, verify_path};
use cargo_airflow_report::{CheckResult, ReleaseVerdict, VerifiedFile, VerifyReport};

use crate::shell::Shell;

/// The verdict on one file.
#[derive(Debug)]
pub enum Verdict {
    /// The file could be read; the report says whether each release accepts it.
    Checked(Box<Report>),
    /// The file could not be opened or is not a regular file.
    Unreadable(std::io::Error),
}

impl Verdict {
    /// Whether every release judged would load the file.
    pub fn accepted(&self) -> bool {
        matches!(self, Verdict::Checked(r) if r.accepted())
    }
}

/// Verifies each file for each of `releases`.
pub fn verify_all(files: &[PathBuf], releases: &[AirflowRelease]) -> Vec<(PathBuf, Verdict)> {
    files
        .iter()
        .map(|f| {
            let v = match verify_path(f, releases) {
                Ok(r) => Verdict::Checked(Box::new(r)),
                Err(e) => Verdict::Unreadable(e),
            };
            (f.clone(), v)
        })
        .collect()
}

/// Prints the verdicts for people. Per file: the releases that accept it on one stdout line,
/// `ok (Airflow 3.3, 3.4): PATH (dags: a, b)`; on stderr, for the releases that reject it (those
/// with the same failures together), `FAIL (Airflow 3.3): PATH: ...` followed by each failed
/// check; `error:` for a file that cannot be read.
pub fn print_human(results: &[(PathBuf, Verdict)], shell: &mut Shell) {
    for (path, verdict) in results {
        let _ = match verdict {
            Verdict::Unreadable(e) => writeln!(
                shell.err(),
                "{}",
                crate::escape::line(&format!(
                    "error: cannot read {}: {e}; check the path",
                    path.display()
                ))
            ),
            Verdict::Checked(r) => write_accepted(path, r, shell.out())
                .and_then(|()| write_rejected(path, r, shell.err())),
        };
    }
}

/// `Airflow 3.3, 3.4`.
fn release_list<'a>(releases: impl IntoIterator<Item = &'a bundle_verify::Verdict>) -> String {
    let names: Vec<&str> = releases.into_iter().map(|v| v.release.name()).collect();
    format!("Airflow {}", names.join(", "))
}

/// The `ok` line of the releases that accept the file, if any. Paths, dag ids and reasons quote
/// the file: escaped for the terminal. The dag ids are written one by one, never joined (a
/// manifest can hold millions), and once however many releases accept them.
fn write_accepted(path: &Path, r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let line = |s: &str| crate::escape::line(s).into_owned();
    let ok: Vec<&bundle_verify::Verdict> = r.verdicts.iter().filter(|v| v.accepted()).collect();
    if ok.is_empty() {
        return Ok(());
    }
    write!(
        out,
        "ok ({}): {} (dags: ",
        release_list(ok.iter().copied()),
        line(&path.display().to_string())
    )?;
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
    for v in ok {
        for w in &v.warnings {
            writeln!(out, "  warning ({}): {}", v.release, line(w))?;
        }
    }
    Ok(())
}

/// A `FAIL` block per group of releases that reject the file for the same reasons.
fn write_rejected(path: &Path, r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let line = |s: &str| crate::escape::line(s).into_owned();
    let mut groups: Vec<Vec<&bundle_verify::Verdict>> = Vec::new();
    for v in r.verdicts.iter().filter(|v| !v.accepted()) {
        let same = |g: &Vec<&bundle_verify::Verdict>| {
            g[0].outcomes == v.outcomes && g[0].breaks_lookup == v.breaks_lookup
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(v),
            None => groups.push(vec![v]),
        }
    }
    for group in groups {
        let releases = release_list(group.iter().copied());
        writeln!(
            out,
            "{}",
            line(&format!(
                "FAIL ({releases}): {}: {releases} would not load this bundle",
                path.display()
            ))
        )?;
        for (check, why) in group[0].failures() {
            writeln!(out, "  {}", line(&format!("{}: {why}", check.name())))?;
        }
        for v in group {
            for w in &v.warnings {
                writeln!(out, "  warning ({}): {}", v.release, line(w))?;
            }
        }
    }
    Ok(())
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
            verdicts: Vec::new(),
        },
        Verdict::Checked(r) => {
            let r = *r;
            VerifiedFile {
                path,
                accepted: r.accepted(),
                error: None,
                binary_sha256: r.trailer.map(|t| hex(&t.binary_sha256)),
                verdicts: r.verdicts.into_iter().map(release_report).collect(),
                dag_ids: r.dag_ids,
                warnings: r.warnings,
            }
        }
    }
}

fn release_report(v: bundle_verify::Verdict) -> ReleaseVerdict {
    ReleaseVerdict {
        airflow: v.release.name().to_owned(),
        task_sdk: v.release.task_sdk().to_owned(),
        accepted: v.accepted(),
        checks: v
            .outcomes
            .into_iter()
            .map(|(c, o)| {
                let (outcome, reason) = match o {
                    Outcome::Pass => (cargo_airflow_report::Outcome::Pass, None),
                    Outcome::Fail(why) => (cargo_airflow_report::Outcome::Fail, Some(why)),
                    Outcome::NotReached => (cargo_airflow_report::Outcome::NotReached, None),
                };
                CheckResult {
                    check: c.name().to_owned(),
                    outcome,
                    reason,
                }
            })
            .collect(),
        breaks_lookup: v.breaks_lookup,
        warnings: v.warnings,
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
        let results = verify_all(&[junk.clone(), missing.clone()], &AirflowRelease::ALL);
        let (mut shell, captured) = Shell::captured(Verbosity::Normal);
        print_human(&results, &mut shell);
        assert_eq!(captured.stdout(), "");
        let text = captured
            .stderr()
            .replace(dir.path().to_str().unwrap(), "[ROOT]");
        snapbox::assert_data_eq!(
            text,
            snapbox::str![[r#"
FAIL (Airflow 3.3): [ROOT]/junk: Airflow 3.3 would not load this bundle
  executable: mode is 0644: no execute bit, so Airflow 3.3's scan skips the file (chmod 0755 it)
  trailer: the last 8 bytes are not the AFBNDL01 magic: not a bundle
FAIL (Airflow 3.4): [ROOT]/junk: Airflow 3.4 would not load this bundle
  trailer: the last 8 bytes are not the AFBNDL01 magic: not a bundle
error: cannot read [ROOT]/missing: No such file or directory (os error 2); check the path

"#]]
        );
        let r = report(results);
        assert!(!r.ok);
        assert!(!r.files[0].accepted);
        assert_eq!(r.files[0].verdicts.len(), 2);
        assert!(r.files[0].verdicts.iter().all(|v| v.checks.len() == 10));
        assert!(r.files[1].error.is_some());
    }
}
