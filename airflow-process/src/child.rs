//! Running a child process that must not hang this one or fill its memory: stdin closed, a
//! timeout (the child is killed when it expires), stdout read up to a limit, and only the last
//! bytes of stderr kept (where the reason for a failure usually is).
//!
//! [`run_watched`] tells the caller the child's process id while it runs, so that the caller can
//! stop it on a signal of its own (cargo-airflow registers it with its Ctrl-C handler).

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// The limits a child runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long it may run.
    pub timeout: Duration,
    /// The most stdout read; more is an error.
    pub max_stdout: u64,
    /// How much of the end of stderr is kept.
    pub stderr_tail: u64,
}

/// What a child that exited (successfully or not) left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout (at most [`Limits::max_stdout`] bytes).
    pub stdout: Vec<u8>,
    /// The end of its stderr (at most [`Limits::stderr_tail`] bytes).
    pub stderr: Vec<u8>,
}

impl Finished {
    /// The last non-empty lines of stderr, on one short line.
    pub fn stderr_summary(&self, lines: usize) -> String {
        last_lines(String::from_utf8_lossy(&self.stderr).trim(), lines)
    }

    /// How a child that failed ended, on one line: its exit status, then `: ` and the last
    /// `lines` lines of stderr when it printed any (`exit status: 1: error: boom`).
    pub fn failure(&self, lines: usize) -> String {
        failure_line(self.status, &self.stderr_summary(lines))
    }
}

/// `status`, then `: stderr` when `stderr` (a [`Finished::stderr_summary`]) is not empty: a
/// failed child on one line.
pub fn failure_line(status: ExitStatus, stderr: &str) -> String {
    if stderr.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {stderr}")
    }
}

/// Why a child could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
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
    /// Its stdout could not be read.
    #[error("cannot read its output")]
    Read {
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It printed more than the limit on stdout.
    #[error("it printed more than {limit} bytes")]
    StdoutOverflow {
        /// The limit.
        limit: u64,
    },
    /// It exited but something it left behind (a grandchild) still holds its stdout open.
    #[error("its stdout was not closed after it exited")]
    PipeLeftOpen,
}

/// Runs `cmd` under `limits` and returns what it printed, whatever its exit status.
///
/// Its stdin, stdout and stderr are replaced (stdin closed, the others piped).
pub fn run(cmd: &mut Command, limits: Limits) -> Result<Finished, RunError> {
    run_watched(cmd, limits, |_| ())
}

/// [`run`], calling `watch` with the child's process id as soon as it has started. What `watch`
/// returns is kept while the child runs and dropped once it has exited (or been killed and
/// waited for), before this returns: a guard that registers the pid with a signal handler, say,
/// so that the caller can stop the child without this crate knowing how.
pub fn run_watched<G>(
    cmd: &mut Command,
    limits: Limits,
    watch: impl FnOnce(u32) -> G,
) -> Result<Finished, RunError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_retrying(cmd).map_err(|source| RunError::Spawn { source })?;
    let watched = watch(child.id());
    let out_rx = spawn_reader(child.stdout.take(), limits.max_stdout, read_limited);
    let err_rx = spawn_reader(child.stderr.take(), limits.stderr_tail, read_tail);
    let started = Instant::now();
    let waited = match child.wait_timeout(limits.timeout) {
        Ok(Some(status)) => Ok(status),
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(RunError::TimedOut {
                after: limits.timeout,
            })
        }
        Err(source) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(RunError::Wait { source })
        }
    };
    // The child is reaped: its pid may be reused from now on, so it is no longer watched.
    drop(watched);
    let status = waited?;
    // The pipes close when the child exits, unless it left a grandchild holding them.
    let remaining = limits.timeout.saturating_sub(started.elapsed()) + Duration::from_secs(1);
    let stdout = rx_within(out_rx, remaining).ok_or(RunError::PipeLeftOpen)?;
    let stderr = rx_within(err_rx, Duration::from_secs(1));
    if let Some(source) = stdout.error {
        return Err(RunError::Read { source });
    }
    if stdout.overflow {
        return Err(RunError::StdoutOverflow {
            limit: limits.max_stdout,
        });
    }
    Ok(Finished {
        status,
        stdout: stdout.data,
        stderr: stderr.map(|c| c.data).unwrap_or_default(),
    })
}

/// Starts `cmd`. "Text file busy": another thread of this process may briefly hold a
/// just-written executable open across a fork; retry a few times before giving up.
pub(crate) fn spawn_retrying(cmd: &mut Command) -> io::Result<Child> {
    let mut attempt = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && attempt < 5 => {
                attempt += 1;
                thread::sleep(Duration::from_millis(50 * attempt));
            }
            other => return other,
        }
    }
}

struct Captured {
    data: Vec<u8>,
    overflow: bool,
    error: Option<io::Error>,
}

fn spawn_reader<R: Read + Send + 'static>(
    pipe: Option<R>,
    limit: u64,
    read: fn(R, u64) -> Captured,
) -> mpsc::Receiver<Captured> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let captured = match pipe {
            Some(p) => read(p, limit),
            None => Captured {
                data: Vec::new(),
                overflow: false,
                error: None,
            },
        };
        let _ = tx.send(captured);
    });
    rx
}

