//! Sensors: a task that waits until a condition holds, poking it at an interval, as Airflow's
//! `BaseSensorOperator` does. In poke mode it waits in process between pokes; in reschedule mode
//! it pokes once per run and ends `up_for_reschedule`, so Airflow runs it again later without
//! holding a worker slot meanwhile. Either way it times out, failing without retry (or skipped,
//! with `soft_fail`), once its timeout has passed since it started.

use std::fmt;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{RequestError, TaskContext, unexpected};
use crate::error::TaskOutcome;
use crate::runtime::messages::{
    GetTaskRescheduleStartDate, Reply, TaskRescheduleStartDate, ToSupervisor, ToTask, format_time,
};
use crate::{TaskError, TaskResult};

const LOGGER: &str = "airflow_sdk::sensor";

/// How a [`Sensor`] waits between pokes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SensorMode {
    /// Waits in the running task (holding its worker slot), poking again after each interval.
    /// Best for short waits and short intervals.
    #[default]
    Poke,
    /// Pokes once per run: when the condition does not hold, the run ends `up_for_reschedule`
    /// ([`TaskError::reschedule_at`]) and Airflow starts the task again after the interval, in
    /// the same try. Frees the worker slot between pokes; best for long waits (Airflow advises
    /// intervals of a minute or more, as each poke is a new task start).
    ///
    /// Intervals of a few seconds are exposed to a race in Airflow's scheduler
    /// (apache/airflow#71172, for Python sensors alike): when the executor's report that one
    /// run ended arrives after the task was queued again for the next poke, the scheduler takes
    /// the task for one killed externally and fails the try (`up_for_retry`).
    Reschedule,
}

impl SensorMode {
    /// Airflow's name for the mode: `poke` or `reschedule`.
    pub fn as_str(self) -> &'static str {
        match self {
            SensorMode::Poke => "poke",
            SensorMode::Reschedule => "reschedule",
        }
    }
}

/// Why a sensor gave up: its condition did not hold within its timeout. The source of the
/// [`TaskError`] a timed-out [`Sensor::poke`] returns (failed without retry, or skipped with
/// [`Sensor::soft_fail`]); find it with `error.source().downcast_ref::<SensorTimeout>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SensorTimeout {
    /// The sensor's timeout.
    pub timeout: Duration,
    /// How long it waited when it gave up.
    pub waited: Duration,
    /// What the timeout counted from: when [`Sensor::poke`] was called (poke mode), or when
    /// the first run of this try started, as Airflow recorded it (reschedule mode; see
    /// [`TaskContext::first_try_start`]).
    pub started: OffsetDateTime,
    /// Its mode.
    pub mode: SensorMode,
}

impl fmt::Display for SensorTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sensor timed out: the condition did not hold within its timeout of {:?} ({:.1?} \
             since the sensor started at {}, {} mode)",
            self.timeout,
            self.waited,
            format_time(self.started),
            self.mode
        )
    }
}

impl std::error::Error for SensorTimeout {}

