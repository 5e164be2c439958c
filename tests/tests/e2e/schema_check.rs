//! Every message type the runtime encodes or decodes, checked against the `schema.json` shipped
//! inside each supported task SDK release (1.3.2 for 2026-06-16, 1.4.0b2 for 2026-10-30), read
//! from the installed package. The schema catches names and types; what the real server accepts
//! is judged by the deployment tests.
//!
//! Moved here from airflow-sdk so that the SDK's unit tests run without Python. The packages are
//! the end-to-end tests' venvs (`airflow_e2e::venv`, created on first use);
//! the schema file is located by asking that venv's Python where the package is. A missing venv
//! fails the test: it never passes without having checked.

use std::path::PathBuf;
use std::process::Command;

use airflow_e2e::venv::Release;
use serde_json::{Value, json};

use airflow_protocol::SchemaVersion;
use airflow_protocol::messages::*;

/// The installed `schema.json` of the task SDK release that speaks `version`.
fn schema(version: SchemaVersion) -> Value {
    let release = match version {
        SchemaVersion::V2026_06_16 => Release::V3_3,
        SchemaVersion::V2026_10_30 => Release::V3_4,
        other => panic!("no task SDK release for schema {other}: add one to airflow_e2e::venv"),
    };
    let python = airflow_e2e::venv::python_for(release)
        .unwrap_or_else(|e| panic!("no Airflow {} venv: {e:#}", release.airflow_version()));
    let out = Command::new(&python)
        .args([
            "-c",
            "import os, airflow.sdk.execution_time as m; \
             print(os.path.join(os.path.dirname(m.__file__), 'schema', 'schema.json'))",
        ])
        .output()
        .expect("running the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e})", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["api_version"],
        version.as_str(),
        "{} is not the schema of {version}",
        path.display()
    );
    schema
}

fn json_type_ok(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// What is wrong with `value` under `schema` (a JSON schema fragment of the file `root`).
/// `require` also checks required keys (for what we send; what we decode may omit them).
fn problems(value: &Value, schema: &Value, root: &Value, path: &str, require: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return problems(value, &root["$defs"][name], root, path, require);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let each: Vec<Vec<String>> = branches
                .iter()
                .map(|b| problems(value, b, root, path, require))
                .collect();
            if !each.iter().any(Vec::is_empty) {
                out.push(format!(
                    "{path}: {value} matches no branch of {key}: {}",
                    each.concat().join("; ")
                ));
            }
            return out;
        }
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        out.push(format!("{path}: {value} is not {c}"));
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {e:?}"));
    }
    match schema.get("type") {
        Some(Value::String(t)) if !json_type_ok(value, t) => {
            out.push(format!("{path}: {value} is not of type {t}"));
            return out;
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .any(|t| t.as_str().is_some_and(|t| json_type_ok(value, t))) =>
        {
            out.push(format!("{path}: {value} is not of types {ts:?}"));
            return out;
        }
        _ => {}
    }
    if let (Some(obj), Some(props)) = (value.as_object(), schema.get("properties")) {
        for (k, v) in obj {
            match props.get(k) {
                Some(p) => out.extend(problems(v, p, root, &format!("{path}.{k}"), require)),
                None => out.push(format!("{path}: the schema has no field {k:?}")),
            }
        }
        if require {
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    out.push(format!("{path}: required field {r:?} is missing"));
                }
            }
        }
    } else if let (Some(obj), Some(extra)) = (value.as_object(), schema.get("additionalProperties"))
        && extra.is_object()
    {
        for (k, v) in obj {
            out.extend(problems(v, extra, root, &format!("{path}.{k}"), require));
        }
    }
    if let (Some(items), Some(item)) = (value.as_array(), schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            out.extend(problems(v, item, root, &format!("{path}[{i}]"), require));
        }
    }
    out
}

/// Checks one message body against its `$defs` entry, named by its `type`.
fn check(body: &Value, root: &Value, require: bool) -> Vec<String> {
    let kind = body["type"].as_str().expect("bodies carry a type");
    let Some(def) = root["$defs"].get(kind) else {
        return vec![format!("the schema has no message {kind:?}")];
    };
    problems(body, def, root, kind, require)
}

/// Drops null-valued keys: a `None` we decode stands for an absent field.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn ti() -> TaskInstance {
    TaskInstance {
        id: "0199a5b2-1c2d-7e3f-8a9b-0c1d2e3f4a5b".into(),
        dag_id: "d".into(),
        task_id: "t".into(),
        run_id: "r".into(),
        try_number: 1,
        map_index: Some(-1),
    }
}

