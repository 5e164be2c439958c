//! Native dags for Airflow 3.4: the declarations of each dag that opts in
//! ([`Dag::native`](crate::Dag::native)), serialized as Airflow's `DagSerialization` (schema
//! `__version` 3) expects them from a Lang-SDK runtime.
//!
//! Airflow fills in only a few Dag keys from its config and applies no `default_args` to tasks,
//! so every task carries its resolved settings and its queue (the worker picks the executable
//! coordinator by queue alone). `relative_fileloc` must be set: without it the Dag is accepted
//! but none of its tasks can start.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use airflow_bundle::declare::{
    ArgSource, Asset, AssetAlias, AssetCondition, AssetOrAlias, DagDeclaration, GroupDeclaration,
    ParamDeclaration, Schedule, TaskDeclaration, TaskSettings, parse_utc,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use crate::connection::python_string;

/// The module name Airflow shows for these tasks; Airflow never imports it.
const TASK_MODULE: &str = "airflow.sdk.coordinators.executable";
/// The operator name the UI and REST API show.
const TASK_TYPE: &str = "RustTask";

/// `file` relative to `bundle_path`, or `file` unchanged when it is not inside it.
pub(crate) fn relative_fileloc(file: &str, bundle_path: &str) -> String {
    match Path::new(file).strip_prefix(bundle_path) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ => file.to_owned(),
    }
}

/// A JSON value encoded as Airflow's `BaseSerialization` encodes it (dicts are wrapped).
struct Encoded<'a>(&'a Value);

impl Serialize for Encoded<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => {
                let mut out = s.serialize_map(Some(2))?;
                out.serialize_entry("__type", "dict")?;
                out.serialize_entry("__var", &EncodedMap(m))?;
                out.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(Encoded)),
            other => other.serialize(s),
        }
    }
}

struct EncodedMap<'a>(&'a serde_json::Map<String, Value>);

impl Serialize for EncodedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, Encoded(v))))
    }
}

/// `{"__type": ty, "__var": var}`, Airflow's encoding of a typed value.
struct Typed<'a, T: Serialize>(&'a str, T);

impl<T: Serialize> Serialize for Typed<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(2))?;
        out.serialize_entry("__type", self.0)?;
        out.serialize_entry("__var", &self.1)?;
        out.end()
    }
}

/// An empty map (`{}`).
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

struct Timetable<'a>(&'a Schedule);

impl Serialize for Timetable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Schedule::None => Typed("airflow.timetables.simple.NullTimetable", Empty).serialize(s),
            Schedule::Once => Typed("airflow.timetables.simple.OnceTimetable", Empty).serialize(s),
            Schedule::Continuous => {
                Typed("airflow.timetables.simple.ContinuousTimetable", Empty).serialize(s)
            }
            Schedule::Cron { timezone, .. } => Typed(
                "airflow.timetables.trigger.CronTriggerTimetable",
                CronVar(self.0.cron_expression().unwrap_or_default(), timezone),
            )
            .serialize(s),
        }
    }
}

/// The dag's timetable: its schedule's, or with an asset condition Airflow's
/// `AssetTriggeredTimetable` (the condition alone) or `AssetOrTimeSchedule` (the condition or
/// the schedule).
struct DagTimetable<'a>(&'a Schedule, Option<&'a AssetCondition>);

impl Serialize for DagTimetable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(condition) = self.1 else {
            return Timetable(self.0).serialize(s);
        };
        // As Python sets it with `[scheduler] batch_asset_events` at its default (off): on only
        // when the condition needs it (an AND of several).
        let batch = condition.requires_batching();
        match self.0 {
            Schedule::None => Typed(
                "airflow.timetables.simple.AssetTriggeredTimetable",
                AssetTriggeredVar(condition, None, batch),
            )
            .serialize(s),
            schedule => Typed(
                "airflow.timetables.assets.AssetOrTimeSchedule",
                AssetTriggeredVar(condition, Some(schedule), batch),
            )
            .serialize(s),
        }
    }
}

struct AssetTriggeredVar<'a>(&'a AssetCondition, Option<&'a Schedule>, bool);

impl Serialize for AssetTriggeredVar<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        out.serialize_entry("asset_condition", &Condition(self.0))?;
        if let Some(schedule) = self.1 {
            out.serialize_entry("timetable", &Timetable(schedule))?;
        }
        out.serialize_entry("batch_asset_events", &self.2)?;
        out.end()
    }
}

/// An asset condition as Airflow's `encode_asset_like` writes it (flat, no `__var`).
struct Condition<'a>(&'a AssetCondition);

impl Serialize for Condition<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AssetCondition::Asset(a) => {
                let mut out = s.serialize_map(Some(5))?;
                out.serialize_entry("__type", "asset")?;
                AssetFields(a).put(&mut out)?;
                out.end()
            }
            AssetCondition::Alias(a) => {
                let mut out = s.serialize_map(Some(3))?;
                out.serialize_entry("__type", "asset_alias")?;
                AliasFields(a).put(&mut out)?;
                out.end()
            }
            AssetCondition::All { of } | AssetCondition::Any { of } => {
                let ty = if matches!(self.0, AssetCondition::All { .. }) {
                    "asset_all"
                } else {
                    "asset_any"
                };
                let mut out = s.serialize_map(Some(2))?;
                out.serialize_entry("__type", ty)?;
                let objects: Vec<Condition> = of.iter().map(Condition).collect();
                out.serialize_entry("objects", &objects)?;
                out.end()
            }
        }
    }
}

/// An asset's keys (`name`, `uri`, `group`, `extra`), the default group and no extra.
struct AssetFields<'a>(&'a Asset);

