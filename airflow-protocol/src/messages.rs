//! The messages exchanged with the supervisor, as serde types: one type per message, tagged by
//! `type`, in the shape of the newest supervisor schema this SDK speaks (2026-10-30; what older
//! versions lack is handled in [`crate::versions`]). Field names follow
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
pub struct Timestamp(pub OffsetDateTime);

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
        impl Visitor<'_> for V {
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
///
/// # Errors
///
/// A description of the problem when `data` is not a 4-, 8- or 12-byte timestamp or its nanoseconds
/// are out of range.
pub fn decode_timestamp(data: &[u8]) -> Result<OffsetDateTime, String> {
    // The three layouts of msgpack's timestamp extension, told apart by length.
    let (secs, nanos): (i64, u32) = match data.len() {
        // timestamp 32: unsigned seconds.
        4 => (i64::from(u32::from_be_bytes(be_bytes(data))), 0),
        // timestamp 64: 30 bits of nanoseconds above 34 bits of unsigned seconds.
        8 => {
            let packed = u64::from_be_bytes(be_bytes(data));
            (
                (packed & ((1 << 34) - 1)).cast_signed(),
                (packed >> 34) as u32,
            )
        }
        // timestamp 96: 32 bits of nanoseconds, then 64 bits of signed seconds.
        12 => {
            let (nanos, secs) = data.split_at(4);
            (
                i64::from_be_bytes(be_bytes(secs)),
                u32::from_be_bytes(be_bytes(nanos)),
            )
        }
        len => return Err(format!("a timestamp extension of {len} bytes")),
    };
    if nanos >= 1_000_000_000 {
        return Err(format!("a timestamp with {nanos} nanoseconds"));
    }
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t + time::Duration::nanoseconds(i64::from(nanos)))
        .map_err(|e| format!("timestamp out of range: {e}"))
}

/// `bytes` as an array; the caller has checked that it holds exactly `N` bytes.
fn be_bytes<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

/// Any msgpack value, as JSON (what XCom values, `conf` and error details are). Decoded through
/// [`rmpv::Value`] so that nothing msgpack can carry is refused: timestamps become RFC 3339
/// strings, binary an array of byte values, non-string map keys strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Json(pub serde_json::Value);

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
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// A duration as the schema's `timedelta` fields want it: ISO 8601 in seconds (`PT90.5S`).
pub fn iso_duration(d: std::time::Duration) -> String {
    let millis = d.as_millis();
    if millis.is_multiple_of(1000) {
        format!("PT{}S", millis / 1000)
    } else {
        format!("PT{}.{:03}S", millis / 1000, millis % 1000)
    }
}

/// Now, formatted by [`format_time`].
pub fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

/// Converts a msgpack value to JSON. Timestamps become RFC 3339 strings, binary becomes an
/// array of byte values, non-string map keys are stringified.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
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
        Value::Map(m) => {
            // Inserted one by one (the last of equal keys wins, as with `collect`): collecting
            // sorts the entries first, an instantiation of the stable sort of its own.
            let mut object = serde_json::Map::new();
            for (k, v) in m {
                let key = match k.as_str() {
                    Some(s) => s.to_owned(),
                    None => to_json(k).to_string(),
                };
                object.insert(key, to_json(v));
            }
            J::Object(object)
        }
        Value::Ext(tag, data) if *tag == TIMESTAMP_EXT => match decode_timestamp(data) {
            Ok(t) => J::String(format_time(t)),
            Err(_) => J::Null,
        },
        // Nil, and extensions other than timestamps, which have no JSON form.
        Value::Nil | Value::Ext(..) => J::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// Supervisor -> runtime

/// `StartupDetails.ti`: the task instance to run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskInstance {
    /// The id (a UUID for a task instance, the database id for an asset event).
    pub id: String,
    /// The dag's id.
    pub dag_id: String,
    /// The task's id.
    pub task_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The try, from 1.
    pub try_number: i64,
    /// `-1` (or nil) when unmapped; see [`TaskInstance::map_index`].
    #[serde(default)]
    pub map_index: Option<i64>,
}

impl TaskInstance {
    /// The map index of a mapped task instance; `None` when unmapped.
    pub fn map_index(&self) -> Option<i64> {
        self.map_index.filter(|&i| i >= 0)
    }
}

/// `StartupDetails.ti_context.dag_run`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct DagRun {
    /// The logical date (none for a run without one).
    #[serde(default)]
    pub logical_date: Option<Timestamp>,
    /// Start of the data interval.
    #[serde(default)]
    pub data_interval_start: Option<Timestamp>,
    /// End of the data interval.
    #[serde(default)]
    pub data_interval_end: Option<Timestamp>,
    /// When the run may start at the earliest.
    #[serde(default)]
    pub run_after: Option<Timestamp>,
    /// When it started.
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    /// How the run came about: `manual`, `scheduled`, `backfill`, `asset_triggered`, ...
    #[serde(default)]
    pub run_type: String,
    /// The run's `conf` (a JSON object).
    #[serde(default)]
    pub conf: Json,
}

/// One argument bound to a stub task (2026-10-30: `TIRunContext.arg_bindings`), in the order of
/// the stub function's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum ArgBinding {
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

/// An [`ArgBinding`] as it arrives: every variant's keys in one struct. Decoding the enum as
/// serde derives it (internally tagged) buffers each binding and decodes it once more per
/// variant, about 17 KB of every bundle; this is one plain struct, with the derived decoder's
/// errors.
#[derive(Deserialize)]
struct ArgBindingKeys {
    kind: ArgBindingKind,
    name: String,
    #[serde(default)]
    task_id: Option<String>,
    #[serde(default)]
    value: Json,
    #[serde(default)]
    from_default: bool,
}

/// [`ArgBinding`]'s tag.
enum ArgBindingKind {
    XCom,
    Literal,
}

