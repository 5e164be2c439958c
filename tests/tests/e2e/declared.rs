//! One declaration, two outputs: the dag shapes the example declares in Rust, judged by the
//! installed Airflow packages (no services).
//!
//! * Native dags: the example bundle answers a `DagFileParseRequest` and every serialized Dag it
//!   emits passes `DagSerialization.validate_serialized_dag` of Airflow 3.4.0b2, after
//!   `fill_config_defaults`, exactly as the Dag processor runs them (`harness/native_parse.py`).
//! * Python stubs: the file `cargo airflow pack` writes loads in Airflow 3.3.2's `DagBag`, with
//!   the dag ids, task ids, dependencies, queues and settings of the Rust declarations
//!   (`harness/load_stubs.py`); `cargo airflow stubs` writes the same bytes from the bundle.
//! * Cron schedules: every expression airflow-bundle's cron rule accepts, Airflow accepts, in a
//!   stub and in a native dag (`harness/cron_verdicts.py`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use airflow_bundle::declare::DagDeclaration;
use airflow_bundle::stubs::FIRST_LINE;
use airflow_e2e::venv::{Release, python_for};
use airflow_e2e::{fixture, harness_dir, pack};
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

/// Runs a harness script with the venv of `release` and parses its one JSON object.
fn harness(release: Release, script: &str, args: &[&Path]) -> Result<Value> {
    let python = python_for(release)?;
    let out = Command::new(&python)
        .arg(harness_dir().join(script))
        .args(args)
        .output()
        .with_context(|| format!("running {script}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).with_context(|| format!("{script} printed: {stdout}"))
}

/// The declarations of the example's dags, from its own `--airflow-metadata`.
fn declarations() -> Result<BTreeMap<String, DagDeclaration>> {
    let m = fixture::metadata_of(&fixture::example_executable()?)?;
    Ok(m.dags
        .into_iter()
        .filter_map(|(id, e)| e.declared.map(|d| (id, d)))
        .collect())
}

/// What each declared task should look like once Airflow has read it.
fn expected_tasks(decl: &DagDeclaration) -> Vec<(String, Value)> {
    decl.tasks
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                json!({
                    "queue": t.settings.queue.clone().unwrap_or_else(|| "default".into()),
                    "retries": t.settings.retries.unwrap_or(0),
                    "retry_delay": t.settings.retry_delay.unwrap_or(300.0),
                    "downstream": t.downstream,
                }),
            )
        })
        .collect()
}