impl AssetFields<'_> {
    fn put<M: SerializeMap>(&self, out: &mut M) -> Result<(), M::Error> {
        out.serialize_entry("name", &self.0.name)?;
        out.serialize_entry("uri", &self.0.uri)?;
        out.serialize_entry("group", "asset")?;
        out.serialize_entry("extra", &Empty)
    }
}

impl Serialize for AssetFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(4))?;
        self.put(&mut out)?;
        out.end()
    }
}

/// An alias's keys (`name`, `group`).
struct AliasFields<'a>(&'a AssetAlias);

impl AliasFields<'_> {
    fn put<M: SerializeMap>(&self, out: &mut M) -> Result<(), M::Error> {
        out.serialize_entry("name", &self.0.name)?;
        out.serialize_entry("group", "asset")
    }
}

impl Serialize for AliasFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(2))?;
        self.put(&mut out)?;
        out.end()
    }
}

/// A task's inlets or outlets as `BaseSerialization` encodes them
/// (`{"__type": "asset", "__var": {...}}`).
struct Lineage<'a>(&'a [AssetOrAlias]);

impl Serialize for Lineage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            match item {
                AssetOrAlias::Asset(a) => seq.serialize_element(&Typed("asset", AssetFields(a)))?,
                AssetOrAlias::Alias(a) => {
                    seq.serialize_element(&Typed("asset_alias", AliasFields(a)))?;
                }
            }
        }
        seq.end()
    }
}

/// One of the dag's `dag_dependencies` (Python's `DagDependency`), its fields in their order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct DagDependency {
    source: String,
    target: String,
    label: String,
    dependency_type: &'static str,
    dependency_id: String,
}

impl Serialize for DagDependency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(5))?;
        out.serialize_entry("source", &self.source)?;
        out.serialize_entry("target", &self.target)?;
        out.serialize_entry("label", &self.label)?;
        out.serialize_entry("dependency_type", self.dependency_type)?;
        out.serialize_entry("dependency_id", &self.dependency_id)?;
        out.end()
    }
}

/// An asset's `dependency_id`: `json.dumps({"name": ..., "uri": ...})`, as Python's
/// `SerializedAssetUniqueKey.to_str` writes it.
fn asset_key(a: &Asset) -> String {
    let mut out = String::from("{\"name\": ");
    python_string(&a.name, &mut out);
    out.push_str(", \"uri\": ");
    python_string(&a.uri, &mut out);
    out.push('}');
    out
}

/// The dag's `dag_dependencies`, as Python's `_DependencyDetector` finds them and sorts them:
/// each task's outlets (the dag produces the asset or alias), then what the dag is scheduled on.
fn dag_dependencies(dag_id: &str, decl: &DagDeclaration) -> Vec<DagDependency> {
    let mut deps = Vec::new();
    let mut dep = |source: &str, target: &str, item: &AssetOrAlias| {
        deps.push(match item {
            AssetOrAlias::Asset(a) => DagDependency {
                source: if source.is_empty() { "asset" } else { source }.to_owned(),
                target: if target.is_empty() { "asset" } else { target }.to_owned(),
                label: a.name.clone(),
                dependency_type: "asset",
                dependency_id: asset_key(a),
            },
            AssetOrAlias::Alias(a) => DagDependency {
                source: if source.is_empty() {
                    "asset-alias"
                } else {
                    source
                }
                .to_owned(),
                target: if target.is_empty() {
                    "asset-alias"
                } else {
                    target
                }
                .to_owned(),
                label: a.name.clone(),
                dependency_type: "asset-alias",
                dependency_id: a.name.clone(),
            },
        });
    };
    for t in &decl.tasks {
        for o in &t.outlets {
            dep(dag_id, "", o);
        }
    }
    if let Some(c) = &decl.schedule_on {
        for leaf in c.leaves() {
            dep("", dag_id, &leaf);
        }
    }
    airflow_bundle::sort::sort_by(&mut deps, Ord::cmp);
    deps
}

struct CronVar<'a>(&'a str, &'a str);

impl Serialize for CronVar<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // All four keys are needed: without `interval` Airflow fails with KeyError.
        let mut out = s.serialize_map(Some(4))?;
        out.serialize_entry("expression", self.0)?;
        out.serialize_entry("timezone", self.1)?;
        out.serialize_entry("interval", &0.0)?;
        out.serialize_entry("run_immediately", &false)?;
        out.end()
    }
}

/// Epoch seconds as the float Airflow's schema wants (dates were checked when declared).
fn epoch(date: &Option<String>) -> Option<f64> {
    date.as_deref().and_then(parse_utc).map(|s| s as f64)
}

/// Writes the set settings as task keys. `timedelta` wraps durations (for `default_args`, which
/// is `BaseSerialization`-encoded; task keys take plain seconds).
fn put_settings<M: SerializeMap>(
    out: &mut M,
    s: &TaskSettings,
    timedelta: bool,
) -> Result<(), M::Error> {
    let duration = |out: &mut M, key: &str, v: Option<f64>| match (v, timedelta) {
        (Some(v), true) => out.serialize_entry(key, &Typed("timedelta", v)),
        (Some(v), false) => out.serialize_entry(key, &v),
        (None, _) => Ok(()),
    };
    if let Some(v) = s.retries {
        out.serialize_entry("retries", &v)?;
    }
    duration(out, "retry_delay", s.retry_delay)?;
    if let Some(v) = s.retry_exponential_backoff {
        out.serialize_entry("retry_exponential_backoff", &v)?;
    }
    duration(out, "max_retry_delay", s.max_retry_delay)?;
    duration(out, "execution_timeout", s.execution_timeout)?;
    if let Some(v) = s.trigger_rule {
        out.serialize_entry("trigger_rule", v.as_str())?;
    }
    for (key, v) in [
        ("pool", &s.pool),
        ("queue", &s.queue),
        ("owner", &s.owner),
        ("doc_md", &s.doc_md),
    ] {
        if let Some(v) = v {
            out.serialize_entry(key, v)?;
        }
    }
    if let Some(v) = s.priority_weight {
        out.serialize_entry("priority_weight", &v)?;
    }
    Ok(())
}

