//! The help texts: what each command offers, and the documented exit codes.

use crate::support::run;

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  failure: the build failed, I/O error, introspection failed, bad metadata
  2  usage error: unknown or conflicting flags
  3  verify: at least one file is missing, unreadable, or a bundle Airflow would reject";

#[test]
fn top_level_help_lists_commands_and_exit_codes() {
    for args in [&["--help"][..], &["airflow", "--help"][..]] {
        let r = run(args);
        r.expect_code(0);
        assert!(
            r.stdout.contains("Usage: cargo airflow <COMMAND>"),
            "{}",
            r.stdout
        );
        for cmd in ["pack", "inspect", "verify"] {
            assert!(r.stdout.contains(&format!("  {cmd} ")), "{}", r.stdout);
        }
        assert!(r.stdout.contains(EXIT_CODES), "{}", r.stdout);
    }
}

#[test]
fn pack_help_lists_every_flag() {
    let r = run(&["pack", "--help"]);
    r.expect_code(0);
    for flag in [
        "--manifest-path <PATH>",
        "-p, --package <SPEC>",
        "--bin <NAME>",
        "--target <TRIPLE>",
        "-r, --release",
        "--profile <PROFILE-NAME>",
        "-F, --features <FEATURES>",
        "--all-features",
        "--no-default-features",
        "--locked",
        "--frozen",
        "--offline",
        "--target-dir <DIRECTORY>",
        "-v, --verbose",
        "-q, --quiet",
        "--color <WHEN>",
        "--executable <PATH>",
        "--source <PATH>",
        "-o, --output <PATH>",
        "--message-format <FMT>",
        "[-- <CARGO-ARGS>...]",
        "<target-dir>/airflow/<triple>/<bin>",
    ] {
        assert!(r.stdout.contains(flag), "missing {flag}:\n{}", r.stdout);
    }
    assert!(r.stdout.contains(EXIT_CODES), "{}", r.stdout);
}

#[test]
fn inspect_and_verify_help() {
    let r = run(&["inspect", "--help"]);
    r.expect_code(0);
    for s in ["<FILE>", "--source", "--json", "never executed"] {
        assert!(r.stdout.contains(s), "missing {s}:\n{}", r.stdout);
    }
    let r = run(&["verify", "--help"]);
    r.expect_code(0);
    for s in ["<FILE>...", "--message-format <FMT>", EXIT_CODES] {
        assert!(r.stdout.contains(s), "missing {s}:\n{}", r.stdout);
    }
}

#[test]
fn version_is_printed() {
    let r = run(&["--version"]);
    r.expect_code(0);
    assert_eq!(
        r.stdout.trim(),
        format!("cargo-airflow {}", env!("CARGO_PKG_VERSION"))
    );
}