#[test]
fn native_dags_pass_airflow_3_4s_own_validation_with_the_declared_shape() -> Result<()> {
    let exe = fixture::example_executable()?;
    let root = tempfile::tempdir()?;
    let bundle = root.path().join("example-bundle");
    fixture::copy(&exe, &bundle)?;
    let first = harness(
        Release::V3_4,
        "native_parse.py",
        &[root.path(), bundle.as_path()],
    )?;
    assert_eq!(first["rc"], 0, "{first}");
    assert_eq!(first["import_errors"], Value::Null, "{first}");
    assert_eq!(first["fileloc"], bundle.to_string_lossy().as_ref());

    let decls = declarations()?;
    let native: Vec<&String> = decls
        .iter()
        .filter(|(_, d)| d.native)
        .map(|(id, _)| id)
        .collect();
    let served: Vec<&String> = first["dags"].as_object().unwrap().keys().collect();
    assert_eq!(served, native, "exactly the native dags are served");
    assert!(!native.is_empty());
    for id in native {
        let dag = &first["dags"][id.as_str()];
        assert!(dag.get("error").is_none(), "{id}: {dag}");
        // Without relative_fileloc no task could start.
        assert_eq!(dag["relative_fileloc"], "example-bundle");
        let decl = &decls[id];
        let order: Vec<&str> = decl.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(dag["task_order"], json!(order), "{id}: stable task order");
        for (task_id, want) in expected_tasks(decl) {
            let got = &dag["tasks"][task_id.as_str()];
            for key in ["queue", "retries", "retry_delay", "downstream"] {
                assert_eq!(got[key], want[key], "{id}.{task_id}.{key}");
            }
        }
    }
    // What the example declares for example_native, as Airflow sees it.
    let n = &first["dags"]["example_native"];
    assert_eq!(n["timetable"], "CronTriggerTimetable");
    assert_eq!(n["timetable_summary"], "0 3 * * *");
    assert_eq!(n["timetable_timezone"], "Europe/Paris");
    assert_eq!(n["start_date"], "2026-01-01T00:00:00+00:00");
    assert_eq!(n["catchup"], false);
    assert_eq!(n["tags"], json!(["native", "rust"]));
    assert_eq!(n["params"], json!({"region": "eu", "threshold": 50}));
    assert_eq!(n["max_active_runs"], 2);
    assert_eq!(n["dagrun_timeout"], 3600.0);
    assert_eq!(
        n["tasks"]["report"]["upstream"],
        json!(["clean_high", "clean_low"])
    );
    assert_eq!(n["tasks"]["report"]["execution_timeout"], 600.0);
    // The Dag's time zone is its schedule's (it was always UTC).
    assert_eq!(n["timezone"], "Europe/Paris");
    assert_eq!(first["dags"]["example_native_catchup"]["timezone"], "UTC");
    // TaskFlow: Airflow keeps each argument's binding for the API server to hand over, with
    // the dependency the argument implies; the branch can skip its downstream tasks.
    let t = &first["dags"]["native_taskflow"]["tasks"];
    assert_eq!(
        t["summarize"]["arg_bindings"],
        json!([
            {"name": "readings", "kind": "xcom", "task_id": "extract"},
            {"name": "unit", "kind": "literal", "value": "celsius"}
        ])
    );
    assert_eq!(t["summarize"]["upstream"], json!(["extract"]));
    assert_eq!(t["summarize"]["is_stub"], true);
    assert_eq!(
        t["report"]["upstream"],
        json!(["alert", "archive", "summarize"])
    );
    assert_eq!(t["report"]["trigger_rule"], "none_failed_min_one_success");
    assert_eq!(t["choose"]["can_skip_downstream"], true);
    assert_eq!(t["choose"]["downstream"], json!(["alert", "archive"]));
    assert_eq!(t["alert"]["can_skip_downstream"], false);
    assert_eq!(t["extract"]["arg_bindings"], Value::Null);
    // Dynamic task mapping: Airflow reads a mapped operator expanding the declared argument
    // (dict-of-lists, as Python's .expand(x=...)), keeps its queue from partial_kwargs and
    // its bindings (the whole list: each map index takes its element), and counts a literal
    // list's task instances at parse time; an upstream's list is known only once it ran.
    let m = &first["dags"]["native_mapping"]["tasks"];
    for (task, names) in [("square", ["x"]), ("scale", ["factor"])] {
        assert_eq!(m[task]["is_mapped"], true, "{task}");
        assert_eq!(m[task]["queue"], "rust", "{task}");
        assert_eq!(
            m[task]["expanded"],
            json!({"type": "SchedulerDictOfListsExpandInput", "names": names}),
            "{task}"
        );
    }
    assert_eq!(
        m["square"]["parse_time_mapped_ti_count"],
        "NotFullyPopulated"
    );
    assert_eq!(m["scale"]["parse_time_mapped_ti_count"], 2);
    assert_eq!(
        m["square"]["arg_bindings"],
        json!([
            {"name": "x", "kind": "xcom", "task_id": "numbers"},
            {"name": "unit", "kind": "literal", "value": "m"}
        ])
    );
    assert_eq!(m["numbers"]["downstream"], json!(["scale", "square"]));
    assert_eq!(m["total"]["upstream"], json!(["scale", "square"]));
    assert_eq!(m["total"]["is_mapped"], false);
    // Task groups: Airflow's deserializer rebuilds exactly the tree the bundle sent, tasks know
    // their group, and the dependencies written on groups reach the roots and leaves.
    let g = &first["dags"]["native_groups"];
    assert_eq!(g["task_group_round_trip"], true, "{g}");
    let groups = &g["task_groups"];
    assert_eq!(
        groups.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["publish", "stats", "stats.checks"]
    );
    assert_eq!(
        groups["stats"]["children"],
        json!(["stats.checks", "stats.count", "stats.total"])
    );
    assert_eq!(
        groups["stats"]["tooltip"],
        "Summary statistics of the readings"
    );
    assert_eq!(groups["stats"]["upstream_task_ids"], json!(["extract"]));
    assert_eq!(groups["stats"]["downstream_group_ids"], json!(["publish"]));
    assert_eq!(groups["stats.checks"]["label"], "Sanity checks");
    assert_eq!(groups["publish"]["prefix_group_id"], false);
    assert_eq!(groups["publish"]["children"], json!(["report"]));
    let t = &g["tasks"];
    assert_eq!(t["stats.checks.positive"]["task_group"], "stats.checks");
    assert_eq!(t["extract"]["task_group"], Value::Null);
    assert_eq!(
        t["report"]["upstream"],
        json!(["stats.checks.positive", "stats.count", "stats.total"])
    );
    assert_eq!(
        (&t["stats.count"]["owner"], &t["stats.count"]["retries"]),
        (&json!("stats-team"), &json!(2))
    );
    assert_eq!(t["stats.checks.positive"]["owner"], "qa");
    // A dag without groups sends no tree: Airflow makes the root group itself.
    assert_eq!(n["task_group_round_trip"], Value::Null);
    // Defaults are copied onto every task (Airflow does not apply default_args).
    assert_eq!(n["tasks"]["clean_low"]["owner"], "data-team");
    assert_eq!(n["tasks"]["clean_low"]["retries"], 1);

    // Deterministic: a second parse gives the same Dags.
    let second = harness(
        Release::V3_4,
        "native_parse.py",
        &[root.path(), bundle.as_path()],
    )?;
    assert_eq!(first["dags"], second["dags"]);
    Ok(())
}

