//! The bodies exchanged with the supervisor: decoding `StartupDetails` and responses, building
//! requests. Field names follow `airflow.sdk.execution_time.comms` in apache-airflow-task-sdk
//! 1.3.2; everything is decoded by name and unknown keys are ignored.

use rmpv::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::frame::kind;

/// The msgpack extension type of a timestamp.
const TIMESTAMP_EXT: i8 = -1;

/// The task instance, as `StartupDetails.ti` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskInstance {
    pub(crate) id: String,
    pub(crate) dag_id: String,
    pub(crate) task_id: String,
    pub(crate) run_id: String,
    pub(crate) try_number: i64,
    /// `None` when unmapped (`-1` or nil on the wire).
    pub(crate) map_index: Option<i64>,
}

/// `StartupDetails.ti_context.dag_run`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct DagRun {
    pub(crate) logical_date: Option<OffsetDateTime>,
    pub(crate) data_interval_start: Option<OffsetDateTime>,
    pub(crate) data_interval_end: Option<OffsetDateTime>,
    pub(crate) run_after: Option<OffsetDateTime>,
    pub(crate) start_date: Option<OffsetDateTime>,
    pub(crate) run_type: String,
    pub(crate) conf: serde_json::Value,
}

/// The first frame the supervisor sends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StartupDetails {
    pub(crate) ti: TaskInstance,
    pub(crate) start_date: Option<OffsetDateTime>,
    pub(crate) dag_rel_path: String,
    pub(crate) dag_run: DagRun,
    pub(crate) should_retry: bool,
    pub(crate) max_tries: i64,
    /// XCom keys of this task instance to delete before the task runs (left by an earlier try).
    pub(crate) xcom_keys_to_clear: Vec<String>,
}

/// Looks a string key up in a msgpack map (a message or result body); `None` when missing or
/// nil.
pub(crate) fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_nil())
}

fn req_map<'a>(v: &'a Value, what: &str) -> Result<&'a Value, String> {
    if v.is_map() {
        Ok(v)
    } else {
        Err(format!("{what} is {}, expected a map", kind(v)))
    }
}

fn req_str(map: &Value, key: &str, what: &str) -> Result<String, String> {
    match field(map, key) {
        Some(Value::String(s)) => s
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{what}.{key} is not valid UTF-8")),
        Some(v) => Err(format!("{what}.{key} is {}, expected a string", kind(v))),
        None => Err(format!("{what}.{key} is missing")),
    }
}

/// A string field of a msgpack map; `None` when missing, nil or not a string.
pub(crate) fn field_str(map: &Value, key: &str) -> Option<String> {
    field(map, key).and_then(Value::as_str).map(str::to_owned)
}

fn opt_int(map: &Value, key: &str, what: &str) -> Result<Option<i64>, String> {
    match field(map, key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{what}.{key} is {}, expected an integer", kind(v))),
    }
}

fn opt_time(map: &Value, key: &str, what: &str) -> Result<Option<OffsetDateTime>, String> {
    field(map, key)
        .map(|v| decode_time(v).map_err(|e| format!("{what}.{key}: {e}")))
        .transpose()
}

/// Decodes a datetime: a msgpack timestamp extension (type -1, in its 4-, 8- or 12-byte form)
/// or an RFC 3339 string.
pub(crate) fn decode_time(v: &Value) -> Result<OffsetDateTime, String> {
    let (secs, nanos): (i64, u32) = match v {
        Value::Ext(TIMESTAMP_EXT, data) => match data.len() {
            4 => (
                i64::from(u32::from_be_bytes(data[..].try_into().unwrap())),
                0,
            ),
            8 => {
                let x = u64::from_be_bytes(data[..].try_into().unwrap());
                ((x & ((1 << 34) - 1)) as i64, (x >> 34) as u32)
            }
            12 => (
                i64::from_be_bytes(data[4..].try_into().unwrap()),
                u32::from_be_bytes(data[..4].try_into().unwrap()),
            ),
            n => return Err(format!("a timestamp extension of {n} bytes")),
        },
        Value::String(s) => {
            let s = s.as_str().ok_or("a datetime string that is not UTF-8")?;
            return OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|e| format!("{s:?} is not an RFC 3339 datetime: {e}"));
        }
        other => return Err(format!("{} where a datetime was expected", kind(other))),
    };
    if nanos >= 1_000_000_000 {
        return Err(format!("a timestamp with {nanos} nanoseconds"));
    }
    OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t + time::Duration::nanoseconds(i64::from(nanos)))
        .map_err(|e| format!("timestamp out of range: {e}"))
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

