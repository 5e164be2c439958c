//! The generated stub dag file is a security boundary: whatever a bundle's name and manifest
//! hold reaches the file only as the contents of string literals.
//!
//! Judged by Python itself (the 3.3 venv): `harness/stub_boundary.py` tokenizes and parses each
//! file and checks that it is pure ASCII with the fixed first two lines, read as UTF-8, holds only
//! the template's comments, names and keywords, and parses to exactly the expected statements
//! with exactly the given values. Manifests come from a property generator that puts hostile
//! Unicode into every field that reaches a stub (many files, one Python process); fixed cases
//! are written by the real `cargo airflow stubs` and imported by Airflow's own `DagBag`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use airflow_bundle::declare::{
    CRON_PRESETS, DagDeclaration, ParamDeclaration, Schedule, TaskDeclaration, TaskSettings,
    TriggerRule,
};
use airflow_bundle::stubs::render;
use airflow_bundle::{DagEntry, Manifest, Metadata, Sdk};
use airflow_e2e::venv::{Release, python_for};
use airflow_e2e::{fixture, harness_dir, pack};
use anyhow::{Context, Result, ensure};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

/// How many generated manifests one run judges.
const CASES: usize = 300;

/// Text built from the pieces that have broken generated code before, or could: line ends
/// Python or editors honour, quotes, backslashes and escape sequences, encoding declarations,
/// BOMs, non-BMP characters; or arbitrary Unicode; or now and then a very long run.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\u{2028}"),
        Just("\u{2029}"),
        Just("\u{85}"),
        Just("\r"),
        Just("\n"),
        Just("\r\n"),
        Just("\x0c"),
        Just("\x0b"),
        Just("\0"),
        Just("\x1b"),
        Just("\x7f"),
        Just("\""),
        Just("'"),
        Just("\"\"\""),
        Just("\\"),
        Just("\\u000a"),
        Just("\\U0000000a"),
        Just("\\x0a"),
        Just("\\ud800"),
        Just("\\N{LINE FEED}"),
        Just("\\\n"),
        Just("# -*- coding: raw_unicode_escape -*-"),
        Just("coding=utf-7"),
        Just("coding:latin-1"),
        Just("vim: set fileencoding=utf-16 :"),
        Just("+AAo-"),
        Just("\u{feff}"),
        Just("\u{fffe}"),
        Just("\u{1F600}"),
        Just("\u{10FFFF}"),
        Just("\u{e9}"),
        Just("#"),
        Just("{"),
        Just("}"),
        Just(")\n__import__('os').system('false')\n("),
        Just(" "),
        Just("\t"),
        Just("a"),
    ];
    prop_oneof![
        12 => proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat()),
        6 => any::<String>(),
        1 => (any::<char>(), 1000usize..8000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// Any JSON value, strings and keys hostile, numbers of every kind JSON holds.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON numbers are finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        hostile().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(hostile(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A declared date: mostly a valid one, now and then any text (whose dag must get no stub).
#[derive(Debug, Clone)]
enum Date {
    Valid([u32; 6]),
    Text(String),
}

fn date() -> impl Strategy<Value = Option<Date>> {
    proptest::option::of(prop_oneof![
        9 => (1u32..=9999, 1u32..=12, 1u32..=28, 0u32..=23, 0u32..=59, 0u32..=59)
            .prop_map(|(y, mo, d, h, mi, s)| Date::Valid([y, mo, d, h, mi, s])),
        1 => hostile().prop_map(Date::Text),
    ])
}

/// A duration in seconds: mostly one Python's timedelta holds, now and then one it does not.
fn duration() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(prop_oneof![
        30 => 0.0f64..1e9,
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-1.0),
            Just(1e300)
        ],
    ])
}

fn holds_timedelta(v: f64) -> bool {
    // 999999999 days: Python's timedelta.max, less its last day.
    v.is_finite() && (0.0..86_400.0 * 999_999_999.0).contains(&v)
}