/// A sensor: pokes a condition until it holds, at an interval, for at most a timeout, the way
/// Airflow's `BaseSensorOperator` does. Call [`poke`](Self::poke) from a task function with the
/// condition; it returns the condition's value once it holds.
///
/// - In [`SensorMode::Poke`] (the default), `poke` waits in process between pokes (with the
///   context's cancellable [`sleep`](TaskContext::sleep)), and the timeout counts from when
///   `poke` was called.
/// - In [`SensorMode::Reschedule`], `poke` pokes once; when the condition does not hold it
///   returns [`TaskError::reschedule_at`] (return it from the task, as `?` does): the task ends
///   `up_for_reschedule` and Airflow runs it again after the interval, in the same try, where
///   `poke` pokes again. The timeout counts from the first run of the try
///   ([`TaskContext::first_try_start`]), so it spans the reschedules.
///
/// When the timeout has passed and the condition still does not hold, the task fails without
/// retry (Airflow's `AirflowSensorTimeout`), or ends skipped with
/// [`soft_fail`](Self::soft_fail); the error's source is a [`SensorTimeout`]. In poke mode the
/// last wait is shortened so that the final poke falls when the timeout runs out; in
/// reschedule mode a run is never rescheduled sooner than the poke interval, so (as with
/// Airflow's own sensor) the last poke may come up to an interval past the timeout. An error
/// the condition returns ends the task as that
/// error says (a plain error is retried as declared); with `soft_fail`, one that fails without
/// retry ([`TaskError::fail_no_retry`]) ends it skipped instead, as Airflow's `soft_fail` does.
///
/// State that must survive between the pokes of a reschedule-mode sensor (each is a new
/// process) belongs in the task state store ([`TaskContext::state_store`]). In an async task,
/// poke mode's waits block the task's thread (its other futures pause); reschedule mode does
/// not wait in process at all.
///
/// ```no_run
/// use std::time::Duration;
/// use airflow_sdk::{Sensor, SensorMode, TaskContext, TaskResult};
///
/// /// Waits for the `ready_rows` Variable, checking every 5 minutes for up to 6 hours without
/// /// holding a worker slot; the row count becomes the task's `return_value` XCom.
/// fn wait_for_rows(ctx: &mut TaskContext) -> TaskResult<u64> {
///     Sensor::new(Duration::from_secs(300))
///         .mode(SensorMode::Reschedule)
///         .timeout(Duration::from_secs(6 * 3600))
///         .soft_fail(true)
///         .poke(ctx, |ctx| {
///             let rows = ctx.variable("ready_rows")?;
///             Ok(rows.and_then(|r| r.parse().ok()))
///         })
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensor {
    poke_interval: Duration,
    mode: SensorMode,
    timeout: Duration,
    soft_fail: bool,
    exponential_backoff: bool,
    max_wait: Option<Duration>,
}

impl Sensor {
    /// The timeout unless one is set: 7 days, Airflow's default `[sensors] default_timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

    /// A sensor that pokes every `poke_interval`, in poke mode, with the
    /// [default timeout](Self::DEFAULT_TIMEOUT), failing when it times out.
    pub fn new(poke_interval: Duration) -> Self {
        Sensor {
            poke_interval,
            mode: SensorMode::Poke,
            timeout: Self::DEFAULT_TIMEOUT,
            soft_fail: false,
            exponential_backoff: false,
            max_wait: None,
        }
    }

    /// How it waits between pokes (see [`SensorMode`]).
    pub fn mode(mut self, mode: SensorMode) -> Self {
        self.mode = mode;
        self
    }

    /// How long it may wait in all before it times out: since `poke` was called (poke mode),
    /// or since the first run of this try (reschedule mode; from when Airflow recorded its
    /// reschedule, see [`TaskContext::first_try_start`]). Unlike the task's
    /// `execution_timeout`, which bounds one run, it counts the time between reschedules too.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// When `true`, a timeout (or a poke error that fails without retry) ends the task
    /// `skipped` instead of `failed`.
    pub fn soft_fail(mut self, soft_fail: bool) -> Self {
        self.soft_fail = soft_fail;
        self
    }

    /// When `true`, the waits grow: after the n-th poke the sensor waits between `b` and `2b`
    /// (a jitter fixed per task instance and poke, so that sensors started together spread
    /// out), where `b` is `poke_interval × 2^(n−2)` and at least 1 s, as Airflow computes it.
    /// In reschedule mode n is estimated from the time since the first run, as Airflow does.
    pub fn exponential_backoff(mut self, exponential_backoff: bool) -> Self {
        self.exponential_backoff = exponential_backoff;
        self
    }

