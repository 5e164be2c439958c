//! SIGINT, SIGTERM and SIGHUP: stop every process this one started (`cargo build` and whatever
//! cargo runs: rustc, build scripts; the binary being introspected), remove half-written temp
//! files, and exit as a shell reports a death by that signal (128 + the signal number: 130 for
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

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Process groups (each led by a child this process started) to stop when it is told to stop.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Set once a stopping signal arrived: a child registered later is stopped at once, and the
/// main thread stays quiet while the handler finishes.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// How long the children have to end after the forwarded signal before they are killed.
pub const GRACE: Duration = Duration::from_secs(3);

/// Makes `cmd` start its child as the leader of a new process group, so that [`ChildGuard`]
/// stops the child and everything it starts.
pub fn own_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd
}

/// Keeps a child's process group registered while the child runs.
#[derive(Debug)]
pub struct ChildGuard(u32);

impl ChildGuard {
    /// Registers the child with process id `pid`, started with [`own_group`] (so its pid is its
    /// process group id).
    pub fn new(pid: u32) -> Self {
        GROUPS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
        // A signal that arrived while the child was starting found nothing to stop.
        if STOPPING.load(Ordering::SeqCst) {
            signal_group(pid, SIGTERM);
        }
        ChildGuard(pid)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != self.0);
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
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for pgid in groups {
        signal_group(pgid, signal);
    }
}

/// Forwards `signal` to every registered child's process group, waits up to [`GRACE`] for the
/// groups to empty, kills what is left, and waits up to one more second.
pub fn stop_children(signal: i32) {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
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
                crate::output::remove_pending_temp_files();
                stop_children(sig);
                crate::output::remove_pending_temp_files();
                std::process::exit(128 + sig);
            }
        });
    }
}
