//! Running a child whose stdout is a stream of lines read as they come (`cargo build
//! --message-format=json`, whose messages both cargo-airflow and airflow-build's sidecar read):
//! stdin closed, stderr inherited (so cargo's progress and diagnostics reach the user), each
//! stdout line handed to the caller, at most [`LineLimits::max_line`] bytes of a line kept and
//! at most [`QUEUED_LINES`] lines waiting, and an optional timeout.
//!
//! The lines are read on a thread of their own and handed over through a bounded queue, so the
//! caller's callback runs on the caller's thread (it need not be `Send`) and the timeout holds
//! even while the child prints nothing. Parsing is the caller's: this crate adds no dependency
//! to the build scripts it is compiled into.

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use crate::child::spawn_retrying;

/// How many lines the reader thread may read ahead of the caller.
pub const QUEUED_LINES: usize = 64;

/// The limits the child's stdout is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// The longest line handed to the caller (without its newline); a longer one ends the
    /// reading with [`Interrupted::LineTooLong`].
    pub max_line: usize,
    /// How long the child may run, or `None` for as long as it takes (a build the user can stop
    /// with Ctrl-C). When it expires the child (not its own children) is killed.
    pub timeout: Option<Duration>,
}

/// Why the lines stopped before the end of the child's stdout. The rest of stdout is then read
/// and discarded, so the child never blocks on a full pipe, and the child is waited for.
#[derive(Debug)]
pub enum Interrupted<E> {
    /// The caller's callback refused a line.
    Caller(E),
    /// Reading stdout failed.
    Read(io::Error),
    /// A line was longer than [`LineLimits::max_line`].
    LineTooLong {
        /// The limit.
        limit: usize,
    },
}

/// How a child whose lines were streamed ended.
#[derive(Debug)]
pub struct Ended<E> {
    /// Its exit status.
    pub status: ExitStatus,
    /// Why the lines stopped early, when they did.
    pub interrupted: Option<Interrupted<E>>,
}