/// A human-in-the-loop request with every field set.
fn hitl_request() -> HITLDetailRequest {
    HITLDetailRequest {
        ti_id: ti().id,
        options: vec!["approve".into(), "reject".into()],
        subject: "Load?".into(),
        body: Some("**rows**: 3".into()),
        defaults: Some(vec!["reject".into()]),
        multiple: false,
        params:
            json!({"rows": {"value": 3, "description": "how many", "schema": {"type": "integer"}}})
                .as_object()
                .cloned(),
        assigned_users: vec![HitlUser {
            id: "admin".into(),
            name: "admin".into(),
        }],
    }
}

/// One instance of every message we send, in the newest shape.
fn sent() -> Vec<ToSupervisor> {
    let end = now();
    let mut import_errors = std::collections::BTreeMap::new();
    import_errors.insert("etl".to_owned(), "x".to_owned());
    vec![
        Terminal::Success.message(end.clone()),
        Terminal::Retry("boom".into()).message(end.clone()),
        Terminal::Failed.message(end.clone()),
        Terminal::Skipped.message(end.clone()),
        Terminal::RetryAfter("later".into(), std::time::Duration::from_millis(7500))
            .message(end.clone()),
        Terminal::Removed.message(end.clone()),
        Terminal::Deferred(Box::new(DeferTask {
            classpath: "airflow.providers.standard.triggers.temporal.DateTimeTrigger".into(),
            trigger_kwargs: json!({"moment": {"__classname__": "pendulum.datetime.DateTime",
                "__version__": 2, "__data__": {"timestamp": 1.5, "tz": "UTC"}}, "end_from_trigger": false})
            .as_object()
            .cloned()
            .unwrap_or_default(),
            trigger_timeout: Some(iso_duration(std::time::Duration::from_millis(90_500))),
            next_method: "woke".into(),
            next_kwargs: json!({"n": 1}).as_object().cloned().unwrap_or_default(),
            rendered_map_index: Some("label".into()),
        }))
        .message(end.clone()),
        Terminal::AwaitingInput(Box::new(AwaitInputTask {
            timeout: Some(iso_duration(std::time::Duration::from_secs(30))),
            next_method: "decided".into(),
            next_kwargs: serde_json::Map::new(),
            rendered_map_index: None,
        }))
        .message(end.clone()),
        Terminal::Rescheduled(end.clone()).message(end.clone()),
        ToSupervisor::GetTaskRescheduleStartDate(GetTaskRescheduleStartDate {
            ti_id: ti().id,
            try_number: 2,
        }),
        ToSupervisor::CreateHITLDetailPayload(hitl_request()),
        ToSupervisor::TaskState(TaskStateMsg {
            state: "failed",
            end_date: end,
            retry_reason: Some("why".into()),
        }),
        ToSupervisor::set_xcom(&ti(), "k", json!({"a": [1, 2.5, null, "s"]})),
        // The return value a mapped task expands over, with its length.
        {
            let mut m = ToSupervisor::set_xcom(&ti(), "return_value", json!([1, 2, 3]));
            if let ToSupervisor::SetXCom(x) = &mut m {
                x.mapped_length = Some(3);
            }
            m
        },
        // What all task instances of a mapped task returned (nil bounds are required).
        ToSupervisor::GetXComSequenceSlice(GetXComSequenceSlice {
            key: "return_value".into(),
            dag_id: "d".into(),
            run_id: "r".into(),
            task_id: "t".into(),
            start: None,
            stop: None,
            step: None,
        }),
        ToSupervisor::delete_xcom(&ti(), "k"),
        ToSupervisor::get_xcom(&ti(), "up", "return_value"),
        ToSupervisor::get_variable("v"),
        ToSupervisor::get_connection("c"),
        ToSupervisor::DagFileParsingResult(DagFileParsingResult {
            fileloc: "/bundles/etl".into(),
            serialized_dags: vec![SerializedDag {
                // The schema types `data` as an open object; what the Dag processor makes of
                // the SDK's real serialization is judged by the 3.4 deployment tests.
                data: json!({"__version": 3, "dag": {"dag_id": "etl", "fileloc": "/bundles/etl"}}),
            }],
            import_errors: Some(import_errors),
        }),
        ToSupervisor::SucceedTask(SucceedTask {
            end_date: now(),
            task_outlets: vec![
                AssetProfile {
                    name: "a".into(),
                    uri: Some("s3://b/a".into()),
                    kind: "Asset",
                },
                AssetProfile {
                    name: "alias".into(),
                    uri: None,
                    kind: "AssetAlias",
                },
            ],
            outlet_events: vec![
                json!({"dest_asset_key": {"name": "a", "uri": "s3://b/a"}, "extra": {"n": 1}}),
                json!({"source_alias_name": "alias", "dest_asset_key": {"name": "b", "uri": "s3://b/b"},
                       "dest_asset_extra": {}, "extra": {"n": 2}}),
            ],
            rendered_map_index: Some("label".into()),
        }),
        ToSupervisor::GetXCom(GetXCom {
            key: "k".into(),
            dag_id: "d".into(),
            run_id: "r".into(),
            task_id: "t".into(),
            map_index: Some(2),
            include_prior_dates: true,
        }),
        ToSupervisor::GetXComCount(GetXComCount {
            key: "k".into(),
            dag_id: "d".into(),
            run_id: "r".into(),
            task_id: "t".into(),
        }),
        ToSupervisor::PutVariable(PutVariable {
            key: "k".into(),
            value: Some("v".into()),
            description: None,
        }),
        ToSupervisor::DeleteVariable(DeleteVariable { key: "k".into() }),
        ToSupervisor::GetTaskStateStore(TaskStateKey {
            ti_id: ti().id,
            key: "k".into(),
        }),
        ToSupervisor::SetTaskStateStore(SetTaskStateStore {
            ti_id: ti().id,
            key: "k".into(),
            value: json!({"done": 3}),
            expires_at: Some(now()),
        }),
        ToSupervisor::SetTaskStateStore(SetTaskStateStore {
            ti_id: ti().id,
            key: "k".into(),
            value: json!(1),
            expires_at: None,
        }),
        ToSupervisor::DeleteTaskStateStore(TaskStateKey {
            ti_id: ti().id,
            key: "k".into(),
        }),
        ToSupervisor::ClearTaskStateStore(TiOnly { ti_id: ti().id }),
        ToSupervisor::SkipDownstreamTasks(SkipDownstreamTasks {
            tasks: vec!["a".into()],
        }),
        ToSupervisor::TriggerDagRun(TriggerDagRun {
            dag_id: "d".into(),
            run_id: "r".into(),
            logical_date: Some(now()),
            conf: Some(json!({"a": 1})),
            reset_dag_run: false,
            note: Some("n".into()),
        }),
        ToSupervisor::GetDagRunState(DagRunKey {
            dag_id: "d".into(),
            run_id: "r".into(),
        }),
        ToSupervisor::GetTICount(TiFilter {
            dag_id: "d".into(),
            map_index: Some(-1),
            task_ids: Some(vec!["t".into()]),
            task_group_id: Some("g".into()),
            logical_dates: Some(vec![now()]),
            run_ids: Some(vec!["r".into()]),
            states: Some(vec!["success".into()]),
        }),
        ToSupervisor::GetTaskStates(TiFilter {
            dag_id: "d".into(),
            task_ids: Some(vec!["t".into()]),
            run_ids: Some(vec!["r".into()]),
            ..TiFilter::default()
        }),
        ToSupervisor::GetDRCount(DrFilter {
            dag_id: "d".into(),
            logical_dates: Some(vec![now()]),
            run_ids: Some(vec!["r".into()]),
            states: Some(vec!["success".into()]),
        }),
        ToSupervisor::GetPreviousDagRun(GetPreviousDagRun {
            dag_id: "d".into(),
            logical_date: now(),
            state: Some("success".into()),
        }),
        ToSupervisor::GetPrevSuccessfulDagRun(TiOnly { ti_id: ti().id }),
        ToSupervisor::SetRenderedFields(SetRenderedFields {
            rendered_fields: json!({"a": [1], "b": "x"}).as_object().unwrap().clone(),
        }),
        ToSupervisor::SetRenderedMapIndex(SetRenderedMapIndex {
            rendered_map_index: "x".into(),
        }),
        ToSupervisor::GetAssetByName(GetAssetByName { name: "a".into() }),
        ToSupervisor::GetAssetByUri(GetAssetByUri {
            uri: "s3://a".into(),
        }),
        ToSupervisor::GetAssetEventByAsset(GetAssetEventByAsset {
            name: Some("a".into()),
            uri: None,
            after: Some(now()),
            before: Some(now()),
            limit: Some(3),
            ascending: true,
        }),
        ToSupervisor::MaskSecret(MaskSecret {
            value: json!("s3cret"),
            name: Some("password".into()),
        }),
        ToSupervisor::GetAssetStateStoreByName(AssetStateKeyByName {
            name: "a".into(),
            key: "k".into(),
        }),
        ToSupervisor::GetAssetStateStoreByUri(AssetStateKeyByUri {
            uri: "s3://a".into(),
            key: "k".into(),
        }),
        ToSupervisor::SetAssetStateStoreByName(SetAssetStateStoreByName {
            name: "a".into(),
            key: "k".into(),
            value: json!({"watermark": "2026-01-01", "n": [1, 2.5]}),
        }),
        ToSupervisor::SetAssetStateStoreByUri(SetAssetStateStoreByUri {
            uri: "s3://a".into(),
            key: "k".into(),
            value: json!(3),
        }),
        ToSupervisor::DeleteAssetStateStoreByName(AssetStateKeyByName {
            name: "a".into(),
            key: "k".into(),
        }),
        ToSupervisor::DeleteAssetStateStoreByUri(AssetStateKeyByUri {
            uri: "s3://a".into(),
            key: "k".into(),
        }),
        ToSupervisor::ClearAssetStateStoreByName(GetAssetByName { name: "a".into() }),
        ToSupervisor::ClearAssetStateStoreByUri(GetAssetByUri {
            uri: "s3://a".into(),
        }),
        ToSupervisor::GetAssetsByAlias(GetAssetsByAlias {
            alias_name: "alias".into(),
        }),
        ToSupervisor::GetAssetEventByAssetAlias(GetAssetEventByAssetAlias {
            alias_name: "alias".into(),
            after: Some(now()),
            before: Some(now()),
            limit: Some(2),
            ascending: false,
        }),
        ToSupervisor::SetExecutionTimeout(SetExecutionTimeout {
            timeout_seconds: 2.5,
        }),
    ]
}

