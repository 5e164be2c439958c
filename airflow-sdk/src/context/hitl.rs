//! Human in the loop: a task asks a person ([`InputRequest`]), waits in `awaiting_input` holding
//! no worker slot, and resumes with the answer ([`HumanResponse`]).

use std::fmt;
use std::time::Duration;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::{TaskContext, unexpected};
use crate::error::{TaskError, TaskOutcome};
use crate::runtime::messages::{HITLDetailRequest, HitlUser, Reply, ToSupervisor, ToTask};
use crate::suspend::{Suspend, object};

/// A question for a person: a subject, the options to choose from, and optionally a body,
/// defaults, params to fill in and who may answer. The task sends it with
/// [`TaskContext::await_input`] and then waits in Airflow's `awaiting_input` state (no worker
/// slot, no triggerer) until someone answers in the UI or through the REST API
/// (`PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/{map_index}/hitlDetails`), or
/// until the [`timeout`](Self::timeout) passes. The task then starts again in its resume
/// handler named [`method`](Self::method) ([`Dag::on_resume`](crate::Dag::on_resume)), which
/// receives the answer as [`Resumed<HumanResponse>`](crate::Resumed).
///
/// When the timeout passes without an answer, Airflow takes the [defaults](Self::default_option)
/// (and the params' defaults) as the answer, with [`HumanResponse::timedout`] set; a request
/// without defaults fails the task instead (retried as the task declares).
///
/// ```no_run
/// use std::time::Duration;
/// use airflow_sdk::{Bundle, Dag, HumanResponse, InputRequest, Resumed, TaskContext, TaskResult};
///
/// fn ask(ctx: &mut TaskContext) -> TaskResult {
///     let request = InputRequest::new("Ship order 42?", ["ship", "hold"], "decided")
///         .body("The order totals **120 EUR**.")
///         .default_option("hold")
///         .param_described("note", "", "A note for the warehouse")
///         .timeout(Duration::from_secs(3600));
///     Err(ctx.await_input(request))
/// }
///
/// fn decided(_ctx: &mut TaskContext, r: Resumed<HumanResponse>) -> TaskResult<String> {
///     let note = r.event.params_input["note"].as_str().unwrap_or_default().to_owned();
///     Ok(format!("{}: {note}", r.event.chosen().unwrap_or("none")))
/// }
///
/// fn bundle() -> Bundle {
///     Bundle::new().dag(Dag::new("orders").task("ask", ask).on_resume("ask", "decided", decided))
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InputRequest {
    subject: String,
    options: Vec<String>,
    body: Option<String>,
    defaults: Option<Vec<String>>,
    multiple: bool,
    /// Each param as Airflow's serialized `Param` (`{"value", "description", "schema", "source"}`).
    params: Map<String, Value>,
    /// Schemas given for params never declared (a validation error, named there).
    stray_schemas: Vec<String>,
    assigned_users: Vec<HitlUser>,
    timeout: Option<Duration>,
    method: String,
    kwargs: Map<String, Value>,
}

