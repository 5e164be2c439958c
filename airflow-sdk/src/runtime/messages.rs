//! The messages exchanged with the supervisor, as serde types: one type per message, tagged by
//! `type`, in the shape of the newest supervisor schema this SDK speaks (2026-10-30; what older
//! versions lack is handled in [`super::versions`]). Field names follow
//! `airflow.sdk.execution_time.comms` and the `schema.json` shipped in apache-airflow-task-sdk
//! (1.3.2 and 1.4.0b2); a test checks them against both. Unknown keys are ignored when
//! decoding.

use std::collections::BTreeMap;
use std::fmt;

use rmpv::Value;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The msgpack extension type of a timestamp.
const TIMESTAMP_EXT: i8 = -1;

// ---------------------------------------------------------------------------------------------
// Field types

/// A datetime from the supervisor: a msgpack timestamp extension (type -1, in its 4-, 8- or
/// 12-byte form) or an RFC 3339 string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp(pub(crate) OffsetDateTime);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a datetime (msgpack timestamp or RFC 3339 string)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Timestamp, E> {
                OffsetDateTime::parse(s, &Rfc3339)
                    .map(Timestamp)
                    .map_err(|e| E::custom(format!("{s:?} is not an RFC 3339 datetime: {e}")))
            }
            // rmpv hands a msgpack extension over as a newtype of `(tag, bytes)`.
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Timestamp, D::Error> {
                let Ext(tag, data) = Ext::deserialize(d)?;
                if tag != TIMESTAMP_EXT {
                    return Err(de::Error::custom(format!(
                        "an extension of type {tag} where a timestamp (type -1) was expected"
                    )));
                }
                decode_timestamp(&data)
                    .map(Timestamp)
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(self.0))
    }
}

/// A msgpack extension value: its type and bytes.
struct Ext(i8, Vec<u8>);

impl<'de> Deserialize<'de> for Ext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ext;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a msgpack extension")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ext, A::Error> {
                let tag: i8 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let data: Bytes = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(Ext(tag, data.0))
            }
        }
        d.deserialize_tuple(2, V)
    }
}

/// Raw bytes (an extension's payload).
struct Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// Decodes the payload of a msgpack timestamp extension.
pub(crate) fn decode_timestamp(data: &[u8]) -> Result<OffsetDateTime, String> {
    let (secs, nanos): (i64, u32) = match *data {
        [a, b, c, d] => (i64::from(u32::from_be_bytes([a, b, c, d])), 0),
        [a, b, c, d, e, f, g, h] => {
            let x = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
            ((x & ((1 << 34) - 1)) as i64, (x >> 34) as u32)
        }
        [a, b, c, d, ref rest @ ..] if rest.len() == 8 => {
            let mut s = [0u8; 8];
            s.copy_from_slice(rest);
            (i64::from_be_bytes(s), u32::from_be_bytes([a, b, c, d]))
        }
        _ => return Err(format!("a timestamp extension of {} bytes", data.len())),
    };
    if nanos >= 1_000_000_000 {
        return Err(format!("a timestamp with {nanos} nanoseconds"));
    }
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t + time::Duration::nanoseconds(i64::from(nanos)))
        .map_err(|e| format!("timestamp out of range: {e}"))
}

/// Any msgpack value, as JSON (what XCom values, `conf` and error details are). Decoded through
/// [`rmpv::Value`] so that nothing msgpack can carry is refused: timestamps become RFC 3339
/// strings, binary an array of byte values, non-string map keys strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Json(pub(crate) serde_json::Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| Json(to_json(&v)))
    }
}

impl Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Formats a datetime as the supervisor wants it: RFC 3339 in UTC, with a `Z` offset.
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Now, formatted by [`format_time`].
pub(crate) fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// Converts a msgpack value to JSON. Timestamps become RFC 3339 strings, binary becomes an
/// array of byte values, non-string map keys are stringified.
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(n), _) => J::from(n),
            (None, Some(n)) => J::from(n),
            _ => J::Null,
        },
        Value::F32(f) => J::from(f64::from(*f)),
        Value::F64(f) => J::from(*f),
        Value::String(s) => J::String(s.as_str().map_or_else(
            || String::from_utf8_lossy(s.as_bytes()).into_owned(),
            str::to_owned,
        )),
        Value::Binary(b) => J::Array(b.iter().map(|&x| J::from(x)).collect()),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        Some(s) => s.to_owned(),
                        None => to_json(k).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Ext(tag, data) if *tag == TIMESTAMP_EXT => match decode_timestamp(data) {
            Ok(t) => J::String(format_time(t)),
            Err(_) => J::Null,
        },
        Value::Ext(..) => J::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// Supervisor -> runtime

/// `StartupDetails.ti`: the task instance to run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct TaskInstance {
    pub(crate) id: String,
    pub(crate) dag_id: String,
    pub(crate) task_id: String,
    pub(crate) run_id: String,
    pub(crate) try_number: i64,
    /// `-1` (or nil) when unmapped; see [`TaskInstance::map_index`].
    #[serde(default)]
    pub(crate) map_index: Option<i64>,
}

impl TaskInstance {
    /// The map index of a mapped task instance; `None` when unmapped.
    pub(crate) fn map_index(&self) -> Option<i64> {
        self.map_index.filter(|&i| i >= 0)
    }
}

