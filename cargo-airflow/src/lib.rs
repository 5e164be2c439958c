#![doc = include_str!("../README.md")]
//!
//! `cargo airflow`: pack a Rust crate into an Apache Airflow 3 executable bundle, inspect one, and
//! verify files exactly as Airflow's reader (apache-airflow-task-sdk 1.3.2) will.
//!
//! ```text
//! cargo airflow pack -p example-bundle            # build (release), introspect, write the bundle
//! cargo airflow inspect target/airflow/<triple>/example-bundle [--source] [--json]
//! cargo airflow verify target/airflow/<triple>/example-bundle [more files...]
//! cargo airflow stubs target/airflow/<triple>/example-bundle [-o dags/example.py]
//! ```
//!
//! The pipeline has one module per step: [`cli`] (arguments), [`cargo_build`] (`cargo metadata`
//! and `cargo build`), [`introspect`] (reading the binary's `--airflow-metadata`), [`pack`]
//! (orchestration, validation, manifest), [`output`] (default path, alias guard, atomic write),
//! [`inspect`], [`verify`], [`summary`] (what is printed) and [`error`].
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: the build failed, I/O error, introspection failed, bad metadata |
//! | 2 | usage error: unknown or conflicting flags |
//! | 3 | `verify` found at least one file that Airflow would reject |
#![forbid(unsafe_code)]

pub mod cargo_build;
pub mod cli;
pub mod embedded;
pub mod error;
pub mod escape;
pub mod inspect;
pub mod introspect;
pub mod output;
pub mod pack;
pub mod signals;
pub mod stubs;
pub mod summary;
pub mod verify;

use std::ffi::OsString;
use std::io::Write;

use cli::{Command, InspectArgs, MessageFormat, PackArgs, StubsArgs, VerifyArgs};
use error::{Error, Exit};
use pack::Progress;
use summary::Shell;

/// Runs `cargo airflow` with the given arguments (including the program name) and returns the
/// exit code. Everything is reported on stdout/stderr here.
pub fn run<I, T>(args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let cli = match cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
        }
    };
    match cli.command {
        Command::Pack(a) => run_pack(&a),
        Command::Inspect(a) => run_inspect(&a),
        Command::Verify(a) => run_verify(&a),
        Command::Stubs(a) => run_stubs(&a),
    }
}

fn run_stubs(args: &StubsArgs) -> Exit {
    let mut shell = Shell::new(None, false);
    match stubs::write_for(&args.bundle, args.output.as_deref()) {
        Ok((path, rendered)) => {
            for w in &rendered.skipped {
                shell.warning(w);
            }
            match path {
                Some(p) => shell.status(
                    "Wrote",
                    &format!("{} ({})", p.display(), rendered.dags.join(", ")),
                ),
                None => shell.status("Skipped", "no stubs: every dag of the bundle is native"),
            }
            Exit::Success
        }
        Err(e) => report(&mut shell, &e),
    }
}

fn run_pack(args: &PackArgs) -> Exit {
    let mut shell = Shell::new(args.color, args.quiet);
    // On SIGINT/SIGTERM/SIGHUP: stop cargo or the introspected binary, remove a half-written
    // temp file, exit 128 + signal. The output is only ever replaced by a complete bundle.
    signals::install();
    match pack::run(args, &mut shell) {
        Ok(s) => {
            match args.message_format {
                MessageFormat::Json => {
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "{}", s.to_json()).is_err() {
                        return Exit::Failure;
                    }
                }
                MessageFormat::Human => {
                    let cwd = std::env::current_dir().unwrap_or_default();
                    let (line, facts) = s.to_human(&cwd);
                    pack::Progress::status(&mut shell, "Packed", &line);
                    for f in facts {
                        shell.note(&f);
                    }
                }
            }
            Exit::Success
        }
        Err(e) => report(&mut shell, &e),
    }
}

fn report(shell: &mut Shell, e: &Error) -> Exit {
    shell.error(&e.to_string());
    e.exit()
}

fn run_inspect(args: &InspectArgs) -> Exit {
    let mut shell = Shell::new(None, false);
    let result = if args.json {
        // The source is always part of --json; --source only changes the text output.
        inspect::json(&args.file).and_then(|v| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{v}")
                .map_err(|e| Error::io("cannot write the output for", &args.file, e))
        })
    } else if args.inputs {
        let mut out = std::io::stdout().lock();
        inspect::inputs(&args.file, &mut out)
    } else {
        let mut out = std::io::stdout().lock();
        inspect::human(&args.file, args.source, &mut out)
    };
    match result {
        Ok(()) => Exit::Success,
        Err(e) => report(&mut shell, &e),
    }
}

fn run_verify(args: &VerifyArgs) -> Exit {
    let results = verify::verify_all(&args.files);
    let unreadable = results
        .iter()
        .any(|(_, v)| matches!(v, verify::Verdict::Unreadable(_)));
    let rejected = results
        .iter()
        .any(|(_, v)| matches!(v, verify::Verdict::Checked(r) if !r.accepted()));
    match args.message_format {
        MessageFormat::Json => {
            let files: Vec<serde_json::Value> = results
                .iter()
                .map(|(p, v)| verify::json_entry(p, v))
                .collect();
            let obj = serde_json::json!({
                "ok": !unreadable && !rejected,
                "files": files,
            });
            let _ = writeln!(std::io::stdout().lock(), "{obj}");
        }
        MessageFormat::Human => {
            for (p, v) in &results {
                let lines = verify::human_lines(p, v);
                match v {
                    verify::Verdict::Checked(r) if r.accepted() => {
                        let mut out = std::io::stdout().lock();
                        for l in lines {
                            let _ = writeln!(out, "{l}");
                        }
                    }
                    _ => {
                        let mut err = std::io::stderr().lock();
                        for l in lines {
                            let _ = writeln!(err, "{l}");
                        }
                    }
                }
            }
        }
    }
    // A file that cannot be read is one Airflow cannot use either: the verdict is the same.
    if unreadable || rejected {
        Exit::Rejected
    } else {
        Exit::Success
    }
}