/// Read as the derived decoder reads a tag: an identifier, by name or variant index.
impl<'de> Deserialize<'de> for ArgBindingKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const KINDS: &[&str] = &["xcom", "literal"];
        struct V;
        impl Visitor<'_> for V {
            type Value = ArgBindingKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("variant identifier")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ArgBindingKind, E> {
                match v {
                    0 => Ok(ArgBindingKind::XCom),
                    1 => Ok(ArgBindingKind::Literal),
                    _ => Err(E::invalid_value(
                        de::Unexpected::Unsigned(v),
                        &"variant index 0 <= i < 2",
                    )),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ArgBindingKind, E> {
                match v {
                    "xcom" => Ok(ArgBindingKind::XCom),
                    "literal" => Ok(ArgBindingKind::Literal),
                    _ => Err(E::unknown_variant(v, KINDS)),
                }
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ArgBindingKind, E> {
                match v {
                    b"xcom" => Ok(ArgBindingKind::XCom),
                    b"literal" => Ok(ArgBindingKind::Literal),
                    _ => Err(E::unknown_variant(&String::from_utf8_lossy(v), KINDS)),
                }
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> Deserialize<'de> for ArgBinding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = ArgBindingKeys::deserialize(d)?;
        Ok(match b.kind {
            ArgBindingKind::XCom => ArgBinding::XCom {
                name: b.name,
                task_id: b
                    .task_id
                    .ok_or_else(|| de::Error::missing_field("task_id"))?,
            },
            ArgBindingKind::Literal => ArgBinding::Literal {
                name: b.name,
                value: b.value,
                from_default: b.from_default,
            },
        })
    }
}

/// `StartupDetails.ti_context` (`TIRunContext`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TIRunContext {
    /// The dag run.
    pub dag_run: DagRun,
    /// How many tries the task has in all (0 or 1: no retry).
    pub max_tries: i64,
    /// Whether a failure now is retried (`up_for_retry`) rather than final.
    #[serde(default)]
    pub should_retry: bool,
    /// XCom keys of this task instance to delete before the task runs (left by an earlier try).
    #[serde(default)]
    pub xcom_keys_to_clear: Option<Vec<String>>,
    /// The stub's arguments (2026-10-30); `None` under 2026-06-16 or for a call without
    /// arguments.
    #[serde(default)]
    pub arg_bindings: Option<Vec<ArgBinding>>,
    /// The method to resume in, when the try resumes a task that deferred, asked for input or
    /// whose trigger failed (`__fail__`); `None` for a fresh try.
    #[serde(default)]
    pub next_method: Option<String>,
    /// What the resumed method gets: the kwargs given when suspending, with the trigger's
    /// `event` added (in `airflow.sdk.serde`'s encoding); a string in Airflow's older
    /// `BaseSerialization` form is kept as the string.
    #[serde(default)]
    pub next_kwargs: Option<Json>,
}

/// The first frame of a task run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct StartupDetails {
    /// The task instance to run.
    pub ti: TaskInstance,
    /// The dag file, relative to the Dag bundle.
    #[serde(default)]
    pub dag_rel_path: String,
    /// When it started.
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    /// The run's context.
    pub ti_context: TIRunContext,
}

/// The first frame when the Dag processor (Airflow 3.4) parses the bundle file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DagFileParseRequest {
    /// The bundle file's absolute path.
    pub file: String,
    /// The root of the Dag bundle holding it.
    pub bundle_path: String,
    /// The Dag bundle's name.
    pub bundle_name: String,
}

/// The first frame when the Dag processor (upstream main, no release yet) asks which task
/// handlers the bundle registers. Every key is optional and unknown keys are ignored: the answer
/// must not depend on the request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct TaskHandlerParseRequest {
    /// The bundle file's absolute path.
    #[serde(default)]
    pub file: String,
    /// The root of the Dag bundle holding it.
    #[serde(default)]
    pub bundle_path: String,
    /// The Dag bundle's name.
    #[serde(default)]
    pub bundle_name: String,
}

/// `XComResult`: the reply to `GetXCom` (a missing XCom has a nil value).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct XComResult {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: Json,
}

/// `XComSequenceSliceResult`: the reply to `GetXComSequenceSlice`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct XComSequenceSliceResult {
    /// The values, in map index order.
    #[serde(default)]
    pub root: Vec<Json>,
}

/// `VariableResult`: the reply to `GetVariable`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct VariableResult {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Option<String>,
}

/// `ConnectionResult`: the reply to `GetConnection`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConnectionResult {
    /// The Connection's id.
    pub conn_id: String,
    /// The Connection's type (`postgres`, `http`, ...).
    pub conn_type: String,
    /// The host.
    pub host: Option<String>,
    /// The schema (database) name.
    pub schema: Option<String>,
    /// The login.
    pub login: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The port.
    pub port: Option<i64>,
    /// A JSON document, as a string.
    pub extra: Option<String>,
}

/// `XComCountResponse`: the reply to `GetXComCount`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct XComCountResponse {
    /// How many values the XCom has.
    pub len: i64,
}

/// `TaskStateStoreResult`: the reply to `GetTaskStateStore`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskStateStoreResult {
    /// The value.
    #[serde(default)]
    pub value: Json,
}

/// `OKResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OKResponse {
    /// Whether the request did what it asked.
    #[serde(default)]
    pub ok: bool,
}

/// `DagRunStateResult`: the reply to `GetDagRunState`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DagRunStateResult {
    /// The state, as Airflow names it.
    pub state: String,
}

/// `TICount` / `DRCount`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Count {
    /// How many.
    pub count: i64,
}

/// `TaskStatesResult`: `{run_id: {task_id: state}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskStatesResult {
    /// Each task instance's state, by run id and task id.
    pub task_states: Json,
}

/// A dag run, as `PreviousDagRunResult` carries it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DagRunRecord {
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The logical date (none for a run without one).
    #[serde(default)]
    pub logical_date: Option<Timestamp>,
    /// Start of the data interval.
    #[serde(default)]
    pub data_interval_start: Option<Timestamp>,
    /// End of the data interval.
    #[serde(default)]
    pub data_interval_end: Option<Timestamp>,
    /// When it started.
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    /// When it ended (RFC 3339 with an offset).
    #[serde(default)]
    pub end_date: Option<Timestamp>,
    /// How the run came about: `manual`, `scheduled`, `backfill`, `asset_triggered`, ...
    #[serde(default)]
    pub run_type: String,
    /// The state, as Airflow names it.
    #[serde(default)]
    pub state: String,
    /// The run's `conf` (a JSON object).
    #[serde(default)]
    pub conf: Json,
}

/// `PreviousDagRunResult`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PreviousDagRunResult {
    /// The dag run.
    #[serde(default)]
    pub dag_run: Option<DagRunRecord>,
}

