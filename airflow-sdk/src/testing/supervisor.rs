//! The in-process supervisor: answers a task's requests from the state a test set up, as
//! Airflow's supervisor and API server answer them, records every request, and fails the ones a
//! test chose.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::logs::Masker;
use super::{Failure, PushedXCom, Request, RequestKind, TriggeredRun};
use crate::runtime::messages::{
    self, AssetEventRecord, AssetEventsResult, AssetResult, ConnectionResult, Count, DagRunRecord,
    DagRunStateResult, DrFilter, ErrorResponse, Json, OKResponse, PrevSuccessfulDagRunResult,
    PreviousDagRunResult, Reply, TaskRescheduleStartDate, TaskStateStoreResult, TaskStatesResult,
    TiFilter, Timestamp, ToSupervisor, ToTask, VariableResult, XComCountResponse, XComResult,
    XComSequenceSliceResult,
};
use crate::transport::{CommError, Supervisor};
use crate::{Asset, AssetEvent, Connection, DagRunInfo, SchemaVersion};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where an XCom lives: dag, run, task, map index (`-1` unmapped), key.
pub(crate) type XComKey = (String, String, String, i64, String);

/// A task instance the queries of run history see.
#[derive(Debug, Clone)]
pub(crate) struct TiEntry {
    pub(crate) dag_id: String,
    pub(crate) run_id: String,
    pub(crate) task_id: String,
    pub(crate) map_index: i64,
    pub(crate) state: Option<String>,
}

/// What Airflow holds, as far as a task can see it.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) variables: BTreeMap<String, String>,
    pub(crate) connections: BTreeMap<String, Connection>,
    pub(crate) xcoms: BTreeMap<XComKey, Value>,
    /// By task instance id, then key.
    pub(crate) state_store: BTreeMap<(String, String), Value>,
    pub(crate) dag_runs: Vec<DagRunInfo>,
    /// States `GetDagRunState` answers in turn, by dag and run (the last one stays).
    pub(crate) run_states: BTreeMap<(String, String), VecDeque<String>>,
    pub(crate) task_instances: Vec<TiEntry>,
    pub(crate) assets: Vec<Asset>,
    pub(crate) asset_events: Vec<AssetEvent>,
    /// The asset state store, by asset name, then key.
    pub(crate) asset_state: BTreeMap<String, BTreeMap<String, Value>>,
    /// The ids of the events emitted through each alias, by alias name.
    pub(crate) alias_events: BTreeMap<String, Vec<i64>>,
    pub(crate) requests: Vec<Request>,
    pub(crate) pushed: Vec<PushedXCom>,
    pub(crate) skipped: Vec<String>,
    pub(crate) triggered: Vec<TriggeredRun>,
    pub(crate) rendered_fields: Option<Value>,
    pub(crate) rendered_map_index: Option<String>,
    /// When the first try of a rescheduled task started (`GetTaskRescheduleStartDate`).
    pub(crate) reschedule_start: Option<OffsetDateTime>,
    /// The human-in-the-loop requests written (`CreateHITLDetailPayload`), in order.
    pub(crate) input_requests: Vec<airflow_protocol::messages::HITLDetailRequest>,
}

/// Which requests fail, and how.
pub(crate) enum Matcher {
    Kind(RequestKind),
    Predicate(Box<dyn FnMut(&Request) -> bool + Send>),
}

/// A failure a test injected.
pub(crate) struct Injection {
    pub(crate) matcher: Matcher,
    pub(crate) failure: Failure,
}

/// The supervisor of one harness run.
pub(crate) struct FakeSupervisor {
    version: SchemaVersion,
    timeout: Duration,
    /// This task instance's dag, run and logical date (for "previous successful run").
    dag_id: String,
    logical_date: Option<OffsetDateTime>,
    state: Mutex<State>,
    injections: Mutex<Vec<Injection>>,
    pub(crate) masker: Arc<Masker>,
}