/// One instance of every message we decode, with every optional field set.
fn received() -> Vec<ToTask> {
    let t = Some(Timestamp(time::OffsetDateTime::UNIX_EPOCH));
    let details = StartupDetails {
        ti: ti(),
        dag_rel_path: "stub.py".into(),
        start_date: t,
        ti_context: TIRunContext {
            dag_run: DagRun {
                logical_date: t,
                data_interval_start: t,
                data_interval_end: t,
                run_after: t,
                start_date: t,
                run_type: "manual".into(),
                conf: Json(json!({"a": 1})),
            },
            max_tries: 1,
            should_retry: true,
            xcom_keys_to_clear: Some(vec!["k".into()]),
            arg_bindings: Some(vec![
                ArgBinding::XCom {
                    name: "a".into(),
                    task_id: "up".into(),
                },
                ArgBinding::Literal {
                    name: "b".into(),
                    value: Json(json!([1])),
                    from_default: true,
                },
            ]),
            next_method: Some("woke".into()),
            next_kwargs: Some(Json(json!({"event": 1, "n": "x"}))),
        },
    };
    let asset = AssetResult {
        name: "a".into(),
        uri: "s3://a".into(),
        group: "asset".into(),
        extra: Json(json!({"k": "v"})),
    };
    let error = ErrorResponse {
        error: "VARIABLE_NOT_FOUND".into(),
        detail: Json(json!({"key": "k"})),
    };
    vec![
        ToTask::StartupDetails(Box::new(details)),
        ToTask::TaskRescheduleStartDate(TaskRescheduleStartDate { start_date: t }),
        ToTask::TaskRescheduleStartDate(TaskRescheduleStartDate { start_date: None }),
        ToTask::HITLDetailRequestResult(hitl_request()),
        ToTask::DagFileParseRequest(DagFileParseRequest {
            file: "/b/etl".into(),
            bundle_path: "/b".into(),
            bundle_name: "b".into(),
        }),
        ToTask::XComResult(XComResult {
            key: "k".into(),
            value: Json(json!({"a": 1})),
        }),
        ToTask::VariableResult(VariableResult {
            key: "k".into(),
            value: Some("v".into()),
        }),
        ToTask::ConnectionResult(ConnectionResult {
            conn_id: "c".into(),
            conn_type: "postgres".into(),
            host: Some("h".into()),
            schema: Some("s".into()),
            login: Some("l".into()),
            password: Some("p".into()),
            port: Some(5432),
            extra: Some("{}".into()),
        }),
        ToTask::ErrorResponse(error),
        ToTask::XComCountResponse(XComCountResponse { len: 3 }),
        ToTask::XComSequenceSliceResult(XComSequenceSliceResult {
            root: vec![Json(json!(4)), Json(json!({"a": "b"}))],
        }),
        ToTask::TaskStateStoreResult(TaskStateStoreResult {
            value: Json(json!({"done": 1})),
        }),
        ToTask::OKResponse(OKResponse { ok: true }),
        ToTask::DagRunStateResult(DagRunStateResult {
            state: "success".into(),
        }),
        ToTask::TICount(Count { count: 1 }),
        ToTask::DRCount(Count { count: 1 }),
        ToTask::TaskStatesResult(TaskStatesResult {
            task_states: Json(json!({"r": {"t": "success"}})),
        }),
        ToTask::PreviousDagRunResult(PreviousDagRunResult {
            dag_run: Some(DagRunRecord {
                dag_id: "d".into(),
                run_id: "r".into(),
                logical_date: t,
                data_interval_start: t,
                data_interval_end: t,
                start_date: t,
                end_date: t,
                run_type: "manual".into(),
                state: "success".into(),
                conf: Json(json!({"a": 1})),
            }),
        }),
        ToTask::PrevSuccessfulDagRunResult(PrevSuccessfulDagRunResult {
            data_interval_start: t,
            data_interval_end: t,
            start_date: t,
            end_date: t,
        }),
        ToTask::AssetResult(asset.clone()),
        ToTask::AssetStateStoreResult(AssetStateStoreResult {
            value: Json(json!({"watermark": 3})),
        }),
        ToTask::AssetsByAliasResult(AssetsByAliasResult {
            assets: vec![asset.clone()],
        }),
        ToTask::AssetEventsResult(AssetEventsResult {
            asset_events: vec![AssetEventRecord {
                id: 1,
                timestamp: Timestamp(time::OffsetDateTime::UNIX_EPOCH),
                extra: Json(json!({"n": 1})),
                asset,
                source_task_id: Some("t".into()),
                source_dag_id: Some("d".into()),
                source_run_id: Some("r".into()),
                source_map_index: Some(-1),
            }],
        }),
    ]
}

