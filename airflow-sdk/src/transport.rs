//! The channel from a task to its supervisor: send a request, wait for its reply. Two
//! implementations: the supervisor's comm socket ([`crate::runtime::comms::Comms`]) and, with the
//! `testing` feature, the in-process supervisor of `airflow_sdk::testing`. [`crate::TaskContext`]
//! speaks only to this trait, so a task under test runs the same request and reply handling as
//! under Airflow, and the transport names no test double.

use std::time::Duration;

use crate::runtime::messages::{Reply, ToSupervisor};

/// What went wrong talking to the supervisor.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommError {
    /// No reply before the deadline.
    #[error("the supervisor did not answer within {:.1} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The wait was abandoned because the task was asked to stop.
    #[error("cancelled: the task was asked to stop")]
    Cancelled,
    /// The socket is closed, or the supervisor sent something this runtime cannot read. The
    /// channel is unusable afterwards.
    #[error("{0}")]
    Broken(String),
    /// The first frame is a message this runtime does not know how to start from.
    #[error(
        "the first message is {0:?}; this runtime starts only from StartupDetails (run a task), \
         DagFileParseRequest (parse the file) or TaskHandlerParseRequest (list task handlers)"
    )]
    UnknownFirstMessage(String),
}

/// A supervisor a task's requests go to. Shared by every thread of a task.
pub(crate) trait Supervisor: Send + Sync {
    /// The default wait for a reply.
    fn timeout(&self) -> Duration;

    /// Sends one request body (in the newest schema's shape; the supervisor's side puts it in
    /// the shape of the bundle's version) and waits up to `timeout` for its reply. An
    /// `abortable` wait ends early once a termination signal arrived.
    fn request(
        &self,
        message: ToSupervisor,
        timeout: Duration,
        abortable: bool,
    ) -> Result<Reply, CommError>;
}
