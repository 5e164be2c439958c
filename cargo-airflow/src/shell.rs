//! What the user sees: cargo-style status lines, warnings and errors on stderr, results on
//! stdout, coloured through `anstream` (which drops the colour codes when the stream is not a
//! terminal, `--color never` is given or `NO_COLOR` is set).
//!
//! Every message goes through a [`Shell`], so a test can capture what a command prints with
//! `Shell::captured` (in unit tests). Text that comes from a file under inspection (dag ids, paths, reasons)
//! is escaped on the way out: it could hold terminal control sequences.

use std::fmt::Display;
use std::io::{self, Write};
#[cfg(test)]
use std::sync::{Arc, Mutex};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Effects, Style};

/// Colours, as cargo uses them.
pub mod style {
    use super::{AnsiColor, Effects, Style};

    /// Status verbs (`Packed`), help headings.
    pub const HEADER: Style = AnsiColor::Green.on_default().effects(Effects::BOLD);
    /// `Usage:` in help.
    pub const USAGE: Style = AnsiColor::Green.on_default().effects(Effects::BOLD);
    /// Flags and literal values in help.
    pub const LITERAL: Style = AnsiColor::Cyan.on_default().effects(Effects::BOLD);
    /// `<PLACEHOLDERS>` in help.
    pub const PLACEHOLDER: Style = AnsiColor::Cyan.on_default();
    /// `error:`.
    pub const ERROR: Style = AnsiColor::Red.on_default().effects(Effects::BOLD);
    /// `warning:`.
    pub const WARN: Style = AnsiColor::Yellow.on_default().effects(Effects::BOLD);
    /// `note:`.
    pub const NOTE: Style = AnsiColor::Cyan.on_default().effects(Effects::BOLD);
    /// A valid value named in a usage error.
    pub const VALID: Style = AnsiColor::Cyan.on_default().effects(Effects::BOLD);
    /// The invalid value named in a usage error.
    pub const INVALID: Style = AnsiColor::Yellow.on_default().effects(Effects::BOLD);
}

/// How much is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: errors and results only; no status lines, notes or warnings.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: also the steps taken.
    Verbose,
}

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    /// When the stream is a terminal (and `NO_COLOR` is unset).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

type Stream = AutoStream<Box<dyn Write + Send>>;

/// The two output streams of a command and how much goes to them.
pub struct Shell {
    out: Stream,
    err: Stream,
    verbosity: Verbosity,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("verbosity", &self.verbosity)
            .finish_non_exhaustive()
    }
}

impl Shell {
    /// The process's stdout and stderr.
    pub fn stdio(color: ColorWhen, verbosity: Verbosity) -> Shell {
        let out_choice = resolve(color, AutoStream::choice(&io::stdout()));
        let err_choice = resolve(color, AutoStream::choice(&io::stderr()));
        Shell {
            out: AutoStream::new(Box::new(io::stdout()), out_choice),
            err: AutoStream::new(Box::new(io::stderr()), err_choice),
            verbosity,
        }
    }

    /// A shell writing into memory, without colour; read what was written with the returned
    /// [`Captured`].
    #[cfg(test)]
    pub fn captured(verbosity: Verbosity) -> (Shell, Captured) {
        let captured = Captured::default();
        let shell = Shell {
            out: AutoStream::never(Box::new(SharedBuf(Arc::clone(&captured.out)))),
            err: AutoStream::never(Box::new(SharedBuf(Arc::clone(&captured.err)))),
            verbosity,
        };
        (shell, captured)
    }

    /// Whether `-v` was given.
    pub fn is_verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }

    /// Where results go (stdout): reports, `inspect` output, `verify` verdicts.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }

    /// Where messages go (stderr), for text that is not a status line.
    pub fn err(&mut self) -> &mut dyn Write {
        &mut self.err
    }

    /// `    Packing example-bundle`: a right-aligned green verb and a message; hidden by `-q`.
    pub fn status(&mut self, verb: &str, message: impl Display) {
        if self.verbosity != Verbosity::Quiet {
            let message = crate::escape::line(&message.to_string()).into_owned();
            self.print_err(&style::HEADER, &format!("{verb:>12}"), " ", &message);
        }
    }

    /// A status line only shown with `-v`.
    pub fn verbose_status(&mut self, verb: &str, message: impl Display) {
        if self.is_verbose() {
            self.status(verb, message);
        }
    }

    /// A line indented under the last status line; hidden by `-q`.
    pub fn detail(&mut self, message: impl Display) {
        if self.verbosity != Verbosity::Quiet {
            let message = crate::escape::line(&message.to_string()).into_owned();
            let _ = writeln!(self.err, "{:>12} {message}", "");
        }
    }

    /// `warning: ...`; hidden by `-q`.
    pub fn warning(&mut self, message: impl Display) {
        if self.verbosity != Verbosity::Quiet {
            let message = crate::escape::line(&message.to_string()).into_owned();
            self.print_err(&style::WARN, "warning", ": ", &message);
        }
    }

    /// `note: ...`; hidden by `-q`.
    pub fn note(&mut self, message: impl Display) {
        if self.verbosity != Verbosity::Quiet {
            let message = crate::escape::line(&message.to_string()).into_owned();
            self.print_err(&style::NOTE, "note", ": ", &message);
        }
    }

    /// `error: ...`, always printed.
    pub fn error(&mut self, message: impl Display) {
        let message = crate::escape::line(&message.to_string()).into_owned();
        self.print_err(&style::ERROR, "error", ": ", &message);
    }

    fn print_err(&mut self, style: &Style, head: &str, sep: &str, message: &str) {
        // A closed stderr is no reason to fail a command that did its work.
        let _ = writeln!(self.err, "{style}{head}{style:#}{sep}{message}");
    }
}

fn resolve(when: ColorWhen, auto: ColorChoice) -> ColorChoice {
    match when {
        ColorWhen::Auto => auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    }
}

/// What a [`Shell::captured`] shell printed.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

#[cfg(test)]
impl Captured {
    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

#[cfg(test)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hides_everything_but_errors() {
        let (mut shell, captured) = Shell::captured(Verbosity::Quiet);
        shell.status("Packed", "x");
        shell.detail("fact");
        shell.warning("careful");
        shell.note("by the way");
        shell.error("broken");
        assert_eq!(captured.stderr(), "error: broken\n");
    }

    #[test]
    fn lines_are_cargo_style_and_escaped() {
        let (mut shell, captured) = Shell::captured(Verbosity::Normal);
        shell.status("Packed", "a\x1b[2Jb");
        shell.detail("size: 3 bytes");
        shell.warning("w");
        shell.note("n");
        shell.verbose_status("Running", "hidden");
        let _ = writeln!(shell.out(), "result");
        assert_eq!(
            captured.stderr(),
            "      Packed a\\u{1b}[2Jb\n             size: 3 bytes\nwarning: w\nnote: n\n"
        );
        assert_eq!(captured.stdout(), "result\n");
    }

    #[test]
    fn colour_is_only_written_when_asked_for() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut shell = Shell {
            out: AutoStream::never(Box::new(io::sink())),
            err: AutoStream::always(Box::new(SharedBuf(Arc::clone(&buf)))),
            verbosity: Verbosity::Normal,
        };
        shell.error("x");
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "\x1b[1m\x1b[31merror\x1b[0m: x\n");
    }
}
