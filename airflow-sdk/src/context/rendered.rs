//! What the UI shows of a task: its rendered fields and its map index label.

use serde::Serialize;

use super::{RequestError, TaskContext, expect_ok, to_json};
use crate::runtime::messages::{SetRenderedFields, SetRenderedMapIndex, ToSupervisor};

/// # What the UI shows
impl TaskContext {
    /// Sets the task's rendered fields, shown in the UI's "Rendered Template" tab (Python
    /// renders its templated parameters there). `fields` must serialize to a JSON object.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// ctx.set_rendered_fields(&serde_json::json!({"table": "sales_2026", "limit": 100}))?;
    /// # Ok(()) }
    /// ```
    pub fn set_rendered_fields<T: Serialize + ?Sized>(
        &self,
        fields: &T,
    ) -> Result<(), RequestError> {
        let what = "SetRenderedFields";
        let serde_json::Value::Object(rendered_fields) = to_json(what, fields)? else {
            return Err(RequestError::Value {
                what: what.to_owned(),
                problem: "the rendered fields must be a JSON object".into(),
            });
        };
        expect_ok(
            self,
            what,
            ToSupervisor::SetRenderedFields(SetRenderedFields { rendered_fields }),
        )
    }

    /// Sets the label the UI shows for this mapped task instance instead of its map index.
    pub fn set_rendered_map_index(&self, label: &str) -> Result<(), RequestError> {
        let what = format!("SetRenderedMapIndex {label:?}");
        let message = ToSupervisor::SetRenderedMapIndex(SetRenderedMapIndex {
            rendered_map_index: label.to_owned(),
        });
        expect_ok(self, &what, message)?;
        *self
            .rendered_map_index
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(label.to_owned());
        Ok(())
    }
}