/// `StartupDetails.ti_context.dag_run`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct DagRun {
    #[serde(default)]
    pub(crate) logical_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) data_interval_start: Option<Timestamp>,
    #[serde(default)]
    pub(crate) data_interval_end: Option<Timestamp>,
    #[serde(default)]
    pub(crate) run_after: Option<Timestamp>,
    #[serde(default)]
    pub(crate) start_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) run_type: String,
    #[serde(default)]
    pub(crate) conf: Json,
}

/// One argument bound to a stub task (2026-10-30: `TIRunContext.arg_bindings`), in the order of
/// the stub function's parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(tag = "kind")]
pub(crate) enum ArgBinding {
    /// `XComArgBinding`: the `return_value` XCom of an upstream task.
    #[serde(rename = "xcom")]
    XCom {
        /// The stub parameter's name.
        name: String,
        /// The upstream task.
        task_id: String,
    },
    /// `LiteralArgBinding`: a value written in the dag file (or the parameter's default).
    #[serde(rename = "literal")]
    Literal {
        /// The stub parameter's name.
        name: String,
        /// The value (JSON).
        #[serde(default)]
        value: Json,
        /// Whether it is the stub signature's default rather than a passed value.
        #[serde(default)]
        from_default: bool,
    },
}

/// `StartupDetails.ti_context` (`TIRunContext`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct TIRunContext {
    pub(crate) dag_run: DagRun,
    pub(crate) max_tries: i64,
    #[serde(default)]
    pub(crate) should_retry: bool,
    /// XCom keys of this task instance to delete before the task runs (left by an earlier try).
    #[serde(default)]
    pub(crate) xcom_keys_to_clear: Option<Vec<String>>,
    /// The stub's arguments (2026-10-30); `None` under 2026-06-16 or for a call without
    /// arguments.
    #[serde(default)]
    pub(crate) arg_bindings: Option<Vec<ArgBinding>>,
}

/// The first frame of a task run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct StartupDetails {
    pub(crate) ti: TaskInstance,
    #[serde(default)]
    pub(crate) dag_rel_path: String,
    #[serde(default)]
    pub(crate) start_date: Option<Timestamp>,
    pub(crate) ti_context: TIRunContext,
}

/// The first frame when the Dag processor (Airflow 3.4) parses the bundle file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct DagFileParseRequest {
    /// The bundle file's absolute path.
    pub(crate) file: String,
    /// The root of the Dag bundle holding it.
    pub(crate) bundle_path: String,
    /// The Dag bundle's name.
    pub(crate) bundle_name: String,
}

/// `XComResult`: the reply to `GetXCom` (a missing XCom has a nil value).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct XComResult {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: Json,
}

/// `VariableResult`: the reply to `GetVariable`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct VariableResult {
    pub(crate) key: String,
    pub(crate) value: Option<String>,
}

/// `ConnectionResult`: the reply to `GetConnection`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct ConnectionResult {
    pub(crate) conn_id: String,
    pub(crate) conn_type: String,
    pub(crate) host: Option<String>,
    pub(crate) schema: Option<String>,
    pub(crate) login: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) port: Option<i64>,
    /// A JSON document, as a string.
    pub(crate) extra: Option<String>,
}

/// `XComCountResponse`: the reply to `GetXComCount`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct XComCountResponse {
    pub(crate) len: i64,
}

/// `TaskStateStoreResult`: the reply to `GetTaskStateStore`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct TaskStateStoreResult {
    #[serde(default)]
    pub(crate) value: Json,
}

/// `OKResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct OKResponse {
    #[serde(default)]
    pub(crate) ok: bool,
}

/// `DagRunStateResult`: the reply to `GetDagRunState`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct DagRunStateResult {
    pub(crate) state: String,
}

/// `TICount` / `DRCount`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct Count {
    pub(crate) count: i64,
}

/// `TaskStatesResult`: `{run_id: {task_id: state}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct TaskStatesResult {
    pub(crate) task_states: Json,
}

/// A dag run, as `PreviousDagRunResult` carries it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct DagRunRecord {
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    #[serde(default)]
    pub(crate) logical_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) data_interval_start: Option<Timestamp>,
    #[serde(default)]
    pub(crate) data_interval_end: Option<Timestamp>,
    #[serde(default)]
    pub(crate) start_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) end_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) run_type: String,
    #[serde(default)]
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) conf: Json,
}

/// `PreviousDagRunResult`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct PreviousDagRunResult {
    #[serde(default)]
    pub(crate) dag_run: Option<DagRunRecord>,
}

/// `PrevSuccessfulDagRunResult` (every field is absent when there is no such run).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct PrevSuccessfulDagRunResult {
    #[serde(default)]
    pub(crate) data_interval_start: Option<Timestamp>,
    #[serde(default)]
    pub(crate) data_interval_end: Option<Timestamp>,
    #[serde(default)]
    pub(crate) start_date: Option<Timestamp>,
    #[serde(default)]
    pub(crate) end_date: Option<Timestamp>,
}

/// `AssetResult`, and the `asset` of an asset event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct AssetResult {
    pub(crate) name: String,
    pub(crate) uri: String,
    #[serde(default)]
    pub(crate) group: String,
    #[serde(default)]
    pub(crate) extra: Json,
}

/// One `AssetEventResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct AssetEventRecord {
    pub(crate) id: i64,
    pub(crate) timestamp: Timestamp,
    #[serde(default)]
    pub(crate) extra: Json,
    pub(crate) asset: AssetResult,
    #[serde(default)]
    pub(crate) source_task_id: Option<String>,
    #[serde(default)]
    pub(crate) source_dag_id: Option<String>,
    #[serde(default)]
    pub(crate) source_run_id: Option<String>,
    #[serde(default)]
    pub(crate) source_map_index: Option<i64>,
}