struct DefaultArgs<'a>(&'a TaskSettings);

impl Serialize for DefaultArgs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        put_settings(&mut out, self.0, true)?;
        out.end()
    }
}

struct TaskVar<'a>(&'a TaskDeclaration);

impl Serialize for TaskVar<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut out = s.serialize_map(None)?;
        out.serialize_entry("task_id", &t.id)?;
        out.serialize_entry("task_type", TASK_TYPE)?;
        out.serialize_entry("_task_module", TASK_MODULE)?;
        out.serialize_entry("language", "rust")?;
        out.serialize_entry("template_fields", &[(); 0])?;
        out.serialize_entry("is_stub", &true)?;
        if t.is_mapped() {
            // As Python serializes `.partial(...).expand(...)`: Airflow's scheduler creates one
            // task instance per element (per combination) from `expand_input`.
            out.serialize_entry("_is_mapped", &true)?;
            out.serialize_entry("_disallow_kwargs_override", &false)?;
            out.serialize_entry("_expand_input_attr", "expand_input")?;
            out.serialize_entry("expand_input", &ExpandInput(t))?;
            out.serialize_entry("partial_kwargs", &PartialKwargs(&t.settings))?;
        } else {
            put_settings(&mut out, &t.settings, false)?;
        }
        if !t.arg_sources.is_empty() {
            out.serialize_entry("_arg_bindings", &ArgBindings(t))?;
        }
        if !t.inlets.is_empty() {
            out.serialize_entry("inlets", &Lineage(&t.inlets))?;
        }
        if !t.outlets.is_empty() {
            out.serialize_entry("outlets", &Lineage(&t.outlets))?;
        }
        if t.branch {
            // As Airflow marks a SkipMixin operator: its skip decision (XCom `skipmixin_key`)
            // is honoured when a downstream task is cleared.
            out.serialize_entry("_can_skip_downstream", &true)?;
        }
        if !t.downstream.is_empty() {
            out.serialize_entry("downstream_task_ids", &t.downstream)?;
        }
        out.end()
    }
}

/// A native task's `_arg_bindings`: plain JSON (no `__type` wrapping), one per argument in
/// order, as Airflow's `build_arg_bindings` writes a TaskFlow call's; Airflow 3.4 hands them to
/// each run of the task (`TIRunContext.arg_bindings`, schema 2026-10-30).
struct ArgBindings<'a>(&'a TaskDeclaration);

impl Serialize for ArgBindings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .args
                .iter()
                .zip(&self.0.arg_sources)
                .map(|(name, source)| ArgBinding(name, source)),
        )
    }
}

struct ArgBinding<'a>(&'a str, &'a ArgSource);

impl Serialize for ArgBinding<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(3))?;
        out.serialize_entry("name", self.0)?;
        match self.1 {
            ArgSource::Output { task_id } => {
                out.serialize_entry("kind", "xcom")?;
                out.serialize_entry("task_id", task_id)?;
            }
            ArgSource::Literal { value } => {
                out.serialize_entry("kind", "literal")?;
                out.serialize_entry("value", value)?;
            }
            // A mapped argument is bound to the whole list: each map index's runtime takes
            // its element (Airflow 3.4 hands a mapped stub the same bindings at every index).
            ArgSource::ExpandOutput { task_id } => {
                out.serialize_entry("kind", "xcom")?;
                out.serialize_entry("task_id", task_id)?;
            }
            ArgSource::ExpandValues { values } => {
                out.serialize_entry("kind", "literal")?;
                out.serialize_entry("value", values)?;
            }
        }
        out.end()
    }
}

/// A mapped task's `expand_input`: Python's `.expand(**kwargs)` (`dict-of-lists`), each
/// expanded argument an upstream's `return_value` (`xcomref`) or a literal list, in declared
/// order (the last varies fastest across map indexes).
struct ExpandInput<'a>(&'a TaskDeclaration);

impl Serialize for ExpandInput<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(2))?;
        out.serialize_entry("type", "dict-of-lists")?;
        out.serialize_entry("value", &Typed("dict", ExpandedArgs(self.0)))?;
        out.end()
    }
}

/// The task groups of a dag, indexed for serializing its `task_group` tree.
struct Groups<'a> {
    decl: &'a DagDeclaration,
    /// Per group (same index), the position of its first task, nested groups included: a
    /// group's children are in the order Python adds them, which is that of their first task.
    first: Vec<usize>,
    /// The tasks in no group, in order.
    top: Vec<&'a str>,
}

impl<'a> Groups<'a> {
    fn new(decl: &'a DagDeclaration) -> Self {
        let index: HashMap<&str, usize> = decl
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let mut first: Vec<usize> = decl
            .groups
            .iter()
            .map(|g| g.tasks.iter().filter_map(|t| index.get(t.as_str())).min())
            .map(|m| m.copied().unwrap_or(usize::MAX))
            .collect();
        // A group comes after the group holding it: fold the nested ones in from the end.
        for i in (0..decl.groups.len()).rev() {
            if let Some(p) = &decl.groups[i].parent
                && let Some(pi) = decl.groups.iter().position(|g| &g.id == p)
            {
                first[pi] = first[pi].min(first[i]);
            }
        }
        let grouped: HashSet<&str> = decl
            .groups
            .iter()
            .flat_map(|g| g.tasks.iter().map(String::as_str))
            .collect();
        let top = decl
            .tasks
            .iter()
            .map(|t| t.id.as_str())
            .filter(|t| !grouped.contains(t))
            .collect();
        Groups { decl, first, top }
    }

