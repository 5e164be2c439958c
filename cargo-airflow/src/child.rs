//! Running a child process that must not hang this one or fill its memory: the bounded runner of
//! [`airflow_process::child`] (stdin closed, a timeout, stdout read up to a limit, the end of
//! stderr kept), with every child started in a process group of its own and registered with
//! [`crate::signals`] while it runs, so Ctrl-C stops it and whatever it started.

use std::process::Command;

pub use airflow_process::child::{Finished, Limits, RunError, last_lines};

/// Runs `cmd` under `limits` and returns what it printed, whatever its exit status; a signal
/// that stops `cargo airflow` stops the child too.
pub fn run(cmd: &mut Command, limits: Limits) -> Result<Finished, RunError> {
    airflow_process::child::run_watched(
        crate::signals::own_group(cmd),
        limits,
        crate::signals::Registered::child,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The signal handler's `signal_children` reaches a child started through [`run`] (nextest
    /// runs each test in a process of its own, so no other test's child is stopped).
    #[cfg(unix)]
    #[test]
    fn a_running_child_is_stopped_with_this_process() {
        let limits = Limits {
            timeout: Duration::from_secs(60),
            max_stdout: 1024,
            stderr_tail: 1024,
        };
        let started = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(run(Command::new("sleep").arg("60"), limits));
        });
        // Until the child has started and been registered, there is nothing to stop: try again.
        let finished = loop {
            crate::signals::signal_children(nix::libc::SIGTERM);
            if let Ok(result) = rx.recv_timeout(Duration::from_millis(100)) {
                break result.unwrap();
            }
        };
        assert!(!finished.status.success(), "{}", finished.status);
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
