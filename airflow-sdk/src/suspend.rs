//! A task that stops without ending: it defers to a trigger ([`Defer`]), waits for a person
//! (human in the loop), or asks to run again later (a reschedule sensor). Plain data: what the
//! task asks for, and what a resumed try receives ([`Resumed`]).

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::TaskError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The method name Airflow's scheduler and triggerer give a task whose trigger failed or timed
/// out: the try fails with the error they recorded.
pub(crate) const FAIL_METHOD: &str = "__fail__";

/// A Python trigger, run by Airflow's triggerer while the task is deferred: its class path and
/// constructor arguments.
///
/// Any trigger a deployment has installed can be named ([`Trigger::new`]); the standard
/// provider's time and Dag-state triggers have typed constructors.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    classpath: String,
    kwargs: Map<String, Value>,
}

impl Trigger {
    /// The trigger `classpath` (`"package.module.ClassName"`), with no arguments yet.
    pub fn new(classpath: impl Into<String>) -> Self {
        Trigger {
            classpath: classpath.into(),
            kwargs: Map::new(),
        }
    }

    /// Adds the constructor argument `name`. Values are plain JSON; for a Python `datetime` or
    /// `timedelta` argument use [`Trigger::datetime_value`] or [`Trigger::timedelta_value`].
    #[must_use]
    pub fn arg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.kwargs.insert(name.into(), value.into());
        self
    }

    /// The standard provider's `DateTimeTrigger`: fires at `moment`. The event the task resumes
    /// with is the moment, as an RFC 3339 string.
    pub fn date_time(moment: OffsetDateTime) -> Self {
        Trigger::new("airflow.providers.standard.triggers.temporal.DateTimeTrigger")
            .arg("moment", Self::datetime_value(moment))
            .arg("end_from_trigger", false)
    }

    /// The standard provider's `TimeDeltaTrigger`: fires `delta` from now (a `DateTimeTrigger`
    /// at now + `delta`, as Python's `TimeDeltaTrigger` serializes itself).
    pub fn time_delta(delta: Duration) -> Self {
        Self::date_time(from_now(delta))
    }

    /// The standard provider's `DagStateTrigger`: fires once every run of `run_ids` of `dag_id`
    /// is in one of `states` (`"success"`, `"failed"`, ...), polling every `poll_interval`. The
    /// event is `{"dag_id", "states", "run_ids", "poll_interval", <run_id>: <state>, ...}`.
    pub fn dag_state<S: AsRef<str>, R: AsRef<str>>(
        dag_id: &str,
        run_ids: impl IntoIterator<Item = R>,
        states: impl IntoIterator<Item = S>,
        poll_interval: Duration,
    ) -> Self {
        let strings = |it: Vec<String>| Value::from(it);
        Trigger::new("airflow.providers.standard.triggers.external_task.DagStateTrigger")
            .arg("dag_id", dag_id)
            .arg(
                "states",
                strings(states.into_iter().map(|s| s.as_ref().to_owned()).collect()),
            )
            .arg(
                "run_ids",
                strings(run_ids.into_iter().map(|r| r.as_ref().to_owned()).collect()),
            )
            .arg("poll_interval", poll_interval.as_secs_f64())
            .arg("execution_dates", Value::Null)
    }

    /// A Python `datetime` (aware, UTC) as a trigger argument, in `airflow.sdk.serde`'s encoding.
    pub fn datetime_value(t: OffsetDateTime) -> Value {
        let timestamp = t.unix_timestamp_nanos() as f64 / 1e9;
        json!({
            "__classname__": "pendulum.datetime.DateTime",
            "__version__": 2,
            "__data__": {
                "timestamp": timestamp,
                "tz": {
                    "__classname__": "builtins.tuple",
                    "__version__": 1,
                    "__data__": ["UTC", "pendulum.tz.timezone.Timezone", 1, true],
                },
            },
        })
    }

    /// A Python `timedelta` as a trigger argument, in `airflow.sdk.serde`'s encoding.
    pub fn timedelta_value(d: Duration) -> Value {
        json!({"__classname__": "datetime.timedelta", "__version__": 2, "__data__": d.as_secs_f64()})
    }

    /// The class path.
    pub fn classpath(&self) -> &str {
        &self.classpath
    }

    /// The constructor arguments.
    pub fn kwargs(&self) -> &Map<String, Value> {
        &self.kwargs
    }
}