    /// The longest wait between pokes with [`exponential_backoff`](Self::exponential_backoff).
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// Pokes `condition` until it returns `Ok(Some(value))`, and returns the value (`Ok(None)`
    /// means "not yet"). See [`Sensor`] for how the modes wait, time out and end.
    ///
    /// # Errors
    ///
    /// - In reschedule mode, [`TaskError::reschedule_at`] when the condition does not hold yet
    ///   (the task must return it), or the failed `GetTaskRescheduleStartDate` request.
    /// - A [`SensorTimeout`], failed without retry or skipped ([`soft_fail`](Self::soft_fail)).
    /// - The condition's own error.
    /// - In poke mode, a failure when the task is asked to stop (SIGTERM) while it waits.
    pub fn poke<T, F>(&self, ctx: &TaskContext, mut condition: F) -> TaskResult<T>
    where
        F: FnMut(&TaskContext) -> TaskResult<Option<T>>,
    {
        let clock = match self.mode {
            SensorMode::Poke => Clock::Monotonic(Instant::now(), OffsetDateTime::now_utc()),
            SensorMode::Reschedule => {
                let recorded = ctx.first_try_start()?;
                let started = recorded
                    .or_else(|| ctx.start_date())
                    .unwrap_or_else(OffsetDateTime::now_utc);
                Clock::Wall(started)
            }
        };
        let mut pokes: u32 = 0;
        loop {
            pokes = pokes.saturating_add(1);
            match condition(ctx) {
                Ok(Some(value)) => {
                    log::info!(target: LOGGER, mode = self.mode.as_str(), pokes;
                        "sensor condition met; the sensor succeeds");
                    return Ok(value);
                }
                Ok(None) => {}
                Err(e) => return Err(self.poke_failed(e)),
            }
            let waited = clock.elapsed();
            if waited >= self.timeout {
                return Err(self.timed_out(waited, clock.started()));
            }
            let left = self.timeout - waited;
            let count = match clock {
                Clock::Monotonic(..) => pokes,
                Clock::Wall(_) => self.estimated_pokes(ctx, waited),
            };
            let wait = self.next_wait(ctx, count);
            match self.mode {
                SensorMode::Poke => {
                    // The final poke falls when the timeout runs out, not up to a wait later.
                    let wait = wait.min(left);
                    log::info!(target: LOGGER, pokes, wait_secs = wait.as_secs_f64();
                        "sensor condition not met; poking again in {wait:.1?}");
                    ctx.sleep(wait)?;
                }
                SensorMode::Reschedule => {
                    // Cut to the timeout too, but never sooner than the poke interval: a quick
                    // reschedule makes Airflow's race (see `SensorMode::Reschedule`) likelier.
                    let wait = wait.min(left).max(self.poke_interval.min(wait));
                    log::info!(target: LOGGER, wait_secs = wait.as_secs_f64();
                        "sensor condition not met; rescheduling the task to poke again in {wait:.1?}");
                    return Err(TaskError::reschedule_at(crate::suspend::from_now(wait)));
                }
            }
        }
    }

    /// The error a poke returned, as the sensor ends with it.
    fn poke_failed(&self, e: TaskError) -> TaskError {
        if self.soft_fail && e.outcome() == TaskOutcome::FailedNoRetry {
            log::warn!(target: LOGGER, error = e.to_string().as_str();
                "sensor poke failed without retry; skipping the task (soft_fail)");
            return TaskError::skip(format!("the sensor's poke failed (soft_fail): {e}"));
        }
        e
    }

    fn timed_out(&self, waited: Duration, started: OffsetDateTime) -> TaskError {
        let timeout = SensorTimeout {
            timeout: self.timeout,
            waited,
            started,
            mode: self.mode,
        };
        let outcome = if self.soft_fail {
            log::warn!(target: LOGGER, "{timeout}; skipping the task (soft_fail)");
            TaskOutcome::Skipped
        } else {
            log::error!(target: LOGGER, "{timeout}; failing without retry");
            TaskOutcome::FailedNoRetry
        };
        TaskError::with_source(outcome, timeout)
    }