/// `PrevSuccessfulDagRunResult` (every field is absent when there is no such run).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PrevSuccessfulDagRunResult {
    /// Start of the data interval.
    #[serde(default)]
    pub data_interval_start: Option<Timestamp>,
    /// End of the data interval.
    #[serde(default)]
    pub data_interval_end: Option<Timestamp>,
    /// When it started.
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    /// When it ended (RFC 3339 with an offset).
    #[serde(default)]
    pub end_date: Option<Timestamp>,
}

/// `AssetResult`, and the `asset` of an asset event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AssetResult {
    /// The name.
    pub name: String,
    /// The URI.
    pub uri: String,
    /// The asset's group.
    #[serde(default)]
    pub group: String,
    /// Its extra (a JSON object).
    #[serde(default)]
    pub extra: Json,
}

/// One `AssetEventResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AssetEventRecord {
    /// The id (a UUID for a task instance, the database id for an asset event).
    pub id: i64,
    /// When the event was recorded.
    pub timestamp: Timestamp,
    /// Its extra (a JSON object).
    #[serde(default)]
    pub extra: Json,
    /// The asset.
    pub asset: AssetResult,
    /// The task that emitted the event, if any.
    #[serde(default)]
    pub source_task_id: Option<String>,
    /// The dag that emitted the event, if any.
    #[serde(default)]
    pub source_dag_id: Option<String>,
    /// The dag run that emitted the event, if any.
    #[serde(default)]
    pub source_run_id: Option<String>,
    /// The map index that emitted the event.
    #[serde(default)]
    pub source_map_index: Option<i64>,
}

/// `AssetEventsResult`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AssetEventsResult {
    /// The events, in the order asked for.
    pub asset_events: Vec<AssetEventRecord>,
}

/// `ErrorResponse`: "not found", "permission denied" (as a body), or a failed API call (in a
/// reply's error element).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ErrorResponse {
    /// The error type (`VARIABLE_NOT_FOUND`, `PERMISSION_DENIED`, ...).
    #[serde(default = "generic_error")]
    pub error: String,
    /// Its details.
    #[serde(default)]
    pub detail: Json,
}

fn generic_error() -> String {
    "GENERIC_ERROR".to_owned()
}

/// `TaskRescheduleStartDate`: when the first try of a rescheduled task started (`None` before
/// the first reschedule).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskRescheduleStartDate {
    /// The start of the first try since the task was last cleared.
    #[serde(default)]
    pub start_date: Option<Timestamp>,
}

/// A person assigned to answer a human-in-the-loop request (`HITLUser`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HitlUser {
    /// The user's id in the auth manager.
    pub id: String,
    /// The name shown.
    pub name: String,
}

/// `CreateHITLDetailPayload` (sent) and `HITLDetailRequestResult` (its answer): what a task asks
/// a person.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct HITLDetailRequest {
    /// The task instance asking.
    pub ti_id: String,
    /// The options offered (at least one).
    pub options: Vec<String>,
    /// The question's subject.
    pub subject: String,
    /// Its body (Markdown).
    #[serde(default)]
    pub body: Option<String>,
    /// The options taken when nobody answers in time.
    #[serde(default)]
    pub defaults: Option<Vec<String>>,
    /// Whether several options may be chosen.
    #[serde(default)]
    pub multiple: bool,
    /// Params the person fills in, each as Airflow's serialized `Param`
    /// (`{"value", "description", "schema"}`).
    #[serde(default)]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Who may answer (empty: anyone allowed to).
    #[serde(default)]
    pub assigned_users: Vec<HitlUser>,
}

/// Every body the supervisor (or the Dag processor) sends that this runtime reads.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type")]
pub enum ToTask {
    /// `StartupDetails`: run a task (the first message).
    StartupDetails(Box<StartupDetails>),
    /// `DagFileParseRequest`: parse the bundle file (Airflow 3.4's Dag processor; the first message).
    DagFileParseRequest(DagFileParseRequest),
    /// `TaskHandlerParseRequest` (also spelled `SDKTaskHandlerParseRequest` until a release
    /// settles it): list the task handlers (upstream main's Dag processor; the first message).
    #[serde(alias = "SDKTaskHandlerParseRequest")]
    TaskHandlerParseRequest(TaskHandlerParseRequest),
    /// `XComResult`: the answer to `GetXCom`.
    XComResult(XComResult),
    /// `VariableResult`: the answer to `GetVariable`.
    VariableResult(VariableResult),
    /// `ConnectionResult`: the answer to `GetConnection`.
    ConnectionResult(ConnectionResult),
    /// `ErrorResponse`: a request failed (not found, permission denied, ...).
    ErrorResponse(ErrorResponse),
    /// `XComCountResponse`: the answer to `GetXComCount`.
    XComCountResponse(XComCountResponse),
    /// `XComSequenceSliceResult`: the answer to `GetXComSequenceSlice`.
    XComSequenceSliceResult(XComSequenceSliceResult),
    /// `TaskStateStoreResult`: the answer to `GetTaskStateStore`.
    TaskStateStoreResult(TaskStateStoreResult),
    /// `OKResponse`: a write was done.
    OKResponse(OKResponse),
    /// `DagRunStateResult`: the answer to `GetDagRunState`.
    DagRunStateResult(DagRunStateResult),
    /// `TICount`: the answer to `GetTICount`.
    TICount(Count),
    /// `DRCount`: the answer to `GetDRCount`.
    DRCount(Count),
    /// `TaskStatesResult`: the answer to `GetTaskStates`.
    TaskStatesResult(TaskStatesResult),
    /// `PreviousDagRunResult`: the answer to `GetPreviousDagRun`.
    PreviousDagRunResult(PreviousDagRunResult),
    /// `PrevSuccessfulDagRunResult`: the answer to `GetPrevSuccessfulDagRun`.
    PrevSuccessfulDagRunResult(PrevSuccessfulDagRunResult),
    /// `AssetResult`: the answer to `GetAssetByName` and `GetAssetByUri`.
    AssetResult(AssetResult),
    /// `AssetEventsResult`: the answer to `GetAssetEventByAsset`.
    AssetEventsResult(AssetEventsResult),
    /// `AssetStateStoreResult`: a value of an asset's state store.
    AssetStateStoreResult(AssetStateStoreResult),
    /// `AssetsByAliasResult`: the assets an alias resolved to.
    AssetsByAliasResult(AssetsByAliasResult),
    /// `TaskRescheduleStartDate`: the answer to `GetTaskRescheduleStartDate`.
    TaskRescheduleStartDate(TaskRescheduleStartDate),
    /// `HITLDetailRequestResult`: the answer to `CreateHITLDetailPayload`.
    HITLDetailRequestResult(HITLDetailRequest),
}