/// Why the child could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    /// It could not be started.
    #[error("cannot start it")]
    Spawn {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Waiting for it failed.
    #[error("cannot wait for it")]
    Wait {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It ran past the timeout and was killed.
    #[error("it did not finish within {} s and was killed", after.as_secs_f64())]
    TimedOut {
        /// The timeout.
        after: Duration,
    },
}

/// What the reader thread hands over.
enum Item {
    Line(Vec<u8>),
    Stopped(Interrupted<std::convert::Infallible>),
}

/// Runs `cmd` (stdin closed, stdout piped, stderr inherited) and calls `on_line` with each line
/// of its stdout, without the newline, in order. `watch` gets the child's process id once it
/// has started; what it returns is kept until the child has been waited for (a guard that
/// registers the child with a signal handler, say).
///
/// Once `on_line` returns an error, or a line is too long or cannot be read, no more lines are
/// handed over; the child still runs to its end and its status is returned with the reason.
pub fn run<G, E>(
    cmd: &mut Command,
    limits: LineLimits,
    watch: impl FnOnce(u32) -> G,
    mut on_line: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<Ended<E>, LinesError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = spawn_retrying(cmd).map_err(|source| LinesError::Spawn { source })?;
    let watched = watch(child.id());
    let started = Instant::now();
    let deadline = limits.timeout.map(|t| started + t);
    let (tx, rx) = mpsc::sync_channel(QUEUED_LINES);
    if let Some(stdout) = child.stdout.take() {
        let max_line = limits.max_line;
        thread::spawn(move || read_lines(stdout, max_line, &tx));
    }
    let mut interrupted = None;
    loop {
        let item = match deadline {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
        };
        match item {
            Ok(Item::Line(line)) => {
                if interrupted.is_none()
                    && let Err(e) = on_line(&line)
                {
                    interrupted = Some(Interrupted::Caller(e));
                }
            }
            Ok(Item::Stopped(why)) => {
                interrupted.get_or_insert(match why {
                    Interrupted::Read(e) => Interrupted::Read(e),
                    Interrupted::LineTooLong { limit } => Interrupted::LineTooLong { limit },
                    Interrupted::Caller(never) => match never {},
                });
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                return Err(kill(
                    &mut child,
                    limits.timeout.unwrap_or_default(),
                    watched,
                ));
            }
        }
    }
    let status = match deadline {
        None => child.wait(),
        Some(d) => match child.wait_timeout(d.saturating_duration_since(Instant::now())) {
            Ok(Some(status)) => Ok(status),
            Ok(None) => {
                return Err(kill(
                    &mut child,
                    limits.timeout.unwrap_or_default(),
                    watched,
                ));
            }
            Err(e) => Err(e),
        },
    };
    // The child is reaped: its pid may be reused from now on, so it is no longer watched.
    drop(watched);
    let status = status.map_err(|source| LinesError::Wait { source })?;
    Ok(Ended {
        status,
        interrupted,
    })
}

/// Kills the child at the timeout and reaps it before its watcher is dropped.
fn kill<G>(child: &mut Child, after: Duration, watched: G) -> LinesError {
    let _ = child.kill();
    let _ = child.wait();
    drop(watched);
    LinesError::TimedOut { after }
}

/// Sends each line of `stdout` (newline removed) to `tx`; after a read error or an over-long
/// line, sends why and discards the rest, so the child never blocks writing.
fn read_lines(stdout: ChildStdout, max_line: usize, tx: &mpsc::SyncSender<Item>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = Vec::new();
        let limit = u64::try_from(max_line)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Item::Stopped(Interrupted::Read(e)));
                break;
            }
        }
        let ended = line.last() == Some(&b'\n');
        if ended {
            line.pop();
        }
        if line.len() > max_line {
            let _ = tx.send(Item::Stopped(Interrupted::LineTooLong { limit: max_line }));
            break;
        }
        // A caller gone (timed out) no longer needs lines; the pipe is still drained below.
        if tx.send(Item::Line(line)).is_err() {
            break;
        }
        if !ended {
            return;
        }
    }
    let _ = io::copy(&mut reader, &mut io::sink());
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const LIMITS: LineLimits = LineLimits {
        max_line: 1024,
        timeout: Some(Duration::from_secs(30)),
    };

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    fn lines(script: &str, limits: LineLimits) -> (Vec<String>, Result<Ended<String>, LinesError>) {
        let mut seen = Vec::new();
        let ended = run(
            &mut sh(script),
            limits,
            |_| (),
            |l| {
                seen.push(String::from_utf8_lossy(l).into_owned());
                Ok::<_, String>(())
            },
        );
        (seen, ended)
    }

    #[test]
    fn every_line_is_handed_over_in_order_with_the_status() {
        let (seen, ended) = lines("printf 'a\\n\\nb\\nlast'; exit 3", LIMITS);
        assert_eq!(seen, ["a", "", "b", "last"]);
        let ended = ended.unwrap();
        assert_eq!(ended.status.code(), Some(3));
        assert!(ended.interrupted.is_none());
        // Many more lines than the queue holds, without a timeout.
        let unbounded = LineLimits {
            timeout: None,
            ..LIMITS
        };
        let (seen, ended) = lines("seq 1 5000", unbounded);
        assert_eq!(seen.len(), 5000);
        assert_eq!(seen.last().map(String::as_str), Some("5000"));
        assert!(ended.unwrap().status.success());
    }

    #[test]
    fn a_refused_line_stops_the_callback_but_the_child_runs_to_its_end() {
        let mut seen = 0;
        let ended = run(
            &mut sh("seq 1 10000; exit 5"),
            LIMITS,
            |_| (),
            |l| {
                seen += 1;
                if l == b"3" { Err("three") } else { Ok(()) }
            },
        )
        .unwrap();
        assert_eq!(seen, 3);
        assert_eq!(ended.status.code(), Some(5));
        assert!(matches!(
            ended.interrupted,
            Some(Interrupted::Caller("three"))
        ));
    }

    #[test]
    fn a_line_past_the_limit_is_refused_and_the_rest_drained() {
        let limits = LineLimits {
            max_line: 10,
            ..LIMITS
        };
        let (seen, ended) = lines(
            "echo short; head -c 100000 /dev/zero; echo; echo after",
            limits,
        );
        assert_eq!(seen, ["short"]);
        let ended = ended.unwrap();
        assert!(ended.status.success());
        assert!(
            matches!(
                ended.interrupted,
                Some(Interrupted::LineTooLong { limit: 10 })
            ),
            "{:?}",
            ended.interrupted
        );
        // Exactly the limit is fine.
        let (seen, ended) = lines("echo 0123456789", limits);
        assert_eq!(seen, ["0123456789"]);
        assert!(ended.unwrap().interrupted.is_none());
    }

    #[test]
    fn a_silent_child_is_killed_at_the_timeout() {
        let t = Instant::now();
        let limits = LineLimits {
            timeout: Some(Duration::from_millis(300)),
            ..LIMITS
        };
        let (seen, ended) = lines("echo one; exec sleep 30", limits);
        assert_eq!(seen, ["one"]);
        assert!(
            matches!(ended, Err(LinesError::TimedOut { .. })),
            "{ended:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_watcher_gets_the_pid_and_a_missing_program_cannot_start() {
        let mut pid = 0;
        let mut seen = Vec::new();
        run(
            &mut sh("echo $$"),
            LIMITS,
            |p| pid = p,
            |l| {
                seen.push(String::from_utf8_lossy(l).into_owned());
                Ok::<_, ()>(())
            },
        )
        .unwrap();
        assert_eq!(seen, [pid.to_string()]);
        let e = run(
            &mut Command::new("/nonexistent/program"),
            LIMITS,
            |_| (),
            |_| Ok::<_, ()>(()),
        )
        .unwrap_err();
        assert!(matches!(e, LinesError::Spawn { .. }), "{e}");
    }
}