impl Supervisor for FakeSupervisor {
    /// The wait a timeout failure reports.
    fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Answers one request, or fails it as the test asked. `timeout` is what a timeout reports.
    fn request(
        &self,
        message: ToSupervisor,
        timeout: Duration,
        // Nothing waits here: an abortable wait has nothing to abandon.
        _abortable: bool,
    ) -> Result<Reply, CommError> {
        // In the shape the bundle's schema version sends.
        let message = self.version.outgoing(message);
        let mut request = Request::of(&message);
        if let Some(failure) = self.injected(&request) {
            request.failure = Some(failure.clone());
            lock(&self.state).requests.push(request);
            return failure.reply(timeout);
        }
        let mut state = lock(&self.state);
        state.requests.push(request);
        Ok(self.answer(&mut state, message))
    }
}

impl FakeSupervisor {
    pub(crate) fn new(
        version: SchemaVersion,
        timeout: Duration,
        dag_id: String,
        logical_date: Option<OffsetDateTime>,
        state: State,
        injections: Vec<Injection>,
        masker: Arc<Masker>,
    ) -> Self {
        FakeSupervisor {
            version,
            timeout,
            dag_id,
            logical_date,
            state: Mutex::new(state),
            injections: Mutex::new(injections),
            masker,
        }
    }

    /// The state after the run.
    pub(crate) fn take_state(&self) -> State {
        std::mem::take(&mut *lock(&self.state))
    }

    /// The failure injected for `request`, if any (the first that matches).
    fn injected(&self, request: &Request) -> Option<Failure> {
        let mut injections = lock(&self.injections);
        injections.iter_mut().find_map(|i| {
            let hit = match &mut i.matcher {
                Matcher::Kind(k) => *k == request.kind,
                Matcher::Predicate(p) => p(request),
            };
            hit.then(|| i.failure.clone())
        })
    }