/// What a deferring task asks: run `trigger` in the triggerer, and start the task again in the
/// resume handler `method` when it fires. Returned as [`TaskError::defer`](crate::TaskError::defer).
///
/// ```no_run
/// use std::time::Duration;
/// use airflow_sdk::{Defer, Resumed, TaskContext, TaskError, TaskResult, Trigger};
///
/// fn wait(_ctx: &mut TaskContext) -> TaskResult {
///     let defer = Defer::new(Trigger::time_delta(Duration::from_secs(30)), "after_wait")
///         .kwargs(serde_json::json!({"asked_at": "now"}))
///         .timeout(Duration::from_secs(600));
///     Err(TaskError::defer(defer))
/// }
///
/// fn after_wait(_ctx: &mut TaskContext, resumed: Resumed<String>) -> TaskResult<String> {
///     Ok(format!("woke at {}", resumed.event))
/// }
/// # fn main() {}
/// ```
///
/// The task is registered with its resume handler:
/// `Dag::new("d").task("wait", wait).on_resume("wait", "after_wait", after_wait)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Defer {
    pub(crate) trigger: Trigger,
    pub(crate) method: String,
    pub(crate) kwargs: Map<String, Value>,
    pub(crate) timeout: Option<Duration>,
}

impl Defer {
    /// Defers to `trigger`; the task resumes in its handler named `method`.
    pub fn new(trigger: Trigger, method: impl Into<String>) -> Self {
        Defer {
            trigger,
            method: method.into(),
            kwargs: Map::new(),
            timeout: None,
        }
    }

    /// The deferrable mode of [`TaskContext::wait_dag_run`](crate::TaskContext::wait_dag_run):
    /// the task holds no worker slot while the triggerer polls (every `poll_interval`) until run
    /// `run_id` of `dag_id` has ended, `success` or `failed`; it then resumes in `method`, whose
    /// event is a [`DagStateEvent`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use airflow_sdk::{DagStateEvent, Defer, Resumed, TaskContext, TaskError, TaskResult, TriggerOptions};
    ///
    /// fn start_report(ctx: &mut TaskContext) -> TaskResult {
    ///     let run_id = ctx.trigger_dag("report", &TriggerOptions::new())?;
    ///     let defer = Defer::dag_run_end("report", &run_id, Duration::from_secs(10), "report_done");
    ///     Err(TaskError::defer(defer.kwargs(serde_json::json!({"run_id": run_id}))))
    /// }
    ///
    /// fn report_done(
    ///     _ctx: &mut TaskContext,
    ///     resumed: Resumed<DagStateEvent, serde_json::Value>,
    /// ) -> TaskResult<String> {
    ///     let run_id = resumed.kwargs["run_id"].as_str().unwrap_or_default();
    ///     Ok(resumed.event.state(run_id).unwrap_or("unknown").to_owned())
    /// }
    /// # fn main() {}
    /// ```
    pub fn dag_run_end(
        dag_id: &str,
        run_id: &str,
        poll_interval: Duration,
        method: impl Into<String>,
    ) -> Self {
        Defer::new(
            Trigger::dag_state(dag_id, [run_id], ["success", "failed"], poll_interval),
            method,
        )
    }

    /// What the resume handler receives as [`Resumed::kwargs`]: a JSON object (anything else is
    /// kept under the key `value`). The key `event` is the trigger's: it is overwritten.
    #[must_use]
    pub fn kwargs(mut self, kwargs: Value) -> Self {
        self.kwargs = object(kwargs);
        self
    }

