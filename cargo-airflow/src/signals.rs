//! SIGINT, SIGTERM and SIGHUP: stop the children this process started (`cargo build`, the binary
//! being introspected), remove half-written temp files, and exit as a shell reports a death by
//! that signal (128 + the signal number: 130 for SIGINT, 143 for SIGTERM).
//!
//! The handler runs on a thread of its own (signal-hook's iterator), not in signal context, so
//! it may lock and do I/O.

use std::sync::Mutex;

/// Process ids of running children to stop when this process is told to stop.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Keeps a child registered while it runs.
#[derive(Debug)]
pub struct ChildGuard(u32);

impl ChildGuard {
    /// Registers the child with process id `pid`.
    pub fn new(pid: u32) -> Self {
        CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
        ChildGuard(pid)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != self.0);
    }
}

/// Sends SIGTERM to every registered child.
pub fn terminate_children() {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        for pid in children.iter() {
            if let Ok(pid) = i32::try_from(*pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
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
                terminate_children();
                crate::output::remove_pending_temp_files();
                std::process::exit(128 + sig);
            }
        });
    }
}
