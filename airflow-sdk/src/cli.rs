//! The bundle binary's command line: `--airflow-metadata`, `--help`, `--comm`/`--logs`.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use crate::Bundle;

/// Exit code for a usage error (unknown flag, bad value), as with most Unix tools.
const EXIT_USAGE: u8 = 2;
/// Exit code when output fails, or a run is asked of a bundle whose declarations are invalid
/// (`--airflow-metadata` exits with [`airflow_bundle::EXIT_INVALID_DECLARATIONS`] for those).
const EXIT_FAILURE: u8 = 1;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Help,
    Version,
    Metadata(Format),
    Run { comm: String, logs: String },
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Format {
    Yaml,
    Json,
}

/// Runs the bundle binary: parses the command line and answers it. Call it from `main` (the
/// [`main!`](crate::main) macro does).
pub fn serve(bundle: Bundle) -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    serve_with(&bundle, &argv0, args.collect())
}

fn serve_with(bundle: &Bundle, argv0: &str, args: Vec<OsString>) -> ExitCode {
    let mode = match parse(args) {
        Ok(m) => m,
        Err(message) => {
            eprintln!("error: {message}\n{}", usage_line(argv0));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match mode {
        Mode::Help => print_out(&help(argv0)),
        Mode::Version => print_out(&format!(
            "airflow-sdk {} (rust), supervisor schema {}\n",
            crate::VERSION,
            bundle.schema_version()
        )),
        Mode::Metadata(format) => match metadata_answer(bundle, format) {
            Ok(text) => print_out(&text),
            Err((code, line)) => {
                eprintln!("{line}");
                ExitCode::from(code)
            }
        },
        Mode::Run { comm, logs } => {
            if let Err(e) = bundle.validate() {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
            crate::runtime::run(bundle, &comm, &logs)
        }
    }
}

/// What `--airflow-metadata` prints, or the exit code and the one `error:` line for stderr:
/// invalid declarations exit with [`airflow_bundle::EXIT_INVALID_DECLARATIONS`], so the packer
/// reports them as declaration problems.
fn metadata_answer(bundle: &Bundle, format: Format) -> Result<String, (u8, String)> {
    match bundle.metadata() {
        Ok(m) => Ok(match format {
            Format::Yaml => m.to_yaml(),
            Format::Json => m.to_json(),
        }),
        Err(e) => Err((
            airflow_bundle::EXIT_INVALID_DECLARATIONS,
            format!("error: {e}"),
        )),
    }
}

fn print_out(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn usage_line(argv0: &str) -> String {
    format!(
        "usage: {argv0} --airflow-metadata [--format yaml|json] | --comm=HOST:PORT --logs=HOST:PORT | --help"
    )
}

fn help(argv0: &str) -> String {
    format!(
        "An Apache Airflow executable bundle (airflow-sdk {version}, Rust).\n\n{usage}\n\n\
Options:\n\
  --airflow-metadata      Print the dags and tasks this bundle holds, then exit\n\
  --format <yaml|json>    Format for --airflow-metadata [default: yaml]\n\
  --comm <HOST:PORT>      Supervisor message socket (set by Airflow to run a task)\n\
  --logs <HOST:PORT>      Supervisor log socket (set by Airflow to run a task)\n\
  -h, --help              Print this help\n\
  -V, --version           Print the SDK version\n\n\
Airflow's ExecutableCoordinator runs this file with --comm and --logs; `cargo airflow pack`\n\
reads --airflow-metadata to build the bundle's manifest.\n\n\
Exit codes: 0 success, 1 failure, 2 usage error, {declarations} --airflow-metadata refused the\n\
bundle's dag declarations (each problem is named on stderr).\n",
        declarations = airflow_bundle::EXIT_INVALID_DECLARATIONS,
        version = crate::VERSION,
        usage = usage_line(argv0),
    )
}

fn parse(args: Vec<OsString>) -> Result<Mode, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let (mut metadata, mut format, mut comm, mut logs) = (false, None, None, None);
    let (mut help, mut version) = (false, false);
    let value = |p: &mut lexopt::Parser, flag: &str| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|v| format!("the value of {flag} is not valid UTF-8: {v:?}"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("airflow-metadata") => metadata = true,
            Long("format") => {
                format = Some(match value(&mut parser, "--format")?.as_str() {
                    "yaml" => Format::Yaml,
                    "json" => Format::Json,
                    other => {
                        return Err(format!(
                            "unsupported --format {other:?}: want \"yaml\" or \"json\""
                        ));
                    }
                })
            }
            Long("comm") => comm = Some(value(&mut parser, "--comm")?),
            Long("logs") => logs = Some(value(&mut parser, "--logs")?),
            Short('h') | Long("help") => help = true,
            Short('V') | Long("version") => version = true,
            other => return Err(other.unexpected().to_string()),
        }
    }
    if help {
        return Ok(Mode::Help);
    }
    if version {
        return Ok(Mode::Version);
    }
    if metadata {
        return Ok(Mode::Metadata(format.unwrap_or(Format::Yaml)));
    }
    if format.is_some() {
        return Err("--format is only valid together with --airflow-metadata".into());
    }
    match (comm, logs) {
        (Some(comm), Some(logs)) => Ok(Mode::Run { comm, logs }),
        (None, None) => Err(
            "this is an Airflow executable bundle: Airflow runs it with --comm and --logs; use --airflow-metadata to list its dags".into(),
        ),
        _ => Err("--comm and --logs must be given together".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Mode, String> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn parses_the_modes() {
        assert_eq!(p(&["--airflow-metadata"]), Ok(Mode::Metadata(Format::Yaml)));
        assert_eq!(
            p(&["--airflow-metadata", "--format", "json"]),
            Ok(Mode::Metadata(Format::Json))
        );
        assert_eq!(
            p(&["--format=json", "--airflow-metadata"]),
            Ok(Mode::Metadata(Format::Json))
        );
        assert_eq!(
            p(&["--comm=127.0.0.1:1", "--logs=127.0.0.1:2"]),
            Ok(Mode::Run {
                comm: "127.0.0.1:1".into(),
                logs: "127.0.0.1:2".into()
            })
        );
        assert_eq!(
            p(&["--comm", "127.0.0.1:1", "--logs", "127.0.0.1:2"]),
            Ok(Mode::Run {
                comm: "127.0.0.1:1".into(),
                logs: "127.0.0.1:2".into()
            })
        );
        assert_eq!(p(&["--help"]), Ok(Mode::Help));
        assert_eq!(p(&["-V"]), Ok(Mode::Version));
    }

    /// Declarations the SDK refuses come out with their own exit code and one line naming the
    /// dag and the task, for the packer to report as declaration problems.
    #[test]
    fn invalid_declarations_exit_with_their_own_code() {
        fn noop(_: &mut crate::TaskContext) -> crate::TaskResult {
            Ok(())
        }
        let cyclic = Bundle::new().dag(
            crate::Dag::new("loop")
                .task("a", noop)
                .task("b", noop)
                .chain(["a", "b", "a"]),
        );
        let (code, line) = metadata_answer(&cyclic, Format::Json).unwrap_err();
        assert_eq!(code, airflow_bundle::EXIT_INVALID_DECLARATIONS);
        assert!(
            line.starts_with("error: the bundle's declarations are invalid: dag \"loop\": "),
            "{line}"
        );
        assert!(line.contains("cycle through task \"a\""), "{line}");
        assert!(!line.contains('\n'), "{line}");
        let fine = Bundle::new().dag(crate::Dag::new("ok").task("a", noop));
        assert!(
            metadata_answer(&fine, Format::Json)
                .unwrap()
                .starts_with('{')
        );
        assert!(help("b").contains("65 --airflow-metadata refused"));
    }

    #[test]
    fn rejects_bad_command_lines() {
        for (args, needle) in [
            (&["--bogus"][..], "--bogus"),
            (&["--airflow-metadata", "--format", "xml"][..], "\"xml\""),
            (&["--format", "json"][..], "only valid together"),
            (&["--comm=x"][..], "together"),
            (&[][..], "--comm and --logs"),
            (&["stray"][..], "stray"),
        ] {
            let err = p(args).unwrap_err();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