/// `AssetEventsResult`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct AssetEventsResult {
    pub(crate) asset_events: Vec<AssetEventRecord>,
}

/// `ErrorResponse`: "not found", "permission denied" (as a body), or a failed API call (in a
/// reply's error element).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct ErrorResponse {
    #[serde(default = "generic_error")]
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) detail: Json,
}

fn generic_error() -> String {
    "GENERIC_ERROR".to_owned()
}

/// Every body the supervisor (or the Dag processor) sends that this runtime reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(tag = "type")]
pub(crate) enum ToTask {
    StartupDetails(Box<StartupDetails>),
    DagFileParseRequest(DagFileParseRequest),
    XComResult(XComResult),
    VariableResult(VariableResult),
    ConnectionResult(ConnectionResult),
    ErrorResponse(ErrorResponse),
    XComCountResponse(XComCountResponse),
    TaskStateStoreResult(TaskStateStoreResult),
    OKResponse(OKResponse),
    DagRunStateResult(DagRunStateResult),
    TICount(Count),
    DRCount(Count),
    TaskStatesResult(TaskStatesResult),
    PreviousDagRunResult(PreviousDagRunResult),
    PrevSuccessfulDagRunResult(PrevSuccessfulDagRunResult),
    AssetResult(AssetResult),
    AssetEventsResult(AssetEventsResult),
}

impl ToTask {
    /// The message's `type`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ToTask::StartupDetails(_) => "StartupDetails",
            ToTask::DagFileParseRequest(_) => "DagFileParseRequest",
            ToTask::XComResult(_) => "XComResult",
            ToTask::VariableResult(_) => "VariableResult",
            ToTask::ConnectionResult(_) => "ConnectionResult",
            ToTask::ErrorResponse(_) => "ErrorResponse",
            ToTask::XComCountResponse(_) => "XComCountResponse",
            ToTask::TaskStateStoreResult(_) => "TaskStateStoreResult",
            ToTask::OKResponse(_) => "OKResponse",
            ToTask::DagRunStateResult(_) => "DagRunStateResult",
            ToTask::TICount(_) => "TICount",
            ToTask::DRCount(_) => "DRCount",
            ToTask::TaskStatesResult(_) => "TaskStatesResult",
            ToTask::PreviousDagRunResult(_) => "PreviousDagRunResult",
            ToTask::PrevSuccessfulDagRunResult(_) => "PrevSuccessfulDagRunResult",
            ToTask::AssetResult(_) => "AssetResult",
            ToTask::AssetEventsResult(_) => "AssetEventsResult",
        }
    }
}

/// Reads a body's `type` without decoding the rest (to tell an unknown message from a
/// malformed known one).
pub(crate) fn type_of(body: &Value) -> Option<&str> {
    body.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some("type"))
        .and_then(|(_, v)| v.as_str())
}

/// Decodes a body the supervisor sent.
pub(crate) fn decode_body(body: Value) -> Result<ToTask, String> {
    let kind = match type_of(&body) {
        Some(k) => k.to_owned(),
        None => return Err(format!("{} body without a string \"type\"", kind(&body))),
    };
    rmpv::ext::from_value(body).map_err(|e| format!("cannot decode {kind}: {e}"))
}

/// A short name for a msgpack value's kind, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    super::frame::kind(v)
}

// ---------------------------------------------------------------------------------------------
// Runtime -> supervisor

/// `SucceedTask`. Both lists are always sent: the 3.3.2 API server answers 422 to the null the
/// supervisor fills in for a missing key (the schema allows null), and the task ends failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SucceedTask {
    pub(crate) end_date: String,
    pub(crate) task_outlets: Vec<AssetProfile>,
    /// `{"dest_asset_key": {"name", "uri"}, "extra": {...}}` per asset event, as Python's task
    /// runner sends them.
    pub(crate) outlet_events: Vec<serde_json::Value>,
    /// The label set with `SetRenderedMapIndex`: the supervisor records this field on success,
    /// so leaving it out would reset the label to nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rendered_map_index: Option<String>,
}

/// `AssetProfile`: an asset a task produced (`type` is `Asset`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AssetProfile {
    pub(crate) name: String,
    pub(crate) uri: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

/// `RetryTask` (strict: no unknown keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RetryTask {
    pub(crate) end_date: String,
    pub(crate) retry_reason: String,
}

/// `TaskState`: failed, skipped or removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TaskStateMsg {
    pub(crate) state: &'static str,
    pub(crate) end_date: String,
    /// New in 2026-10-30 (dropped for 2026-06-16 by [`super::versions`]). Not set today: what
    /// the API server does with it for a failed state is not established.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retry_reason: Option<String>,
}

/// `SetXCom`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SetXCom {
    pub(crate) key: String,
    pub(crate) value: serde_json::Value,
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    pub(crate) task_id: String,
    pub(crate) map_index: i64,
}

/// `DeleteXCom` of one of this task instance's XComs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DeleteXCom {
    pub(crate) key: String,
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    pub(crate) task_id: String,
    pub(crate) map_index: i64,
}

/// `GetXCom`: of any dag, run, task and map index (none: the supervisor's default).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetXCom {
    pub(crate) key: String,
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    pub(crate) task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) map_index: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) include_prior_dates: bool,
}

