//! What a task returns when it does not succeed.

use std::fmt;

/// The result of a task function: a value that becomes the task's `return_value` XCom, or a
/// [`TaskError`].
pub type TaskResult<T = ()> = Result<T, TaskError>;

/// How a task that did not succeed wants to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Failed: retried when Airflow says a retry is due, else failed.
    Failed,
    /// Failed, and must not be retried.
    FailedNoRetry,
    /// Skipped on purpose.
    Skipped,
}

/// Why a task did not succeed.
///
/// Any error type converts into it with `?`, so task code can use `std::io::Error`,
/// `anyhow::Error` or its own types. Like `anyhow::Error`, it does not implement
/// `std::error::Error` itself, which is what makes that blanket conversion possible.
pub struct TaskError {
    outcome: TaskOutcome,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl TaskError {
    /// A failure with a message; retried when Airflow says a retry is due.
    pub fn fail(message: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::Failed,
            source: message.to_string().into(),
        }
    }

    /// A failure that must not be retried, whatever the task's retry settings.
    pub fn fail_no_retry(message: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::FailedNoRetry,
            source: message.to_string().into(),
        }
    }

    /// Ends the task as skipped (Python's `AirflowSkipException`).
    pub fn skip(reason: impl fmt::Display) -> Self {
        TaskError {
            outcome: TaskOutcome::Skipped,
            source: reason.to_string().into(),
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
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("outcome", &self.outcome)
            .field("source", &self.source)
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