/// Every native dag of the example with assets (inlets, outlets, a schedule on assets) is
/// serialized exactly as Airflow 3.4 serializes the same Python dag (`python_assets.py` builds
/// it from the same declarations with `Asset`, `AssetAlias`, `&`, `|` and
/// `AssetOrTimeSchedule`), and Airflow's own validation reads it back.
#[test]
fn native_asset_dags_serialize_as_airflow_serializes_the_python_dag() -> Result<()> {
    let exe = fixture::example_executable()?;
    let root = tempfile::tempdir()?;
    let bundle = root.path().join("example-bundle");
    fixture::copy(&exe, &bundle)?;
    let parsed = harness(
        Release::V3_4,
        "native_parse.py",
        &[root.path(), bundle.as_path()],
    )?;
    let with_assets: BTreeMap<String, DagDeclaration> = declarations()?
        .into_iter()
        .filter(|(_, d)| {
            d.native
                && (d.schedule_on.is_some()
                    || d.tasks
                        .iter()
                        .any(|t| !t.inlets.is_empty() || !t.outlets.is_empty()))
        })
        .collect();
    let ids: Vec<&String> = with_assets.keys().collect();
    assert_eq!(
        ids,
        [
            "native_assets_condition",
            "native_assets_consume",
            "native_assets_or_time",
            "native_assets_produce"
        ]
    );
    let file = root.path().join("declarations.json");
    std::fs::write(&file, serde_json::to_string(&with_assets)?)?;
    let python = harness(Release::V3_4, "python_assets.py", &[file.as_path()])?;
    for id in ids {
        let ours = &parsed["dags"][id.as_str()];
        assert!(ours.get("error").is_none(), "{id}: {ours}");
        for key in ["timetable", "dag_dependencies", "lineage"] {
            assert_eq!(
                ours["assets"][key],
                python[id.as_str()][key],
                "{id}: {key} differs from what Airflow writes for the Python dag"
            );
        }
    }
    // What Airflow read back.
    let back = |id: &str| parsed["dags"][id]["assets"]["read_back"].clone();
    let c = back("native_assets_condition");
    assert_eq!(
        c["asset_expression"],
        json!({"all": [
            {"asset": {"uri": "native_a", "name": "native_a", "group": "asset"}},
            {"any": [
                {"asset": {"uri": "native_b", "name": "native_b", "group": "asset"}},
                {"asset": {"uri": "native_c", "name": "native_c", "group": "asset"}}
            ]}
        ]})
    );
    assert_eq!(c["batch_asset_events"], true, "an AND batches its events");
    assert_eq!(back("native_assets_consume")["batch_asset_events"], false);
    assert_eq!(
        back("native_assets_or_time")["timetable_description"],
        "Triggered by assets or At 00:00, on day 1 of the month, only in January"
    );
    assert_eq!(
        parsed["dags"]["native_assets_or_time"]["timetable"],
        "AssetOrTimeSchedule"
    );
    assert_eq!(
        back("native_assets_produce")["tasks"]["produce"],
        json!({
            "inlets": [["SerializedAsset", "file:///data/raw/orders.csv", "file:///data/raw/orders.csv"]],
            "outlets": [
                ["SerializedAsset", "native_orders", "native_orders"],
                ["SerializedAssetAlias", "native_partitions", null]
            ]
        })
    );
    Ok(())
}