/// `GetVariable`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetVariable {
    pub(crate) key: String,
}

/// `GetConnection`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetConnection {
    pub(crate) conn_id: String,
}

/// `GetXComCount`: how many (mapped) values an XCom key has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetXComCount {
    pub(crate) key: String,
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    pub(crate) task_id: String,
}

/// `PutVariable` (all three fields are required; value and description may be nil).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PutVariable {
    pub(crate) key: String,
    pub(crate) value: Option<String>,
    pub(crate) description: Option<String>,
}

/// `DeleteVariable`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DeleteVariable {
    pub(crate) key: String,
}

/// `GetTaskStateStore`, `DeleteTaskStateStore`: one key of a task instance's state store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TaskStateKey {
    pub(crate) ti_id: String,
    pub(crate) key: String,
}

/// `SetTaskStateStore` (`expires_at` is required, nil for "keep until cleared").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SetTaskStateStore {
    pub(crate) ti_id: String,
    pub(crate) key: String,
    pub(crate) value: serde_json::Value,
    pub(crate) expires_at: Option<String>,
}

/// `ClearTaskStateStore`, `GetPrevSuccessfulDagRun`: a message about one task instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TiOnly {
    pub(crate) ti_id: String,
}

/// `SkipDownstreamTasks` (strict).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SkipDownstreamTasks {
    /// Task ids (the schema also allows `[task_id, map_index]`; not used yet).
    pub(crate) tasks: Vec<String>,
}

/// `TriggerDagRun` (strict: only these keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TriggerDagRun {
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) logical_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) conf: Option<serde_json::Value>,
    pub(crate) reset_dag_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// `GetDagRunState`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DagRunKey {
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
}

/// `GetTICount` and `GetTaskStates` (which has no `states`): task instances of a dag, filtered.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub(crate) struct TiFilter {
    pub(crate) dag_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) map_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) logical_dates: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) run_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) states: Option<Vec<String>>,
}

/// `GetDRCount`: dag runs of a dag, filtered.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub(crate) struct DrFilter {
    pub(crate) dag_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) logical_dates: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) run_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) states: Option<Vec<String>>,
}

/// `GetPreviousDagRun`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetPreviousDagRun {
    pub(crate) dag_id: String,
    pub(crate) logical_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
}

/// `SetRenderedFields`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SetRenderedFields {
    pub(crate) rendered_fields: serde_json::Map<String, serde_json::Value>,
}

/// `SetRenderedMapIndex`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SetRenderedMapIndex {
    pub(crate) rendered_map_index: String,
}

/// `GetAssetByName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetAssetByName {
    pub(crate) name: String,
}

/// `GetAssetByUri`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetAssetByUri {
    pub(crate) uri: String,
}

/// `GetAssetEventByAsset` (`name` and `uri` are required, either may be nil).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct GetAssetEventByAsset {
    pub(crate) name: Option<String>,
    pub(crate) uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) limit: Option<i64>,
    pub(crate) ascending: bool,
}

/// `MaskSecret`: the supervisor redacts `value` from the task log from now on (with a `name`,
/// only when Airflow deems that name sensitive).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MaskSecret {
    pub(crate) value: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
}

/// One serialized Dag of a parse result (`LazyDeserializedDAG`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SerializedDag {
    pub(crate) data: super::native::NativeDag,
}

/// `DagFileParsingResult`: the answer to a `DagFileParseRequest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DagFileParsingResult {
    pub(crate) fileloc: String,
    /// Never null: the Dag processor refuses it.
    pub(crate) serialized_dags: Vec<SerializedDag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) import_errors: Option<BTreeMap<String, String>>,
}

/// Every body this runtime sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub(crate) enum ToSupervisor {
    SucceedTask(SucceedTask),
    RetryTask(RetryTask),
    TaskState(TaskStateMsg),
    SetXCom(SetXCom),
    DeleteXCom(DeleteXCom),
    GetXCom(GetXCom),
    GetVariable(GetVariable),
    GetConnection(GetConnection),
    DagFileParsingResult(DagFileParsingResult),
    GetXComCount(GetXComCount),
    PutVariable(PutVariable),
    DeleteVariable(DeleteVariable),
    GetTaskStateStore(TaskStateKey),
    SetTaskStateStore(SetTaskStateStore),
    DeleteTaskStateStore(TaskStateKey),
    ClearTaskStateStore(TiOnly),
    SkipDownstreamTasks(SkipDownstreamTasks),
    TriggerDagRun(TriggerDagRun),
    GetDagRunState(DagRunKey),
    GetTICount(TiFilter),
    GetDRCount(DrFilter),
    GetTaskStates(TiFilter),
    GetPreviousDagRun(GetPreviousDagRun),
    GetPrevSuccessfulDagRun(TiOnly),
    SetRenderedFields(SetRenderedFields),
    SetRenderedMapIndex(SetRenderedMapIndex),
    GetAssetByName(GetAssetByName),
    GetAssetByUri(GetAssetByUri),
    GetAssetEventByAsset(GetAssetEventByAsset),
    MaskSecret(MaskSecret),
}

impl ToSupervisor {
    /// The request frame's payload, `[id, body]`, with the body a msgpack map (`type` first).
    /// Structs must be written as maps (`to_vec_named`): the supervisor refuses arrays.
    pub(crate) fn encode_request(&self, id: i64) -> Vec<u8> {
        // Every field is a string, integer, list or JSON value: serializing cannot fail.
        rmp_serde::to_vec_named(&(id, self)).expect("protocol messages always serialize")
    }

