//! The protocol's messages ([`airflow_protocol::messages`]), with a parse result's dags typed as
//! this runtime serializes them: straight from the declarations ([`NativeDag`]) into the frame.

pub(crate) use airflow_protocol::messages::*;

use super::native::NativeDag;

/// Every body this runtime sends.
pub(crate) type ToSupervisor = airflow_protocol::messages::ToSupervisor<NativeDag>;
/// `DagFileParsingResult` with the native dags.
pub(crate) type DagFileParsingResult = airflow_protocol::messages::DagFileParsingResult<NativeDag>;
/// One native dag of a parse result.
pub(crate) type SerializedDag = airflow_protocol::messages::SerializedDag<NativeDag>;
