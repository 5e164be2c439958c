//! The task state store: values kept across tries of one task instance.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{RequestError, TaskContext, expect_ok, from_json, to_json, unexpected};
use crate::runtime::messages::{
    self, Reply, SetTaskStateStore, TaskStateKey, TiOnly, ToSupervisor, ToTask,
};

/// The task state store of this task instance: small JSON values kept by Airflow per task
/// instance (dag, run, task, map index), across tries. A resumable task records its progress
/// there and picks up where the previous try stopped.
///
/// ```no_run
/// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
/// let store = ctx.state_store();
/// let done: u64 = store.get("done")?.unwrap_or(0);
/// for page in done..10 {
///     // ... process page ...
///     store.set("done", &(page + 1))?;
/// }
/// store.clear()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct StateStore<'a> {
    ctx: &'a TaskContext,
}

impl StateStore<'_> {
    /// The value under `key`; `Ok(None)` when there is none.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RequestError> {
        let what = format!("GetTaskStateStore {key:?}");
        let message = ToSupervisor::GetTaskStateStore(TaskStateKey {
            ti_id: self.ctx.ti_id().to_owned(),
            key: key.to_owned(),
        });
        match self.ctx.request(&what, message)? {
            Reply::Body(ToTask::TaskStateStoreResult(r)) if r.value.0.is_null() => Ok(None),
            Reply::Body(ToTask::TaskStateStoreResult(r)) => from_json(&what, r.value.0).map(Some),
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(None),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Stores `value` under `key`, kept until deleted or cleared.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), RequestError> {
        self.put(key, value, None)
    }

    /// Stores `value` under `key`; Airflow may drop it once `retention` has passed.
    pub fn set_with_retention<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        retention: Duration,
    ) -> Result<(), RequestError> {
        let at = OffsetDateTime::now_utc() + retention;
        self.put(key, value, Some(messages::format_time(at)))
    }

    fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        expires_at: Option<String>,
    ) -> Result<(), RequestError> {
        let what = format!("SetTaskStateStore {key:?}");
        let value = to_json(&what, value)?;
        let message = ToSupervisor::SetTaskStateStore(SetTaskStateStore {
            ti_id: self.ctx.ti_id().to_owned(),
            key: key.to_owned(),
            value,
            expires_at,
        });
        expect_ok(self.ctx, &what, message)
    }

    /// Deletes `key` (no error when it is not there).
    pub fn delete(&self, key: &str) -> Result<(), RequestError> {
        let what = format!("DeleteTaskStateStore {key:?}");
        let message = ToSupervisor::DeleteTaskStateStore(TaskStateKey {
            ti_id: self.ctx.ti_id().to_owned(),
            key: key.to_owned(),
        });
        expect_ok(self.ctx, &what, message)
    }

    /// Deletes every key of this task instance.
    pub fn clear(&self) -> Result<(), RequestError> {
        let message = ToSupervisor::ClearTaskStateStore(TiOnly {
            ti_id: self.ctx.ti_id().to_owned(),
        });
        expect_ok(self.ctx, "ClearTaskStateStore", message)
    }
}

/// # The task state store
impl TaskContext {
    /// This task instance's state store (see [`StateStore`]).
    pub fn state_store(&self) -> StateStore<'_> {
        StateStore { ctx: self }
    }
}