/// Why an [`InputRequest`] cannot be sent; [`TaskContext::await_input`] fails the task without
/// retry with it (it is a bug in the task, which no retry fixes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputRequestError {
    /// No options to choose from.
    #[error("input request {subject:?}: it offers no options; give at least one")]
    NoOptions {
        /// The request's subject.
        subject: String,
    },
    /// An option is offered twice.
    #[error("input request {subject:?}: the option {option:?} is offered twice")]
    DuplicateOption {
        /// The request's subject.
        subject: String,
        /// The repeated option.
        option: String,
    },
    /// A default is not one of the options.
    #[error(
        "input request {subject:?}: the default {default:?} is not one of the options {options:?}"
    )]
    DefaultNotAnOption {
        /// The request's subject.
        subject: String,
        /// The default.
        default: String,
        /// The options.
        options: Vec<String>,
    },
    /// Several defaults where only one option may be chosen.
    #[error(
        "input request {subject:?}: {defaults:?} are several defaults, but only one option may \
         be chosen; give one default, or allow several choices with .multiple(true)"
    )]
    SeveralDefaults {
        /// The request's subject.
        subject: String,
        /// The defaults.
        defaults: Vec<String>,
    },
    /// A param name Airflow reserves (`_options`, which the UI's form uses for the choice).
    #[error("input request {subject:?}: the param name {name:?} is reserved by Airflow")]
    ReservedParam {
        /// The request's subject.
        subject: String,
        /// The param name.
        name: String,
    },
    /// A schema for a param the request does not declare.
    #[error(
        "input request {subject:?}: a schema is given for the param {name:?}, which is not \
         declared; declare it with .param(...) first"
    )]
    UnknownParam {
        /// The request's subject.
        subject: String,
        /// The param name.
        name: String,
    },
    /// No resume handler is named.
    #[error("input request {subject:?}: it names no resume handler (the method is empty)")]
    NoMethod {
        /// The request's subject.
        subject: String,
    },
}

impl InputRequest {
    /// Asks `subject`, offering `options`; the task resumes in its handler named `method`
    /// ([`Dag::on_resume`](crate::Dag::on_resume)) once answered.
    pub fn new<S: Into<String>>(
        subject: impl Into<String>,
        options: impl IntoIterator<Item = S>,
        method: impl Into<String>,
    ) -> Self {
        InputRequest {
            subject: subject.into(),
            options: options.into_iter().map(Into::into).collect(),
            body: None,
            defaults: None,
            multiple: false,
            params: Map::new(),
            stray_schemas: Vec::new(),
            assigned_users: Vec::new(),
            timeout: None,
            method: method.into(),
            kwargs: Map::new(),
        }
    }

    /// The text under the subject (Markdown).
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Adds `option` to the defaults: the options taken when nobody answers within the
    /// [`timeout`](Self::timeout) (one, unless [`multiple`](Self::multiple)); the UI also
    /// preselects them.
    #[must_use]
    pub fn default_option(mut self, option: impl Into<String>) -> Self {
        self.defaults
            .get_or_insert_with(Vec::new)
            .push(option.into());
        self
    }

    /// Whether the person may choose several options (default: one).
    #[must_use]
    pub fn multiple(mut self, multiple: bool) -> Self {
        self.multiple = multiple;
        self
    }

    /// Adds a param the person fills in, with its `default` (taken on a timeout, and the form's
    /// initial value). The answer carries it in [`HumanResponse::params_input`].
    #[must_use]
    pub fn param(self, name: impl Into<String>, default: impl Into<Value>) -> Self {
        self.param_with(name.into(), default.into(), None)
    }

    /// Like [`param`](Self::param), with a description shown in the form.
    #[must_use]
    pub fn param_described(
        self,
        name: impl Into<String>,
        default: impl Into<Value>,
        description: impl Into<String>,
    ) -> Self {
        self.param_with(name.into(), default.into(), Some(description.into()))
    }

    fn param_with(mut self, name: String, default: Value, description: Option<String>) -> Self {
        let schema = match self.params.get(&name) {
            Some(p) => p["schema"].clone(),
            None => json!({}),
        };
        self.params.insert(
            name,
            json!({"value": default, "description": description, "schema": schema, "source": "task"}),
        );
        self
    }

    /// Sets the JSON schema of the param `name` declared before (for example
    /// `{"type": "integer", "minimum": 1}`): the form validates the person's input with it.
    #[must_use]
    pub fn param_schema(mut self, name: &str, schema: Value) -> Self {
        match self.params.get_mut(name) {
            Some(p) => p["schema"] = schema,
            None => self.stray_schemas.push(name.to_owned()),
        }
        self
    }