impl ToTask {
    /// The message's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ToTask::StartupDetails(_) => "StartupDetails",
            ToTask::DagFileParseRequest(_) => "DagFileParseRequest",
            ToTask::TaskHandlerParseRequest(_) => "TaskHandlerParseRequest",
            ToTask::XComResult(_) => "XComResult",
            ToTask::VariableResult(_) => "VariableResult",
            ToTask::ConnectionResult(_) => "ConnectionResult",
            ToTask::ErrorResponse(_) => "ErrorResponse",
            ToTask::XComCountResponse(_) => "XComCountResponse",
            ToTask::XComSequenceSliceResult(_) => "XComSequenceSliceResult",
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
            ToTask::AssetStateStoreResult(_) => "AssetStateStoreResult",
            ToTask::AssetsByAliasResult(_) => "AssetsByAliasResult",
            ToTask::TaskRescheduleStartDate(_) => "TaskRescheduleStartDate",
            ToTask::HITLDetailRequestResult(_) => "HITLDetailRequestResult",
        }
    }
}

/// Reads a body's `type` without decoding the rest (to tell an unknown message from a
/// malformed known one).
pub fn type_of(body: &Value) -> Option<&str> {
    body.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some("type"))
        .and_then(|(_, v)| v.as_str())
}

/// Decodes a body the supervisor sent.
///
/// # Errors
///
/// A description of the problem when the body is not a message this runtime knows.
pub fn decode_body(body: Value) -> Result<ToTask, String> {
    let kind = match type_of(&body) {
        Some(k) => k.to_owned(),
        None => return Err(format!("{} body without a string \"type\"", kind(&body))),
    };
    rmpv::ext::from_value(body).map_err(|e| format!("cannot decode {kind}: {e}"))
}

/// A short name for a msgpack value's kind, for error messages.
pub fn kind(v: &Value) -> &'static str {
    crate::frame::kind(v)
}

// ---------------------------------------------------------------------------------------------
// Runtime -> supervisor

/// `SucceedTask`. Both lists are always sent: the 3.3.2 API server answers 422 to the null the
/// supervisor fills in for a missing key (the schema allows null), and the task ends failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SucceedTask {
    /// When it ended (RFC 3339 with an offset).
    pub end_date: String,
    /// The assets the task declared as produced.
    pub task_outlets: Vec<AssetProfile>,
    /// `{"dest_asset_key": {"name", "uri"}, "extra": {...}}` per asset event, as Python's task
    /// runner sends them.
    pub outlet_events: Vec<serde_json::Value>,
    /// The label set with `SetRenderedMapIndex`: the supervisor records this field on success,
    /// so leaving it out would reset the label to nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_map_index: Option<String>,
}

/// `AssetProfile`: an asset a task produced (`type` is `Asset`), or an alias it emitted
/// through (`type` is `AssetAlias`, without a URI).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetProfile {
    /// The name.
    pub name: String,
    /// The URI (none for an alias).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `Asset` or `AssetAlias`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `RetryTask` (strict: no unknown keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryTask {
    /// When it ended (RFC 3339 with an offset).
    pub end_date: String,
    /// Why the task is retried (shown in the UI).
    pub retry_reason: String,
    /// The task's own retry delay (the SDK's `TaskError::retry_after`); the API server then
    /// schedules the next try this long after `end_date` instead of after `retry_delay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay_seconds: Option<f64>,
}

/// `TaskState`: failed, skipped or removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStateMsg {
    /// The state, as Airflow names it.
    pub state: &'static str,
    /// When it ended (RFC 3339 with an offset).
    pub end_date: String,
    /// New in 2026-10-30 (dropped for 2026-06-16 by [`crate::versions`]). Not set today: what
    /// the API server does with it for a failed state is not established.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_reason: Option<String>,
}

/// `SetXCom`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetXCom {
    /// The key.
    pub key: String,
    /// The value.
    pub value: serde_json::Value,
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The task's id.
    pub task_id: String,
    /// The map index (-1 or none: not mapped).
    pub map_index: i64,
    /// For a `return_value` a mapped task expands over: its length, which Airflow's scheduler
    /// reads to create that many task instances (3.4 keeps it on the XCom row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped_length: Option<i64>,
}

/// `GetXComSequenceSlice`: the values of a mapped task's XCom, one per task instance that
/// pushed it, in map index order (nil bounds: all of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetXComSequenceSlice {
    /// The key.
    pub key: String,
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The task's id.
    pub task_id: String,
    /// First position (required, nil: from the first).
    pub start: Option<i64>,
    /// Position after the last (required, nil: to the end).
    pub stop: Option<i64>,
    /// Step (required, nil: 1).
    pub step: Option<i64>,
}

/// `DeleteXCom` of one of this task instance's XComs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteXCom {
    /// The key.
    pub key: String,
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The task's id.
    pub task_id: String,
    /// The map index (-1 or none: not mapped).
    pub map_index: i64,
}

/// `GetXCom`: of any dag, run, task and map index (none: the supervisor's default).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetXCom {
    /// The key.
    pub key: String,
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The task's id.
    pub task_id: String,
    /// The map index (-1 or none: not mapped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_index: Option<i64>,
    /// Whether to look in earlier runs too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_prior_dates: bool,
}

/// `GetVariable`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetVariable {
    /// The key.
    pub key: String,
}

/// `GetConnection`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetConnection {
    /// The Connection's id.
    pub conn_id: String,
}

/// `GetXComCount`: how many (mapped) values an XCom key has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetXComCount {
    /// The key.
    pub key: String,
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The task's id.
    pub task_id: String,
}

/// `PutVariable` (all three fields are required; value and description may be nil).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PutVariable {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Option<String>,
    /// The Variable's description.
    pub description: Option<String>,
}

/// `DeleteVariable`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteVariable {
    /// The key.
    pub key: String,
}

/// `GetTaskStateStore`, `DeleteTaskStateStore`: one key of a task instance's state store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStateKey {
    /// The task instance's id.
    pub ti_id: String,
    /// The key.
    pub key: String,
}

/// `SetTaskStateStore` (`expires_at` is required, nil for "keep until cleared").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetTaskStateStore {
    /// The task instance's id.
    pub ti_id: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: serde_json::Value,
    /// When the value expires (none: kept until cleared).
    pub expires_at: Option<String>,
}