    fn answer(&self, state: &mut State, message: ToSupervisor) -> Reply {
        use ToSupervisor as M;
        match message {
            M::GetXCom(m) => {
                let key = (
                    m.dag_id,
                    m.run_id,
                    m.task_id,
                    // Airflow's client sends only indexes from 0; the API server reads -1 then.
                    m.map_index.filter(|i| *i >= 0).unwrap_or(-1),
                    m.key.clone(),
                );
                // A missing XCom is a null value, as the supervisor answers a 404.
                let value = state.xcoms.get(&key).cloned().unwrap_or(Value::Null);
                body(ToTask::XComResult(XComResult {
                    key: m.key,
                    value: Json(value),
                }))
            }
            M::SetXCom(m) => {
                state.pushed.push(PushedXCom {
                    key: m.key.clone(),
                    value: m.value.clone(),
                    map_index: u32::try_from(m.map_index).ok(),
                });
                state
                    .xcoms
                    .insert((m.dag_id, m.run_id, m.task_id, m.map_index, m.key), m.value);
                Reply::Ack
            }
            M::DeleteXCom(m) => {
                state
                    .xcoms
                    .remove(&(m.dag_id, m.run_id, m.task_id, m.map_index, m.key));
                Reply::Ack
            }
            M::GetXComSequenceSlice(m) => {
                // Every map index's value, in order (the harness takes all; no bounds).
                let mut found: Vec<(i64, Value)> = state
                    .xcoms
                    .iter()
                    .filter(|((d, r, t, i, k), _)| {
                        *d == m.dag_id
                            && *r == m.run_id
                            && *t == m.task_id
                            && *k == m.key
                            && *i >= 0
                    })
                    .map(|((_, _, _, i, _), v)| (*i, v.clone()))
                    .collect();
                found.sort_by_key(|(i, _)| *i);
                body(ToTask::XComSequenceSliceResult(XComSequenceSliceResult {
                    root: found.into_iter().map(|(_, v)| Json(v)).collect(),
                }))
            }
            M::GetXComCount(m) => {
                let len = state
                    .xcoms
                    .keys()
                    .filter(|(d, r, t, _, k)| {
                        *d == m.dag_id && *r == m.run_id && *t == m.task_id && *k == m.key
                    })
                    .count();
                body(ToTask::XComCountResponse(XComCountResponse {
                    len: len as i64,
                }))
            }
            M::GetVariable(m) => match state.variables.get(&m.key) {
                Some(value) => {
                    // The supervisor registers every Variable it hands out under its key.
                    self.masker
                        .add(&Value::String(value.clone()), Some(m.key.as_str()));
                    body(ToTask::VariableResult(VariableResult {
                        key: m.key,
                        value: Some(value.clone()),
                    }))
                }
                None => error_body("VARIABLE_NOT_FOUND", json!({"key": m.key})),
            },
            M::PutVariable(m) => {
                state.variables.insert(m.key, m.value.unwrap_or_default());
                Reply::Ack
            }
            M::DeleteVariable(m) => {
                state.variables.remove(&m.key);
                ok()
            }
            M::GetConnection(m) => match state.connections.get(&m.conn_id) {
                Some(c) => {
                    let extra = c.stored_extra();
                    // The supervisor masks a connection's password and extra itself.
                    for secret in [&c.password, &extra].into_iter().flatten() {
                        self.masker.add(&Value::String(secret.clone()), None);
                    }
                    body(ToTask::ConnectionResult(ConnectionResult {
                        conn_id: c.conn_id.clone(),
                        conn_type: c.conn_type.clone(),
                        host: c.host.clone(),
                        schema: c.schema.clone(),
                        login: c.login.clone(),
                        password: c.password.clone(),
                        port: c.port.map(i64::from),
                        extra,
                    }))
                }
                None => error_body("CONNECTION_NOT_FOUND", json!({"conn_id": m.conn_id})),
            },
            M::GetTaskStateStore(m) => match state.state_store.get(&(m.ti_id, m.key.clone())) {
                Some(v) => body(ToTask::TaskStateStoreResult(TaskStateStoreResult {
                    value: Json(v.clone()),
                })),
                None => error_body("TASK_STORE_NOT_FOUND", json!({"key": m.key})),
            },
            M::SetTaskStateStore(m) => {
                state.state_store.insert((m.ti_id, m.key), m.value);
                ok()
            }
            M::DeleteTaskStateStore(m) => {
                state.state_store.remove(&(m.ti_id, m.key));
                ok()
            }
            M::ClearTaskStateStore(m) => {
                state.state_store.retain(|(ti, _), _| *ti != m.ti_id);
                ok()
            }
            M::SkipDownstreamTasks(m) => {
                for ti in state.task_instances.iter_mut() {
                    if ti.dag_id == self.dag_id && m.tasks.contains(&ti.task_id) {
                        ti.state = Some("skipped".into());
                    }
                }
                state.skipped.extend(m.tasks);
                Reply::Ack
            }
            M::TriggerDagRun(m) => {
                let logical_date = m.logical_date.as_deref().and_then(parse_time);
                let exists = state
                    .dag_runs
                    .iter()
                    .position(|r| r.dag_id == m.dag_id && r.run_id == m.run_id);
                match exists {
                    Some(_) if !m.reset_dag_run => {
                        return error_body("DAGRUN_ALREADY_EXISTS", Value::Null);
                    }
                    // Reset: cleared, so queued again.
                    Some(i) => state.dag_runs[i].state = "queued".into(),
                    None => {
                        let mut run = DagRunInfo::new(&m.dag_id, &m.run_id, "queued");
                        run.run_type = "manual".into();
                        run.logical_date = logical_date;
                        run.conf = m.conf.clone().unwrap_or_else(|| json!({}));
                        state.dag_runs.push(run);
                    }
                }
                state.triggered.push(TriggeredRun {
                    dag_id: m.dag_id,
                    run_id: m.run_id,
                    conf: m.conf,
                    logical_date,
                    reset_dag_run: m.reset_dag_run,
                    note: m.note,
                });
                ok()
            }
            M::GetDagRunState(m) => {
                let key = (m.dag_id.clone(), m.run_id.clone());
                let scripted = state.run_states.get_mut(&key).and_then(|states| {
                    if states.len() > 1 {
                        states.pop_front()
                    } else {
                        states.front().cloned()
                    }
                });
                let run = state
                    .dag_runs
                    .iter_mut()
                    .find(|r| r.dag_id == m.dag_id && r.run_id == m.run_id);
                let current = match (scripted, run) {
                    (Some(s), Some(run)) => {
                        run.state = s.clone();
                        s
                    }
                    (Some(s), None) => s,
                    (None, Some(run)) => run.state.clone(),
                    (None, None) => {
                        return api_error(
                            404,
                            &format!("dag run {:?} of dag {:?} not found", m.run_id, m.dag_id),
                        );
                    }
                };
                body(ToTask::DagRunStateResult(DagRunStateResult {
                    state: current,
                }))
            }
            M::GetTICount(f) => {
                let count = state
                    .task_instances
                    .iter()
                    .filter(|ti| ti_matches(state, ti, &f))
                    .filter(|ti| {
                        f.states
                            .as_ref()
                            .is_none_or(|s| ti.state.as_ref().is_some_and(|t| s.contains(t)))
                    })
                    .count();
                body(ToTask::TICount(Count {
                    count: count as i64,
                }))
            }
            M::GetTaskStates(f) => {
                let mut runs: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
                for ti in state
                    .task_instances
                    .iter()
                    .filter(|ti| ti_matches(state, ti, &f))
                {
                    // As Airflow reports them: a mapped instance as `task_id_<map index>`.
                    let name = if ti.map_index >= 0 {
                        format!("{}_{}", ti.task_id, ti.map_index)
                    } else {
                        ti.task_id.clone()
                    };
                    runs.entry(ti.run_id.clone())
                        .or_default()
                        .insert(name, ti.state.clone().map_or(Value::Null, Value::String));
                }
                let task_states = serde_json::to_value(runs).unwrap_or(Value::Null);
                body(ToTask::TaskStatesResult(TaskStatesResult {
                    task_states: Json(task_states),
                }))
            }
            M::GetDRCount(f) => {
                let count = state.dag_runs.iter().filter(|r| dr_matches(r, &f)).count();
                body(ToTask::DRCount(Count {
                    count: count as i64,
                }))
            }
            M::GetPreviousDagRun(m) => {
                let before = parse_time(&m.logical_date);
                let previous = state
                    .dag_runs
                    .iter()
                    .filter(|r| r.dag_id == m.dag_id)
                    .filter(|r| m.state.as_ref().is_none_or(|s| *s == r.state))
                    .filter(|r| matches!((r.logical_date, before), (Some(d), Some(b)) if d < b))
                    .max_by_key(|r| r.logical_date);
                body(ToTask::PreviousDagRunResult(PreviousDagRunResult {
                    dag_run: previous.map(record_of),
                }))
            }
            M::GetPrevSuccessfulDagRun(_) => {
                let previous = state
                    .dag_runs
                    .iter()
                    .filter(|r| r.dag_id == self.dag_id && r.state == "success")
                    .filter(|r| {
                        matches!((r.logical_date, self.logical_date), (Some(d), Some(b)) if d < b)
                    })
                    .max_by_key(|r| r.logical_date);
                let ts = |t: Option<OffsetDateTime>| t.map(Timestamp);
                body(ToTask::PrevSuccessfulDagRunResult(
                    PrevSuccessfulDagRunResult {
                        data_interval_start: previous.and_then(|r| ts(r.data_interval_start)),
                        data_interval_end: previous.and_then(|r| ts(r.data_interval_end)),
                        start_date: previous.and_then(|r| ts(r.start_date)),
                        end_date: previous.and_then(|r| ts(r.end_date)),
                    },
                ))
            }
            M::SetRenderedFields(m) => {
                state.rendered_fields = Some(Value::Object(m.rendered_fields));
                Reply::Ack
            }
            // Recorded with the requests; the harness enforces the timeout itself.
            M::SetExecutionTimeout(_) => Reply::Ack,
            M::SetRenderedMapIndex(m) => {
                state.rendered_map_index = Some(m.rendered_map_index);
                Reply::Ack
            }
            M::GetAssetByName(m) => match state.assets.iter().find(|a| a.name == m.name) {
                Some(a) => body(ToTask::AssetResult(asset_result(a))),
                None => error_body("ASSET_NOT_FOUND", json!({"name": m.name})),
            },
            M::GetAssetByUri(m) => match state.assets.iter().find(|a| a.uri == m.uri) {
                Some(a) => body(ToTask::AssetResult(asset_result(a))),
                None => error_body("ASSET_NOT_FOUND", json!({"uri": m.uri})),
            },
            M::GetAssetEventByAsset(m) => {
                let events: Vec<&AssetEvent> = state
                    .asset_events
                    .iter()
                    .filter(|e| m.name.as_ref().is_none_or(|n| *n == e.asset.name))
                    .filter(|e| m.uri.as_ref().is_none_or(|u| *u == e.asset.uri))
                    .collect();
                events_result(events, m.ascending, m.limit)
            }
            M::MaskSecret(m) => {
                self.masker.add(&m.value, m.name.as_deref());
                Reply::Ack
            }
            M::GetAssetStateStoreByName(_)
            | M::GetAssetStateStoreByUri(_)
            | M::SetAssetStateStoreByName(_)
            | M::SetAssetStateStoreByUri(_)
            | M::DeleteAssetStateStoreByName(_)
            | M::DeleteAssetStateStoreByUri(_)
            | M::ClearAssetStateStoreByName(_)
            | M::ClearAssetStateStoreByUri(_) => answer_asset_state(state, message),
            M::GetAssetsByAlias(m) => {
                let ids = state
                    .alias_events
                    .get(&m.alias_name)
                    .cloned()
                    .unwrap_or_default();
                let mut assets: Vec<AssetResult> = Vec::new();
                for e in state.asset_events.iter().filter(|e| ids.contains(&e.id)) {
                    let a = Asset::new(&e.asset.name, &e.asset.uri);
                    if !assets.iter().any(|r| r.name == a.name && r.uri == a.uri) {
                        assets.push(asset_result(&a));
                    }
                }
                body(ToTask::AssetsByAliasResult(messages::AssetsByAliasResult {
                    assets,
                }))
            }
            M::GetAssetEventByAssetAlias(m) => {
                let ids = state
                    .alias_events
                    .get(&m.alias_name)
                    .cloned()
                    .unwrap_or_default();
                let events: Vec<&AssetEvent> = state
                    .asset_events
                    .iter()
                    .filter(|e| ids.contains(&e.id))
                    .collect();
                events_result(events, m.ascending, m.limit)
            }
            M::GetTaskRescheduleStartDate(_) => {
                Reply::Body(ToTask::TaskRescheduleStartDate(TaskRescheduleStartDate {
                    start_date: state.reschedule_start.map(Timestamp),
                }))
            }
            M::CreateHITLDetailPayload(m) => {
                state.input_requests.push(m.clone());
                Reply::Body(ToTask::HITLDetailRequestResult(m))
            }
            // Not requests a task makes; the supervisor answers what it does not handle so.
            M::SucceedTask(_)
            | M::RetryTask(_)
            | M::TaskState(_)
            | M::DeferTask(_)
            | M::AwaitInputTask(_)
            | M::RescheduleTask(_)
            | M::DagFileParsingResult(_)
            | M::TaskHandlerParsingResult(_) => api_error(400, "Unhandled request"),
        }
    }
}

