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
//! The pipeline has one module per step: [`cli`] (arguments), [`cargo_build`] (`cargo build`,
//! and `cargo metadata` when the build leaves a choice), [`introspect`] (running the binary's
//! `--airflow-metadata` through [`child`]), [`embedded`] (its airflow-build record), [`pack`]
//! (orchestration, validation, manifest), [`bundle_file`] (default path, the bundle's streaming
//! write), [`output`] (the rules and the atomic write every written file goes through),
//! [`stubs`], [`inspect`], [`verify`], [`shell`] (everything printed) and [`error`].
//! `--message-format json` prints the reports of the `cargo-airflow-report` crate.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: the build failed, I/O error, introspection failed, bad metadata, the bundle needs a newer glibc than its declared floor (`--glibc`, `[package.metadata.airflow] glibc`) |
//! | 2 | usage error: unknown or conflicting flags |
//! | 3 | `verify` found at least one file that Airflow would reject |
#![forbid(unsafe_code)]

mod bundle_file;
mod cargo_build;
mod child;
mod cli;
mod depinfo;
mod embedded;
mod error;
mod escape;
mod glibc;
mod inspect;
mod introspect;
mod layout;
mod output;
mod pack;
mod shell;
mod signals;
mod stamp;
mod stubs;
mod timings;
mod verify;
mod workspace;

use std::ffi::OsString;

use serde::Serialize;

use cli::{Color, Command, InspectArgs, MessageFormat, PackArgs, StubsArgs, VerifyArgs};
use error::{Error, Exit};
use shell::{ColorWhen, Shell, Verbosity};

fn main() -> std::process::ExitCode {
    run(std::env::args_os()).into()
}

/// Runs `cargo airflow` with the given arguments (including the program name) and returns the
/// exit code. Everything is reported on stdout/stderr here.
fn run<I, T>(args: I) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    timings::start();
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

/// Prints `error: ...` with the error's causes and advice, and returns its exit code.
fn fail(shell: &mut Shell, e: &Error) -> Exit {
    // A child that died of a signal sent to `cargo airflow` is no error to report: the signal
    // handler is stopping the rest and exits with 128 + the signal.
    signals::park_if_stopping();
    shell.error(error::render(e));
    e.exit()
}

/// Writes `report` as one line of JSON on stdout.
fn print_json(shell: &mut Shell, report: &impl Serialize) -> Exit {
    let out = shell.out();
    let written = serde_json::to_writer(&mut *out, report)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Exit::Success,
        Err(_) => Exit::Failure,
    }
}

fn run_pack(args: &PackArgs) -> Exit {
    let mut shell = Shell::stdio(Color::when(args.color), args.verbosity());
    // On SIGINT/SIGTERM/SIGHUP: stop cargo (with its build scripts) or the introspected binary,
    // remove a half-written temp file, exit 128 + signal. The output is only ever replaced by a complete bundle.
    signals::install();
    match pack::run(args, &mut shell) {
        Ok(report) => match args.message_format {
            MessageFormat::Json => print_json(&mut shell, &report),
            MessageFormat::Human => {
                let cwd = std::env::current_dir().unwrap_or_default();
                pack::print_summary(&report, &cwd, &mut shell);
                Exit::Success
            }
        },
        Err(e) => fail(&mut shell, &e),
    }
}

fn run_stubs(args: &StubsArgs) -> Exit {
    let mut shell = Shell::stdio(ColorWhen::Auto, args.verbosity());
    // On SIGINT/SIGTERM/SIGHUP: remove a half-written temp file, exit 128 + signal.
    signals::install();
    shell.verbose_status(
        "Reading",
        format!("the manifest of {}", args.bundle.display()),
    );
    match stubs::write_for(&args.bundle, args.output.as_deref()) {
        Ok(stubs::StubsWritten {
            path,
            wrote: _,
            removed,
            rendered,
        }) => {
            for w in &rendered.skipped {
                shell.warning(w);
            }
            for r in &removed {
                shell.status("Removed", format!("{}: {}", r.path.display(), r.explain()));
            }
            match path {
                Some(p) => shell.status(
                    "Wrote",
                    format!("{} ({})", p.display(), rendered.dags.join(", ")),
                ),
                None if rendered.skipped.is_empty() => {
                    shell.status("Skipped", "no stubs: every dag of the bundle is native")
                }
                None => shell.status(
                    "Skipped",
                    "no stubs: no dag of the bundle can get one (warnings above)",
                ),
            }
            Exit::Success
        }
        Err(e) => fail(&mut shell, &e),
    }
}

fn run_inspect(args: &InspectArgs) -> Exit {
    let mut shell = Shell::stdio(ColorWhen::Auto, Verbosity::Normal);
    let result = if args.glibc && args.json() {
        inspect::glibc_report(&args.file).map(|r| print_json(&mut shell, &r))
    } else if args.glibc {
        inspect::glibc(&args.file, &mut shell.out()).map(|()| Exit::Success)
    } else if args.json() {
        // The source is always part of the report; --source only changes the text output.
        inspect::report(&args.file).map(|r| print_json(&mut shell, &r))
    } else if args.inputs {
        inspect::inputs(&args.file, &mut shell.out()).map(|()| Exit::Success)
    } else {
        inspect::human(&args.file, args.source, &mut shell.out()).map(|()| Exit::Success)
    };
    result.unwrap_or_else(|e| fail(&mut shell, &e))
}

fn run_verify(args: &VerifyArgs) -> Exit {
    let mut shell = Shell::stdio(ColorWhen::Auto, Verbosity::Normal);
    let results = verify::verify_all(&args.files, &args.releases());
    // A file that cannot be read is one Airflow cannot use either: the verdict is the same. One
    // release that rejects a file is enough: the user asked about it (or about every release).
    let all_accepted = results.iter().all(|(_, v)| v.accepted());
    let printed = match args.message_format {
        MessageFormat::Json => print_json(&mut shell, &verify::report(results)),
        MessageFormat::Human => {
            verify::print_human(&results, &mut shell);
            Exit::Success
        }
    };
    match (all_accepted, printed) {
        (false, _) => Exit::Rejected,
        (true, printed) => printed,
    }
}