/// `ClearTaskStateStore`, `GetPrevSuccessfulDagRun`: a message about one task instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TiOnly {
    /// The task instance's id.
    pub ti_id: String,
}

/// `SkipDownstreamTasks` (strict).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkipDownstreamTasks {
    /// Task ids (the schema also allows `[task_id, map_index]`; not used yet).
    pub tasks: Vec<String>,
}

/// `TriggerDagRun` (strict: only these keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerDagRun {
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
    /// The logical date (none for a run without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_date: Option<String>,
    /// The run's `conf` (a JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conf: Option<serde_json::Value>,
    /// Whether to clear an existing run with the same id instead of failing.
    pub reset_dag_run: bool,
    /// A note shown on the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `GetDagRunState`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DagRunKey {
    /// The dag's id.
    pub dag_id: String,
    /// The dag run's id.
    pub run_id: String,
}

/// `GetTICount` and `GetTaskStates` (which has no `states`): task instances of a dag, filtered.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct TiFilter {
    /// The dag's id.
    pub dag_id: String,
    /// The map index (-1 or none: not mapped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_index: Option<i64>,
    /// Only these tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<String>>,
    /// Only the tasks of this task group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_group_id: Option<String>,
    /// Only runs at these logical dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_dates: Option<Vec<String>>,
    /// Only these runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_ids: Option<Vec<String>>,
    /// Only in these states.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<String>>,
}

/// `GetDRCount`: dag runs of a dag, filtered.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DrFilter {
    /// The dag's id.
    pub dag_id: String,
    /// Only runs at these logical dates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_dates: Option<Vec<String>>,
    /// Only these runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_ids: Option<Vec<String>>,
    /// Only in these states.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<String>>,
}

/// `GetPreviousDagRun`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetPreviousDagRun {
    /// The dag's id.
    pub dag_id: String,
    /// The logical date (none for a run without one).
    pub logical_date: String,
    /// The state, as Airflow names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// `SetRenderedFields`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetRenderedFields {
    /// The field values, by name.
    pub rendered_fields: serde_json::Map<String, serde_json::Value>,
}

/// `SetRenderedMapIndex`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetRenderedMapIndex {
    /// The label shown for this map index.
    pub rendered_map_index: String,
}

/// `GetAssetByName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetAssetByName {
    /// The name.
    pub name: String,
}

/// `GetAssetByUri`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetAssetByUri {
    /// The URI.
    pub uri: String,
}

/// `GetAssetEventByAsset` (`name` and `uri` are required, either may be nil).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetAssetEventByAsset {
    /// The name.
    pub name: Option<String>,
    /// The URI.
    pub uri: Option<String>,
    /// Only events after this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Only events before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// At most this many events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Oldest first.
    pub ascending: bool,
}

/// `MaskSecret`: the supervisor redacts `value` from the task log from now on (with a `name`,
/// only when Airflow deems that name sensitive).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaskSecret {
    /// The value.
    pub value: serde_json::Value,
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `SetExecutionTimeout` (schema 2026-10-30 only): the task's `execution_timeout`, sent before
/// the task function runs, so that the supervisor also enforces it from outside the process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetExecutionTimeout {
    /// Positive: the schema refuses 0.
    pub timeout_seconds: f64,
}

/// `DeferTask` (strict: no unknown keys): hand the task to a trigger in the triggerer; the task
/// is started again in `next_method` when the trigger fires.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeferTask {
    /// The trigger's Python class path.
    pub classpath: String,
    /// The trigger's constructor arguments, in `airflow.sdk.serde`'s encoding.
    pub trigger_kwargs: serde_json::Map<String, serde_json::Value>,
    /// How long the trigger may take before the task fails, as an ISO 8601 duration
    /// ([`iso_duration`]; `None`: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_timeout: Option<String>,
    /// The method the task resumes in.
    pub next_method: String,
    /// What the resumed method gets besides the event.
    pub next_kwargs: serde_json::Map<String, serde_json::Value>,
    /// The label set with `SetRenderedMapIndex`, kept while the task waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_map_index: Option<String>,
}

/// `AwaitInputTask` (strict): park the task in `awaiting_input` until a person answers its
/// human-in-the-loop request (or the timeout takes the defaults); no trigger is involved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwaitInputTask {
    /// How long to wait for an answer, as an ISO 8601 duration ([`iso_duration`]; `None`: no
    /// limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// The method the task resumes in.
    pub next_method: String,
    /// What the resumed method gets besides the answer.
    pub next_kwargs: serde_json::Map<String, serde_json::Value>,
    /// The label set with `SetRenderedMapIndex`, kept while the task waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_map_index: Option<String>,
}

/// `RescheduleTask` (strict): end this try `up_for_reschedule`, to be run again at
/// `reschedule_date` (a sensor in reschedule mode).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RescheduleTask {
    /// When to run the task again (RFC 3339 with an offset).
    pub reschedule_date: String,
    /// When this try ended (RFC 3339 with an offset).
    pub end_date: String,
}

/// `GetTaskRescheduleStartDate`: when the first try of this task instance started, counted
/// across reschedules (a reschedule sensor's timeout runs from there).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetTaskRescheduleStartDate {
    /// The task instance.
    pub ti_id: String,
    /// The try whose reschedules count (the current one).
    pub try_number: i64,
}

/// One serialized Dag of a parse result (`LazyDeserializedDAG`).
///
/// `D` is the dag in Airflow's `DagSerialization` shape: any `Serialize` type, so a runtime can
/// stream its own declarations straight into the frame instead of building a JSON tree first
/// (by default, a JSON value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SerializedDag<D = serde_json::Value> {
    /// The dag as `DagSerialization` reads it (`{"__version": 3, "dag": {...}}`).
    pub data: D,
}

/// `DagFileParsingResult`: the answer to a `DagFileParseRequest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DagFileParsingResult<D = serde_json::Value> {
    /// The file that was parsed.
    pub fileloc: String,
    /// Never null: the Dag processor refuses it.
    pub serialized_dags: Vec<SerializedDag<D>>,
    /// Errors by file, for a file that could not be parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_errors: Option<BTreeMap<String, String>>,
}

/// How a stub task's arguments bind to a handler's params.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HandlerBinding {
    /// By position.
    Positional,
    /// By name, in any order (ignoring case and underscores unless a param sets `exact_name`).
    Named,
}

