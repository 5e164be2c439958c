//! SIGINT, SIGTERM and SIGHUP: stop every process this one started (`cargo build` and whatever
//! cargo runs: rustc, build scripts; the binary being introspected), remove half-written temp
//! files (both kept in one registry, each entry held by a [`Registered`] guard), and exit as a shell reports a death by that signal (128 + the signal number: 130 for
//! SIGINT, 143 for SIGTERM).
//!
//! Each child starts in a process group of its own ([`own_group`]), so the signal can reach
//! everything it started: cargo does not pass a SIGTERM on to its build scripts, and a build
//! script that outlived `pack` would keep writing into the target directory. The signal
//! received is forwarded to each group (a terminal's Ctrl-C only reaches the foreground group,
//! which is this process's, so SIGINT is forwarded like the others); what has not ended after
//! [`GRACE`] is killed, and this process exits once the groups are empty (or after one more
//! second, so it never hangs).
//!
//! The handler runs on a thread of its own (signal-hook's iterator), not in signal context, so
//! it may lock, sleep and do I/O.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Something an interrupted command must clean up, registered while it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    /// A process group (led by a child this process started) to stop.
    Group(u32),
    /// A temp file being written (by [`crate::output`]) to remove.
    TempFile(PathBuf),
}

/// The one cleanup registry: everything to stop or remove when this process is told to stop,
/// each entry with the id of the [`Registered`] guard that removes it again.
static PENDING: Mutex<Vec<(u64, Pending)>> = Mutex::new(Vec::new());

/// The id of the next [`Registered`] guard.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Set once a stopping signal arrived: a child registered later is stopped at once, and the
/// main thread stays quiet while the handler finishes.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// How long the children have to end after the forwarded signal before they are killed.
pub const GRACE: Duration = Duration::from_secs(3);

/// Makes `cmd` start its child as the leader of a new process group, so that
/// [`Registered::child`] stops the child and everything it starts.
pub fn own_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd
}

/// Keeps a child's process group or a temp file registered for cleanup while it lives.
#[derive(Debug)]
pub struct Registered(u64);

impl Registered {
    fn new(pending: Pending) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock().push((id, pending));
        Registered(id)
    }

    /// Registers the child with process id `pid`, started with [`own_group`] (so its pid is its
    /// process group id).
    pub fn child(pid: u32) -> Self {
        let registered = Registered::new(Pending::Group(pid));
        // A signal that arrived while the child was starting found nothing to stop.
        if STOPPING.load(Ordering::SeqCst) {
            signal_group(pid, SIGTERM);
        }
        registered
    }

    /// Registers a temp file, removed if the process is interrupted before it is renamed into
    /// place or removed.
    pub fn temp_file(path: &Path) -> Self {
        Registered::new(Pending::TempFile(path.to_owned()))
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock().retain(|(id, _)| *id != self.0);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, Pending)>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The registered process groups.
fn groups() -> Vec<u32> {
    lock()
        .iter()
        .filter_map(|(_, p)| match p {
            Pending::Group(g) => Some(*g),
            Pending::TempFile(_) => None,
        })
        .collect()
}

/// Removes the registered temp files (of writes in progress), so an interrupted command leaves
/// none behind.
pub fn remove_pending_temp_files() {
    for (_, p) in lock().iter() {
        if let Pending::TempFile(path) = p {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(unix)]
const SIGTERM: i32 = nix::libc::SIGTERM;
#[cfg(not(unix))]
const SIGTERM: i32 = 15;

/// Sends `signal` to the process group `pgid`; whether the group still has a process.
fn signal_group(pgid: u32, signal: i32) -> bool {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let Ok(pgid) = i32::try_from(pgid) else {
            return false;
        };
        // Group 0 or 1 would mean this process's own group or init's: never signalled.
        if pgid <= 1 {
            return false;
        }
        let signal = Signal::try_from(signal).ok();
        killpg(Pid::from_raw(pgid), signal).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = (pgid, signal);
        false
    }
}

/// Sends `signal` to the process group of every registered child.
pub fn signal_children(signal: i32) {
    for pgid in groups() {
        signal_group(pgid, signal);
    }
}

/// Forwards `signal` to every registered child's process group, waits up to [`GRACE`] for the
/// groups to empty, kills what is left, and waits up to one more second.
pub fn stop_children(signal: i32) {
    let groups = groups();
    let alive = |groups: &[u32]| groups.iter().any(|g| signal_group(*g, 0));
    signal_children(signal);
    let wait = |limit: Duration| {
        let start = std::time::Instant::now();
        while alive(&groups) && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait(GRACE);
    #[cfg(unix)]
    if alive(&groups) {
        for g in &groups {
            signal_group(*g, nix::libc::SIGKILL);
        }
        wait(Duration::from_secs(1));
    }
}

/// Whether a stopping signal arrived. The main thread then waits for the handler to exit the
/// process instead of reporting an error of its own (a child that died of the signal, say).
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Blocks forever when a stopping signal arrived (the handler exits the process).
pub fn park_if_stopping() {
    while stopping() {
        std::thread::park();
    }
}

/// Installs the handler. Exits with 128 + the signal after cleaning up.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                STOPPING.store(true, Ordering::SeqCst);
                remove_pending_temp_files();
                stop_children(sig);
                remove_pending_temp_files();
                std::process::exit(128 + sig);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_temp_files_are_removed_on_interruption_and_unregistered_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".cargo-airflow-x.tmp");
        std::fs::write(&p, b"partial").unwrap();
        let guard = Registered::temp_file(&p);
        let child = Registered::child(u32::MAX);
        assert!(groups().contains(&u32::MAX));
        remove_pending_temp_files();
        assert!(!p.exists());
        drop(guard);
        drop(child);
        assert!(
            !lock()
                .iter()
                .any(|(_, e)| *e == Pending::TempFile(p.clone()) || *e == Pending::Group(u32::MAX))
        );
    }
}