    /// The body as a msgpack value, as it goes on the wire.
    #[cfg(test)]
    pub(crate) fn to_value(&self) -> Value {
        let bytes = self.encode_request(0);
        let frame = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        frame.as_array().unwrap()[1].clone()
    }

    /// `SetXCom` from this task instance.
    pub(crate) fn set_xcom(ti: &TaskInstance, key: &str, value: serde_json::Value) -> Self {
        ToSupervisor::SetXCom(SetXCom {
            key: key.to_owned(),
            value,
            dag_id: ti.dag_id.clone(),
            run_id: ti.run_id.clone(),
            task_id: ti.task_id.clone(),
            map_index: ti.map_index().unwrap_or(-1),
        })
    }

    /// `DeleteXCom` of this task instance's XCom `key`.
    pub(crate) fn delete_xcom(ti: &TaskInstance, key: &str) -> Self {
        ToSupervisor::DeleteXCom(DeleteXCom {
            key: key.to_owned(),
            dag_id: ti.dag_id.clone(),
            run_id: ti.run_id.clone(),
            task_id: ti.task_id.clone(),
            map_index: ti.map_index().unwrap_or(-1),
        })
    }

    /// `GetXCom` of `task_id`'s XCom `key` in this dag run.
    pub(crate) fn get_xcom(ti: &TaskInstance, task_id: &str, key: &str) -> Self {
        ToSupervisor::GetXCom(GetXCom {
            key: key.to_owned(),
            dag_id: ti.dag_id.clone(),
            run_id: ti.run_id.clone(),
            task_id: task_id.to_owned(),
            map_index: None,
            include_prior_dates: false,
        })
    }

    /// `GetVariable`.
    pub(crate) fn get_variable(key: &str) -> Self {
        ToSupervisor::GetVariable(GetVariable {
            key: key.to_owned(),
        })
    }

    /// `GetConnection`.
    pub(crate) fn get_connection(conn_id: &str) -> Self {
        ToSupervisor::GetConnection(GetConnection {
            conn_id: conn_id.to_owned(),
        })
    }
}

/// The terminal messages the runtime can send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Terminal {
    /// `SucceedTask`.
    Success,
    /// `RetryTask`, with a reason.
    Retry(String),
    /// `TaskState{failed}`.
    Failed,
    /// `TaskState{skipped}`.
    Skipped,
}

impl Terminal {
    /// The state name, for messages.
    pub(crate) fn state(&self) -> &'static str {
        match self {
            Terminal::Success => "success",
            Terminal::Retry(_) => "up_for_retry",
            Terminal::Failed => "failed",
            Terminal::Skipped => "skipped",
        }
    }

    /// The message, ended at `end_date` (RFC 3339 with an offset).
    pub(crate) fn message(&self, end_date: String) -> ToSupervisor {
        match self {
            Terminal::Success => ToSupervisor::SucceedTask(SucceedTask {
                end_date,
                task_outlets: Vec::new(),
                outlet_events: Vec::new(),
                rendered_map_index: None,
            }),
            Terminal::Retry(reason) => ToSupervisor::RetryTask(RetryTask {
                end_date,
                retry_reason: reason.clone(),
            }),
            Terminal::Failed | Terminal::Skipped => ToSupervisor::TaskState(TaskStateMsg {
                state: self.state(),
                end_date,
                retry_reason: None,
            }),
        }
    }
}

/// The supervisor's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// An empty body: the request was accepted.
    Ack,
    /// A result body.
    Body(ToTask),
    /// An `ErrorResponse` body (not found, permission denied, ...).
    ErrorBody(ErrorResponse),
    /// The error element: the API call failed.
    Failure(ErrorResponse),
}