/// The asset state store messages, answered as the Execution API does: the asset must be known
/// (404 otherwise: a read finds nothing, a write fails), a missing key reads as not found.
fn answer_asset_state(state: &mut State, message: ToSupervisor) -> Reply {
    use ToSupervisor as M;
    let by_name = |state: &State, name: &str| {
        state
            .assets
            .iter()
            .any(|a| a.name == name)
            .then(|| name.to_owned())
            .ok_or_else(|| format!("Asset with name={name:?} not found"))
    };
    let by_uri = |state: &State, uri: &str| {
        state
            .assets
            .iter()
            .find(|a| a.uri == uri)
            .map(|a| a.name.clone())
            .ok_or_else(|| format!("Asset with uri={uri:?} not found"))
    };
    enum Op {
        Get(String),
        Set(String, Value),
        Delete(String),
        Clear,
    }
    let (asset, op) = match message {
        M::GetAssetStateStoreByName(m) => (by_name(state, &m.name), Op::Get(m.key)),
        M::GetAssetStateStoreByUri(m) => (by_uri(state, &m.uri), Op::Get(m.key)),
        M::SetAssetStateStoreByName(m) => (by_name(state, &m.name), Op::Set(m.key, m.value)),
        M::SetAssetStateStoreByUri(m) => (by_uri(state, &m.uri), Op::Set(m.key, m.value)),
        M::DeleteAssetStateStoreByName(m) => (by_name(state, &m.name), Op::Delete(m.key)),
        M::DeleteAssetStateStoreByUri(m) => (by_uri(state, &m.uri), Op::Delete(m.key)),
        M::ClearAssetStateStoreByName(m) => (by_name(state, &m.name), Op::Clear),
        M::ClearAssetStateStoreByUri(m) => (by_uri(state, &m.uri), Op::Clear),
        _ => return api_error(400, "Unhandled request"),
    };
    match (asset, op) {
        // The supervisor turns every 404 of a read into ASSET_STORE_NOT_FOUND.
        (Err(_), Op::Get(key)) => error_body("ASSET_STORE_NOT_FOUND", json!({"key": key})),
        (Err(message), _) => api_error(404, &message),
        (Ok(name), Op::Get(key)) => match state.asset_state.get(&name).and_then(|s| s.get(&key)) {
            Some(v) => body(ToTask::AssetStateStoreResult(
                messages::AssetStateStoreResult {
                    value: Json(v.clone()),
                },
            )),
            None => error_body("ASSET_STORE_NOT_FOUND", json!({"key": key})),
        },
        (Ok(_), Op::Set(_, Value::Null)) => api_error(422, "value cannot be null"),
        (Ok(name), Op::Set(key, value)) => {
            state
                .asset_state
                .entry(name)
                .or_default()
                .insert(key, value);
            ok()
        }
        (Ok(name), Op::Delete(key)) => {
            if let Some(s) = state.asset_state.get_mut(&name) {
                s.remove(&key);
            }
            ok()
        }
        (Ok(name), Op::Clear) => {
            state.asset_state.remove(&name);
            ok()
        }
    }
}