    /// The children of group `parent` (the root when `None`), in Python's order: tasks by
    /// their position, each group at its first task's.
    fn children(&self, parent: Option<&str>) -> Vec<Child<'a>> {
        let position = |id: &str| self.decl.tasks.iter().position(|t| t.id == id);
        let tasks: Vec<&'a str> = match parent {
            None => self.top.clone(),
            Some(p) => self
                .decl
                .groups
                .iter()
                .find(|g| g.id == p)
                .map(|g| g.tasks.iter().map(String::as_str).collect())
                .unwrap_or_default(),
        };
        let mut out: Vec<(usize, Child<'a>)> = tasks
            .into_iter()
            .map(|t| (position(t).unwrap_or(usize::MAX), Child::Task(t)))
            .collect();
        for (i, g) in self.decl.groups.iter().enumerate() {
            if g.parent.as_deref() == parent {
                out.push((self.first[i], Child::Group(g)));
            }
        }
        airflow_bundle::sort::sort_by(&mut out, |a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, c)| c).collect()
    }
}

enum Child<'a> {
    Task(&'a str),
    Group(&'a GroupDeclaration),
}

/// One node of the `task_group` tree (the root when `group` is `None`), as Airflow's
/// `TaskGroupSerialization.serialize_task_group` writes it.
struct GroupNode<'a> {
    groups: &'a Groups<'a>,
    group: Option<&'a GroupDeclaration>,
}

impl Serialize for GroupNode<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.group;
        let mut out = s.serialize_map(Some(11))?;
        out.serialize_entry("_group_id", &g.map(|g| &g.label))?;
        out.serialize_entry(
            "group_display_name",
            g.and_then(|g| g.display_name.as_deref()).unwrap_or(""),
        )?;
        out.serialize_entry("prefix_group_id", &g.is_none_or(|g| g.prefix_group_id))?;
        out.serialize_entry(
            "tooltip",
            g.and_then(|g| g.tooltip.as_deref()).unwrap_or(""),
        )?;
        // Airflow's TaskGroup colours.
        out.serialize_entry("ui_color", "CornflowerBlue")?;
        out.serialize_entry("ui_fgcolor", "#000")?;
        out.serialize_entry("children", &Children(self))?;
        let empty: &[String] = &[];
        let list = |f: fn(&GroupDeclaration) -> &[String]| g.map_or(empty, f);
        out.serialize_entry("upstream_group_ids", list(|g| &g.upstream_groups))?;
        out.serialize_entry("downstream_group_ids", list(|g| &g.downstream_groups))?;
        out.serialize_entry("upstream_task_ids", list(|g| &g.upstream_tasks))?;
        out.serialize_entry("downstream_task_ids", list(|g| &g.downstream_tasks))?;
        out.end()
    }
}

struct ExpandedArgs<'a>(&'a TaskDeclaration);

impl Serialize for ExpandedArgs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        for (name, source) in self.0.args.iter().zip(&self.0.arg_sources) {
            match source {
                ArgSource::ExpandOutput { task_id } => {
                    out.serialize_entry(name, &Typed("xcomref", XComRef(task_id)))?
                }
                ArgSource::ExpandValues { values } => {
                    out.serialize_entry(name, &Encoded(&Value::Array(values.clone())))?;
                }
                ArgSource::Output { .. } | ArgSource::Literal { .. } => {}
            }
        }
        out.end()
    }
}

struct Children<'a>(&'a GroupNode<'a>);

impl Serialize for Children<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let node = self.0;
        let children = node.groups.children(node.group.map(|g| g.id.as_str()));
        let mut out = s.serialize_map(Some(children.len()))?;
        for c in children {
            match c {
                Child::Task(id) => out.serialize_entry(id, &("operator", id))?,
                Child::Group(g) => out.serialize_entry(
                    &g.id,
                    &(
                        "taskgroup",
                        GroupNode {
                            groups: node.groups,
                            group: Some(g),
                        },
                    ),
                )?,
            }
        }
        out.end()
    }
}

struct XComRef<'a>(&'a str);

impl Serialize for XComRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(2))?;
        out.serialize_entry("task_id", self.0)?;
        out.serialize_entry("key", "return_value")?;
        out.end()
    }
}

/// A mapped task's `partial_kwargs`: its settings, encoded as `default_args` are (a mapped
/// operator keeps them there, not as task keys).
struct PartialKwargs<'a>(&'a TaskSettings);

impl Serialize for PartialKwargs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        put_settings(&mut out, self.0, true)?;
        out.end()
    }
}

struct Param<'a>(&'a ParamDeclaration);

impl Serialize for Param<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(4))?;
        out.serialize_entry("__class", "airflow.sdk.definitions.param.Param")?;
        out.serialize_entry("default", &Encoded(&self.0.default))?;
        out.serialize_entry("description", &self.0.description)?;
        out.serialize_entry("schema", &Typed("dict", Empty))?;
        out.end()
    }
}

/// One native dag as Airflow's `DagSerialization` (`__version` 3) reads it. Serialized straight
/// into the outgoing frame: building it as a JSON tree first cost most of the parse time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NativeDag {
    pub(crate) dag_id: String,
    pub(crate) decl: DagDeclaration,
    /// The request's `file`.
    pub(crate) fileloc: String,
    /// `file` relative to the Dag bundle's root ([`relative_fileloc`]).
    pub(crate) relative_fileloc: String,
}