/// Splits a response frame `[id, body|nil, error|nil]` into its id and [`Reply`].
pub(crate) fn decode_response(frame: Value) -> Result<(i64, Reply), String> {
    let Value::Array(mut items) = frame else {
        return Err("a response frame that is not an array".into());
    };
    if items.len() < 2 {
        return Err(format!(
            "a response frame with {} elements (want 2 or 3)",
            items.len()
        ));
    }
    let id = items[0]
        .as_i64()
        .ok_or_else(|| format!("a response id that is {}", kind(&items[0])))?;
    let error = if items.len() > 2 {
        std::mem::replace(&mut items[2], Value::Nil)
    } else {
        Value::Nil
    };
    let body = std::mem::replace(&mut items[1], Value::Nil);
    if !error.is_nil() {
        let error = if error.is_map() {
            rmpv::ext::from_value::<ErrorResponse>(error)
                .map_err(|e| format!("cannot decode the error element: {e}"))?
        } else {
            ErrorResponse {
                error: generic_error(),
                detail: Json(to_json(&error)),
            }
        };
        return Ok((id, Reply::Failure(error)));
    }
    if body.is_nil() {
        return Ok((id, Reply::Ack));
    }
    Ok((
        id,
        match decode_body(body)? {
            ToTask::ErrorResponse(e) => Reply::ErrorBody(e),
            other => Reply::Body(other),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::versions::SchemaVersion;

    /// Appends a msgpack string.
    fn s(out: &mut Vec<u8>, v: &str) {
        if v.len() < 32 {
            out.push(0xa0 | v.len() as u8);
        } else {
            out.push(0xd9);
            out.push(v.len() as u8);
        }
        out.extend_from_slice(v.as_bytes());
    }

    fn fixext8(out: &mut Vec<u8>, secs: u64, nanos: u64) {
        out.extend_from_slice(&[0xd7, 0xff]);
        out.extend_from_slice(&((nanos << 34) | secs).to_be_bytes());
    }

    /// A `StartupDetails` frame payload built byte by byte, shaped like the one the 1.3.2
    /// supervisor sends: fixarray(3), fixmap of 7 keys, map16 dag_run with 18 keys, fixext8,
    /// fixext4 and ext8 timestamps, nils, negative fixint map_index, uint16, unknown keys.
    fn captured_startup() -> Vec<u8> {
        let mut b = vec![0x93, 0x00, 0x87];
        s(&mut b, "ti");
        b.push(0x8b); // 11 keys: the 10 known ones and an unknown one
        s(&mut b, "id");
        s(&mut b, "0199a5b2-1c2d-7e3f-8a9b-0c1d2e3f4a5b");
        s(&mut b, "task_id");
        s(&mut b, "extract");
        s(&mut b, "dag_id");
        s(&mut b, "example_etl");
        s(&mut b, "run_id");
        s(&mut b, "manual__2026-11-22T00:00:00+00:00");
        s(&mut b, "try_number");
        b.push(0x02);
        s(&mut b, "dag_version_id");
        s(&mut b, "0199a5b2-0000-7000-8000-000000000000");
        s(&mut b, "map_index");
        b.push(0xff); // -1
        s(&mut b, "hostname");
        b.push(0xc0);
        s(&mut b, "context_carrier");
        b.push(0xc0);
        s(&mut b, "queue");
        s(&mut b, "default");
        s(&mut b, "pool_slots"); // unknown key
        b.extend_from_slice(&[0xcd, 0x01, 0x00]);
        s(&mut b, "dag_rel_path");
        s(&mut b, "stub_dag.py");
        s(&mut b, "bundle_info");
        b.push(0x82);
        s(&mut b, "name");
        s(&mut b, "dags");
        s(&mut b, "version");
        b.push(0xc0);
        s(&mut b, "start_date");
        // The exact bytes observed: d7 ff 4f 4c c8 00 6b 02 60 b8.
        b.extend_from_slice(&[0xd7, 0xff, 0x4f, 0x4c, 0xc8, 0x00, 0x6b, 0x02, 0x60, 0xb8]);
        s(&mut b, "ti_context");
        b.push(0x8a); // 10 keys
        s(&mut b, "dag_run");
        b.extend_from_slice(&[0xde, 0x00, 0x12]); // map16, 18 keys
        s(&mut b, "dag_id");
        s(&mut b, "example_etl");
        s(&mut b, "run_id");
        s(&mut b, "manual__2026-11-22T00:00:00+00:00");
        s(&mut b, "logical_date");
        b.extend_from_slice(&[0xd6, 0xff]); // fixext4
        b.extend_from_slice(&1_795_305_600u32.to_be_bytes()); // 2026-11-22T00:00:00Z
        s(&mut b, "data_interval_start");
        fixext8(&mut b, 1_795_219_200, 0);
        s(&mut b, "data_interval_end");
        fixext8(&mut b, 1_795_305_600, 500_000_000);
        s(&mut b, "run_after");
        b.extend_from_slice(&[0xc7, 0x0c, 0xff]); // ext8, 12 bytes
        b.extend_from_slice(&123u32.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes());
        s(&mut b, "start_date");
        fixext8(&mut b, 1_795_305_601, 0);
        s(&mut b, "end_date");
        b.push(0xc0);
        s(&mut b, "clear_number");
        b.push(0x00);
        s(&mut b, "run_type");
        s(&mut b, "manual");
        s(&mut b, "state");
        s(&mut b, "running");
        s(&mut b, "conf");
        b.push(0x82);
        s(&mut b, "fail");
        b.push(0xc3);
        s(&mut b, "rows");
        b.extend_from_slice(&[0x93, 0x01, 0xd0, 0x80, 0xcb]);
        b.extend_from_slice(&1.5f64.to_be_bytes());
        for k in ["triggering_user_name", "partition_key", "note", "team_name"] {
            s(&mut b, k);
            b.push(0xc0);
        }
        s(&mut b, "partition_date");
        b.push(0xc0);
        s(&mut b, "consumed_asset_events");
        b.push(0x90);
        s(&mut b, "task_reschedule_count");
        b.push(0x00);
        s(&mut b, "max_tries");
        b.push(0x03);
        s(&mut b, "should_retry");
        b.push(0xc3);
        for k in [
            "variables",
            "connections",
            "xcom_keys_to_clear",
            "next_method",
        ] {
            s(&mut b, k);
            b.push(0xc0);
        }
        s(&mut b, "next_kwargs");
        b.push(0xc0);
        s(&mut b, "start_date");
        b.push(0xc0);
        s(&mut b, "sentry_integration");
        s(&mut b, "");
        s(&mut b, "type");
        s(&mut b, "StartupDetails");
        b.push(0xc0); // the error element
        b
    }

    fn startup_of(payload: &[u8]) -> StartupDetails {
        let frame = crate::runtime::frame::decode_payload(payload).unwrap();
        let items = frame.as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_i64(), Some(0));
        match decode_body(items[1].clone()).unwrap() {
            ToTask::StartupDetails(sd) => *sd,
            other => panic!("decoded as {}", other.kind()),
        }
    }

    #[test]
    fn decodes_a_captured_startup_details() {
        let sd = startup_of(&captured_startup());
        assert_eq!(sd.ti.id, "0199a5b2-1c2d-7e3f-8a9b-0c1d2e3f4a5b");
        assert_eq!(sd.ti.dag_id, "example_etl");
        assert_eq!(sd.ti.task_id, "extract");
        assert_eq!(sd.ti.run_id, "manual__2026-11-22T00:00:00+00:00");
        assert_eq!(sd.ti.try_number, 2);
        assert_eq!(sd.ti.map_index(), None);
        assert_eq!(sd.dag_rel_path, "stub_dag.py");
        assert!(sd.ti_context.should_retry);
        assert_eq!(sd.ti_context.max_tries, 3);
        assert_eq!(sd.ti_context.xcom_keys_to_clear, None);
        assert_eq!(sd.ti_context.arg_bindings, None);
        let r = &sd.ti_context.dag_run;
        assert_eq!(r.run_type, "manual");
        assert_eq!(
            r.conf.0,
            serde_json::json!({"fail": true, "rows": [1, -128, 1.5]})
        );
        let t = |v: Option<Timestamp>| v.map(|t| format_time(t.0));
        assert_eq!(t(r.logical_date).as_deref(), Some("2026-11-22T00:00:00Z"));
        assert_eq!(
            t(r.data_interval_start).as_deref(),
            Some("2026-11-21T00:00:00Z")
        );
        assert_eq!(
            t(r.data_interval_end).as_deref(),
            Some("2026-11-22T00:00:00.5Z")
        );
        assert_eq!(
            t(r.run_after).as_deref(),
            Some("1969-12-31T23:59:59.000000123Z")
        );
        // The observed start_date bytes: ns = 0x4f4cc800 >> 2, secs = low 34 bits.
        let x = u64::from_be_bytes([0x4f, 0x4c, 0xc8, 0x00, 0x6b, 0x02, 0x60, 0xb8]);
        let want = OffsetDateTime::from_unix_timestamp((x & ((1 << 34) - 1)) as i64).unwrap()
            + time::Duration::nanoseconds((x >> 34) as i64);
        assert_eq!(sd.start_date, Some(Timestamp(want)));
        assert_eq!(want.year(), 2026);
    }

    fn m(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn arg_bindings_of_both_kinds_are_decoded_and_dropped_for_2026_06_16() {
        let bindings = Value::Array(vec![
            m(vec![
                ("name", Value::from("totals")),
                ("kind", Value::from("xcom")),
                ("task_id", Value::from("transform")),
                ("value_schema", m(vec![("type", Value::from("object"))])),
            ]),
            m(vec![
                ("name", Value::from("table")),
                ("kind", Value::from("literal")),
                ("value", Value::from("t1")),
            ]),
            m(vec![
                ("name", Value::from("limit")),
                ("kind", Value::from("literal")),
                ("value", Value::Nil),
                ("from_default", Value::Boolean(true)),
            ]),
        ]);
        let body = m(vec![
            ("type", Value::from("StartupDetails")),
            (
                "ti",
                m(vec![
                    ("id", Value::from("i")),
                    ("task_id", Value::from("t")),
                    ("dag_id", Value::from("d")),
                    ("run_id", Value::from("r")),
                    ("try_number", Value::from(1)),
                ]),
            ),
            (
                "ti_context",
                m(vec![
                    ("dag_run", m(vec![])),
                    ("max_tries", Value::from(0)),
                    ("arg_bindings", bindings),
                ]),
            ),
        ]);
        let ToTask::StartupDetails(sd) = decode_body(body).unwrap() else {
            panic!("not StartupDetails")
        };
        assert_eq!(
            sd.ti_context.arg_bindings.clone().unwrap(),
            [
                ArgBinding::XCom {
                    name: "totals".into(),
                    task_id: "transform".into()
                },
                ArgBinding::Literal {
                    name: "table".into(),
                    value: Json(serde_json::json!("t1")),
                    from_default: false
                },
                ArgBinding::Literal {
                    name: "limit".into(),
                    value: Json(serde_json::Value::Null),
                    from_default: true
                },
            ]
        );
        let sd = *sd;
        let old = SchemaVersion::V2026_06_16.incoming(sd.clone());
        assert_eq!(old.ti_context.arg_bindings, None);
        let new = SchemaVersion::V2026_10_30.incoming(sd);
        assert_eq!(new.ti_context.arg_bindings.map(|b| b.len()), Some(3));
    }

    #[test]
    fn decode_errors_name_the_message_and_field() {
        let bad = m(vec![
            ("type", Value::from("StartupDetails")),
            ("ti", m(vec![])),
        ]);
        let err = decode_body(bad).unwrap_err();
        assert!(err.contains("StartupDetails"), "{err}");
        assert!(err.contains("missing field"), "{err}");
        let err = decode_body(m(vec![("type", Value::from("Nope"))])).unwrap_err();
        assert!(err.contains("Nope"), "{err}");
        let err = decode_body(m(vec![])).unwrap_err();
        assert!(err.contains("\"type\""), "{err}");
        assert!(
            decode_timestamp(&[1, 2, 3])
                .unwrap_err()
                .contains("3 bytes")
        );
        let bad_ns = ((1_000_000_005u64 << 34) | 5).to_be_bytes();
        assert!(decode_timestamp(&bad_ns).is_err());
        // A timestamp field holding an extension of another type.
        let ts: Result<Timestamp, _> = rmpv::ext::from_value(Value::Ext(5, vec![0; 4]));
        assert!(ts.unwrap_err().to_string().contains("type 5"));
        let ts: Timestamp =
            rmpv::ext::from_value(Value::from("2026-01-02T03:04:05+01:00")).unwrap();
        assert_eq!(format_time(ts.0), "2026-01-02T02:04:05Z");
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect()
    }

    fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
        v.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {key} in {v}"))
    }

    fn ends_with_z(v: &Value) {
        let end = get(v, "end_date").as_str().unwrap();
        assert!(end.ends_with('Z'), "{end}");
        OffsetDateTime::parse(end, &Rfc3339).unwrap();
    }

    #[test]
    fn terminal_bodies_have_exactly_the_allowed_keys() {
        let succeed = Terminal::Success.message(now()).to_value();
        assert_eq!(
            keys(&succeed),
            ["type", "end_date", "task_outlets", "outlet_events"]
        );
        assert_eq!(get(&succeed, "task_outlets"), &Value::Array(vec![]));
        assert_eq!(get(&succeed, "outlet_events"), &Value::Array(vec![]));
        assert_eq!(get(&succeed, "type").as_str(), Some("SucceedTask"));
        ends_with_z(&succeed);
        let retry = Terminal::Retry("boom".into()).message(now()).to_value();
        assert_eq!(keys(&retry), ["type", "end_date", "retry_reason"]);
        assert_eq!(get(&retry, "type").as_str(), Some("RetryTask"));
        ends_with_z(&retry);
        for (t, state) in [(Terminal::Failed, "failed"), (Terminal::Skipped, "skipped")] {
            let b = t.message(now()).to_value();
            assert_eq!(keys(&b), ["type", "state", "end_date"]);
            assert_eq!(get(&b, "type").as_str(), Some("TaskState"));
            assert_eq!(get(&b, "state").as_str(), Some(state));
            ends_with_z(&b);
        }
    }

    #[test]
    fn request_bodies_use_the_model_field_names() {
        let ti = TaskInstance {
            id: "i".into(),
            dag_id: "d".into(),
            task_id: "t".into(),
            run_id: "r".into(),
            try_number: 1,
            map_index: Some(-1),
        };
        let x =
            ToSupervisor::set_xcom(&ti, "k", serde_json::json!({"a": [1, 2], "f": 1.5})).to_value();
        assert_eq!(
            keys(&x),
            [
                "type",
                "key",
                "value",
                "dag_id",
                "run_id",
                "task_id",
                "map_index"
            ]
        );
        assert_eq!(get(&x, "map_index").as_i64(), Some(-1));
        assert_eq!(
            to_json(get(&x, "value")),
            serde_json::json!({"a": [1, 2], "f": 1.5})
        );
        let g = ToSupervisor::get_xcom(&ti, "up", "k").to_value();
        assert_eq!(keys(&g), ["type", "key", "dag_id", "run_id", "task_id"]);
        assert_eq!(get(&g, "task_id").as_str(), Some("up"));
        assert_eq!(
            keys(&ToSupervisor::delete_xcom(&ti, "k").to_value()),
            ["type", "key", "dag_id", "run_id", "task_id", "map_index"]
        );
        assert_eq!(
            keys(&ToSupervisor::get_variable("v").to_value()),
            ["type", "key"]
        );
        assert_eq!(
            keys(&ToSupervisor::get_connection("c").to_value()),
            ["type", "conn_id"]
        );
        let parsed = ToSupervisor::DagFileParsingResult(DagFileParsingResult {
            fileloc: "/b/x".into(),
            serialized_dags: vec![],
            import_errors: None,
        })
        .to_value();
        assert_eq!(keys(&parsed), ["type", "fileloc", "serialized_dags"]);
        assert_eq!(get(&parsed, "serialized_dags"), &Value::Array(vec![]));
    }

    #[test]
    fn responses_are_classified() {
        let frame = |items: Vec<Value>| Value::Array(items);
        assert_eq!(
            decode_response(frame(vec![Value::from(3), Value::Nil, Value::Nil])).unwrap(),
            (3, Reply::Ack)
        );
        let not_found = m(vec![
            ("error", Value::from("VARIABLE_NOT_FOUND")),
            ("detail", m(vec![("key", Value::from("x"))])),
            ("type", Value::from("ErrorResponse")),
        ]);
        assert_eq!(
            decode_response(frame(vec![Value::from(4), not_found.clone(), Value::Nil])).unwrap(),
            (
                4,
                Reply::ErrorBody(ErrorResponse {
                    error: "VARIABLE_NOT_FOUND".into(),
                    detail: Json(serde_json::json!({"key": "x"}))
                })
            )
        );
        let (_, failure) =
            decode_response(frame(vec![Value::from(5), Value::Nil, not_found])).unwrap();
        assert!(matches!(failure, Reply::Failure(_)));
        let var = m(vec![
            ("key", Value::from("k")),
            ("value", Value::from("v")),
            ("type", Value::from("VariableResult")),
        ]);
        assert_eq!(
            decode_response(frame(vec![Value::from(6), var, Value::Nil])).unwrap(),
            (
                6,
                Reply::Body(ToTask::VariableResult(VariableResult {
                    key: "k".into(),
                    value: Some("v".into())
                }))
            )
        );
        assert!(decode_response(frame(vec![Value::from(1)])).is_err());
        assert!(decode_response(frame(vec![Value::from("x"), Value::Nil])).is_err());
        assert!(
            decode_response(frame(vec![Value::from(1), Value::Map(vec![]), Value::Nil])).is_err()
        );
    }
}
