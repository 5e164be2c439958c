//! Enforcing a task's declared `execution_timeout`.
//!
//! Python's task runner arms `SIGALRM` around `execute()` and raises `AirflowTaskTimeout`
//! ("Timeout, PID: N") when it fires; the try then fails like any error and is retried when
//! retries remain. Airflow 3.3 has nothing else: a runtime that does not enforce the timeout
//! lets a runaway task hold its worker slot forever. Airflow 3.4 (schema 2026-10-30) also takes
//! the timeout with `SetExecutionTimeout` and kills a task still running `killed_task_cleanup_time`
//! (60 s) after it.
//!
//! Rust code cannot be interrupted, so the runtime's waiting thread (the main thread; the task
//! runs on a thread of its own) is the watchdog: when the limit passes it logs Python's
//! "Process timed out", asks the task to stop (the cancellation flag, as SIGTERM does:
//! [`TaskContext::sleep`](crate::TaskContext::sleep) and requests end, an async task's future is
//! dropped), and reports the try failed with the timeout error at the latest
//! [`TERM_GRACE`](super::task::TERM_GRACE) later, whether or not the task returned. The process then
//! exits as after SIGTERM, ending a task thread stuck in a blocking call.
//!
//! The limit comes from the bundle's own declaration of the task
//! ([`Task::execution_timeout`](crate::Task::execution_timeout) or the dag's
//! [default](crate::Dag::default_task)): `StartupDetails` does not carry it, so a timeout set
//! only in a hand-written Python stub is not seen by the runtime (generated stubs carry the
//! declared one).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use airflow_protocol::SchemaVersion;

use super::messages::{Reply, SetExecutionTimeout, ToSupervisor};
use super::task::{Outcome, TERM_GRACE};
use crate::{TaskContext, TaskError};

const LOGGER: &str = "airflow_sdk::runtime";

/// The value the watchdog stores in the cancellation flag: `SIGALRM`, the signal Python's task
/// runner uses for the same purpose.
#[cfg(unix)]
pub(crate) const TIMEOUT_SIGNAL: usize = signal_hook::consts::SIGALRM as usize;
/// Windows has no `SIGALRM`: its number on Linux and macOS, which no Windows signal uses, so the
/// flag still tells a timeout from SIGTERM or Ctrl-C.
#[cfg(not(unix))]
pub(crate) const TIMEOUT_SIGNAL: usize = 14;

/// The first schema version that has `SetExecutionTimeout`.
const FIRST_VERSION_WITH_MESSAGE: SchemaVersion = SchemaVersion::V2026_10_30;

/// A declared execution timeout, in seconds (finite and not negative: the bundle's declarations
/// are validated before the runtime starts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ExecutionTimeout(pub(crate) f64);

impl ExecutionTimeout {
    /// The timeout a task declares, in seconds ([`crate::Bundle`] looks it up: the task's own
    /// setting, else the dag's default), if any and usable.
    pub(crate) fn from_declared(seconds: Option<f64>) -> Option<Self> {
        seconds
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(ExecutionTimeout)
    }

    /// The limit as a duration.
    pub(crate) fn duration(self) -> Duration {
        // The declarations cap nothing, but a timeout beyond ~584 years is no timeout.
        Duration::try_from_secs_f64(self.0).unwrap_or(Duration::MAX)
    }

    /// The error a try that overran fails with: Python's `AirflowTaskTimeout` text, naming the
    /// limit.
    pub(crate) fn error(self) -> TaskError {
        TaskError::fail(format!(
            "AirflowTaskTimeout: Timeout, PID: {}: the task ran longer than its execution_timeout \
             of {} s",
            std::process::id(),
            self.0
        ))
    }

    /// Logs that the limit passed, as Python's task runner does.
    pub(crate) fn log_timed_out(self) {
        log::error!(target: LOGGER, pid = std::process::id(), timeout_seconds = self.0;
            "Process timed out");
    }