    /// How long to wait after the `pokes`-th poke, before the cap at the time left.
    fn next_wait(&self, ctx: &TaskContext, pokes: u32) -> Duration {
        if !self.exponential_backoff {
            return self.poke_interval;
        }
        let wait = self.backoff(ctx, pokes);
        match self.max_wait {
            Some(max) => wait.min(max),
            None => wait,
        }
    }

    /// The backoff after the `pokes`-th poke: in `[b, 2b)` with `b = poke_interval × 2^(n−2)`,
    /// at least 1 s (Airflow's `_get_next_poke_interval`, with its jitter from a hash of the
    /// task instance and the poke number).
    fn backoff(&self, ctx: &TaskContext, pokes: u32) -> Duration {
        let base = match pokes {
            0 | 1 => self.poke_interval / 2,
            n => self.poke_interval.saturating_mul(1 << (n - 2).min(31)),
        }
        .max(Duration::from_secs(1));
        let key = format!(
            "{}#{}#{}#{}#{pokes}",
            ctx.dag_id(),
            ctx.task_id(),
            ctx.run_id(),
            ctx.map_index().map_or(-1, i64::from)
        );
        let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(1);
        base.saturating_add(Duration::from_millis(fnv1a(key.as_bytes()) % base_ms))
    }

    /// How many pokes a reschedule-mode sensor with backoff has made after `waited`: the first
    /// n whose waits add up to more than `waited` (as Airflow estimates it: a rescheduled task
    /// keeps no count).
    fn estimated_pokes(&self, ctx: &TaskContext, waited: Duration) -> u32 {
        if !self.exponential_backoff {
            return 1;
        }
        let mut total = Duration::ZERO;
        let mut n = 0;
        // The waits at least double from the second on, so few rounds reach any `waited`.
        while total <= waited && n < 64 {
            n += 1;
            total = total.saturating_add(self.backoff(ctx, n));
        }
        n
    }
}

/// What a sensor's timeout counts from.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Poke mode: when `poke` was called, on the monotonic clock (and the wall clock, to say).
    Monotonic(Instant, OffsetDateTime),
    /// Reschedule mode: the first run of this try, on the wall clock (the runs are processes,
    /// possibly on different machines).
    Wall(OffsetDateTime),
}

impl Clock {
    fn elapsed(self) -> Duration {
        match self {
            Clock::Monotonic(at, _) => at.elapsed(),
            Clock::Wall(at) => {
                let d = OffsetDateTime::now_utc() - at;
                Duration::try_from(d).unwrap_or(Duration::ZERO)
            }
        }
    }

    fn started(self) -> OffsetDateTime {
        match self {
            Clock::Monotonic(_, at) | Clock::Wall(at) => at,
        }
    }
}

/// FNV-1a, 64 bits: a hash stable across builds and platforms (std's hasher is neither), for the
/// backoff's jitter.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl fmt::Display for SensorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// # Sensors
impl TaskContext {
    /// When this try first started, counted across its reschedules
    /// ([`SensorMode::Reschedule`]), as Airflow records it: `None` while the try has not been
    /// rescheduled (this run is its first; see [`start_date`](Self::start_date)), else the time
    /// Airflow recorded with the first reschedule (when it took the first run's
    /// `RescheduleTask`, that is when the first run ended). A retry is a new try: its
    /// reschedules count afresh.
    ///
    /// # Errors
    ///
    /// A [`RequestError`] naming `GetTaskRescheduleStartDate` when Airflow could not answer.
    pub fn first_try_start(&self) -> Result<Option<OffsetDateTime>, RequestError> {
        let what = format!("GetTaskRescheduleStartDate {:?}", self.ti_id());
        let message = ToSupervisor::GetTaskRescheduleStartDate(GetTaskRescheduleStartDate {
            ti_id: self.ti_id().to_owned(),
            try_number: i64::from(self.try_number()),
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::TaskRescheduleStartDate(TaskRescheduleStartDate {
                start_date,
            })) => Ok(start_date.map(|t| t.0)),
            other => Err(unexpected(&what, other)),
        }
    }
}