    /// Fails the task when the trigger has not fired within `timeout` (retried as the task
    /// declares).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The trigger.
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }

    /// The resume handler's name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// What the resume handler receives besides the event.
    pub fn next_kwargs(&self) -> &Map<String, Value> {
        &self.kwargs
    }

    /// The trigger's timeout.
    pub fn trigger_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The deferral a `DeferTask` message carries (the testing harness shows it to the test).
    #[cfg(feature = "testing")]
    pub(crate) fn from_message(m: &airflow_protocol::messages::DeferTask) -> Self {
        Defer {
            trigger: Trigger {
                classpath: m.classpath.clone(),
                kwargs: m.trigger_kwargs.clone(),
            },
            method: m.next_method.clone(),
            kwargs: m.next_kwargs.clone(),
            timeout: m.trigger_timeout.as_deref().and_then(parse_iso_seconds),
        }
    }
}

/// Reads back `PT<seconds>S`, as [`airflow_protocol::messages::iso_duration`] writes it.
#[cfg(feature = "testing")]
pub(crate) fn parse_iso_seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.strip_prefix("PT")?.strip_suffix('S')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// The event of the standard provider's `DagStateTrigger` ([`Trigger::dag_state`],
/// [`Defer::dag_run_end`]): the state each watched run ended in. The trigger sends its own
/// serialization, `[classpath, {"dag_id", "states", "run_ids", ..., <run_id>: <state>}]`; this
/// reads either that pair or the bare object.
#[derive(Debug, Clone, PartialEq)]
pub struct DagStateEvent {
    fields: Map<String, Value>,
}

impl DagStateEvent {
    /// The state run `run_id` ended in, if the event has it.
    pub fn state(&self, run_id: &str) -> Option<&str> {
        self.fields.get(run_id)?.as_str()
    }

    /// Every field of the event.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

impl<'de> serde::Deserialize<'de> for DagStateEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Shape {
            // The trigger's class path: required to tell the pair apart, never read.
            Pair(#[allow(dead_code)] String, Map<String, Value>),
            Fields(Map<String, Value>),
        }
        Ok(match Shape::deserialize(d)? {
            Shape::Pair(_, fields) | Shape::Fields(fields) => DagStateEvent { fields },
        })
    }
}

/// Now plus `d`, or the last representable moment for a `d` too long to add (no panic).
pub(crate) fn from_now(d: Duration) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or_else(|| {
            time::PrimitiveDateTime::new(time::Date::MAX, time::Time::MIDNIGHT).assume_utc()
        })
}

/// `kwargs` as a JSON object: an object as it is, null as empty, anything else under `value`.
pub(crate) fn object(kwargs: Value) -> Map<String, Value> {
    match kwargs {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => Map::from_iter([("value".to_owned(), other)]),
    }
}

/// Why a task stopped without ending: the payload of a [`TaskError`](crate::TaskError) made by
/// [`TaskError::defer`](crate::TaskError::defer) and its siblings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Suspend {
    /// Deferred to a trigger.
    Defer(Defer),
    /// Waiting for a person's answer (the request is already written).
    AwaitInput {
        method: String,
        kwargs: Map<String, Value>,
        timeout: Option<Duration>,
    },
    /// Run again at this time.
    Reschedule(OffsetDateTime),
}

impl Suspend {
    /// The resume handler this suspension names, if any.
    pub(crate) fn method(&self) -> Option<&str> {
        match self {
            Suspend::Defer(d) => Some(&d.method),
            Suspend::AwaitInput { method, .. } => Some(method),
            Suspend::Reschedule(_) => None,
        }
    }
}

impl fmt::Display for Suspend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Suspend::Defer(d) => write!(
                f,
                "deferred to {} (resumes in {})",
                d.trigger.classpath, d.method
            ),
            Suspend::AwaitInput { method, .. } => {
                write!(f, "awaiting a person's input (resumes in {method})")
            }
            Suspend::Reschedule(at) => write!(
                f,
                "rescheduled to {}",
                at.format(&Rfc3339).unwrap_or_default()
            ),
        }
    }
}