struct DagBody<'a>(&'a NativeDag);

impl Serialize for DagBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let NativeDag {
            dag_id,
            decl,
            fileloc,
            relative_fileloc,
        } = self.0;
        let mut out = s.serialize_map(None)?;
        out.serialize_entry("dag_id", dag_id)?;
        out.serialize_entry("fileloc", fileloc)?;
        out.serialize_entry("relative_fileloc", relative_fileloc)?;
        // A Python Dag takes its time zone from its (zone-aware) start date. Start dates here
        // are kept in UTC, so the zone the dag means is its cron schedule's. (3.4.0b2's REST API
        // shows `[core] default_timezone` for every Dag: `DagModel.timezone`.)
        let timezone = match &decl.schedule {
            Schedule::Cron { timezone, .. } => timezone.as_str(),
            _ => "UTC",
        };
        out.serialize_entry("timezone", timezone)?;
        out.serialize_entry(
            "timetable",
            &DagTimetable(&decl.schedule, decl.schedule_on.as_ref()),
        )?;
        if let Some(v) = epoch(&decl.start_date) {
            out.serialize_entry("start_date", &v)?;
        }
        if let Some(v) = epoch(&decl.end_date) {
            out.serialize_entry("end_date", &v)?;
        }
        if let Some(v) = decl.catchup {
            out.serialize_entry("catchup", &v)?;
        }
        if let Some(v) = &decl.description {
            out.serialize_entry("description", v)?;
        }
        if let Some(v) = decl.max_active_runs {
            out.serialize_entry("max_active_runs", &v)?;
        }
        if let Some(v) = decl.max_active_tasks {
            out.serialize_entry("max_active_tasks", &v)?;
        }
        if let Some(v) = decl.dagrun_timeout {
            out.serialize_entry("dagrun_timeout", &v)?;
        }
        if !decl.tags.is_empty() {
            // Airflow keeps tags as a set: sorted here so the output never depends on order.
            let mut tags: Vec<&String> = decl.tags.iter().collect();
            airflow_bundle::sort::sort_by(&mut tags, Ord::cmp);
            out.serialize_entry("tags", &tags)?;
        }
        if !decl.default_task.is_empty() {
            out.serialize_entry(
                "default_args",
                &Typed("dict", DefaultArgs(&decl.default_task)),
            )?;
        }
        let params: Vec<(&String, Param)> =
            decl.params.iter().map(|p| (&p.name, Param(p))).collect();
        out.serialize_entry("params", &params)?;
        let tasks: Vec<Typed<TaskVar>> = decl
            .tasks
            .iter()
            .map(|t| Typed("operator", TaskVar(t)))
            .collect();
        out.serialize_entry("tasks", &tasks)?;
        out.serialize_entry("dag_dependencies", &dag_dependencies(dag_id, decl))?;
        out.serialize_entry("edge_info", &Empty)?;
        // Without it Airflow puts every task in a root group of its own, which is all a dag
        // without groups needs.
        if !decl.groups.is_empty() {
            let groups = Groups::new(decl);
            out.serialize_entry(
                "task_group",
                &GroupNode {
                    groups: &groups,
                    group: None,
                },
            )?;
        }
        out.serialize_entry("deadline", &())?;
        out.serialize_entry("allowed_run_types", &())?;
        out.end()
    }
}

