//! Secrets kept out of the task log: the supervisor masks what is registered here.

use super::{RequestError, TaskContext, expect_ok};
use crate::runtime::messages::{MaskSecret, ToSupervisor};

/// # Secrets
impl TaskContext {
    /// Keeps `secret` out of the task log: Airflow's supervisor shows `***` wherever it appears
    /// in a record logged after this call. [`connection`](Self::connection) does it for
    /// passwords, [`variable`](Self::variable) for values of sensitive keys.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// let token = "tok-123"; // e.g. fetched from a vault
    /// ctx.mask_secret(token)?;
    /// airflow_sdk::log::info!("using {token}"); // logged as "using ***"
    /// # Ok(()) }
    /// ```
    pub fn mask_secret(&self, secret: &str) -> Result<(), RequestError> {
        self.send_mask(secret, None)
    }

    /// Masks `value` if Airflow deems `name` (a Variable key) sensitive.
    pub(crate) fn mask_named(&self, value: &str, name: &str) -> Result<(), RequestError> {
        self.send_mask(value, Some(name))
    }

    fn send_mask(&self, value: &str, name: Option<&str>) -> Result<(), RequestError> {
        if value.is_empty() {
            return Ok(());
        }
        let what = match name {
            Some(n) => format!("MaskSecret {n:?}"),
            None => "MaskSecret".to_owned(),
        };
        let message = ToSupervisor::MaskSecret(MaskSecret {
            value: serde_json::Value::String(value.to_owned()),
            name: name.map(str::to_owned),
        });
        expect_ok(self, &what, message)
    }
}