fn rx_within(rx: mpsc::Receiver<Captured>, wait: Duration) -> Option<Captured> {
    rx.recv_timeout(wait).ok()
}

/// Reads at most `limit` bytes, then drains (and discards) the rest so the writer never blocks.
fn read_limited(mut r: impl Read, limit: u64) -> Captured {
    let mut data = Vec::new();
    let mut error = None;
    if let Err(e) = (&mut r).take(limit).read_to_end(&mut data) {
        error = Some(e);
    }
    let overflow = match io::copy(&mut r, &mut io::sink()) {
        Ok(n) => n > 0,
        Err(e) => {
            error.get_or_insert(e);
            false
        }
    };
    Captured {
        data,
        overflow,
        error,
    }
}

/// Reads to the end, keeping only the last `limit` bytes (at most twice that in memory).
fn read_tail(mut r: impl Read, limit: u64) -> Captured {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let mut overflow = false;
    let mut error = None;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                if data.len() > limit.saturating_mul(2) {
                    data.drain(..data.len() - limit);
                    overflow = true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if data.len() > limit {
        data.drain(..data.len() - limit);
        overflow = true;
    }
    Captured {
        data,
        overflow,
        error,
    }
}

/// The most characters of a child's output quoted in an error line.
pub const MAX_QUOTED: usize = 300;

/// The last `n` non-empty lines, joined with ` | ` and cut to their last [`MAX_QUOTED`]
/// characters, so that a chatty child cannot turn an error into a wall of text.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let joined = lines[lines.len().saturating_sub(n)..].join(" | ");
    let count = joined.chars().count();
    if count <= MAX_QUOTED {
        return joined;
    }
    let tail: String = joined.chars().skip(count - MAX_QUOTED).collect();
    format!("...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        timeout: Duration::from_secs(30),
        max_stdout: 1024,
        stderr_tail: 64,
    };

    #[test]
    fn quoted_output_is_one_short_line() {
        let huge = format!("{}\nlast words\n\n", "x".repeat(100_000));
        let q = last_lines(&huge, 5);
        assert!(q.chars().count() <= MAX_QUOTED + 3, "{}", q.len());
        assert!(q.ends_with("| last words"), "{q}");
        assert!(!q.contains('\n'));
        assert_eq!(last_lines("a\nb\n", 5), "a | b");
    }

    #[test]
    fn output_is_bounded_and_drained() {
        let c = read_limited(&[7u8; 100][..], 10);
        assert_eq!(c.data.len(), 10);
        assert!(c.overflow);
        let c = read_limited(&[7u8; 10][..], 10);
        assert!(!c.overflow);
        let c = read_tail(&b"0123456789"[..], 4);
        assert_eq!(c.data, b"6789");
    }

    #[cfg(unix)]
    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[cfg(unix)]
    #[test]
    fn a_hanging_child_is_killed_at_the_timeout() {
        let t = Instant::now();
        let limits = Limits {
            timeout: Duration::from_millis(300),
            ..LIMITS
        };
        let e = run(&mut sh("sleep 30"), limits).unwrap_err();
        assert!(matches!(e, RunError::TimedOut { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_child_leaves_its_stderr_tail_and_status() {
        let f = run(&mut sh("echo out; echo boom >&2; exit 4"), LIMITS).unwrap();
        assert_eq!(f.status.code(), Some(4));
        assert_eq!(f.stdout, b"out\n");
        assert_eq!(f.stderr_summary(5), "boom");
        assert_eq!(f.failure(5), "exit status: 4: boom");
        let quiet = run(&mut sh("exit 3"), LIMITS).unwrap();
        assert_eq!(quiet.failure(5), "exit status: 3");
    }

    #[cfg(unix)]
    #[test]
    fn too_much_stdout_is_an_error() {
        let e = run(&mut sh("head -c 5000 /dev/zero"), LIMITS).unwrap_err();
        assert!(matches!(e, RunError::StdoutOverflow { limit: 1024 }), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn the_watcher_gets_the_pid_and_is_dropped_once_the_child_exited() {
        use std::cell::RefCell;
        struct Guard<'a>(&'a RefCell<Vec<String>>);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                self.0.borrow_mut().push("dropped".into());
            }
        }
        let events = RefCell::new(Vec::new());
        let f = run_watched(&mut sh("echo $$"), LIMITS, |pid| {
            events.borrow_mut().push(pid.to_string());
            Guard(&events)
        })
        .unwrap();
        let printed = String::from_utf8_lossy(&f.stdout).trim().to_owned();
        assert_eq!(*events.borrow(), [printed, "dropped".to_owned()]);
        // Also when the child is killed at the timeout.
        let limits = Limits {
            timeout: Duration::from_millis(200),
            ..LIMITS
        };
        events.borrow_mut().clear();
        let e = run_watched(&mut sh("sleep 30"), limits, |_| Guard(&events)).unwrap_err();
        assert!(matches!(e, RunError::TimedOut { .. }), "{e}");
        assert_eq!(*events.borrow(), ["dropped"]);
    }

    #[test]
    fn a_missing_program_cannot_start() {
        let e = run(&mut Command::new("/nonexistent/program"), LIMITS).unwrap_err();
        assert!(matches!(e, RunError::Spawn { .. }), "{e}");
    }
}