fn body(b: ToTask) -> Reply {
    Reply::Body(b)
}

fn ok() -> Reply {
    Reply::Body(ToTask::OKResponse(OKResponse { ok: true }))
}

fn error_body(error: &str, detail: Value) -> Reply {
    Reply::ErrorBody(ErrorResponse {
        error: error.to_owned(),
        detail: Json(detail),
    })
}

/// What the supervisor sends when an API call fails: `API_SERVER_ERROR` in the error element.
pub(crate) fn api_error(status_code: u16, message: &str) -> Reply {
    Reply::Failure(ErrorResponse {
        error: "API_SERVER_ERROR".to_owned(),
        detail: Json(json!({
            "status_code": status_code,
            "message": message,
            "detail": null,
        })),
    })
}

impl Failure {
    /// The reply (or transport error) this failure makes.
    fn reply(&self, timeout: Duration) -> Result<Reply, CommError> {
        match self {
            Failure::ApiServer {
                status_code,
                message,
            } => Ok(Reply::Failure(ErrorResponse {
                error: "API_SERVER_ERROR".to_owned(),
                detail: Json(json!({
                    "status_code": status_code,
                    "message": message,
                    "detail": null,
                })),
            })),
            Failure::ErrorResponse { error, detail } => Ok(error_body(error, detail.clone())),
            Failure::Timeout => Err(CommError::Timeout(timeout)),
        }
    }
}