/// What a resume handler receives: the trigger's event (or a person's answer) typed through
/// `serde`, and the kwargs the task gave when it deferred ([`Defer::kwargs`]).
///
/// Python values Airflow stores in its own encoding arrive as plain JSON: a `datetime` as an
/// RFC 3339 string (UTC), a `timedelta` as seconds, tuples and sets as arrays.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resumed<E = Value, K = Value> {
    /// The trigger's event payload (`null` when the trigger sent none).
    pub event: E,
    /// The kwargs given at deferral, without `event`.
    pub kwargs: K,
}

impl<E: DeserializeOwned, K: DeserializeOwned> Resumed<E, K> {
    /// Splits Airflow's `next_kwargs` (already plain JSON) into the event and the rest, each
    /// converted to its type; the error names what did not fit, or the error the event reports.
    pub(crate) fn from_next_kwargs(next_kwargs: Value) -> Result<Self, ResumeError> {
        let mut kwargs = object(next_kwargs);
        let event = kwargs.remove("event").unwrap_or(Value::Null);
        let reported = reported_error(&event);
        let event_text = event.to_string();
        let event = serde_json::from_value(event).map_err(|e| match reported {
            // An error report the handler's type cannot take: the wait ended without the event.
            Some(reported) => ResumeError::Reported(reported),
            None => ResumeError::Misfit(format!(
                "the event does not fit {}: {e} (event: {})",
                std::any::type_name::<E>(),
                clip(&event_text)
            )),
        })?;
        let kwargs_text = Value::Object(kwargs.clone()).to_string();
        let kwargs = serde_json::from_value(Value::Object(kwargs)).map_err(|e| {
            ResumeError::Misfit(format!(
                "the deferral kwargs do not fit {}: {e} (kwargs: {})",
                std::any::type_name::<K>(),
                clip(&kwargs_text)
            ))
        })?;
        Ok(Resumed { event, kwargs })
    }
}

/// Why a resumed try cannot run its handler.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResumeError {
    /// The event or the kwargs do not fit the handler's types: a bug no retry fixes.
    Misfit(String),
    /// The event is an error report (`{"error", "error_type"}`) where the handler takes an event:
    /// a person's answer did not come in time and the request had no defaults (Airflow's
    /// scheduler resumes such a task with `error_type` `timeout`), or a trigger reported an error.
    Reported(String),
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::Misfit(m) => write!(f, "cannot resume the task: {m}"),
            ResumeError::Reported(m) => f.write_str(m),
        }
    }
}

impl From<ResumeError> for TaskError {
    /// A misfit fails without retry; a reported error fails as the task declares (Python's
    /// `HITLOperator` raises `HITLTimeoutError`, an ordinary failure).
    fn from(e: ResumeError) -> Self {
        match e {
            ResumeError::Misfit(_) => TaskError::fail_no_retry(e),
            ResumeError::Reported(_) => TaskError::fail(e),
        }
    }
}

/// The error an event reports, when it is one: `{"error": ..., "error_type": ...}` as Airflow's
/// scheduler resumes a human-in-the-loop task nobody answered in time (and as the standard
/// provider's `HITLTrigger` yields on older Airflow).
fn reported_error(event: &Value) -> Option<String> {
    let Value::Object(m) = event else { return None };
    let error_type = m.get("error_type")?.as_str()?;
    let error = match m.get("error")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(if error_type == "timeout" {
        format!(
            "nobody answered the input request in time, and it has no defaults to take: {error} \
             (error_type: timeout)"
        )
    } else {
        format!(
            "the task was resumed with an error instead of an event: {error} (error_type: {error_type})"
        )
    })
}