/// Loads `file` in Airflow 3.3's DagBag and checks each dag against its declarations.
fn check_stub_file(file: &Path, decls: &BTreeMap<String, DagDeclaration>) -> Result<Value> {
    let loaded = harness(Release::V3_3, "load_stubs.py", &[file])?;
    assert_eq!(loaded["import_errors"], json!({}), "{loaded}");
    let want: Vec<&String> = decls
        .iter()
        .filter(|(_, d)| !d.native)
        .map(|(id, _)| id)
        .collect();
    let got: Vec<&String> = loaded["dags"].as_object().unwrap().keys().collect();
    assert_eq!(got, want, "one stub dag per dag that is not native");
    for id in want {
        let tasks = loaded["dags"][id.as_str()]["tasks"].as_array().unwrap();
        let expected = expected_tasks(&decls[id]);
        assert_eq!(tasks.len(), expected.len(), "{id}");
        for (task, (task_id, want)) in tasks.iter().zip(expected) {
            assert_eq!(task["task_id"], task_id.as_str(), "{id}: task order");
            for key in ["queue", "retries", "retry_delay", "downstream"] {
                assert_eq!(task[key], want[key], "{id}.{task_id}.{key}");
            }
        }
    }
    Ok(loaded)
}

#[test]
fn pack_writes_stubs_that_airflow_3_3_loads_and_stubs_rewrites_them_identically() -> Result<()> {
    // Packed on its own: the shared executables root holds the bundle only (`--no-stubs`).
    let packed = tempfile::tempdir()?;
    let bundle = packed.path().join("example-bundle");
    pack::pack_example(&bundle)?;
    let stub = packed.path().join("example-bundle_dags.py");
    let text = std::fs::read_to_string(&stub)
        .with_context(|| format!("pack wrote no stub file {}", stub.display()))?;
    assert!(text.starts_with(&format!("{FIRST_LINE}\n")), "{text}");
    let digest = harness_sha256(&bundle)?;
    assert!(
        text.contains("\nCARGO_AIRFLOW_BUNDLE = \"example-bundle\"\n")
            && text.contains(&format!("\nCARGO_AIRFLOW_BUNDLE_SHA256 = \"{digest}\"\n")),
        "{text}"
    );
    check_stub_file(&stub, &declarations()?)?;

    // `cargo airflow stubs` on the packed bundle: the same bytes, without running it.
    let out_dir = tempfile::tempdir()?;
    let again = out_dir.path().join("again.py");
    let status = pack::cargo_airflow_command()?
        .arg("stubs")
        .arg(&bundle)
        .arg("-o")
        .arg(&again)
        .status()?;
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&again)?, text);
    Ok(())
}