    /// Lets the user `id` (its id in Airflow's auth manager), shown as `name`, answer. Once any
    /// user is assigned, only assigned users may answer (and admins, as the auth manager
    /// decides); with none, anyone allowed to edit the dag may.
    #[must_use]
    pub fn assign_user(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.assigned_users.push(HitlUser {
            id: id.into(),
            name: name.into(),
        });
        self
    }

    /// How long to wait for an answer; Airflow's scheduler then takes the defaults (or fails the
    /// task when there are none). Without it, the task waits until answered.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// What the resume handler receives as [`Resumed::kwargs`](crate::Resumed::kwargs): a JSON
    /// object (anything else is kept under the key `value`); the key `event` is the answer's.
    #[must_use]
    pub fn kwargs(mut self, kwargs: Value) -> Self {
        self.kwargs = object(kwargs);
        self
    }

    /// Checks the request as Airflow's `HITLOperator` does: at least one option, no option
    /// twice, defaults among the options, one default unless several choices are allowed, no
    /// reserved param name; and that a schema is only given for a declared param and a resume
    /// handler is named.
    pub fn validate(&self) -> Result<(), InputRequestError> {
        let subject = || self.subject.clone();
        if self.options.is_empty() {
            return Err(InputRequestError::NoOptions { subject: subject() });
        }
        for (i, option) in self.options.iter().enumerate() {
            if self.options[..i].contains(option) {
                return Err(InputRequestError::DuplicateOption {
                    subject: subject(),
                    option: option.clone(),
                });
            }
        }
        if let Some(defaults) = &self.defaults {
            if let Some(d) = defaults.iter().find(|d| !self.options.contains(d)) {
                return Err(InputRequestError::DefaultNotAnOption {
                    subject: subject(),
                    default: d.clone(),
                    options: self.options.clone(),
                });
            }
            if !self.multiple && defaults.len() > 1 {
                return Err(InputRequestError::SeveralDefaults {
                    subject: subject(),
                    defaults: defaults.clone(),
                });
            }
        }
        if self.params.contains_key("_options") {
            return Err(InputRequestError::ReservedParam {
                subject: subject(),
                name: "_options".into(),
            });
        }
        if let Some(name) = self.stray_schemas.first() {
            return Err(InputRequestError::UnknownParam {
                subject: subject(),
                name: name.clone(),
            });
        }
        if self.method.is_empty() {
            return Err(InputRequestError::NoMethod { subject: subject() });
        }
        Ok(())
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The options offered.
    pub fn options(&self) -> &[String] {
        &self.options
    }

    /// The body, if any.
    pub fn body_text(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The defaults, if any.
    pub fn defaults(&self) -> Option<&[String]> {
        self.defaults.as_deref()
    }

    /// Whether several options may be chosen.
    pub fn is_multiple(&self) -> bool {
        self.multiple
    }

    /// The params, each as Airflow's serialized `Param`: `{"value": <default>, "description",
    /// "schema", "source": "task"}`.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The users assigned to answer.
    pub fn assigned_users(&self) -> &[HitlUser] {
        &self.assigned_users
    }

    /// How long Airflow waits for an answer.
    pub fn response_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The resume handler's name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// What the resume handler receives besides the answer.
    pub fn next_kwargs(&self) -> &Map<String, Value> {
        &self.kwargs
    }

    /// The `CreateHITLDetailPayload` of task instance `ti_id`.
    fn message(&self, ti_id: &str) -> HITLDetailRequest {
        HITLDetailRequest {
            ti_id: ti_id.to_owned(),
            options: self.options.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            defaults: self.defaults.clone(),
            multiple: self.multiple,
            // Always an object: Airflow's Execution API refuses `null` here.
            params: Some(self.params.clone()),
            assigned_users: self.assigned_users.clone(),
        }
    }

    /// The request a `CreateHITLDetailPayload` carries, with the wait `AwaitInputTask` asked for
    /// (the testing harness shows it to the test).
    #[cfg(feature = "testing")]
    pub(crate) fn from_messages(
        detail: &HITLDetailRequest,
        wait: &airflow_protocol::messages::AwaitInputTask,
    ) -> Self {
        InputRequest {
            subject: detail.subject.clone(),
            options: detail.options.clone(),
            body: detail.body.clone(),
            defaults: detail.defaults.clone(),
            multiple: detail.multiple,
            params: detail.params.clone().unwrap_or_default(),
            stray_schemas: Vec::new(),
            assigned_users: detail.assigned_users.clone(),
            timeout: wait
                .timeout
                .as_deref()
                .and_then(crate::suspend::parse_iso_seconds),
            method: wait.next_method.clone(),
            kwargs: wait.next_kwargs.clone(),
        }
    }
}

/// A person's answer to an [`InputRequest`], as the resume handler receives it in
/// [`Resumed::event`](crate::Resumed::event): `Resumed<HumanResponse>`, or
/// `Resumed<HumanResponse<MyParams>>` to read the params into a type of the task's own.
///
/// A try resumed because nobody answered in time and the request had no defaults never reaches
/// the handler: it fails with the error Airflow reported (retried as the task declares).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(bound(deserialize = "P: DeserializeOwned"))]
#[non_exhaustive]
pub struct HumanResponse<P = Map<String, Value>> {
    /// The options chosen (the defaults, when the timeout took them).
    pub chosen_options: Vec<String>,
    /// The params as filled in (their defaults, when the timeout took them).
    #[serde(deserialize_with = "params_input")]
    pub params_input: P,
    /// When the answer was given (or the timeout took the defaults).
    #[serde(with = "time::serde::rfc3339")]
    pub responded_at: OffsetDateTime,
    /// Who answered (`None` when the timeout took the defaults).
    #[serde(default)]
    pub responded_by_user: Option<HitlUser>,
    /// Whether nobody answered in time, and the defaults were taken.
    #[serde(default)]
    pub timedout: bool,
}

impl<P> HumanResponse<P> {
    /// The chosen option of a single-choice request (the first one chosen).
    pub fn chosen(&self) -> Option<&str> {
        self.chosen_options.first().map(String::as_str)
    }

    /// Whether `option` was chosen.
    pub fn is_chosen(&self, option: &str) -> bool {
        self.chosen_options.iter().any(|o| o == option)
    }
}

/// `params_input`, with `null` read as `{}` (Airflow stores no params as either).
fn params_input<'de, D: Deserializer<'de>, P: DeserializeOwned>(d: D) -> Result<P, D::Error> {
    let v = match Value::deserialize(d)? {
        Value::Null => Value::Object(Map::new()),
        v => v,
    };
    serde_json::from_value(v).map_err(serde::de::Error::custom)
}

impl fmt::Display for InputRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input request {:?} {:?}", self.subject, self.options)
    }
}