/// At most 300 characters of `s`, for error messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The error Airflow recorded for a try resumed in [`FAIL_METHOD`]: the trigger failed, timed
/// out, or its event could not be stored.
pub(crate) fn trigger_failure(next_kwargs: &Value) -> String {
    let error = match next_kwargs.get("error") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "no reason given".to_owned(),
    };
    let traceback = match next_kwargs.get("traceback") {
        Some(Value::Array(lines)) => lines
            .iter()
            .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned))
            .collect::<String>(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let traceback = traceback.trim_end();
    // Airflow's `TriggerFailureReason.TRIGGER_TIMEOUT`, set by the scheduler.
    let what = if error == "Trigger timeout" {
        "the trigger timed out before it fired (its deferral timeout passed)".to_owned()
    } else {
        format!("the trigger failed: {error}")
    };
    if traceback.is_empty() {
        what
    } else {
        format!("{what}\n{traceback}")
    }
}

/// Airflow's stored encodings (`airflow.sdk.serde`'s `__classname__`/`__data__`, and the older
/// `BaseSerialization`'s `__type`/`__var`) turned into plain JSON, recursively: datetimes become
/// RFC 3339 strings in UTC, timedeltas seconds, tuples, sets and dicts their contents; any other
/// class its data. Values without an encoding are kept.
pub(crate) fn plain(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(plain).collect()),
        Value::Object(mut m) => {
            if let (Some(Value::String(class)), Some(data)) =
                (m.get("__classname__").cloned(), m.remove("__data__"))
            {
                return decode_class(&class, data);
            }
            if let (Some(Value::String(kind)), Some(var)) =
                (m.get("__type").cloned(), m.remove("__var"))
            {
                return decode_class(&kind, var);
            }
            // In place: collecting into a new map would sort its entries again (another
            // instantiation of the stable sort in every bundle).
            for v in m.values_mut() {
                *v = plain(v.take());
            }
            Value::Object(m)
        }
        other => other,
    }
}