impl Serialize for NativeDag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(2))?;
        out.serialize_entry("__version", &3)?;
        out.serialize_entry("dag", &DagBody(self))?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Bundle, Dag, Schedule, Task, TaskContext, TaskGroup, TaskResult, TaskSettings, arg, flow,
    };
    use serde_json::json;
    use std::time::Duration;

    fn serialize(dag_id: &str, decl: &DagDeclaration, fileloc: &str, relative: &str) -> Value {
        serde_json::to_value(NativeDag {
            dag_id: dag_id.into(),
            decl: decl.clone(),
            fileloc: fileloc.into(),
            relative_fileloc: relative.into(),
        })
        .unwrap()
    }

    fn noop(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }

    #[test]
    fn relative_fileloc_is_relative_to_the_bundle_root() {
        assert_eq!(relative_fileloc("/b/etl", "/b"), "etl");
        assert_eq!(relative_fileloc("/b/sub/etl", "/b/"), "sub/etl");
        assert_eq!(relative_fileloc("/elsewhere/etl", "/b"), "/elsewhere/etl");
    }

    #[test]
    fn defaults_are_copied_onto_each_task_and_the_queue_is_routed() {
        let b = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .schedule(Schedule::cron("@daily").timezone("Europe/Paris"))
                .start_date("2026-01-01")
                .catchup(true)
                .tags(["z", "a", "z"])
                .param("region", serde_json::json!({"name": "eu"}))
                .default_task(
                    TaskSettings::new()
                        .retries(2)
                        .retry_delay(Duration::from_secs(5)),
                )
                .task("a", noop)
                .task(Task::new("b").retries(0), noop)
                .chain(["a", "b"]),
        );
        let m = b.metadata().unwrap();
        let decl = m.dags["etl"].declared.as_ref().unwrap();
        let v = serialize("etl", decl, "/b/etl", "etl");
        let dag = &v["dag"];
        assert_eq!(v["__version"], 3);
        assert_eq!(dag["relative_fileloc"], "etl");
        assert_eq!(dag["start_date"], 1_767_225_600.0);
        assert_eq!(dag["tags"], json!(["a", "z"]));
        assert_eq!(dag["timetable"]["__var"]["expression"], "0 0 * * *");
        assert_eq!(dag["timetable"]["__var"]["timezone"], "Europe/Paris");
        let a = &dag["tasks"][0]["__var"];
        let b = &dag["tasks"][1]["__var"];
        assert_eq!((&a["retries"], &a["retry_delay"]), (&json!(2), &json!(5.0)));
        assert_eq!(
            b["retries"], 0,
            "a task's own setting wins over the default"
        );
        assert_eq!((&a["queue"], &b["queue"]), (&json!("rust"), &json!("rust")));
        assert_eq!(a["downstream_task_ids"], json!(["b"]));
        assert!(b.get("downstream_task_ids").is_none());
        assert_eq!(
            dag["params"][0][1]["default"],
            json!({"__type": "dict", "__var": {"name": "eu"}})
        );
        assert_eq!(
            dag["default_args"]["__var"]["retry_delay"],
            json!({"__type": "timedelta", "__var": 5.0})
        );
    }

    fn load(_: &mut TaskContext, _rows: Vec<u32>, _table: String) -> TaskResult {
        Ok(())
    }

    #[test]
    fn taskflow_arguments_and_branches_are_serialized_as_airflow_does() {
        let b = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .schedule(Schedule::cron("0 3 * * *").timezone("America/New_York"))
                .branch("choose", |_: &mut TaskContext| Ok(Some("extract")))
                .task("extract", noop)
                .task_with_args(
                    "load",
                    [arg("rows").output_of("extract"), arg("table").value("t1")],
                    load,
                )
                .chain(["choose", "extract"]),
        );
        let m = b.metadata().unwrap();
        let v = serialize(
            "etl",
            m.dags["etl"].declared.as_ref().unwrap(),
            "/b/etl",
            "etl",
        );
        let dag = &v["dag"];
        // The Dag's time zone is the schedule's (Airflow's REST API and UI show it).
        assert_eq!(dag["timezone"], "America/New_York");
        let task = |id: &str| {
            dag["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| &t["__var"])
                .find(|t| t["task_id"] == id)
                .unwrap()
                .clone()
        };
        // Plain JSON, as Airflow's build_arg_bindings writes a TaskFlow call's.
        assert_eq!(
            task("load")["_arg_bindings"],
            json!([
                {"name": "rows", "kind": "xcom", "task_id": "extract"},
                {"name": "table", "kind": "literal", "value": "t1"}
            ])
        );
        // The argument implies extract >> load.
        assert_eq!(task("extract")["downstream_task_ids"], json!(["load"]));
        assert_eq!(task("choose")["_can_skip_downstream"], true);
        assert!(task("extract").get("_can_skip_downstream").is_none());
        assert!(task("extract").get("_arg_bindings").is_none());
        // Without a cron schedule, UTC.
        let b = Bundle::new()
            .queue("rust")
            .dag(Dag::new("etl").native().task("a", noop));
        let m = b.metadata().unwrap();
        let v = serialize(
            "etl",
            m.dags["etl"].declared.as_ref().unwrap(),
            "/b/etl",
            "etl",
        );
        assert_eq!(v["dag"]["timezone"], "UTC");
    }

    fn square(_: &mut TaskContext, x: u64, _unit: String) -> TaskResult<u64> {
        Ok(x * x)
    }

    #[test]
    fn mapped_tasks_are_serialized_as_python_serializes_partial_expand() {
        let b = Bundle::new().queue("rust").dag(
            Dag::new("m")
                .native()
                .task("numbers", noop)
                .task_with_args(
                    Task::new("square")
                        .retries(2)
                        .retry_delay(Duration::from_secs(5))
                        .map_index_template("x={x}"),
                    [arg("x").expand_output_of("numbers"), arg("unit").value("m")],
                    square,
                )
                .task_with_args(
                    "lit",
                    [
                        arg("x").expand([json!({"a": 1}), json!(2)]),
                        arg("unit").value("m"),
                    ],
                    square,
                ),
        );
        let m = b.metadata().unwrap();
        let v = serialize("m", m.dags["m"].declared.as_ref().unwrap(), "/b/m", "m");
        let tasks = v["dag"]["tasks"].as_array().unwrap();
        let sq = &tasks[1]["__var"];
        assert_eq!(sq["_is_mapped"], true);
        assert_eq!(sq["_expand_input_attr"], "expand_input");
        assert_eq!(sq["_disallow_kwargs_override"], false);
        assert_eq!(
            sq["expand_input"],
            json!({"type": "dict-of-lists", "value": {"__type": "dict", "__var": {
                "x": {"__type": "xcomref", "__var": {"task_id": "numbers", "key": "return_value"}}
            }}})
        );
        // Settings live in partial_kwargs on a mapped operator, durations wrapped.
        assert_eq!(sq["partial_kwargs"]["queue"], "rust");
        assert_eq!(sq["partial_kwargs"]["retries"], 2);
        assert_eq!(
            sq["partial_kwargs"]["retry_delay"],
            json!({"__type": "timedelta", "__var": 5.0})
        );
        assert!(sq.get("queue").is_none());
        assert_eq!(
            sq["_arg_bindings"],
            json!([
                {"name": "x", "kind": "xcom", "task_id": "numbers"},
                {"name": "unit", "kind": "literal", "value": "m"}
            ])
        );
        // A literal list, its dicts encoded as BaseSerialization encodes them.
        assert_eq!(
            tasks[2]["__var"]["expand_input"]["value"]["__var"]["x"],
            json!([{"__type": "dict", "__var": {"a": 1}}, 2])
        );
        assert_eq!(tasks[0]["__var"]["downstream_task_ids"], json!(["square"]));
        assert!(tasks[0]["__var"].get("_is_mapped").is_none());
    }

    /// The encodings Airflow 3.4's DagSerialization writes for the same Python dags (checked
    /// against it by e2e::declared::native_asset_dags_serialize_as_airflow_serializes_the_python_dag).
    #[test]
    fn assets_are_serialized_as_airflow_does() {
        use crate::{Asset, AssetAlias, asset};
        let b = Bundle::new()
            .queue("rust")
            .dag(
                Dag::new("producer").native().task(
                    Task::new("p")
                        .inlet(Asset::at("S3://Bucket/raw/"))
                        .outlet(asset("a"))
                        .outlet(AssetAlias::new("al")),
                    noop,
                ),
            )
            .dag(
                Dag::new("consumer")
                    .native()
                    .schedule_on(asset("a") & (Asset::new("b", "s3://bucket/b") | asset("é")))
                    .task("x", noop),
            )
            .dag(
                Dag::new("either")
                    .native()
                    .schedule(Schedule::cron("0 3 * * *"))
                    .schedule_on(asset("a"))
                    .task("x", noop),
            );
        let m = b.metadata().unwrap();
        let v = |id: &str| serialize(id, m.dags[id].declared.as_ref().unwrap(), "/b/f", "f");
        let p = v("producer");
        let t = &p["dag"]["tasks"][0]["__var"];
        assert_eq!(
            t["inlets"],
            json!([{"__type": "asset", "__var": {"name": "S3://Bucket/raw/",
                "uri": "s3://Bucket/raw", "group": "asset", "extra": {}}}])
        );
        assert_eq!(
            t["outlets"][1],
            json!({"__type": "asset_alias", "__var": {"name": "al", "group": "asset"}})
        );
        assert_eq!(
            p["dag"]["dag_dependencies"],
            json!([
                {"source": "producer", "target": "asset", "label": "a", "dependency_type": "asset",
                 "dependency_id": "{\"name\": \"a\", \"uri\": \"a\"}"},
                {"source": "producer", "target": "asset-alias", "label": "al",
                 "dependency_type": "asset-alias", "dependency_id": "al"}
            ])
        );
        assert_eq!(
            p["dag"]["timetable"]["__type"],
            "airflow.timetables.simple.NullTimetable"
        );
        let c = v("consumer");
        let tt = &c["dag"]["timetable"];
        assert_eq!(
            tt["__type"],
            "airflow.timetables.simple.AssetTriggeredTimetable"
        );
        assert_eq!(tt["__var"]["batch_asset_events"], true);
        let cond = &tt["__var"]["asset_condition"];
        assert_eq!(cond["__type"], "asset_all");
        assert_eq!(
            cond["objects"][0],
            json!({"__type": "asset", "name": "a", "uri": "a", "group": "asset", "extra": {}})
        );
        assert_eq!(cond["objects"][1]["__type"], "asset_any");
        // Python's json.dumps: ASCII only.
        let deps = c["dag"]["dag_dependencies"].as_array().unwrap();
        assert_eq!(deps.len(), 3);
        assert_eq!(deps[2]["source"], "asset");
        assert_eq!(deps[2]["target"], "consumer");
        assert_eq!(
            deps[2]["dependency_id"],
            "{\"name\": \"\\u00e9\", \"uri\": \"\\u00e9\"}"
        );
        let e = v("either");
        let tt = &e["dag"]["timetable"];
        assert_eq!(
            tt["__type"],
            "airflow.timetables.assets.AssetOrTimeSchedule"
        );
        assert_eq!(tt["__var"]["batch_asset_events"], false);
        assert_eq!(
            tt["__var"]["timetable"]["__type"],
            "airflow.timetables.trigger.CronTriggerTimetable"
        );
        assert_eq!(tt["__var"]["asset_condition"]["name"], "a");
    }

    /// A declared outlet is reported with the task's success, as Python's task runner reports
    /// the task's `outlets`; with an emitted extra for the same asset (written another way) the
    /// event carries it.
    #[cfg(feature = "testing")]
    #[test]
    fn declared_outlets_are_reported_when_the_task_succeeds() {
        use crate::testing::TestRun;
        use crate::{Asset, asset};
        let b = Bundle::new().queue("rust").dag(
            Dag::new("d").native().task(
                Task::new("p")
                    .outlet(Asset::new("orders", "S3://bucket/orders/"))
                    .outlet(asset("plain")),
                |ctx: &mut TaskContext| {
                    ctx.emit_asset(
                        &Asset::new("orders", "s3://bucket/orders"),
                        json!({"rows": 2}),
                    );
                    Ok(())
                },
            ),
        );
        let out = TestRun::new("d", "p").run_in(&b);
        out.assert_success();
        assert_eq!(
            out.terminal.body["task_outlets"],
            json!([
                {"name": "orders", "uri": "s3://bucket/orders", "type": "Asset"},
                {"name": "plain", "uri": "plain", "type": "Asset"}
            ])
        );
        assert_eq!(
            out.terminal.body["outlet_events"],
            json!([{"dest_asset_key": {"name": "orders", "uri": "s3://bucket/orders"},
                    "extra": {"rows": 2}}])
        );
    }

    /// What Airflow 3.4.0b2's `DagSerialization.to_dict` writes for the same dag in Python:
    ///
    /// ```python
    /// start = EmptyOperator(task_id="start")
    /// with TaskGroup("load", tooltip="Loads", default_args={"retries": 3, "owner": "loader"}) as load:
    ///     a = EmptyOperator(task_id="a")
    ///     with TaskGroup("inner", group_display_name="Inner!") as inner:
    ///         b = EmptyOperator(task_id="b")
    ///     a >> inner
    /// with TaskGroup("flat", prefix_group_id=False) as flat:
    ///     c = EmptyOperator(task_id="c", retries=1)
    /// end = EmptyOperator(task_id="end")
    /// start >> load >> flat >> end
    /// ```
    const PYTHON_TASK_GROUP: &str = r##"{
        "_group_id": null,
        "group_display_name": "",
        "prefix_group_id": true,
        "tooltip": "",
        "ui_color": "CornflowerBlue",
        "ui_fgcolor": "#000",
        "children": {
            "start": [
                "operator",
                "start"
            ],
            "load": [
                "taskgroup",
                {
                    "_group_id": "load",
                    "group_display_name": "",
                    "prefix_group_id": true,
                    "tooltip": "Loads",
                    "ui_color": "CornflowerBlue",
                    "ui_fgcolor": "#000",
                    "children": {
                        "load.a": [
                            "operator",
                            "load.a"
                        ],
                        "load.inner": [
                            "taskgroup",
                            {
                                "_group_id": "inner",
                                "group_display_name": "Inner!",
                                "prefix_group_id": true,
                                "tooltip": "",
                                "ui_color": "CornflowerBlue",
                                "ui_fgcolor": "#000",
                                "children": {
                                    "load.inner.b": [
                                        "operator",
                                        "load.inner.b"
                                    ]
                                },
                                "upstream_group_ids": [],
                                "downstream_group_ids": [],
                                "upstream_task_ids": [
                                    "load.a"
                                ],
                                "downstream_task_ids": []
                            }
                        ]
                    },
                    "upstream_group_ids": [],
                    "downstream_group_ids": [
                        "flat"
                    ],
                    "upstream_task_ids": [
                        "start"
                    ],
                    "downstream_task_ids": []
                }
            ],
            "flat": [
                "taskgroup",
                {
                    "_group_id": "flat",
                    "group_display_name": "",
                    "prefix_group_id": false,
                    "tooltip": "",
                    "ui_color": "CornflowerBlue",
                    "ui_fgcolor": "#000",
                    "children": {
                        "c": [
                            "operator",
                            "c"
                        ]
                    },
                    "upstream_group_ids": [
                        "load"
                    ],
                    "downstream_group_ids": [],
                    "upstream_task_ids": [
                        "load.inner.b"
                    ],
                    "downstream_task_ids": [
                        "end"
                    ]
                }
            ],
            "end": [
                "operator",
                "end"
            ]
        },
        "upstream_group_ids": [],
        "downstream_group_ids": [],
        "upstream_task_ids": [],
        "downstream_task_ids": []
    }"##;

    #[test]
    fn task_groups_are_serialized_as_airflow_serializes_a_python_dags() {
        let loader = TaskSettings::new().retries(3).owner("loader");
        let dag = Dag::new("g")
            .native()
            .task("start", noop)
            // The outer dependency first: roots and leaves do not depend on the order.
            .flow(flow("start") >> "load" >> "flat" >> "end")
            .group(
                TaskGroup::new("load").tooltip("Loads").default_task(loader),
                |g| {
                    g.task("a", noop)
                        .group(TaskGroup::new("inner").display_name("Inner!"), |g| {
                            g.task("b", noop)
                        })
                        .flow(flow("load.a") >> "load.inner")
                },
            )
            .group(TaskGroup::new("flat").prefix_group_id(false), |g| {
                g.task(Task::new("c").retries(1), noop)
            })
            .task("end", noop);
        let b = Bundle::new().queue("rust").dag(dag);
        let m = b.metadata().unwrap();
        let v = serialize("g", m.dags["g"].declared.as_ref().unwrap(), "/b/g", "g");
        let python: Value = serde_json::from_str(PYTHON_TASK_GROUP).unwrap();
        assert_eq!(v["dag"]["task_group"], python);
        // Children in Python's order too (the deserializer sorts them; the UI keeps them).
        let keys = |v: &Value| {
            v["children"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&v["dag"]["task_group"]), keys(&python));
        let tasks: Vec<(String, Value, Value, Value)> = v["dag"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let t = &t["__var"];
                let down = t.get("downstream_task_ids").cloned().unwrap_or(json!([]));
                (
                    t["task_id"].as_str().unwrap().to_owned(),
                    down,
                    t["retries"].clone(),
                    t["owner"].clone(),
                )
            })
            .collect();
        assert_eq!(
            tasks,
            [
                ("start".into(), json!(["load.a"]), Value::Null, Value::Null),
                (
                    "load.a".into(),
                    json!(["load.inner.b"]),
                    json!(3),
                    json!("loader")
                ),
                (
                    "load.inner.b".into(),
                    json!(["c"]),
                    json!(3),
                    json!("loader")
                ),
                ("c".into(), json!(["end"]), json!(1), Value::Null),
                ("end".into(), json!([]), Value::Null, Value::Null),
            ]
        );
        // A dag without groups leaves the root group to Airflow.
        let b = Bundle::new()
            .queue("rust")
            .dag(Dag::new("d").native().task("a", noop));
        let m = b.metadata().unwrap();
        let v = serialize("d", m.dags["d"].declared.as_ref().unwrap(), "/b/d", "d");
        assert!(v["dag"].get("task_group").is_none());
    }

    #[test]
    fn a_native_dag_needs_a_routed_queue() {
        let b = Bundle::new().dag(Dag::new("etl").native().task("a", noop));
        let err = b.validate().unwrap_err().to_string();
        assert!(
            err.contains("task \"a\" of dag \"etl\" has no queue routed"),
            "{err}"
        );
        // Not native: Python stubs may route it themselves.
        assert!(
            Bundle::new()
                .dag(Dag::new("etl").task("a", noop))
                .validate()
                .is_ok()
        );
    }
}