impl StartupDetails {
    /// Decodes the body of the supervisor's first frame.
    pub(crate) fn decode(body: &Value) -> Result<StartupDetails, String> {
        let body = req_map(body, "the StartupDetails body")?;
        match field(body, "type").and_then(Value::as_str) {
            Some("StartupDetails") => {}
            Some(other) => return Err(format!("expected StartupDetails, got a {other:?} message")),
            None => return Err("the first message has no string \"type\"".into()),
        }
        let ti = req_map(
            field(body, "ti").unwrap_or(&Value::Nil),
            "StartupDetails.ti",
        )?;
        let w = "ti";
        let ti = TaskInstance {
            id: req_str(ti, "id", w)?,
            dag_id: req_str(ti, "dag_id", w)?,
            task_id: req_str(ti, "task_id", w)?,
            run_id: req_str(ti, "run_id", w)?,
            try_number: opt_int(ti, "try_number", w)?.unwrap_or(1),
            map_index: opt_int(ti, "map_index", w)?.filter(|&i| i >= 0),
        };
        let empty = Value::Map(Vec::new());
        let ctx = field(body, "ti_context").unwrap_or(&empty);
        let ctx = req_map(ctx, "StartupDetails.ti_context")?;
        let run = field(ctx, "dag_run").unwrap_or(&empty);
        let run = req_map(run, "ti_context.dag_run")?;
        let w = "dag_run";
        let dag_run = DagRun {
            logical_date: opt_time(run, "logical_date", w)?,
            data_interval_start: opt_time(run, "data_interval_start", w)?,
            data_interval_end: opt_time(run, "data_interval_end", w)?,
            run_after: opt_time(run, "run_after", w)?,
            start_date: opt_time(run, "start_date", w)?,
            run_type: field_str(run, "run_type").unwrap_or_default(),
            conf: field(run, "conf")
                .map(to_json)
                .unwrap_or(serde_json::Value::Null),
        };
        let should_retry = match field(ctx, "should_retry") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(v) => {
                return Err(format!(
                    "ti_context.should_retry is {}, expected a boolean",
                    kind(v)
                ));
            }
        };
        Ok(StartupDetails {
            ti,
            start_date: opt_time(body, "start_date", "StartupDetails")?,
            dag_rel_path: field_str(body, "dag_rel_path").unwrap_or_default(),
            dag_run,
            should_retry,
            max_tries: opt_int(ctx, "max_tries", "ti_context")?.unwrap_or(0),
            xcom_keys_to_clear: match field(ctx, "xcom_keys_to_clear") {
                None => Vec::new(),
                Some(Value::Array(keys)) => keys
                    .iter()
                    .map(|k| {
                        k.as_str().map(str::to_owned).ok_or_else(|| {
                            format!(
                                "ti_context.xcom_keys_to_clear holds {}, expected strings",
                                kind(k)
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
                Some(v) => {
                    return Err(format!(
                        "ti_context.xcom_keys_to_clear is {}, expected an array",
                        kind(v)
                    ));
                }
            },
        })
    }
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
        Value::Ext(..) => match decode_time(v) {
            Ok(t) => J::String(format_time(t)),
            Err(_) => J::Null,
        },
    }
}

/// Converts JSON to a msgpack value.
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

/// A request body: a map with `type` first.
fn body(kind: &str, fields: Vec<(&str, Value)>) -> Value {
    let mut map = vec![(Value::from("type"), Value::from(kind))];
    map.extend(fields.into_iter().map(|(k, v)| (Value::from(k), v)));
    Value::Map(map)
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

    /// The request body, ended at `end_date` (RFC 3339 with an offset).
    pub(crate) fn body(&self, end_date: &str) -> Value {
        let end = ("end_date", Value::from(end_date));
        match self {
            // The 3.3.2 API server requires both lists (422 on null, which is what the supervisor
            // sends for a missing key), although the task SDK's schema allows null.
            Terminal::Success => body(
                "SucceedTask",
                vec![
                    end,
                    ("task_outlets", Value::Array(Vec::new())),
                    ("outlet_events", Value::Array(Vec::new())),
                ],
            ),
            Terminal::Retry(reason) => body(
                "RetryTask",
                vec![end, ("retry_reason", Value::from(reason.as_str()))],
            ),
            Terminal::Failed | Terminal::Skipped => {
                body("TaskState", vec![("state", Value::from(self.state())), end])
            }
        }
    }
}

/// `SetXCom`.
pub(crate) fn set_xcom(ti: &TaskInstance, key: &str, value: Value) -> Value {
    body(
        "SetXCom",
        vec![
            ("key", Value::from(key)),
            ("value", value),
            ("dag_id", Value::from(ti.dag_id.as_str())),
            ("run_id", Value::from(ti.run_id.as_str())),
            ("task_id", Value::from(ti.task_id.as_str())),
            ("map_index", Value::from(ti.map_index.unwrap_or(-1))),
        ],
    )
}

/// `DeleteXCom` of one of this task instance's XComs.
pub(crate) fn delete_xcom(ti: &TaskInstance, key: &str) -> Value {
    body(
        "DeleteXCom",
        vec![
            ("key", Value::from(key)),
            ("dag_id", Value::from(ti.dag_id.as_str())),
            ("run_id", Value::from(ti.run_id.as_str())),
            ("task_id", Value::from(ti.task_id.as_str())),
            ("map_index", Value::from(ti.map_index.unwrap_or(-1))),
        ],
    )
}

/// `GetXCom` for an unmapped upstream task (or every map index: the supervisor's default).
pub(crate) fn get_xcom(dag_id: &str, run_id: &str, task_id: &str, key: &str) -> Value {
    body(
        "GetXCom",
        vec![
            ("key", Value::from(key)),
            ("dag_id", Value::from(dag_id)),
            ("run_id", Value::from(run_id)),
            ("task_id", Value::from(task_id)),
        ],
    )
}

/// `GetVariable`.
pub(crate) fn get_variable(key: &str) -> Value {
    body("GetVariable", vec![("key", Value::from(key))])
}

/// `GetConnection`.
pub(crate) fn get_connection(conn_id: &str) -> Value {
    body("GetConnection", vec![("conn_id", Value::from(conn_id))])
}

/// The supervisor's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// An empty body: the request was accepted.
    Ack,
    /// A result body with this `type`.
    Body { kind: String, body: Value },
    /// An `ErrorResponse` body (not found, permission denied, ...).
    ErrorBody {
        error: String,
        detail: serde_json::Value,
    },
    /// The error element: the API call failed.
    Failure {
        error: String,
        detail: serde_json::Value,
    },
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
        let (error, detail) = error_parts(&error);
        return Ok((id, Reply::Failure { error, detail }));
    }
    if body.is_nil() {
        return Ok((id, Reply::Ack));
    }
    let kind = match field(&body, "type").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        None => {
            return Err(format!(
                "a response body ({}) without a \"type\"",
                kind(&body)
            ));
        }
    };
    if kind == "ErrorResponse" {
        let (error, detail) = error_parts(&body);
        return Ok((id, Reply::ErrorBody { error, detail }));
    }
    Ok((id, Reply::Body { kind, body }))
}