#[derive(Debug, Clone)]
struct TaskCase {
    id: String,
    queue: String,
    pool: Option<String>,
    owner: Option<String>,
    doc_md: Option<String>,
    retries: Option<u32>,
    retry_delay: Option<f64>,
    backoff: Option<f64>,
    timeout: Option<f64>,
    priority: Option<i32>,
    rule: Option<usize>,
    /// Bits choosing later tasks as downstream.
    down: u8,
}

fn task_case() -> impl Strategy<Value = TaskCase> {
    (
        (
            hostile(),
            hostile(),
            proptest::option::of(hostile()),
            proptest::option::of(hostile()),
            proptest::option::of(hostile()),
        ),
        (
            any::<Option<u32>>(),
            duration(),
            proptest::option::of(any::<f64>()),
            duration(),
            any::<Option<i32>>(),
            proptest::option::of(0usize..13),
            any::<u8>(),
        ),
    )
        .prop_map(
            |(
                (id, queue, pool, owner, doc_md),
                (retries, retry_delay, backoff, timeout, priority, rule, down),
            )| TaskCase {
                id,
                queue,
                pool,
                owner,
                doc_md,
                retries,
                retry_delay,
                backoff,
                timeout,
                priority,
                rule,
                down,
            },
        )
}

#[derive(Debug, Clone)]
struct DagCase {
    id: String,
    schedule: u8,
    cron: (String, String),
    start: Option<Date>,
    end: Option<Date>,
    catchup: Option<bool>,
    description: Option<String>,
    tags: Vec<String>,
    params: Vec<(String, Value, Option<String>)>,
    runs: (Option<u32>, Option<u32>, Option<f64>),
    tasks: Vec<TaskCase>,
}

fn dag_case() -> impl Strategy<Value = DagCase> {
    (
        (hostile(), 0u8..4, (hostile(), hostile()), date(), date()),
        (
            any::<Option<bool>>(),
            proptest::option::of(hostile()),
            proptest::collection::vec(hostile(), 0..3),
            proptest::collection::vec(
                (hostile(), json_value(), proptest::option::of(hostile())),
                0..3,
            ),
            (any::<Option<u32>>(), any::<Option<u32>>(), duration()),
            proptest::collection::vec(task_case(), 1..4),
        ),
    )
        .prop_map(
            |(
                (id, schedule, cron, start, end),
                (catchup, description, tags, params, runs, tasks),
            )| DagCase {
                id,
                schedule,
                cron,
                start,
                end,
                catchup,
                description,
                tags,
                params,
                runs,
                tasks,
            },
        )
}

fn date_text(d: &Date) -> String {
    match d {
        Date::Valid([y, mo, d, h, mi, s]) => {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        }
        Date::Text(t) => t.clone(),
    }
}

fn date_json(d: &Option<Date>) -> Value {
    match d {
        Some(Date::Valid(f)) => json!(f),
        _ => Value::Null,
    }
}

/// Every string inside a JSON value (keys too).
fn json_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// One manifest to render: its dags as generated, and the bundle's name and digest.
struct Case {
    bundle: String,
    digest: String,
    dags: Vec<DagCase>,
}

impl Case {
    /// The dags keyed by id (the last of a repeated id wins, as in the manifest) with tasks of
    /// distinct ids.
    fn dags(&self) -> Vec<DagCase> {
        let mut by_id = std::collections::BTreeMap::new();
        for d in &self.dags {
            let mut d = d.clone();
            let mut seen = BTreeSet::new();
            d.tasks.retain(|t| seen.insert(t.id.clone()));
            by_id.insert(d.id.clone(), d);
        }
        by_id.into_values().collect()
    }