#[test]
fn every_message_matches_the_schema_json_of_each_supported_release() {
    let mut all = Vec::new();
    for &version in SchemaVersion::ALL {
        let root = schema(version);
        for message in sent() {
            // Sent only under 2026-10-30 (see `runtime::timeout`); older schemas lack it.
            if matches!(message, ToSupervisor::SetExecutionTimeout(_))
                && version < SchemaVersion::V2026_10_30
            {
                continue;
            }
            let body = serde_json::to_value(version.outgoing(message)).unwrap();
            all.extend(
                check(&body, &root, true)
                    .into_iter()
                    .map(|p| format!("{version} sends {p}")),
            );
        }
        for message in received() {
            let message = match message {
                ToTask::StartupDetails(d) => ToTask::StartupDetails(Box::new(version.incoming(*d))),
                other => other,
            };
            let body = without_nulls(serde_json::to_value(message).unwrap());
            all.extend(
                check(&body, &root, false)
                    .into_iter()
                    .map(|p| format!("{version} decodes {p}")),
            );
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

#[test]
fn the_checker_catches_wrong_names_types_and_missing_fields() {
    let root = schema(SchemaVersion::V2026_06_16);
    let bad = [
        // 2026-10-30's retry_reason on TaskState is unknown to 2026-06-16.
        json!({"type": "TaskState", "state": "failed", "retry_reason": "x"}),
        json!({"type": "SucceedTask", "end_date": 5}),
        json!({"type": "SucceedTask"}),
        json!({"type": "TaskState", "state": "success"}),
        json!({"type": "GetVariable", "key": "k", "stray": 1}),
        json!({"type": "NoSuchMessage"}),
        // Why the runtime sends it only under 2026-10-30.
        json!({"type": "SetExecutionTimeout", "timeout_seconds": 3.0}),
    ];
    for body in bad {
        assert!(!check(&body, &root, true).is_empty(), "{body} passed");
    }
    let new = schema(SchemaVersion::V2026_10_30);
    let ok = json!({"type": "TaskState", "state": "failed", "retry_reason": "x"});
    assert_eq!(check(&ok, &new, true), Vec::<String>::new());
    let ok = json!({"type": "SetExecutionTimeout", "timeout_seconds": 3.0});
    assert_eq!(check(&ok, &new, true), Vec::<String>::new());
}