#[test]
fn every_declared_setting_reaches_a_python_stub() -> Result<()> {
    // The native example dag, declared as a stub dag instead: cron with a time zone, dates,
    // params, defaults copied onto tasks, trigger rules, fan-out and fan-in. A dag whose tasks
    // take typed arguments stays native: only a hand-written stub can bind them (`stubs` skips
    // such a dag with a warning); so do a dag with assets, which only a native dag serializes,
    // and one with task groups (a stub's are in its Python file).
    let mut manifest = fixture::example_manifest()?;
    for entry in manifest.dags.values_mut() {
        if let Some(d) = &mut entry.declared
            && d.tasks
                .iter()
                .all(|t| t.arg_sources.is_empty() && t.inlets.is_empty() && t.outlets.is_empty())
            && d.schedule_on.is_none()
            && d.groups.is_empty()
        {
            d.native = false;
        }
    }
    let decls: BTreeMap<String, DagDeclaration> = manifest
        .dags
        .iter()
        .filter_map(|(id, e)| e.declared.clone().map(|d| (id.clone(), d)))
        .collect();
    let dir = tempfile::tempdir()?;
    let bundle = dir.path().join("all-stubs");
    fixture::write_bundle(&fixture::example_executable()?, b"", &manifest, &bundle)?;
    let status = pack::cargo_airflow_command()?
        .arg("stubs")
        .arg(&bundle)
        .status()?;
    assert!(status.success());
    let loaded = check_stub_file(&dir.path().join("all-stubs_dags.py"), &decls)?;
    let n = &loaded["dags"]["example_native"];
    assert_eq!(n["timetable"], "CronTriggerTimetable");
    assert_eq!(n["timetable_summary"], "0 3 * * *");
    assert_eq!(n["timezone"], "Europe/Paris");
    assert_eq!(n["start_date"], "2026-01-01T00:00:00+00:00");
    assert_eq!(n["params"], json!({"region": "eu", "threshold": 50}));
    assert_eq!(n["max_active_runs"], 2);
    let report = &n["tasks"][3];
    assert_eq!(report["task_id"], "report");
    assert_eq!(report["owner"], "data-team");
    Ok(())
}

/// SHA-256 of a file, by Python's hashlib (the tests crate has no hashing dependency).
fn harness_sha256(path: &Path) -> Result<String> {
    let python = python_for(Release::V3_3)?;
    let out = Command::new(python)
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()?;
    ensure!(out.status.success());
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// The cron rule's table (airflow-bundle's unit tests read it too): here its Airflow column is
// checked against the installed Airflow.
include!("../../../airflow-bundle/src/declare/cron_cases.rs");

/// The cron rule refuses every expression of its table that Airflow refuses, whether a stub or a
/// native dag carries it, on both releases; and the Airflow column of the table, which the
/// rule's unit tests trust, is what the installed Airflow says.
#[test]
fn the_cron_rule_accepts_no_expression_airflow_refuses() -> Result<()> {
    use airflow_bundle::declare::{CRON_PRESETS, Schedule, check_cron};
    let all: Vec<&str> = AGREED
        .iter()
        .map(|(e, ..)| *e)
        .chain(NARROWER.iter().map(|(e, ..)| *e))
        .collect();
    // What each carries to Airflow: a stub writes a preset expanded and any other expression as
    // declared (airflow_bundle::stubs), a native dag the expanded, trimmed expression.
    let stub_text = |e: &str| {
        CRON_PRESETS
            .iter()
            .find(|(p, _)| *p == e.trim())
            .map_or(e, |(_, x)| x)
            .to_owned()
    };
    let native_text = |e: &str| {
        Schedule::cron(e)
            .cron_expression()
            .unwrap_or_default()
            .to_owned()
    };
    let dir = tempfile::tempdir()?;
    let cases = dir.path().join("cases.json");
    std::fs::write(
        &cases,
        json!({
            "stub": all.iter().map(|e| stub_text(e)).collect::<Vec<_>>(),
            "native": all.iter().map(|e| native_text(e)).collect::<Vec<_>>(),
        })
        .to_string(),
    )?;
    for release in Release::ALL {
        let v = harness(release, "cron_verdicts.py", &[&cases])?;
        let accepts = |kind: &str, text: String| v[kind][&text] == "ok";
        for (e, airflow, _) in AGREED {
            ensure!(
                accepts("stub", stub_text(e)) == *airflow,
                "{release:?}: the table says Airflow {} {e:?}, but it says {}",
                if *airflow { "accepts" } else { "refuses" },
                v["stub"][&stub_text(e)]
            );
        }
        for (e, _, why) in NARROWER {
            ensure!(
                accepts("stub", stub_text(e)),
                "{release:?}: {e:?} is refused on purpose ({why}) as one Airflow accepts, but \
                 Airflow says {}",
                v["stub"][&stub_text(e)]
            );
        }
        for e in all.iter().filter(|e| check_cron(e).is_ok()) {
            for (kind, text) in [("stub", stub_text(e)), ("native", native_text(e))] {
                ensure!(
                    accepts(kind, text.clone()),
                    "{release:?}: the cron rule accepts {e:?}, which Airflow refuses in a \
                     {kind} dag: {}",
                    v[kind][&text]
                );
            }
        }
    }
    Ok(())
}