fn error_parts(v: &Value) -> (String, serde_json::Value) {
    let error = field_str(v, "error").unwrap_or_else(|| "GENERIC_ERROR".to_owned());
    let detail = field(v, "detail").map(to_json).unwrap_or_else(|| {
        if v.is_map() {
            serde_json::Value::Null
        } else {
            to_json(v)
        }
    });
    (error, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn decodes_a_captured_startup_details() {
        let frame = crate::runtime::frame::decode_payload(&captured_startup()).unwrap();
        let items = frame.as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_i64(), Some(0));
        let sd = StartupDetails::decode(&items[1]).unwrap();
        assert_eq!(sd.ti.id, "0199a5b2-1c2d-7e3f-8a9b-0c1d2e3f4a5b");
        assert_eq!(sd.ti.dag_id, "example_etl");
        assert_eq!(sd.ti.task_id, "extract");
        assert_eq!(sd.ti.run_id, "manual__2026-11-22T00:00:00+00:00");
        assert_eq!(sd.ti.try_number, 2);
        assert_eq!(sd.ti.map_index, None);
        assert_eq!(sd.dag_rel_path, "stub_dag.py");
        assert!(sd.should_retry);
        assert_eq!(sd.max_tries, 3);
        assert!(sd.xcom_keys_to_clear.is_empty());
        let r = &sd.dag_run;
        assert_eq!(r.run_type, "manual");
        assert_eq!(
            r.conf,
            serde_json::json!({"fail": true, "rows": [1, -128, 1.5]})
        );
        let t = |v: Option<OffsetDateTime>| v.map(format_time);
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
        assert_eq!(sd.start_date, Some(want));
        assert_eq!(want.year(), 2026);
    }

    #[test]
    fn startup_details_errors_name_the_field() {
        let bad = body("StartupDetails", vec![("ti", Value::Map(vec![]))]);
        let err = StartupDetails::decode(&bad).unwrap_err();
        assert!(err.contains("ti.id is missing"), "{err}");
        let other = body("VariableResult", vec![]);
        assert!(
            StartupDetails::decode(&other)
                .unwrap_err()
                .contains("VariableResult")
        );
        let bad_ts = Value::Ext(-1, vec![1, 2, 3]);
        assert!(decode_time(&bad_ts).unwrap_err().contains("3 bytes"));
        let bad_ns = Value::Ext(-1, ((1_000_000_005u64 << 34) | 5).to_be_bytes().to_vec());
        assert!(decode_time(&bad_ns).is_err());
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect()
    }

    fn ends_with_z(v: &Value) {
        let end = field(v, "end_date").and_then(Value::as_str).unwrap();
        assert!(end.ends_with('Z'), "{end}");
        OffsetDateTime::parse(end, &Rfc3339).unwrap();
    }

    #[test]
    fn terminal_bodies_have_exactly_the_allowed_keys() {
        let end = now();
        let succeed = Terminal::Success.body(&end);
        assert_eq!(
            keys(&succeed),
            ["type", "end_date", "task_outlets", "outlet_events"]
        );
        assert_eq!(field(&succeed, "task_outlets"), Some(&Value::Array(vec![])));
        assert_eq!(field(&succeed, "outlet_events"), Some(&Value::Array(vec![])));
        assert_eq!(field_str(&succeed, "type").unwrap(), "SucceedTask");
        ends_with_z(&succeed);
        let retry = Terminal::Retry("boom".into()).body(&end);
        assert_eq!(keys(&retry), ["type", "end_date", "retry_reason"]);
        assert_eq!(field_str(&retry, "type").unwrap(), "RetryTask");
        ends_with_z(&retry);
        for (t, state) in [
            (Terminal::Failed, "failed"),
            (Terminal::Skipped, "skipped"),
        ] {
            let b = t.body(&end);
            assert_eq!(keys(&b), ["type", "state", "end_date"]);
            assert_eq!(field_str(&b, "type").unwrap(), "TaskState");
            assert_eq!(field_str(&b, "state").unwrap(), state);
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
            map_index: None,
        };
        let x = set_xcom(&ti, "k", from_json(&serde_json::json!({"a": [1, 2]})));
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
        assert_eq!(field(&x, "map_index").unwrap().as_i64(), Some(-1));
        assert_eq!(
            to_json(field(&x, "value").unwrap()),
            serde_json::json!({"a": [1, 2]})
        );
        let g = get_xcom("d", "r", "up", "k");
        assert_eq!(keys(&g), ["type", "key", "dag_id", "run_id", "task_id"]);
        assert_eq!(
            keys(&delete_xcom(&ti, "k")),
            ["type", "key", "dag_id", "run_id", "task_id", "map_index"]
        );
        assert_eq!(keys(&get_variable("v")), ["type", "key"]);
        assert_eq!(keys(&get_connection("c")), ["type", "conn_id"]);
    }

    #[test]
    fn responses_are_classified() {
        let frame = |items: Vec<Value>| Value::Array(items);
        assert_eq!(
            decode_response(frame(vec![Value::from(3), Value::Nil, Value::Nil])).unwrap(),
            (3, Reply::Ack)
        );
        let not_found = body(
            "ErrorResponse",
            vec![
                ("error", Value::from("VARIABLE_NOT_FOUND")),
                (
                    "detail",
                    Value::Map(vec![(Value::from("key"), Value::from("x"))]),
                ),
            ],
        );
        assert_eq!(
            decode_response(frame(vec![Value::from(4), not_found.clone(), Value::Nil])).unwrap(),
            (
                4,
                Reply::ErrorBody {
                    error: "VARIABLE_NOT_FOUND".into(),
                    detail: serde_json::json!({"key": "x"})
                }
            )
        );
        let (_, failure) =
            decode_response(frame(vec![Value::from(5), Value::Nil, not_found])).unwrap();
        assert!(matches!(failure, Reply::Failure { .. }));
        assert!(decode_response(frame(vec![Value::from(1)])).is_err());
        assert!(decode_response(frame(vec![Value::from("x"), Value::Nil])).is_err());
        assert!(
            decode_response(frame(vec![Value::from(1), Value::Map(vec![]), Value::Nil])).is_err()
        );
    }
}
