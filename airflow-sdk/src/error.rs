//! What a task returns when it does not succeed.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::suspend::{Defer, Suspend};

/// The result of a task function: a value that becomes the task's `return_value` XCom, or a
/// [`TaskError`].
pub type TaskResult<T = ()> = Result<T, TaskError>;

/// How a task that did not succeed wants to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskOutcome {
    /// Failed: retried when Airflow says a retry is due, else failed.
    Failed,
    /// Failed, and must not be retried.
    FailedNoRetry,
    /// Skipped on purpose.
    Skipped,
    /// Failed, and retried after this delay instead of the task's declared `retry_delay` when
    /// Airflow says a retry is due (tries remain), else failed ([`TaskError::retry_after`]).
    RetryAfter(Duration),
    /// Removed: the task instance no longer belongs in its run ([`TaskError::remove`]).
    Removed,
    /// Deferred to a trigger; resumed in a handler when it fires ([`TaskError::defer`]).
    Deferred,
    /// Waiting for a person's answer; resumed in a handler when it comes
    /// ([`TaskContext::await_input`](crate::TaskContext::await_input)).
    AwaitingInput,
    /// Run again later, as a sensor in reschedule mode ([`TaskError::reschedule_at`]).
    Rescheduled,
}

/// Why a task did not succeed.
///
/// Any error type converts into it with `?`, so task code can use `std::io::Error`,
/// `anyhow::Error` or its own types. Like `anyhow::Error`, it does not implement
/// `std::error::Error` itself, which is what makes that blanket conversion possible.
pub struct TaskError {
    outcome: TaskOutcome,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
    /// What a deferring, waiting or rescheduled task asks for.
    suspend: Option<Box<Suspend>>,
}

impl TaskError {
    /// A failure with a message; retried when Airflow says a retry is due.
    pub fn fail(message: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::Failed,
            source: message.to_string().into(),
            suspend: None,
        }
    }

    /// A failure that must not be retried, whatever the task's retry settings.
    pub fn fail_no_retry(message: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::FailedNoRetry,
            source: message.to_string().into(),
            suspend: None,
        }
    }

    /// Ends the task as skipped (Python's `AirflowSkipException`).
    pub fn skip(reason: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::Skipped,
            source: reason.to_string().into(),
            suspend: None,
        }
    }

    /// A failure retried after `delay` rather than the task's declared `retry_delay`, when a
    /// retry is due (tries remain); on the last try the task fails, as with [`fail`](Self::fail).
    /// What Python's `RetryPolicy` does with `RetryDecision.retry(delay)`: the task's code picks
    /// the delay, for example from a rate limit's `Retry-After`.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use airflow_sdk::{TaskContext, TaskError, TaskResult};
    ///
    /// fn fetch(ctx: &mut TaskContext) -> TaskResult {
    ///     let rate_limited = true; // e.g. an HTTP 429
    ///     if rate_limited {
    ///         return Err(TaskError::retry_after(Duration::from_secs(30), "rate limited (429)"));
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn retry_after(delay: Duration, message: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::RetryAfter(delay),
            source: message.to_string().into(),
            suspend: None,
        }
    }

    /// Ends the task as `removed`: it no longer belongs in this run (for example the partition it
    /// processes was dropped). Airflow treats a removed task instance as done without result:
    /// its downstream tasks still run and the dag run can succeed, so use it only for that
    /// meaning, never for a failure.
    pub fn remove(reason: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::Removed,
            source: reason.to_string().into(),
            suspend: None,
        }
    }

    /// Defers the task: Airflow's triggerer runs `defer`'s trigger while the task holds no worker
    /// slot (state `deferred`), then starts the task again in the resume handler `defer` names,
    /// registered with [`Dag::on_resume`](crate::Dag::on_resume). See [`Defer`].
    pub fn defer(defer: Defer) -> Self {
        Self::suspended(TaskOutcome::Deferred, Suspend::Defer(defer))
    }

    /// Ends this try `up_for_reschedule`: Airflow runs the task again at `at`, in a new try of
    /// the same try number (a sensor in reschedule mode; see [`Sensor`](crate::Sensor)).
    pub fn reschedule_at(at: OffsetDateTime) -> Self {
        Self::suspended(TaskOutcome::Rescheduled, Suspend::Reschedule(at))
    }

    /// An error of `outcome` whose source stays the typed `source` (for `downcast_ref`).
    pub(crate) fn with_source(
        outcome: TaskOutcome,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TaskError {
            outcome,
            source: Box::new(source),
            suspend: None,
        }
    }

    pub(crate) fn suspended(outcome: TaskOutcome, suspend: Suspend) -> Self {
        TaskError {
            outcome,
            source: suspend.to_string().into(),
            suspend: Some(Box::new(suspend)),
        }
    }

    /// What a suspended task asks for.
    pub(crate) fn suspension(&self) -> Option<&Suspend> {
        self.suspend.as_deref()
    }

    /// The retry delay the task asked for ([`retry_after`](Self::retry_after)); `None` for the
    /// task's declared one.
    pub fn retry_delay(&self) -> Option<Duration> {
        match self.outcome {
            TaskOutcome::RetryAfter(d) => Some(d),
            _ => None,
        }
    }

    /// How the task wants to end.
    pub fn outcome(&self) -> TaskOutcome {
        self.outcome
    }

    /// The underlying error.
    pub fn source(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl<E> From<E> for TaskError
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    fn from(e: E) -> Self {
        TaskError {
            outcome: TaskOutcome::Failed,
            source: e.into(),
            suspend: None,
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("outcome", &self.outcome)
            .field("source", &self.source)
            .field("suspend", &self.suspend)
            .finish()
    }
}

impl fmt::Display for TaskError {
    /// The message, followed by its chain of causes (`: cause: cause`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        let mut cause = self.source.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}