impl Request {
    /// The record of `message`, as it goes on the wire.
    fn of(message: &ToSupervisor) -> Request {
        Request {
            kind: RequestKind::of(message),
            body: serde_json::to_value(message).unwrap_or(Value::Null),
            failure: None,
        }
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn ti_matches(state: &State, ti: &TiEntry, f: &TiFilter) -> bool {
    let logical_date_of = |run_id: &str| {
        state
            .dag_runs
            .iter()
            .find(|r| r.dag_id == ti.dag_id && r.run_id == run_id)
            .and_then(|r| r.logical_date)
            .map(messages::format_time)
    };
    ti.dag_id == f.dag_id
        && f.map_index.is_none_or(|i| i == ti.map_index)
        && f.task_ids.as_ref().is_none_or(|t| t.contains(&ti.task_id))
        // Task ids in a task group are prefixed `group.`.
        && f.task_group_id
            .as_ref()
            .is_none_or(|g| ti.task_id.starts_with(&format!("{g}.")))
        && f.run_ids.as_ref().is_none_or(|r| r.contains(&ti.run_id))
        && f.logical_dates.as_ref().is_none_or(|dates| {
            logical_date_of(&ti.run_id).is_some_and(|d| dates.iter().any(|x| same_time(x, &d)))
        })
}

fn dr_matches(r: &DagRunInfo, f: &DrFilter) -> bool {
    r.dag_id == f.dag_id
        && f.run_ids.as_ref().is_none_or(|ids| ids.contains(&r.run_id))
        && f.states.as_ref().is_none_or(|s| s.contains(&r.state))
        && f.logical_dates.as_ref().is_none_or(|dates| {
            r.logical_date.is_some_and(|d| {
                dates
                    .iter()
                    .any(|x| same_time(x, &messages::format_time(d)))
            })
        })
}

/// Whether two RFC 3339 times are the same instant.
fn same_time(a: &str, b: &str) -> bool {
    match (parse_time(a), parse_time(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

fn record_of(r: &DagRunInfo) -> DagRunRecord {
    let ts = |t: Option<OffsetDateTime>| t.map(Timestamp);
    DagRunRecord {
        dag_id: r.dag_id.clone(),
        run_id: r.run_id.clone(),
        logical_date: ts(r.logical_date),
        data_interval_start: ts(r.data_interval_start),
        data_interval_end: ts(r.data_interval_end),
        start_date: ts(r.start_date),
        end_date: ts(r.end_date),
        run_type: r.run_type.clone(),
        state: r.state.clone(),
        conf: Json(r.conf.clone()),
    }
}

fn asset_result(a: &Asset) -> AssetResult {
    AssetResult {
        name: a.name.clone(),
        uri: a.uri.clone(),
        group: "asset".to_owned(),
        extra: Json(json!({})),
    }
}

/// Events in Airflow's order (oldest first unless `ascending` is false), at most `limit`.
fn events_result(mut events: Vec<&AssetEvent>, ascending: bool, limit: Option<i64>) -> Reply {
    events.sort_by_key(|e| (e.timestamp, e.id));
    if !ascending {
        events.reverse();
    }
    if let Some(limit) = limit {
        events.truncate(usize::try_from(limit).unwrap_or(0));
    }
    body(ToTask::AssetEventsResult(AssetEventsResult {
        asset_events: events.into_iter().map(event_record).collect(),
    }))
}

fn event_record(e: &AssetEvent) -> AssetEventRecord {
    AssetEventRecord {
        id: e.id,
        timestamp: Timestamp(e.timestamp),
        extra: Json(e.extra.clone()),
        asset: AssetResult {
            name: e.asset.name.clone(),
            uri: e.asset.uri.clone(),
            group: e.asset.group.clone(),
            extra: Json(e.asset.extra.clone()),
        },
        source_task_id: e.source_task_id.clone(),
        source_dag_id: e.source_dag_id.clone(),
        source_run_id: e.source_run_id.clone(),
        source_map_index: e.source_map_index,
    }
}