/// # Human in the loop
impl TaskContext {
    /// Asks a person `request` (see [`InputRequest`]) and returns the error that makes the task
    /// wait for the answer: return it (`Err(ctx.await_input(request))`). The task then waits in
    /// `awaiting_input` holding no worker slot, and resumes in the request's resume handler.
    ///
    /// The request is checked first ([`InputRequest::validate`]): an invalid one fails the task
    /// without retry, naming the problem. When Airflow does not take the request, the returned
    /// error fails the task (retried as declared), naming the request and why.
    pub fn await_input(&self, request: InputRequest) -> TaskError {
        if let Err(e) = request.validate() {
            return TaskError::fail_no_retry(e);
        }
        let what = format!("CreateHITLDetailPayload {:?}", request.subject);
        let message = ToSupervisor::CreateHITLDetailPayload(request.message(self.ti_id()));
        match self.request(&what, message) {
            Ok(Reply::Body(ToTask::HITLDetailRequestResult(_)) | Reply::Ack) => {}
            Ok(other) => return TaskError::fail(unexpected(&what, other)),
            Err(e) => return TaskError::fail(e),
        }
        log::info!(target: "airflow_sdk::hitl", subject = request.subject.as_str(),
            options = request.options.join(", ").as_str(); "asked a person: {}", request.subject);
        TaskError::suspended(
            TaskOutcome::AwaitingInput,
            Suspend::AwaitInput {
                method: request.method,
                kwargs: request.kwargs,
                timeout: request.timeout,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> InputRequest {
        InputRequest::new("Ship?", ["ship", "hold"], "decided")
    }

    #[test]
    fn a_valid_request_becomes_the_payload_airflow_reads() {
        let r = request()
            .body("**now**")
            .default_option("hold")
            .param_described("note", "", "why")
            .param("count", 3)
            .param_schema("count", json!({"type": "integer", "minimum": 1}))
            .assign_user("u1", "Ada");
        r.validate().unwrap();
        let m = serde_json::to_value(r.message("ti-1")).unwrap();
        assert_eq!(
            m,
            json!({
                "ti_id": "ti-1", "options": ["ship", "hold"], "subject": "Ship?",
                "body": "**now**", "defaults": ["hold"], "multiple": false,
                "params": {
                    "note": {"value": "", "description": "why", "schema": {}, "source": "task"},
                    "count": {"value": 3, "description": null,
                        "schema": {"type": "integer", "minimum": 1}, "source": "task"},
                },
                "assigned_users": [{"id": "u1", "name": "Ada"}],
            })
        );
    }

    #[test]
    fn invalid_requests_are_named() {
        let e = |r: InputRequest| r.validate().unwrap_err().to_string();
        assert_eq!(
            e(InputRequest::new("S", Vec::<String>::new(), "m")),
            "input request \"S\": it offers no options; give at least one"
        );
        assert!(e(InputRequest::new("S", ["a", "a"], "m")).contains("offered twice"));
        assert_eq!(
            e(request().default_option("maybe")),
            "input request \"Ship?\": the default \"maybe\" is not one of the options [\"ship\", \"hold\"]"
        );
        assert!(
            e(request().default_option("ship").default_option("hold"))
                .contains("several defaults, but only one option may be chosen")
        );
        request()
            .multiple(true)
            .default_option("ship")
            .default_option("hold")
            .validate()
            .unwrap();
        assert!(e(request().param("_options", 1)).contains("reserved"));
        assert!(
            e(request().param_schema("nope", json!({})))
                .contains("\"nope\", which is not declared")
        );
        assert!(e(InputRequest::new("S", ["a"], "")).contains("names no resume handler"));
    }

    #[test]
    fn a_response_reads_as_airflow_resumes_with_it() {
        let r: HumanResponse = serde_json::from_value(json!({
            "chosen_options": ["ship"], "params_input": {"note": "ok"},
            "responded_at": "2026-12-06T10:00:00.5Z",
            "responded_by_user": {"id": "admin", "name": "admin"}, "timedout": false,
        }))
        .unwrap();
        assert_eq!(r.chosen(), Some("ship"));
        assert!(r.is_chosen("ship") && !r.is_chosen("hold"));
        assert_eq!(r.params_input["note"], "ok");
        assert_eq!(r.responded_at.unix_timestamp(), 1_796_551_200);
        assert_eq!(r.responded_by_user.unwrap().name, "admin");
        #[derive(Debug, Deserialize, Serialize, PartialEq)]
        struct Params {
            count: u32,
        }
        let r: HumanResponse<Params> = serde_json::from_value(json!({
            "chosen_options": ["hold"], "params_input": {"count": 2},
            "responded_at": "2026-12-06T10:00:00Z", "responded_by_user": null, "timedout": true,
        }))
        .unwrap();
        assert_eq!(r.params_input, Params { count: 2 });
        assert!(r.timedout && r.responded_by_user.is_none());
        let r: HumanResponse = serde_json::from_value(json!({
            "chosen_options": ["hold"], "params_input": null, "responded_at": "2026-12-06T10:00:00Z",
        }))
        .unwrap();
        assert!(r.params_input.is_empty());
    }
}
