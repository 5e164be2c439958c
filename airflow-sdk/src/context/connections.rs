//! Airflow Connections: read from `AIRFLOW_CONN_<ID>` first, else from Airflow; the password
//! and extra are masked in the task log.

use super::{RequestError, TaskContext, unexpected};
use crate::connection::Connection;
use crate::runtime::messages::{Reply, ToSupervisor, ToTask};

/// # Connections
impl TaskContext {
    /// Reads the Airflow Connection `conn_id`. `Ok(None)` when it does not exist.
    ///
    /// As in Airflow, the environment variable `AIRFLOW_CONN_<CONN_ID>` (upper-cased) is
    /// consulted first, in either of Airflow's forms: a URI
    /// (`postgres://user:pass@host:5432/db?sslmode=require`) or a JSON object
    /// (`{"conn_type": "postgres", "host": ..., "extra": {...}}`). The password is registered
    /// with the supervisor's secrets masker, so it is shown as `***` if the task logs it.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), Box<dyn std::error::Error>> {
    /// let db = ctx.connection("warehouse")?.ok_or("no connection `warehouse`")?;
    /// let url = db.uri(); // as Airflow's Connection.get_uri() writes it
    /// # Ok(()) }
    /// ```
    pub fn connection(&self, conn_id: &str) -> Result<Option<Connection>, RequestError> {
        let env = format!("AIRFLOW_CONN_{}", conn_id.to_uppercase());
        let conn = match std::env::var(&env) {
            Ok(text) => {
                Some(
                    Connection::from_env(conn_id, &text).map_err(|e| RequestError::Value {
                        what: format!("the environment variable {env}"),
                        problem: format!("is not a connection: {e}"),
                    })?,
                )
            }
            Err(_) => self.connection_from_airflow(conn_id)?,
        };
        if let Some(password) = conn.as_ref().and_then(|c| c.password.as_deref())
            && !password.is_empty()
        {
            self.mask_secret(password)?;
        }
        Ok(conn)
    }

    fn connection_from_airflow(&self, conn_id: &str) -> Result<Option<Connection>, RequestError> {
        let what = format!("GetConnection {conn_id:?}");
        match self.request(&what, ToSupervisor::get_connection(conn_id))? {
            Reply::Body(ToTask::ConnectionResult(r)) => {
                let port = match r.port {
                    None => None,
                    Some(p) => Some(u16::try_from(p).map_err(|_| RequestError::Protocol {
                        request: format!("GetConnection {conn_id:?}"),
                        problem: format!("the connection has port {p}, not a port number"),
                    })?),
                };
                Ok(Some(Connection::new_parsed(
                    r.conn_id,
                    r.conn_type,
                    r.host,
                    r.schema,
                    r.login,
                    r.password,
                    port,
                    r.extra,
                )))
            }
            Reply::ErrorBody(e) if e.error == "CONNECTION_NOT_FOUND" => Ok(None),
            other => Err(unexpected(&what, other)),
        }
    }
}