/// `TaskHandlerParam`: one parameter of a task handler.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskHandlerParam {
    /// Its name (`null` for a positional parameter the SDK has no name for).
    pub name: Option<String>,
    /// The JSON Schema of the values it accepts, in the vocabulary `@task.stub` derives from
    /// Python annotations (`null` when it cannot be stated).
    pub value_schema: Option<serde_json::Value>,
    /// Whether the name must match exactly (otherwise case and underscores are ignored).
    pub exact_name: bool,
}

/// `TaskHandlerDeclaration`: one task handler the bundle registers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskHandlerDeclaration {
    /// The task id it handles.
    pub task_id: String,
    /// How the stub's arguments bind to `params`.
    pub binding: HandlerBinding,
    /// Its parameters in order (`[]` when it has none); `None` (sent as `null`) when they
    /// cannot be listed, so only the handler's presence is checked.
    pub params: Option<Vec<TaskHandlerParam>>,
}

/// `TaskHandlerParsingResult`: the answer to a `TaskHandlerParseRequest`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TaskHandlerParsingResult {
    /// The file that was asked.
    pub fileloc: String,
    /// The declarations by dag id, each list in registration order; `{}` when empty, never null.
    pub task_handlers: BTreeMap<String, Vec<TaskHandlerDeclaration>>,
}

// ---------------------------------------------------------------------------------------------
// The asset state store and asset aliases (both directions; the same shapes in 2026-06-16 and
// 2026-10-30, checked against both schemas).

/// `GetAssetStateStoreByName`, `DeleteAssetStateStoreByName`: one key of an asset's state store,
/// the asset named by its name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetStateKeyByName {
    /// The asset's name.
    pub name: String,
    /// The key.
    pub key: String,
}

/// `GetAssetStateStoreByUri`, `DeleteAssetStateStoreByUri`: one key, the asset named by URI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetStateKeyByUri {
    /// The asset's URI.
    pub uri: String,
    /// The key.
    pub key: String,
}

/// `SetAssetStateStoreByName` (the API server refuses a null value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetAssetStateStoreByName {
    /// The asset's name.
    pub name: String,
    /// The key.
    pub key: String,
    /// The value (JSON, not null).
    pub value: serde_json::Value,
}

/// `SetAssetStateStoreByUri` (the API server refuses a null value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetAssetStateStoreByUri {
    /// The asset's URI.
    pub uri: String,
    /// The key.
    pub key: String,
    /// The value (JSON, not null).
    pub value: serde_json::Value,
}

/// `GetAssetsByAlias`: the assets an alias resolved to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetAssetsByAlias {
    /// The alias's name.
    pub alias_name: String,
}

/// `GetAssetEventByAssetAlias`: the events emitted through an alias.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GetAssetEventByAssetAlias {
    /// The alias's name.
    pub alias_name: String,
    /// Only events after this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Only events before this time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// At most this many events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Oldest first.
    pub ascending: bool,
}

/// `AssetStateStoreResult`: the reply to `GetAssetStateStoreBy*`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AssetStateStoreResult {
    /// The stored value.
    #[serde(default)]
    pub value: Json,
}

/// `AssetsByAliasResult`: the reply to `GetAssetsByAlias`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct AssetsByAliasResult {
    /// The assets.
    #[serde(default)]
    pub assets: Vec<AssetResult>,
}

/// Every body this runtime sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ToSupervisor<D = serde_json::Value> {
    /// `SucceedTask`: the task succeeded (terminal).
    SucceedTask(SucceedTask),
    /// `RetryTask`: the try failed and is retried (terminal).
    RetryTask(RetryTask),
    /// `TaskState`: the task failed or was skipped (terminal).
    TaskState(TaskStateMsg),
    /// `SetXCom`: pushes an XCom.
    SetXCom(SetXCom),
    /// `DeleteXCom`: deletes an XCom of this task instance.
    DeleteXCom(DeleteXCom),
    /// `GetXCom`: pulls an XCom.
    GetXCom(GetXCom),
    /// `GetVariable`: reads a Variable.
    GetVariable(GetVariable),
    /// `GetConnection`: reads a Connection.
    GetConnection(GetConnection),
    /// `DagFileParsingResult`: the answer to `DagFileParseRequest`.
    DagFileParsingResult(DagFileParsingResult<D>),
    /// `TaskHandlerParsingResult`: the answer to `TaskHandlerParseRequest`.
    TaskHandlerParsingResult(TaskHandlerParsingResult),
    /// `GetXComCount`: counts an XCom's values.
    GetXComCount(GetXComCount),
    /// `GetXComSequenceSlice`: reads all values of a mapped task's XCom.
    GetXComSequenceSlice(GetXComSequenceSlice),
    /// `PutVariable`: writes a Variable.
    PutVariable(PutVariable),
    /// `DeleteVariable`: deletes a Variable.
    DeleteVariable(DeleteVariable),
    /// `GetTaskStateStore`: reads a key of the task state store.
    GetTaskStateStore(TaskStateKey),
    /// `SetTaskStateStore`: writes a key of the task state store.
    SetTaskStateStore(SetTaskStateStore),
    /// `DeleteTaskStateStore`: deletes a key of the task state store.
    DeleteTaskStateStore(TaskStateKey),
    /// `ClearTaskStateStore`: clears the task state store.
    ClearTaskStateStore(TiOnly),
    /// `SkipDownstreamTasks`: marks downstream tasks skipped.
    SkipDownstreamTasks(SkipDownstreamTasks),
    /// `TriggerDagRun`: triggers a dag run.
    TriggerDagRun(TriggerDagRun),
    /// `GetDagRunState`: reads a dag run's state.
    GetDagRunState(DagRunKey),
    /// `GetTICount`: counts task instances.
    GetTICount(TiFilter),
    /// `GetDRCount`: counts dag runs.
    GetDRCount(DrFilter),
    /// `GetTaskStates`: reads task instances' states.
    GetTaskStates(TiFilter),
    /// `GetPreviousDagRun`: reads the dag run before a date.
    GetPreviousDagRun(GetPreviousDagRun),
    /// `GetPrevSuccessfulDagRun`: reads the previous successful run of this dag.
    GetPrevSuccessfulDagRun(TiOnly),
    /// `SetRenderedFields`: sets the rendered fields.
    SetRenderedFields(SetRenderedFields),
    /// `SetRenderedMapIndex`: sets the rendered map index.
    SetRenderedMapIndex(SetRenderedMapIndex),
    /// `GetAssetByName`: reads an asset by name.
    GetAssetByName(GetAssetByName),
    /// `GetAssetByUri`: reads an asset by URI.
    GetAssetByUri(GetAssetByUri),
    /// `GetAssetEventByAsset`: reads an asset's events.
    GetAssetEventByAsset(GetAssetEventByAsset),
    /// `MaskSecret`: registers a secret to mask in the task log.
    MaskSecret(MaskSecret),
    /// `SetExecutionTimeout`: the task's execution timeout (schema 2026-10-30 only).
    SetExecutionTimeout(SetExecutionTimeout),
    /// `GetAssetStateStoreByName`: reads a key of an asset's state store.
    GetAssetStateStoreByName(AssetStateKeyByName),
    /// `GetAssetStateStoreByUri`: the same, the asset named by URI.
    GetAssetStateStoreByUri(AssetStateKeyByUri),
    /// `SetAssetStateStoreByName`: writes a key of an asset's state store.
    SetAssetStateStoreByName(SetAssetStateStoreByName),
    /// `SetAssetStateStoreByUri`: the same, the asset named by URI.
    SetAssetStateStoreByUri(SetAssetStateStoreByUri),
    /// `DeleteAssetStateStoreByName`: deletes a key of an asset's state store.
    DeleteAssetStateStoreByName(AssetStateKeyByName),
    /// `DeleteAssetStateStoreByUri`: the same, the asset named by URI.
    DeleteAssetStateStoreByUri(AssetStateKeyByUri),
    /// `ClearAssetStateStoreByName`: deletes every key of an asset's state store.
    ClearAssetStateStoreByName(GetAssetByName),
    /// `ClearAssetStateStoreByUri`: the same, the asset named by URI.
    ClearAssetStateStoreByUri(GetAssetByUri),
    /// `GetAssetsByAlias`: the assets an alias resolved to.
    GetAssetsByAlias(GetAssetsByAlias),
    /// `GetAssetEventByAssetAlias`: the events emitted through an alias.
    GetAssetEventByAssetAlias(GetAssetEventByAssetAlias),
    /// `DeferTask`: hand the task to a trigger (terminal for this try).
    DeferTask(DeferTask),
    /// `AwaitInputTask`: wait for a person's answer (terminal for this try).
    AwaitInputTask(AwaitInputTask),
    /// `RescheduleTask`: run again later (terminal for this try).
    RescheduleTask(RescheduleTask),
    /// `GetTaskRescheduleStartDate`: when the first try started.
    GetTaskRescheduleStartDate(GetTaskRescheduleStartDate),
    /// `CreateHITLDetailPayload`: write a human-in-the-loop request.
    CreateHITLDetailPayload(HITLDetailRequest),
}

