//! The help texts of every command, as snapshots (`SNAPSHOTS=overwrite` updates them after a
//! deliberate change), and the documented exit codes in each.

use snapbox::assert_data_eq;

use crate::support::run;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  failure: the build failed, I/O error, introspection failed, bad metadata, a
     bundle that needs a newer glibc than its floor (--glibc)
  2  usage error: unknown or conflicting flags
  3  verify: a file is missing or unreadable, or a release judged (--airflow, else 3.3
     and 3.4) would reject it";

/// The help printed by `cargo-airflow ARGS`, which must succeed with nothing on stderr.
#[track_caller]
fn help(args: &[&str]) -> String {
    let r = run(args);
    r.expect_code(0);
    assert_eq!(r.stderr, "", "help goes to stdout");
    r.stdout
}

#[test]
fn top_level_help() {
    let text = help(&["--help"]);
    // Run by cargo as `cargo-airflow airflow --help`: the same text.
    assert_eq!(help(&["airflow", "--help"]), text);
    assert!(text.contains(EXIT_CODES));
    assert_data_eq!(text, snapbox::file!["snapshots/help.txt"]);
    assert_data_eq!(help(&["-h"]), snapbox::file!["snapshots/help-short.txt"]);
}

#[test]
fn pack_help() {
    let text = help(&["pack", "--help"]);
    assert!(text.contains(EXIT_CODES));
    assert_data_eq!(text, snapbox::file!["snapshots/pack-help.txt"]);
}

#[test]
fn inspect_help() {
    let text = help(&["inspect", "--help"]);
    assert!(text.contains(EXIT_CODES));
    assert_data_eq!(text, snapbox::file!["snapshots/inspect-help.txt"]);
}

#[test]
fn verify_help() {
    let text = help(&["verify", "--help"]);
    assert!(text.contains(EXIT_CODES));
    assert_data_eq!(text, snapbox::file!["snapshots/verify-help.txt"]);
}

#[test]
fn stubs_help() {
    let text = help(&["stubs", "--help"]);
    assert!(text.contains(EXIT_CODES));
    assert_data_eq!(text, snapbox::file!["snapshots/stubs-help.txt"]);
}

#[test]
fn version_is_printed() {
    assert_eq!(
        help(&["--version"]).trim(),
        format!("cargo-airflow {}", env!("CARGO_PKG_VERSION"))
    );
}
