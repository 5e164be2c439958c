//! Airflow Variables: read (environment first, as Airflow does), written, read as JSON and
//! deleted. Values of sensitive keys are masked in the task log.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{RequestError, TaskContext, expect_ok, unexpected};
use crate::runtime::messages::{DeleteVariable, PutVariable, Reply, ToSupervisor, ToTask};

/// # Variables
impl TaskContext {
    /// Reads the Airflow Variable `key`. `Ok(None)` when it does not exist.
    ///
    /// As in Airflow, the environment variable `AIRFLOW_VAR_<KEY>` (the key upper-cased) is
    /// consulted first; then the Variable is asked of Airflow. The value is registered with the
    /// supervisor's secrets masker under its key, so when Airflow deems the key sensitive
    /// (`password`, `secret`, `api_key`, ... or `[core] sensitive_var_conn_names`), it is shown
    /// as `***` in the task log.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// let table = ctx.variable("report_table")?.unwrap_or_else(|| "report".into());
    /// # Ok(()) }
    /// ```
    pub fn variable(&self, key: &str) -> Result<Option<String>, RequestError> {
        let value = match std::env::var(format!("AIRFLOW_VAR_{}", key.to_uppercase())) {
            Ok(v) => Some(v),
            Err(_) => {
                let what = format!("GetVariable {key:?}");
                match self.request(&what, ToSupervisor::get_variable(key))? {
                    Reply::Body(ToTask::VariableResult(r)) => r.value,
                    Reply::ErrorBody(e) if e.error == "VARIABLE_NOT_FOUND" => None,
                    other => return Err(unexpected(&what, other)),
                }
            }
        };
        if let Some(v) = &value {
            self.mask_named(v, key)?;
        }
        Ok(value)
    }

    /// Creates or replaces the Airflow Variable `key`.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// ctx.set_variable("last_export", "2026-01-01")?;
    /// # Ok(()) }
    /// ```
    pub fn set_variable(&self, key: &str, value: &str) -> Result<(), RequestError> {
        self.put_variable(key, value, None)
    }

    /// [`set_variable`](Self::set_variable) with a description shown in the UI.
    pub fn set_variable_with_description(
        &self,
        key: &str,
        value: &str,
        description: &str,
    ) -> Result<(), RequestError> {
        self.put_variable(key, value, Some(description))
    }

    fn put_variable(
        &self,
        key: &str,
        value: &str,
        description: Option<&str>,
    ) -> Result<(), RequestError> {
        let what = format!("PutVariable {key:?}");
        let message = ToSupervisor::PutVariable(PutVariable {
            key: key.to_owned(),
            value: Some(value.to_owned()),
            description: description.map(str::to_owned),
        });
        expect_ok(self, &what, message)
    }

    /// Stores any `serde` value as the Variable `key`, as JSON (what Python's
    /// `Variable.set(key, value, serialize_json=True)` writes).
    pub fn set_variable_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), RequestError> {
        let what = format!("PutVariable {key:?}");
        let text = serde_json::to_string(value).map_err(|e| RequestError::Value {
            what,
            problem: format!("cannot serialize: {e}"),
        })?;
        self.put_variable(key, &text, None)
    }

    /// Reads the Variable `key` as JSON, into any `serde` type (Python's
    /// `Variable.get(key, deserialize_json=True)`). `Ok(None)` when it does not exist.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// #[derive(serde::Deserialize)]
    /// struct Limits { max_rows: u64 }
    /// let limits: Option<Limits> = ctx.variable_json("limits")?;
    /// # Ok(()) }
    /// ```
    pub fn variable_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RequestError> {
        match self.variable(key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| RequestError::Value {
                    what: format!("Variable {key:?}"),
                    problem: format!("is not JSON of the expected type: {e}"),
                }),
        }
    }

    /// Deletes the Variable `key`. Deleting a key that does not exist succeeds and does nothing:
    /// Airflow's API server (3.3 and 3.4) answers a delete of a missing key as a success.
    pub fn delete_variable(&self, key: &str) -> Result<(), RequestError> {
        let what = format!("DeleteVariable {key:?}");
        let message = ToSupervisor::DeleteVariable(DeleteVariable {
            key: key.to_owned(),
        });
        expect_ok(self, &what, message)
    }
}