    fn manifest(&self) -> Manifest {
        let mut m = Manifest::new(
            Metadata {
                airflow_bundle_metadata_version: "1.0".into(),
                sdk: Sdk {
                    language: "rust".into(),
                    version: "0.1.0".into(),
                    supervisor_schema_version: "2026-06-16".into(),
                    supervisor_schema_versions: vec![],
                },
                task_handlers: None,
                dags: Default::default(),
            },
            "main.rs".into(),
            None,
        );
        for d in self.dags() {
            let mut decl = DagDeclaration::default();
            decl.coordinator_queues = d.tasks.iter().map(|t| t.queue.clone()).collect();
            decl.schedule = match d.schedule {
                0 => Schedule::None,
                1 => Schedule::Once,
                2 => Schedule::Continuous,
                _ => Schedule::Cron {
                    expression: d.cron.0.clone(),
                    timezone: d.cron.1.clone(),
                },
            };
            decl.start_date = d.start.as_ref().map(date_text);
            decl.end_date = d.end.as_ref().map(date_text);
            decl.catchup = d.catchup;
            decl.description = d.description.clone();
            decl.tags = d.tags.clone();
            decl.params = d
                .params
                .iter()
                .map(|(name, default, description)| ParamDeclaration {
                    name: name.clone(),
                    default: default.clone(),
                    description: description.clone(),
                })
                .collect();
            (
                decl.max_active_runs,
                decl.max_active_tasks,
                decl.dagrun_timeout,
            ) = d.runs;
            decl.tasks = d
                .tasks
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut s = TaskSettings::default();
                    s.queue = Some(t.queue.clone());
                    s.pool = t.pool.clone();
                    s.owner = t.owner.clone();
                    s.doc_md = t.doc_md.clone();
                    s.retries = t.retries;
                    s.retry_delay = t.retry_delay;
                    s.retry_exponential_backoff = t.backoff;
                    s.execution_timeout = t.timeout;
                    s.priority_weight = t.priority;
                    s.trigger_rule = t.rule.map(|r| TriggerRule::ALL[r]);
                    TaskDeclaration {
                        id: t.id.clone(),
                        settings: s,
                        downstream: downstream(&d.tasks, i),
                        args: vec![],
                        arg_sources: vec![],
                        branch: false,
                        map_index_template: None,
                        inlets: vec![],
                        outlets: vec![],
                    }
                })
                .collect();
            m.dags.insert(
                d.id.clone(),
                DagEntry {
                    tasks: d.tasks.iter().map(|t| t.id.clone()).collect(),
                    declared: Some(decl),
                },
            );
        }
        m
    }

    /// Whether a dag has a faithful Python form: dates Python's datetime holds, durations its
    /// timedelta holds, finite numbers.
    fn renderable(d: &DagCase) -> bool {
        let date_ok = |x: &Option<Date>| !matches!(x, Some(Date::Text(_)));
        let dur_ok = |x: Option<f64>| x.is_none_or(holds_timedelta);
        date_ok(&d.start)
            && date_ok(&d.end)
            && dur_ok(d.runs.2)
            && d.tasks.iter().all(|t| {
                dur_ok(t.retry_delay) && dur_ok(t.timeout) && t.backoff.is_none_or(f64::is_finite)
            })
    }

    /// What `stub_boundary.py` expects of the file written at `path`.
    fn expected(&self, path: &Path) -> Value {
        let mut given = vec![self.bundle.clone(), self.digest.clone()];
        let mut dags = Vec::new();
        for d in self.dags().iter().filter(|d| Case::renderable(d)) {
            given.push(d.id.clone());
            given.extend(d.description.clone());
            given.extend(d.tags.iter().cloned());
            let schedule = match d.schedule {
                0 => Value::Null,
                1 => json!("@once"),
                2 => json!("@continuous"),
                _ => {
                    given.extend([d.cron.0.clone(), d.cron.1.clone()]);
                    let e = d.cron.0.trim();
                    let cron = CRON_PRESETS
                        .iter()
                        .find(|(p, _)| *p == e)
                        .map_or(d.cron.0.as_str(), |(_, x)| x);
                    json!({"cron": cron, "tz": d.cron.1})
                }
            };
            for (name, default, desc) in &d.params {
                given.push(name.clone());
                given.extend(desc.clone());
                json_strings(default, &mut given);
            }
            let mut tasks = Vec::new();
            let mut edges = Vec::new();
            for (i, t) in d.tasks.iter().enumerate() {
                given.extend([t.id.clone(), t.queue.clone()]);
                given.extend(
                    [&t.pool, &t.owner, &t.doc_md]
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                tasks.push(json!({
                    "id": t.id, "queue": t.queue, "pool": t.pool, "owner": t.owner,
                    "doc_md": t.doc_md,
                }));
                let down = downstream(&d.tasks, i);
                if !down.is_empty() {
                    edges.push(json!([t.id, down]));
                }
            }
            dags.push(json!({
                "id": d.id, "schedule": schedule, "start": date_json(&d.start),
                "end": date_json(&d.end), "description": d.description, "tags": d.tags,
                "params": d.params, "tasks": tasks, "edges": edges,
            }));
        }
        json!({
            "path": path, "bundle": self.bundle, "digest": self.digest, "given": given,
            "dags": dags,
        })
    }
}