impl<D: Serialize> ToSupervisor<D> {
    /// The request frame's payload, `[id, body]`, with the body a msgpack map (`type` first).
    /// Structs must be written as maps (`to_vec_named`): the supervisor refuses arrays.
    ///
    /// # Panics
    ///
    /// If `D`'s `Serialize` fails, which the JSON values and plain structs sent here never do.
    pub fn encode_request(&self, id: i64) -> Vec<u8> {
        // Every field is a string, integer, list or JSON value: serializing cannot fail.
        rmp_serde::to_vec_named(&(id, self)).expect("protocol messages always serialize")
    }

    /// The body as a msgpack value, as it goes on the wire.
    ///
    /// # Panics
    ///
    /// As [`encode_request`](Self::encode_request); decoding what it wrote cannot fail.
    pub fn to_value(&self) -> Value {
        let bytes = self.encode_request(0);
        let frame = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        frame.as_array().unwrap()[1].clone()
    }
}

impl<D> ToSupervisor<D> {
    /// `SetXCom` from this task instance.
    pub fn set_xcom(ti: &TaskInstance, key: &str, value: serde_json::Value) -> Self {
        ToSupervisor::SetXCom(SetXCom {
            key: key.to_owned(),
            value,
            dag_id: ti.dag_id.clone(),
            run_id: ti.run_id.clone(),
            task_id: ti.task_id.clone(),
            map_index: ti.map_index().unwrap_or(-1),
            mapped_length: None,
        })
    }

    /// `DeleteXCom` of this task instance's XCom `key`.
    pub fn delete_xcom(ti: &TaskInstance, key: &str) -> Self {
        ToSupervisor::DeleteXCom(DeleteXCom {
            key: key.to_owned(),
            dag_id: ti.dag_id.clone(),
            run_id: ti.run_id.clone(),
            task_id: ti.task_id.clone(),
            map_index: ti.map_index().unwrap_or(-1),
        })
    }

    /// `GetXCom` of `task_id`'s XCom `key` in this dag run.
    pub fn get_xcom(ti: &TaskInstance, task_id: &str, key: &str) -> Self {
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
    pub fn get_variable(key: &str) -> Self {
        ToSupervisor::GetVariable(GetVariable {
            key: key.to_owned(),
        })
    }

    /// `GetConnection`.
    pub fn get_connection(conn_id: &str) -> Self {
        ToSupervisor::GetConnection(GetConnection {
            conn_id: conn_id.to_owned(),
        })
    }
}

/// The terminal messages the runtime can send.
#[derive(Debug, Clone, PartialEq)]
pub enum Terminal {
    /// `SucceedTask`.
    Success,
    /// `RetryTask`, with a reason.
    Retry(String),
    /// `RetryTask`, with a reason and the delay the task chose.
    RetryAfter(String, std::time::Duration),
    /// `TaskState{failed}`.
    Failed,
    /// `TaskState{skipped}`.
    Skipped,
    /// `TaskState{removed}`.
    Removed,
    /// `DeferTask`: the task waits in `deferred` for its trigger.
    Deferred(Box<DeferTask>),
    /// `AwaitInputTask`: the task waits in `awaiting_input` for a person.
    AwaitingInput(Box<AwaitInputTask>),
    /// `RescheduleTask`: the task runs again at this time (RFC 3339 with an offset).
    Rescheduled(String),
}

impl Terminal {
    /// The state name, for messages.
    pub fn state(&self) -> &'static str {
        match self {
            Terminal::Success => "success",
            Terminal::Retry(_) | Terminal::RetryAfter(..) => "up_for_retry",
            Terminal::Failed => "failed",
            Terminal::Skipped => "skipped",
            Terminal::Removed => "removed",
            Terminal::Deferred(_) => "deferred",
            Terminal::AwaitingInput(_) => "awaiting_input",
            Terminal::Rescheduled(_) => "up_for_reschedule",
        }
    }

