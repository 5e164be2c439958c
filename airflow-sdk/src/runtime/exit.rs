//! A task that ends the process (`std::process::exit`, C `exit`) before it returns.
//!
//! Without a terminal message the supervisor never reports such a task: it stays `running` until
//! Airflow's zombie detection, with nothing in its log. `std::process::exit` runs the C `atexit`
//! handlers, so the runtime registers one while a task runs: if no terminal message was sent,
//! it logs why and sends `TaskState{failed}` (or `RetryTask` when a retry is due), waiting a
//! bounded time for the acknowledgement. Other threads keep running during exit and may hold
//! the comm or log locks: every lock is only tried until a deadline, so exit never hangs.
//!
//! Unix only: on Windows `std::process::exit` calls `ExitProcess`, which does not run the C
//! runtime's `atexit` handlers of the executable.

// Elsewhere than on Unix nothing is registered, so the reporting half is unused.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::comms::Comms;
use super::messages::Terminal;
use super::task::{Outlets, terminal_message};
use super::{LOGGER, logging};

/// The longest the exit handler waits for the supervisor's acknowledgement.
const EXIT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// No task runs (or the runtime reports it): the exit handler does nothing.
const IDLE: u8 = 0;
/// A task runs: the exit handler reports if the process exits now.
const ARMED_STATE: u8 = 1;
/// The exit handler is reporting: the runtime must not send a terminal message.
const EXITING: u8 = 2;

/// [`IDLE`], [`ARMED_STATE`] or [`EXITING`]: whoever leaves `ARMED_STATE` first sends the
/// terminal message.
static STATE: AtomicU8 = AtomicU8::new(IDLE);

/// What the exit handler needs to report, while a task runs.
struct Armed {
    comms: Arc<Comms>,
    should_retry: bool,
    timeout: Duration,
}

static ARMED: Mutex<Option<Armed>> = Mutex::new(None);

/// Why a task that ended the process failed, as logged and sent with `RetryTask`.
pub(crate) const EXIT_REASON: &str = "the task called std::process::exit (or C exit) before \
     returning, so it reported no result; return from the task function instead (an error for \
     a failure, Ok for a success)";

/// The terminal state for a task that ended the process: like an error, retried when a retry is
/// due.
pub(crate) fn exit_terminal(should_retry: bool) -> Terminal {
    if should_retry {
        Terminal::Retry(EXIT_REASON.to_owned())
    } else {
        Terminal::Failed
    }
}

/// Arms the exit handler for the task about to run (registering it once). `false` when the
/// handler could not be registered (or on a platform without one): the task then runs as before.
pub(crate) fn arm(comms: &Arc<Comms>, should_retry: bool, timeout: Duration) -> bool {
    // The handler must not start the reader thread while the process exits.
    if comms.start_reader().is_err() || !register() {
        return false;
    }
    *ARMED.lock().unwrap_or_else(|p| p.into_inner()) = Some(Armed {
        comms: Arc::clone(comms),
        should_retry,
        timeout,
    });
    STATE.store(ARMED_STATE, Ordering::SeqCst);
    true
}

/// Takes the sending of the terminal message back from the exit handler. `false` when the
/// handler already took it (the process is exiting: the caller must not send a second one).
pub(crate) fn claim() -> bool {
    match STATE.compare_exchange(ARMED_STATE, IDLE, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {
            if let Ok(mut armed) = ARMED.try_lock() {
                armed.take();
            }
            true
        }
        Err(state) => state != EXITING,
    }
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn register() -> bool {
    use std::sync::OnceLock;
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // `int atexit(void (*)(void))` from the C library std already links; declared here
        // rather than adding the libc crate to every bundle.
        unsafe extern "C" {
            fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: the declaration matches C's `atexit`; `on_exit` is an `extern "C" fn()` that
        // lives for the whole program and never unwinds (it catches every panic).
        unsafe { atexit(on_exit) == 0 }
    })
}

#[cfg(not(unix))]
fn register() -> bool {
    false
}

/// The `atexit` handler: never unwinds into C.
#[cfg(unix)]
extern "C" fn on_exit() {
    let _ = std::panic::catch_unwind(report_exit);
}

/// Reports a task that ended the process without a terminal message; does nothing when the
/// runtime sends (or sent) one, or when no task runs.
fn report_exit() {
    if STATE
        .compare_exchange(ARMED_STATE, EXITING, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    // `try_lock`: the arming thread holds it only for an instant; never wait at exit.
    let armed = match ARMED.try_lock() {
        Ok(mut g) => g.take(),
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().take(),
        Err(std::sync::TryLockError::WouldBlock) => None,
    };
    let Some(armed) = armed else { return };
    logging::exiting();
    let terminal = exit_terminal(armed.should_retry);
    log::error!(target: LOGGER, "task failed: {EXIT_REASON}");
    if matches!(terminal, Terminal::Retry(_)) {
        log::info!(target: LOGGER, "the task will be retried");
    }
    let message = terminal_message(&terminal, Outlets::default());
    let timeout = armed.timeout.min(EXIT_ACK_TIMEOUT);
    let state = terminal.state();
    match armed.comms.request_at_exit(message, timeout) {
        Ok(super::messages::Reply::Ack) => {}
        Ok(other) => log::error!(target: LOGGER,
            "the supervisor did not accept state {state} at exit: {other:?}"),
        Err(e) => log::error!(target: LOGGER, "cannot report state {state} at exit: {e}"),
    }
    log::logger().flush();
}