fn decode_class(class: &str, data: Value) -> Value {
    let is = |names: &[&str]| names.contains(&class);
    if is(&[
        "datetime.datetime",
        "pendulum.datetime.DateTime",
        "datetime",
    ]) {
        let seconds = match &data {
            Value::Object(m) => m.get("timestamp").and_then(Value::as_f64),
            other => other.as_f64(),
        };
        if let Some(s) = seconds
            && let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos((s * 1e9).round() as i128)
            && let Ok(text) = t.format(&Rfc3339)
        {
            return Value::String(text);
        }
        return plain(data);
    }
    if is(&[
        "datetime.timedelta",
        "timedelta",
        "pendulum.duration.Duration",
    ]) {
        return match data.as_f64() {
            Some(s) => json!(s),
            None => plain(data),
        };
    }
    plain(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_encodings_become_plain_json() {
        let stored = json!({
            "event": {"__classname__": "pendulum.datetime.DateTime", "__version__": 2,
                "__data__": {"timestamp": 1767225600.5, "tz": {"__classname__": "builtins.tuple",
                    "__version__": 1, "__data__": ["UTC", "pendulum.tz.timezone.Timezone", 1, true]}}},
            "td": {"__classname__": "datetime.timedelta", "__version__": 2, "__data__": 5.0},
            "t": {"__classname__": "builtins.tuple", "__version__": 1, "__data__": [1, "a"]},
            "old": {"__type": "dict", "__var": {"at": {"__type": "datetime", "__var": 0.0}}},
            "plain": {"a": [1, {"b": null}]},
        });
        assert_eq!(
            plain(stored),
            json!({
                "event": "2026-01-01T00:00:00.5Z",
                "td": 5.0,
                "t": [1, "a"],
                "old": {"at": "1970-01-01T00:00:00Z"},
                "plain": {"a": [1, {"b": null}]},
            })
        );
    }

    #[test]
    fn resumed_splits_the_event_from_the_kwargs_and_names_a_misfit() {
        let r: Resumed<String, Map<String, Value>> =
            Resumed::from_next_kwargs(json!({"event": "x", "n": 1})).unwrap();
        assert_eq!(r.event, "x");
        assert_eq!(r.kwargs, object(json!({"n": 1})));
        let e = Resumed::<u32, Value>::from_next_kwargs(json!({"event": "x"})).unwrap_err();
        assert!(matches!(e, ResumeError::Misfit(_)), "{e:?}");
        assert!(e.to_string().contains("the event does not fit u32"), "{e}");
        let none: Resumed<Option<String>, Value> = Resumed::from_next_kwargs(Value::Null).unwrap();
        assert_eq!(none.event, None);
    }

    #[test]
    fn an_error_report_the_handler_cannot_take_fails_with_the_reported_error() {
        let timeout = json!({"event": {"error": "The Human-in-the-loop response timeout has passed without a response.", "error_type": "timeout"}});
        let e = Resumed::<Vec<String>, Value>::from_next_kwargs(timeout.clone()).unwrap_err();
        let ResumeError::Reported(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with("nobody answered the input request in time"),
            "{m}"
        );
        assert!(m.contains("response timeout has passed"), "{m}");
        // A handler that takes any JSON gets the report itself.
        let r = Resumed::<Value, Value>::from_next_kwargs(timeout).unwrap();
        assert_eq!(r.event["error_type"], "timeout");
        let e = Resumed::<u32, Value>::from_next_kwargs(
            json!({"event": {"error": "boom", "error_type": "unknown"}}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the task was resumed with an error instead of an event: boom (error_type: unknown)"
        );
    }

    #[test]
    fn a_delay_too_long_to_add_ends_at_the_last_moment_instead_of_panicking() {
        let t = Trigger::time_delta(Duration::MAX);
        assert_eq!(
            plain(t.kwargs()["moment"].clone()),
            json!("9999-12-31T00:00:00Z")
        );
        let soon = from_now(Duration::from_secs(5)) - OffsetDateTime::now_utc();
        assert!(soon <= time::Duration::seconds(5) && soon > time::Duration::seconds(4));
    }

    #[test]
    fn a_dag_state_event_reads_the_trigger_pair_or_the_bare_fields() {
        let pair = json!(["x.DagStateTrigger", {"dag_id": "d", "r1": "success"}]);
        let e: DagStateEvent = serde_json::from_value(pair).unwrap();
        assert_eq!(e.state("r1"), Some("success"));
        assert_eq!(e.state("r2"), None);
        let e: DagStateEvent = serde_json::from_value(json!({"r1": "failed"})).unwrap();
        assert_eq!(e.state("r1"), Some("failed"));
        assert!(serde_json::from_value::<DagStateEvent>(json!("x")).is_err());
    }

    #[test]
    fn a_trigger_failure_names_the_error_and_the_traceback() {
        let m = trigger_failure(&json!({"error": "Trigger failure", "traceback": ["a\n", "b\n"]}));
        assert_eq!(m, "the trigger failed: Trigger failure\na\nb");
        let m = trigger_failure(&json!({"error": "Trigger timeout"}));
        assert!(m.starts_with("the trigger timed out"), "{m}");
        assert_eq!(
            trigger_failure(&json!({})),
            "the trigger failed: no reason given"
        );
    }

    #[test]
    fn typed_triggers_serialize_as_the_standard_provider_does() {
        let t = Trigger::dag_state("other", ["r1"], ["success"], Duration::from_secs(5));
        assert_eq!(
            t.kwargs(),
            &object(
                json!({"dag_id": "other", "states": ["success"], "run_ids": ["r1"],
                "poll_interval": 5.0, "execution_dates": null})
            )
        );
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let t = Trigger::date_time(at);
        assert_eq!(
            plain(t.kwargs()["moment"].clone()),
            json!("2026-01-01T00:00:00Z")
        );
        assert_eq!(t.kwargs()["end_from_trigger"], json!(false));
    }
}