/// The ids of the later tasks `tasks[i].down` picks.
fn downstream(tasks: &[TaskCase], i: usize) -> Vec<String> {
    tasks
        .iter()
        .enumerate()
        .skip(i + 1)
        .filter(|(j, _)| tasks[i].down & (1 << (j % 8)) != 0)
        .map(|(_, t)| t.id.clone())
        .collect()
}

/// Runs `harness/stub_boundary.py` on `cases` (written as JSON into `dir`) and fails with every
/// finding.
fn judge(dir: &Path, cases: &[Value]) -> Result<()> {
    let list = dir.join("cases.json");
    fs::write(&list, serde_json::to_vec(cases)?)?;
    let out = Command::new(python_for(Release::V3_3)?)
        .arg(harness_dir().join("stub_boundary.py"))
        .arg(&list)
        .output()
        .context("running stub_boundary.py")?;
    ensure!(
        out.status.success(),
        "stub_boundary.py failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "stub_boundary.py printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    ensure!(report["checked"] == cases.len(), "{report}");
    let failures = report["failures"].as_array().context("no failures list")?;
    ensure!(
        failures.is_empty(),
        "{} of {} stub files break the boundary (files kept in {}):\n{}",
        failures.len(),
        cases.len(),
        dir.display(),
        failures
            .iter()
            .take(5)
            .map(|f| format!("{}: {}", f["path"], f["error"]))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

#[test]
fn hostile_text_in_every_field_reaches_a_stub_only_as_string_literals() -> Result<()> {
    // A new seed each run (printed on failure; STUB_BOUNDARY_SEED replays one).
    let seed: u64 = match std::env::var("STUB_BOUNDARY_SEED") {
        Ok(s) => s.parse().context("STUB_BOUNDARY_SEED is not a number")?,
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64,
    };
    let mut seed_bytes = [0u8; 16];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    // XorShift: ChaCha unoptimised took most of the test's time.
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::XorShift, &seed_bytes),
    );
    let strategy = (
        hostile(),
        hostile(),
        proptest::collection::vec(dag_case(), 1..4),
    );
    let dir = tempfile::tempdir()?;
    let mut cases = Vec::new();
    let (mut rendered_dags, mut skipped_dags) = (0, 0);
    for i in 0..CASES {
        let (bundle, digest, dags) = strategy
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .current();
        let case = Case {
            bundle,
            digest,
            dags,
        };
        let manifest = case.manifest();
        let r = render(&manifest, &case.bundle, &case.digest);
        let want: Vec<String> = case
            .dags()
            .iter()
            .filter(|d| Case::renderable(d))
            .map(|d| d.id.clone())
            .collect();
        ensure!(
            r.dags == want,
            "seed {seed}, case {i}: rendered {:?}, expected {want:?} (skipped: {:?})",
            r.dags,
            r.skipped
        );
        ensure!(
            r.skipped.len() == manifest.dags.len() - want.len(),
            "seed {seed}, case {i}: {:?}",
            r.skipped
        );
        rendered_dags += want.len();
        skipped_dags += r.skipped.len();
        let Some(text) = r.text else { continue };
        let path = dir.path().join(format!("case-{i}.py"));
        fs::write(&path, text)?;
        cases.push(case.expected(&path));
    }
    ensure!(
        rendered_dags > CASES && skipped_dags > 0,
        "the generator must reach both outcomes: {rendered_dags} dags rendered, {skipped_dags} \
         skipped"
    );
    judge(dir.path(), &cases).map_err(|e| {
        let _ = dir.keep();
        e.context(format!(
            "seed {seed} (STUB_BOUNDARY_SEED={seed} replays it)"
        ))
    })
}

/// The tag of every fixed dag: within Airflow's 100 characters, and ASCII so that the UTF-7
/// attack stays decodable (the payloads are hostile enough).
const TAG: &str = "tag: #1";

/// A bundle whose executable is a few bytes (`stubs` never runs it) and whose manifest declares
/// one dag per `(dag id, doc text)`, every task on the routed queue `rust`.
fn write_bundle(path: &Path, dags: &[(&str, &str)]) -> Result<Manifest> {
    let mut m = Case {
        bundle: String::new(),
        digest: String::new(),
        dags: vec![],
    }
    .manifest();
    for (id, doc) in dags {
        let mut decl = DagDeclaration::default();
        decl.coordinator_queues = vec!["rust".into()];
        decl.description = Some((*doc).to_owned());
        decl.tags = vec![TAG.to_owned()];
        decl.params = vec![ParamDeclaration {
            name: (*doc).to_owned(),
            default: json!({ *doc: [doc, 1.5, -7, null] }),
            description: Some((*doc).to_owned()),
        }];
        let mut s = TaskSettings::default();
        s.queue = Some("rust".into());
        s.doc_md = Some((*doc).to_owned());
        s.owner = Some((*doc).to_owned());
        decl.tasks = vec![TaskDeclaration {
            id: "t".into(),
            settings: s,
            downstream: vec![],
            args: vec![],
            arg_sources: vec![],
            branch: false,
            map_index_template: None,
            inlets: vec![],
            outlets: vec![],
        }];
        m.dags.insert(
            (*id).to_owned(),
            DagEntry {
                tasks: vec!["t".into()],
                declared: Some(decl),
            },
        );
    }
    let exe = path.with_extension("exe-part");
    fs::write(&exe, b"#!/bin/false\n")?;
    fixture::write_bundle(&exe, b"", &m, path)?;
    fs::remove_file(&exe)?;
    Ok(m)
}

/// `cargo airflow stubs BUNDLE`, which must succeed.
fn stubs(bundle: &Path) -> Result<()> {
    let out = pack::cargo_airflow_command()?
        .arg("stubs")
        .arg(bundle)
        .output()?;
    ensure!(
        out.status.success(),
        "cargo airflow stubs {} failed: {}",
        bundle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Airflow 3.3's DagBag over `dir`, in safe mode as the Dag processor finds files.
fn dag_bag(dir: &Path) -> Result<Value> {
    let out = Command::new(python_for(Release::V3_3)?)
        .arg(harness_dir().join("stub_boundary.py"))
        .arg("--load")
        .arg(dir)
        .output()
        .context("running stub_boundary.py --load")?;
    ensure!(
        out.status.success(),
        "stub_boundary.py --load failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("stub_boundary.py --load printed no JSON")
}

#[test]
fn encoding_declarations_in_a_bundle_name_give_stubs_that_import_and_run_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let marker = dir.path().join("pwned");
    let marker = marker.to_str().context("a temp dir that is not UTF-8")?;
    let run = format!("__import__('pathlib').Path('{marker}').touch()");
    // What the attack put in string fields, for the encoding its bundle name declared: UTF-7
    // for quotes (this one ran its code through the stub `cargo airflow stubs` wrote before),
    // text raw_unicode_escape reads as a line break, and plain breaks, quotes and backslashes.
    let payloads = [
        format!(
            "+ACI- or str(__import__(+ACI-pathlib+ACI-).Path(+ACI-{marker}+ACI-).touch()) or +ACI-"
        ),
        format!("\\u000a{run}\\u000a#"),
        format!("\\U0000000a{run}\\U0000000a#"),
        format!("+AAo-{run}+AAo-#"),
        format!("\n{run}\n#"),
        format!("\u{2028}{run}\u{2029}\r{run}\u{85}#\"\"\"'''\\"),
    ];
    let dags_dir = dir.path().join("dags");
    fs::create_dir(&dags_dir)?;
    let names = [
        "x coding:utf-7",
        "x coding=raw_unicode_escape",
        "example.coding=v2",
        "-*- coding: latin-1 -*-",
        "\u{feff}x coding=utf_16",
    ];
    let mut cases = Vec::new();
    let mut want = serde_json::Map::new();
    // One bundle per name and payload: a payload that one encoding cannot decode at all would
    // hide the others.
    for (i, name) in names.iter().enumerate() {
        for (j, payload) in payloads.iter().enumerate() {
            let name = format!("{name} {j}");
            let id = format!("enc_{i}_{j}");
            let bundle = dags_dir.join(&name);
            write_bundle(&bundle, &[(&id, payload)])?;
            stubs(&bundle)?;
            let stub = dags_dir.join(format!("{name}_dags.py"));
            ensure!(stub.is_file(), "no stub file {}", stub.display());
            want.insert(id.clone(), json!(format!("{name}_dags.py")));
            let case = Case {
                bundle: name,
                digest: sha256_hex(&bundle)?,
                dags: vec![],
            };
            let mut expected = case.expected(&stub);
            let p = payload;
            let given = expected["given"].as_array_mut().context("no given")?;
            given.extend([json!(id), json!(p), json!("t"), json!("rust"), json!(TAG)]);
            expected["dags"] = json!([{
                "id": id, "schedule": null, "start": null, "end": null, "description": p,
                "tags": [TAG], "params": [[p, { p: [p, 1.5, -7, null] }, p]],
                "tasks": [{"id": "t", "queue": "rust", "pool": null, "owner": p, "doc_md": p}],
                "edges": [],
            }]);
            cases.push(expected);
        }
    }
    judge(dir.path(), &cases)?;
    let bag = dag_bag(&dags_dir)?;
    ensure!(
        bag["import_errors"] == json!({}),
        "the stubs do not import: {}",
        bag["import_errors"]
    );
    ensure!(bag["dags"] == Value::Object(want), "{bag}");
    ensure!(
        !Path::new(marker).exists(),
        "importing the stubs ran the bundle's code"
    );
    Ok(())
}

#[test]
fn bundles_whose_names_differ_by_dash_dot_or_underscore_get_their_own_stub_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let names = ["a-b", "a_b", "a.b"];
    for (i, name) in names.iter().enumerate() {
        write_bundle(&dir.path().join(name), &[(&format!("dag_{i}"), "doc")])?;
    }
    for name in names {
        stubs(&dir.path().join(name))?;
    }
    let files: BTreeSet<PathBuf> = names
        .iter()
        .map(|n| dir.path().join(format!("{n}_dags.py")))
        .collect();
    for f in &files {
        ensure!(f.is_file(), "no stub file {}", f.display());
    }
    // Airflow's Dag processor finds every one (a dag file's name need not be an identifier).
    let bag = dag_bag(dir.path())?;
    ensure!(
        bag["import_errors"] == json!({}),
        "{}",
        bag["import_errors"]
    );
    ensure!(
        bag["dags"]
            == json!({
                "dag_0": "a-b_dags.py", "dag_1": "a_b_dags.py", "dag_2": "a.b_dags.py",
            }),
        "{bag}"
    );
    Ok(())
}

/// SHA-256 of a file (hex), by Python's hashlib (the tests crate has no hashing dependency).
fn sha256_hex(path: &Path) -> Result<String> {
    let out = Command::new(python_for(Release::V3_3)?)
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()?;
    ensure!(out.status.success(), "hashing {} failed", path.display());
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