    /// Tells the supervisor the timeout (`SetExecutionTimeout`) when the bundle's schema version
    /// has that message and the timeout is positive (the message refuses 0). A refusal or no
    /// answer is logged as a warning: the runtime enforces the timeout either way.
    pub(crate) fn tell_supervisor(self, ctx: &TaskContext, schema: SchemaVersion) {
        if schema < FIRST_VERSION_WITH_MESSAGE || self.0 <= 0.0 {
            return;
        }
        let message = ToSupervisor::SetExecutionTimeout(SetExecutionTimeout {
            timeout_seconds: self.0,
        });
        let problem = match ctx.request("SetExecutionTimeout", message) {
            Ok(Reply::Ack) => return,
            Ok(Reply::Failure(e) | Reply::ErrorBody(e)) => format!("{}: {}", e.error, e.detail.0),
            Ok(Reply::Body(b)) => format!("an unexpected {} reply", b.kind()),
            Err(e) => e.to_string(),
        };
        log::warn!(target: LOGGER,
            "the supervisor did not take SetExecutionTimeout ({problem}); the runtime still \
             enforces the execution_timeout of {} s itself", self.0);
    }
}

/// Watches one try from the runtime's waiting thread; see the module documentation.
pub(crate) struct Watchdog {
    limit: Option<ExecutionTimeout>,
    /// When the limit passes (none without a limit).
    deadline: Option<Instant>,
    /// Set once the limit passed: when the report is due whatever the task does.
    report_at: Option<Instant>,
    signal: Arc<AtomicUsize>,
}

impl Watchdog {
    /// Starts the clock of a try with `limit`, now (right before the task function is called).
    pub(crate) fn start(limit: Option<ExecutionTimeout>, signal: Arc<AtomicUsize>) -> Self {
        let now = Instant::now();
        Watchdog {
            limit,
            deadline: limit.map(|l| now.checked_add(l.duration()).unwrap_or(now + FAR)),
            report_at: None,
            signal,
        }
    }

    /// For a limit of 0 s: the timeout outcome, before the task function is called (Python's
    /// task runner fails such a try without calling `execute()`).
    pub(crate) fn expired_at_start(&self) -> Option<Outcome> {
        let limit = self.limit.filter(|l| l.0 <= 0.0)?;
        Some(Outcome::Errored(limit.error()))
    }

    /// Whether the limit has passed.
    pub(crate) fn fired(&self) -> bool {
        self.report_at.is_some()
    }

    /// Called while waiting for the task. Once the limit passes: logs it, asks the task to stop,
    /// and from [`TERM_GRACE`] later returns the timeout outcome to report without waiting for
    /// the task any longer.
    pub(crate) fn poll(&mut self) -> Option<Outcome> {
        let (limit, deadline) = (self.limit?, self.deadline?);
        let now = Instant::now();
        if now < deadline {
            return None;
        }
        let report_at = *self.report_at.get_or_insert_with(|| {
            limit.log_timed_out();
            // A real signal that came first keeps its number.
            let _ =
                self.signal
                    .compare_exchange(0, TIMEOUT_SIGNAL, Ordering::SeqCst, Ordering::SeqCst);
            now + TERM_GRACE
        });
        (now >= report_at).then(|| Outcome::Errored(limit.error()))
    }

    /// How the try ended, given what the task returned: a timeout once the limit passed
    /// (whatever the task did after being asked to stop), else `outcome`.
    pub(crate) fn verdict(&self, outcome: Outcome) -> Outcome {
        match self.limit {
            Some(limit) if self.fired() => Outcome::Errored(limit.error()),
            _ => outcome,
        }
    }
}

/// The timeout of a run of `airflow_sdk::testing`, where the task runs on the test's thread: at
/// the limit, another thread asks the task to stop; the harness waits for the function to
/// return (it cannot abandon its own thread), then a try that overran is a timeout.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) struct Alarm {
    limit: Option<ExecutionTimeout>,
    started: Instant,
    /// Dropped when the run ends, which stops the alarm thread.
    _stop: Option<std::sync::mpsc::Sender<()>>,
}