    /// The message, ended at `end_date` (RFC 3339 with an offset).
    pub fn message<D>(&self, end_date: String) -> ToSupervisor<D> {
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
                retry_delay_seconds: None,
            }),
            Terminal::RetryAfter(reason, delay) => ToSupervisor::RetryTask(RetryTask {
                end_date,
                retry_reason: reason.clone(),
                retry_delay_seconds: Some(delay.as_secs_f64()),
            }),
            Terminal::Failed | Terminal::Skipped | Terminal::Removed => {
                ToSupervisor::TaskState(TaskStateMsg {
                    state: self.state(),
                    end_date,
                    retry_reason: None,
                })
            }
            Terminal::Deferred(defer) => ToSupervisor::DeferTask((**defer).clone()),
            Terminal::AwaitingInput(wait) => ToSupervisor::AwaitInputTask((**wait).clone()),
            Terminal::Rescheduled(at) => ToSupervisor::RescheduleTask(RescheduleTask {
                reschedule_date: at.clone(),
                end_date,
            }),
        }
    }
}

/// The supervisor's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
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
///
/// # Errors
///
/// A description of the problem when the frame is not `[id, body|nil, error|nil]` or the body or
/// error does not decode.
pub fn decode_response(frame: Value) -> Result<(i64, Reply), String> {
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
    use crate::versions::SchemaVersion;

    /// Messages without a parse result's dags, whose type the tests need not name.
    type ToSupervisor = super::ToSupervisor<serde_json::Value>;

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
        let frame = crate::frame::decode_payload(payload).unwrap();
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
    fn arg_bindings_decode_as_the_derived_internally_tagged_enum_would() {
        /// What `ArgBinding` derived before its decoder was written by hand.
        #[derive(Debug, Deserialize)]
        #[serde(tag = "kind")]
        enum Derived {
            #[serde(rename = "xcom")]
            XCom { name: String, task_id: String },
            #[serde(rename = "literal")]
            Literal {
                name: String,
                #[serde(default)]
                value: Json,
                #[serde(default)]
                from_default: bool,
            },
        }
        let cases = [
            vec![
                ("kind", Value::from("xcom")),
                ("name", Value::from("a")),
                ("task_id", Value::from("t")),
            ],
            vec![
                ("name", Value::from("a")),
                ("kind", Value::from("literal")),
                ("value", Value::from(3)),
            ],
            vec![
                ("kind", Value::from("literal")),
                ("name", Value::from("a")),
                ("from_default", Value::from(true)),
            ],
            vec![
                ("kind", Value::from("literal")),
                ("name", Value::from("a")),
                ("value", Value::Nil),
                ("extra", Value::from(1)),
            ],
            vec![("kind", Value::from("xcom")), ("name", Value::from("a"))],
            vec![("kind", Value::from("xcom")), ("task_id", Value::from("t"))],
            vec![("kind", Value::from("nope")), ("name", Value::from("a"))],
            vec![("name", Value::from("a"))],
            vec![("kind", Value::from(1)), ("name", Value::from("a"))],
            vec![("kind", Value::from(7)), ("name", Value::from("a"))],
            vec![
                ("kind", Value::Binary(b"xcom".to_vec())),
                ("name", Value::from("a")),
                ("task_id", Value::from("t")),
            ],
            vec![("kind", Value::Nil), ("name", Value::from("a"))],
        ];
        impl From<Derived> for ArgBinding {
            fn from(d: Derived) -> Self {
                match d {
                    Derived::XCom { name, task_id } => ArgBinding::XCom { name, task_id },
                    Derived::Literal {
                        name,
                        value,
                        from_default,
                    } => ArgBinding::Literal {
                        name,
                        value,
                        from_default,
                    },
                }
            }
        }
        /// A message holding the list, tagged as `ToTask` is: decoded through serde's buffered
        /// content, as the supervisor's bindings are.
        #[derive(Deserialize)]
        #[serde(tag = "type")]
        enum Tagged<T> {
            Body { list: Vec<T> },
        }
        fn decode<T: de::DeserializeOwned + Into<ArgBinding>>(
            list: &Value,
            tagged: bool,
        ) -> Result<String, String> {
            let list: Vec<T> = if tagged {
                let body = m(vec![("type", Value::from("Body")), ("list", list.clone())]);
                rmpv::ext::from_value::<Tagged<T>>(body).map(|Tagged::Body { list }| list)
            } else {
                rmpv::ext::from_value(list.clone())
            }
            .map_err(|e| e.to_string())?;
            let list: Vec<ArgBinding> = list.into_iter().map(Into::into).collect();
            Ok(format!("{list:?}"))
        }
        for case in cases {
            let list = Value::Array(vec![m(case.clone())]);
            for tagged in [true, false] {
                assert_eq!(
                    decode::<ArgBinding>(&list, tagged),
                    decode::<Derived>(&list, tagged),
                    "{case:?}, tagged: {tagged}"
                );
            }
        }
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
        let succeed = Terminal::Success
            .message::<serde_json::Value>(now())
            .to_value();
        assert_eq!(
            keys(&succeed),
            ["type", "end_date", "task_outlets", "outlet_events"]
        );
        assert_eq!(get(&succeed, "task_outlets"), &Value::Array(vec![]));
        assert_eq!(get(&succeed, "outlet_events"), &Value::Array(vec![]));
        assert_eq!(get(&succeed, "type").as_str(), Some("SucceedTask"));
        ends_with_z(&succeed);
        let retry = Terminal::Retry("boom".into())
            .message::<serde_json::Value>(now())
            .to_value();
        assert_eq!(keys(&retry), ["type", "end_date", "retry_reason"]);
        assert_eq!(get(&retry, "type").as_str(), Some("RetryTask"));
        ends_with_z(&retry);
        let later =
            Terminal::RetryAfter("slow down".into(), std::time::Duration::from_millis(7250))
                .message::<serde_json::Value>(now())
                .to_value();
        assert_eq!(
            keys(&later),
            ["type", "end_date", "retry_reason", "retry_delay_seconds"]
        );
        assert_eq!(get(&later, "retry_delay_seconds").as_f64(), Some(7.25));
        for (t, state) in [
            (Terminal::Failed, "failed"),
            (Terminal::Skipped, "skipped"),
            (Terminal::Removed, "removed"),
        ] {
            let b = t.message::<serde_json::Value>(now()).to_value();
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