#[cfg_attr(not(feature = "testing"), allow(dead_code))]
impl Alarm {
    /// Starts the clock of a run with `limit`, now.
    pub(crate) fn arm(limit: Option<ExecutionTimeout>, signal: &Arc<AtomicUsize>) -> Self {
        let started = Instant::now();
        let stop = limit.filter(|l| l.0 > 0.0).map(|l| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let signal = Arc::clone(signal);
            // Without a thread the alarm is only checked when the function returns.
            let _ = std::thread::Builder::new()
                .name("airflow-sdk-test-alarm".into())
                .spawn(move || {
                    if rx.recv_timeout(l.duration())
                        == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    {
                        let _ = signal.compare_exchange(
                            0,
                            TIMEOUT_SIGNAL,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        );
                    }
                });
            tx
        });
        Alarm {
            limit,
            started,
            _stop: stop,
        }
    }

    /// For a limit of 0 s: the timeout outcome, before the function is called.
    pub(crate) fn expired_at_start(&self) -> Option<Outcome> {
        let limit = self.limit.filter(|l| l.0 <= 0.0)?;
        Some(Outcome::Errored(limit.error()))
    }

    /// How the run ended, and whether it timed out: a timeout (logged as under Airflow) when the
    /// function returned after the limit, else `outcome`.
    pub(crate) fn verdict(&self, outcome: Outcome) -> (Outcome, bool) {
        match self.limit {
            Some(limit) if self.started.elapsed() >= limit.duration() => {
                limit.log_timed_out();
                (Outcome::Errored(limit.error()), true)
            }
            _ => (outcome, false),
        }
    }
}

/// A deadline far enough to be never.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bundle, Dag, Task, TaskContext, TaskResult, TaskSettings};

    fn noop(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }

    #[test]
    fn the_declared_timeout_is_the_tasks_own_else_the_dags_default() {
        let bundle = Bundle::new().dag(
            Dag::new("d")
                .default_task(TaskSettings::new().execution_timeout(Duration::from_secs(60)))
                .task(
                    Task::new("own").execution_timeout(Duration::from_millis(2500)),
                    noop,
                )
                .task("inherits", noop),
        );
        let t = |task| bundle.execution_timeout("d", task);
        assert_eq!(t("own"), Some(ExecutionTimeout(2.5)));
        assert_eq!(t("inherits"), Some(ExecutionTimeout(60.0)));
        assert_eq!(bundle.execution_timeout("other", "own"), None);
        let none = Bundle::new().dag(Dag::new("d").task("t", noop));
        assert_eq!(none.execution_timeout("d", "t"), None);
    }

    #[test]
    fn the_error_names_the_limit_in_pythons_words() {
        let e = ExecutionTimeout(3.0).error().to_string();
        assert!(
            e.starts_with(&format!(
                "AirflowTaskTimeout: Timeout, PID: {}",
                std::process::id()
            )),
            "{e}"
        );
        assert!(e.ends_with("execution_timeout of 3 s"), "{e}");
        assert!(
            ExecutionTimeout(0.25)
                .error()
                .to_string()
                .ends_with("of 0.25 s")
        );
        // Retried as declared, like any other error.
        assert_eq!(
            ExecutionTimeout(1.0).error().outcome(),
            crate::TaskOutcome::Failed
        );
    }

    #[test]
    fn without_a_limit_the_watchdog_never_fires() {
        let signal = Arc::new(AtomicUsize::new(0));
        let mut w = Watchdog::start(None, Arc::clone(&signal));
        assert!(w.poll().is_none());
        assert!(!w.fired());
        assert!(matches!(
            w.verdict(Outcome::Panicked("x".into())),
            Outcome::Panicked(_)
        ));
        assert_eq!(signal.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_watchdog_asks_the_task_to_stop_then_reports_after_the_grace_period() {
        let signal = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut w = Watchdog::start(Some(ExecutionTimeout(0.05)), Arc::clone(&signal));
        assert!(w.poll().is_none(), "fired before its limit");
        assert!(!w.fired());
        std::thread::sleep(Duration::from_millis(60));
        // The limit passed: the task is asked to stop, the report waits for the grace period.
        assert!(w.poll().is_none());
        assert!(w.fired());
        assert_eq!(signal.load(Ordering::SeqCst), TIMEOUT_SIGNAL);
        let reported = loop {
            if let Some(o) = w.poll() {
                break o;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(50) + TERM_GRACE
                && took < Duration::from_millis(50) + TERM_GRACE + Duration::from_secs(1),
            "reported after {took:?}"
        );
        let Outcome::Errored(e) = reported else {
            panic!("not an error")
        };
        assert!(e.to_string().contains("execution_timeout of 0.05 s"), "{e}");
        // A task that returned after the limit still timed out, even with a success.
        assert!(matches!(
            w.verdict(Outcome::Returned(Default::default())),
            Outcome::Errored(e) if e.to_string().contains("AirflowTaskTimeout")
        ));
    }

    #[test]
    fn a_signal_that_came_first_keeps_its_number() {
        let sigterm = signal_hook::consts::SIGTERM as usize;
        let signal = Arc::new(AtomicUsize::new(sigterm));
        let mut w = Watchdog::start(Some(ExecutionTimeout(0.0)), Arc::clone(&signal));
        assert!(w.poll().is_none());
        assert!(w.fired());
        assert_eq!(signal.load(Ordering::SeqCst), sigterm);
    }

    #[test]
    fn a_task_that_returns_before_its_limit_keeps_its_outcome() {
        let signal = Arc::new(AtomicUsize::new(0));
        let mut w = Watchdog::start(Some(ExecutionTimeout(60.0)), signal);
        assert!(w.poll().is_none());
        assert!(matches!(
            w.verdict(Outcome::Returned(Default::default())),
            Outcome::Returned(_)
        ));
    }

    /// `airflow_sdk::testing` sees the same error, with the declared limit or the test's own.
    #[cfg(feature = "testing")]
    mod harness {
        use super::*;
        use crate::testing::{RequestKind, TestRun, TestState};

        fn sleeps(ctx: &mut TaskContext) -> TaskResult {
            ctx.sleep(Duration::from_secs(60))?;
            Ok(())
        }

        fn bundle(schema: SchemaVersion) -> Bundle {
            Bundle::new().supervisor_schema(schema).dag(
                Dag::new("d").task(
                    Task::new("sleeps")
                        .execution_timeout(Duration::from_millis(150))
                        .retries(1),
                    sleeps,
                ),
            )
        }

        #[test]
        fn run_in_enforces_the_declared_timeout_and_retries_as_declared() {
            let started = Instant::now();
            let out = TestRun::new("d", "sleeps").run_in(&bundle(SchemaVersion::V2026_06_16));
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(out.state, TestState::UpForRetry, "{out}");
            let error = out.error.as_deref().unwrap();
            assert!(
                error.starts_with("AirflowTaskTimeout: Timeout, PID: "),
                "{error}"
            );
            assert!(error.ends_with("execution_timeout of 0.15 s"), "{error}");
            let record = out.log_containing("Process timed out").unwrap();
            assert_eq!(record.fields["timeout_seconds"], 0.15);
            assert_eq!(out.terminal.body["retry_reason"], error);
            // 2026-06-16 has no SetExecutionTimeout.
            assert_eq!(out.requests_of(RequestKind::SetExecutionTimeout).count(), 0);
            // The last try fails.
            let out = TestRun::new("d", "sleeps")
                .try_number(2)
                .run_in(&bundle(SchemaVersion::V2026_06_16));
            assert_eq!(out.state, TestState::Failed);
        }

        #[test]
        fn under_2026_10_30_the_harness_records_set_execution_timeout() {
            let out = TestRun::new("d", "sleeps").run_in(&bundle(SchemaVersion::V2026_10_30));
            assert_eq!(out.state, TestState::UpForRetry, "{out}");
            let sent: Vec<_> = out.requests_of(RequestKind::SetExecutionTimeout).collect();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].body["timeout_seconds"], 0.15);
        }

        #[test]
        fn a_test_sets_its_own_limit_and_a_quick_task_is_unaffected() {
            let out = TestRun::new("d", "sleeps")
                .execution_timeout(Duration::from_millis(50))
                .run_in(&bundle(SchemaVersion::V2026_06_16));
            assert!(out.error.unwrap().ends_with("execution_timeout of 0.05 s"));
            let out = TestRun::new("d", "t")
                .execution_timeout(Duration::from_secs(30))
                .run(noop);
            out.assert_success();
            assert!(out.log_containing("Process timed out").is_none());
        }
    }
}
