//! The shape of a dag as a bundle declares it: schedule, dates, params, task settings and
//! dependencies.
//!
//! One declaration, two outputs. A bundle binary prints these types under each dag's
//! `declared` key of its `--airflow-metadata` (and airflow-build embeds the same text for a
//! foreign target), the packer copies them into the manifest, and then
//!
//! * the SDK refuses them when the bundle is declared, and `cargo airflow pack` checks them
//!   again, by the same rules ([`DagDeclaration::problems`], [`Metadata::declaration_problems`]),
//!   and writes the Python stub dag file from them, and
//! * on Airflow 3.4 the bundle's runtime turns the dags that opt in ([`DagDeclaration::native`])
//!   into serialized Dags when the Dag processor parses the bundle file.
//!
//! Airflow's own readers ignore the extra key. Every value here is already resolved: a task's
//! [`TaskSettings`] are its own settings over the dag's defaults over the bundle's coordinator
//! queue, because Airflow does not apply `default_args` to a serialized task.
//!
//! ```
//! use airflow_bundle::declare::{Schedule, TaskSettings, TriggerRule};
//! use std::time::Duration;
//!
//! let nightly = Schedule::cron("0 3 * * *").timezone("Europe/Paris");
//! assert_eq!(nightly.cron_expression(), Some("0 3 * * *"));
//!
//! let settings = TaskSettings::new()
//!     .retries(2)
//!     .retry_delay(Duration::from_secs(30))
//!     .trigger_rule(TriggerRule::AllDone);
//! assert_eq!(settings.retries, Some(2));
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Metadata;

mod assets;
mod cron;

pub use assets::{
    Asset, AssetAlias, AssetCondition, AssetError, AssetOrAlias, check_alias, normalize_asset,
};
pub use cron::{CronError, CronField, check_cron};

/// When Airflow creates runs of a dag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Never on its own: only triggered runs (Python `schedule=None`).
    #[default]
    None,
    /// Once, as soon as possible (`"@once"`).
    Once,
    /// A new run as soon as the previous one ends (`"@continuous"`; at most one active run).
    Continuous,
    /// A cron expression (5 fields, or a preset such as `@daily`), evaluated in `timezone`.
    Cron {
        /// The expression as declared.
        expression: String,
        /// An IANA time zone name, `UTC` by default.
        timezone: String,
    },
}

/// Cron presets Airflow knows, and the expression each stands for.
pub const CRON_PRESETS: &[(&str, &str)] = &[
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@quarterly", "0 0 1 */3 *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// The five fields the preset `expression` stands for (`"@daily"` gives `"0 0 * * *"`; see
/// [`CRON_PRESETS`]), recognised after trimming; `None` when it is no preset. Stubs and native
/// dags alike hand Airflow a preset expanded.
pub fn expand_preset(expression: &str) -> Option<&'static str> {
    let e = expression.trim();
    CRON_PRESETS.iter().find(|(p, _)| *p == e).map(|(_, x)| *x)
}

impl Schedule {
    /// A cron schedule in UTC. `expression` is five fields (`"0 3 * * *"`) or a preset
    /// (`"@daily"`; see [`CRON_PRESETS`]); `"@once"` and `"@continuous"` give [`Schedule::Once`]
    /// and [`Schedule::Continuous`]. The expression is checked with the dag's other declarations
    /// ([`check_cron`]).
    #[must_use]
    pub fn cron(expression: impl Into<String>) -> Self {
        let expression = expression.into();
        match expression.trim() {
            "@once" => Schedule::Once,
            "@continuous" => Schedule::Continuous,
            _ => Schedule::Cron {
                expression,
                timezone: "UTC".to_owned(),
            },
        }
    }

    /// Sets the time zone a cron schedule is evaluated in (an IANA name such as
    /// `"Europe/Paris"`); other schedules have none and are returned unchanged.
    #[must_use]
    pub fn timezone(self, tz: impl Into<String>) -> Self {
        match self {
            Schedule::Cron { expression, .. } => Schedule::Cron {
                expression,
                timezone: tz.into(),
            },
            other => other,
        }
    }

    /// The five-field cron expression (presets expanded), for a cron schedule.
    pub fn cron_expression(&self) -> Option<&str> {
        let Schedule::Cron { expression, .. } = self else {
            return None;
        };
        let e = expression.trim();
        Some(expand_preset(e).unwrap_or(e))
    }

    /// Whether Airflow would create runs on its own (everything but [`Schedule::None`]).
    pub fn can_be_scheduled(&self) -> bool {
        !matches!(self, Schedule::None)
    }
}

/// When a task runs, given the states of its upstream tasks (Airflow's `trigger_rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // The names are Airflow's; see its documentation of trigger rules.
pub enum TriggerRule {
    AllSuccess,
    AllFailed,
    AllDone,
    AllDoneMinOneSuccess,
    AllDoneSetupSuccess,
    AllSkipped,
    OneSuccess,
    OneFailed,
    OneDone,
    NoneFailed,
    NoneFailedMinOneSuccess,
    NoneSkipped,
    Always,
}

impl TriggerRule {
    /// Every rule, in declaration order.
    pub const ALL: [TriggerRule; 13] = [
        TriggerRule::AllSuccess,
        TriggerRule::AllFailed,
        TriggerRule::AllDone,
        TriggerRule::AllDoneMinOneSuccess,
        TriggerRule::AllDoneSetupSuccess,
        TriggerRule::AllSkipped,
        TriggerRule::OneSuccess,
        TriggerRule::OneFailed,
        TriggerRule::OneDone,
        TriggerRule::NoneFailed,
        TriggerRule::NoneFailedMinOneSuccess,
        TriggerRule::NoneSkipped,
        TriggerRule::Always,
    ];

    /// Airflow's name for the rule (`"all_success"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerRule::AllSuccess => "all_success",
            TriggerRule::AllFailed => "all_failed",
            TriggerRule::AllDone => "all_done",
            TriggerRule::AllDoneMinOneSuccess => "all_done_min_one_success",
            TriggerRule::AllDoneSetupSuccess => "all_done_setup_success",
            TriggerRule::AllSkipped => "all_skipped",
            TriggerRule::OneSuccess => "one_success",
            TriggerRule::OneFailed => "one_failed",
            TriggerRule::OneDone => "one_done",
            TriggerRule::NoneFailed => "none_failed",
            TriggerRule::NoneFailedMinOneSuccess => "none_failed_min_one_success",
            TriggerRule::NoneSkipped => "none_skipped",
            TriggerRule::Always => "always",
        }
    }
}

/// Settings of one task, or a dag's defaults for its tasks. Unset (`None`) means Airflow's
/// default. Durations are seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TaskSettings {
    /// How many times a failed try is retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Seconds between tries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<f64>,
    /// Multiplier of exponential backoff between retries (`0` or unset: a fixed delay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_exponential_backoff: Option<f64>,
    /// Upper bound of the delay with backoff, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retry_delay: Option<f64>,
    /// A try running longer than this many seconds fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<f64>,
    /// When the task runs, given its upstream tasks' states.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_rule: Option<TriggerRule>,
    /// The pool the task takes a slot of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Scheduling priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_weight: Option<i32>,
    /// The queue; it must be routed to the executable coordinator (`[sdk] queue_to_coordinator`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The owner shown in the UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Documentation (Markdown) shown in the UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_md: Option<String>,
}

impl TaskSettings {
    /// No settings: Airflow's defaults.
    #[must_use]
    pub fn new() -> Self {
        TaskSettings::default()
    }

    /// Retries a failed try `n` times.
    #[must_use]
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = Some(n);
        self
    }

    /// Waits `delay` between tries.
    #[must_use]
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = Some(delay.as_secs_f64());
        self
    }

    /// Grows the delay between retries by `multiplier` each time (Airflow's
    /// `retry_exponential_backoff`; 2.0 doubles it), up to `max_delay` when given.
    #[must_use]
    pub fn exponential_backoff(mut self, multiplier: f64, max_delay: Option<Duration>) -> Self {
        self.retry_exponential_backoff = Some(multiplier);
        self.max_retry_delay = max_delay.map(|d| d.as_secs_f64());
        self
    }

    /// Fails a try that runs longer than `timeout`.
    #[must_use]
    pub fn execution_timeout(mut self, timeout: Duration) -> Self {
        self.execution_timeout = Some(timeout.as_secs_f64());
        self
    }

    /// Runs the task when `rule` holds for its upstream tasks.
    #[must_use]
    pub fn trigger_rule(mut self, rule: TriggerRule) -> Self {
        self.trigger_rule = Some(rule);
        self
    }

    /// Takes a slot of `pool`.
    #[must_use]
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.pool = Some(pool.into());
        self
    }

    /// Sets the scheduling priority.
    #[must_use]
    pub fn priority_weight(mut self, weight: i32) -> Self {
        self.priority_weight = Some(weight);
        self
    }

    /// Runs on `queue`, which must be one of the bundle's coordinator queues.
    #[must_use]
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Sets the owner shown in the UI.
    #[must_use]
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets the documentation (Markdown) shown in the UI.
    #[must_use]
    pub fn doc_md(mut self, doc: impl Into<String>) -> Self {
        self.doc_md = Some(doc.into());
        self
    }

    /// `self` with every setting it leaves unset taken from `defaults`.
    #[must_use]
    pub fn or(self, defaults: &TaskSettings) -> TaskSettings {
        let d = defaults.clone();
        TaskSettings {
            retries: self.retries.or(d.retries),
            retry_delay: self.retry_delay.or(d.retry_delay),
            retry_exponential_backoff: self
                .retry_exponential_backoff
                .or(d.retry_exponential_backoff),
            max_retry_delay: self.max_retry_delay.or(d.max_retry_delay),
            execution_timeout: self.execution_timeout.or(d.execution_timeout),
            trigger_rule: self.trigger_rule.or(d.trigger_rule),
            pool: self.pool.or(d.pool),
            priority_weight: self.priority_weight.or(d.priority_weight),
            queue: self.queue.or(d.queue),
            owner: self.owner.or(d.owner),
            doc_md: self.doc_md.or(d.doc_md),
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == TaskSettings::default()
    }
}

/// A dag parameter: its default (any JSON value) and an optional description. Tasks read it with
/// the run's conf taking precedence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDeclaration {
    /// The parameter's name.
    pub name: String,
    /// Its default value.
    pub default: serde_json::Value,
    /// What it is for, shown in the trigger form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One task of a declared dag, its settings resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDeclaration {
    /// The task id.
    pub id: String,
    /// Its settings over the dag's defaults over the bundle's coordinator queue.
    #[serde(default, skip_serializing_if = "TaskSettings::is_empty")]
    pub settings: TaskSettings,
    /// The ids of the tasks that run after it, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downstream: Vec<String>,
    /// For a task with typed arguments, the stub parameter names it binds (in order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// For a task of a native dag with typed arguments: where each argument's value comes from,
    /// one per name of [`args`](Self::args), in the same order. Empty for a stub dag's task,
    /// whose Python call binds the arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arg_sources: Vec<ArgSource>,
    /// A branch: the task chooses which of its direct downstream tasks run and skips the others
    /// (Airflow's `_can_skip_downstream`, so a cleared downstream task is skipped again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub branch: bool,
    /// For a mapped task (an argument [expanded](ArgSource::is_expanded)): the label of each
    /// map index, with `{name}` replaced by the value of argument `name` (its element for an
    /// expanded one). Rendered by the runtime, as Python's task runner renders
    /// `map_index_template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_index_template: Option<String>,
    /// The assets and aliases the task reads (Python's `inlets`), in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inlets: Vec<AssetOrAlias>,
    /// The assets and aliases the task produces (Python's `outlets`): each asset gets an event
    /// when the task succeeds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outlets: Vec<AssetOrAlias>,
}

impl TaskDeclaration {
    /// Whether the task is mapped (one of its arguments is expanded).
    pub fn is_mapped(&self) -> bool {
        self.arg_sources.iter().any(ArgSource::is_expanded)
    }
}

/// Where the value of one typed argument of a native task comes from: what a Python TaskFlow
/// call (`load(transform(), table="t1")`) says, written in the bundle instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArgSource {
    /// The return value (`return_value` XCom) of an upstream task, which the task then depends
    /// on.
    Output {
        /// The upstream task.
        task_id: String,
    },
    /// A value written in the declaration.
    Literal {
        /// The value (JSON).
        value: serde_json::Value,
    },
    /// Mapped over the list an upstream task returned (Python's `.expand(x=upstream())`): one
    /// task instance per element, each given its element. The task depends on the upstream.
    ExpandOutput {
        /// The upstream task.
        task_id: String,
    },
    /// Mapped over a list written in the declaration (`.expand(x=[1, 2, 3])`): one task
    /// instance per element.
    ExpandValues {
        /// The elements.
        values: Vec<serde_json::Value>,
    },
}

impl ArgSource {
    /// The upstream task whose output the argument takes (whole or one element of), if any.
    pub fn upstream(&self) -> Option<&str> {
        match self {
            ArgSource::Output { task_id } | ArgSource::ExpandOutput { task_id } => Some(task_id),
            ArgSource::Literal { .. } | ArgSource::ExpandValues { .. } => None,
        }
    }

    /// Whether the task is mapped over this argument (one task instance per element).
    pub fn is_expanded(&self) -> bool {
        matches!(
            self,
            ArgSource::ExpandOutput { .. } | ArgSource::ExpandValues { .. }
        )
    }
}

/// One task group of a native dag, as Airflow's `TaskGroup` serializes it: its id, where it sits,
/// its tasks, and the dependencies written on the group itself (which the UI's graph draws as
/// one edge to the group; the task-level edges they imply are in each task's
/// [`downstream`](TaskDeclaration::downstream)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GroupDeclaration {
    /// The full group id (`outer.inner`), unique among the dag's group and task ids.
    pub id: String,
    /// The id as declared, without its parent's prefix (Airflow's `_group_id`).
    pub label: String,
    /// The full id of the enclosing group; `None` for a group at the dag's top level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Whether the group's id prefixes the ids of its tasks and groups (Airflow's default).
    #[serde(skip_serializing_if = "is_true")]
    pub prefix_group_id: bool,
    /// Shown when the pointer is over the group in the UI's graph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tooltip: Option<String>,
    /// The name the UI shows instead of the label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The ids of the tasks directly in the group, in declaration order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    /// Groups written upstream of this one (`a >> this`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstream_groups: Vec<String>,
    /// Groups written downstream of this one, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downstream_groups: Vec<String>,
    /// Tasks written upstream of this group (for a group upstream, its leaves), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstream_tasks: Vec<String>,
    /// Tasks written downstream of this group, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downstream_tasks: Vec<String>,
}

impl GroupDeclaration {
    /// A top-level group `label` that prefixes its children's ids, with nothing in it yet.
    pub fn new(label: impl Into<String>) -> Self {
        let label = label.into();
        GroupDeclaration {
            id: label.clone(),
            label,
            ..GroupDeclaration::default()
        }
    }
}

impl Default for GroupDeclaration {
    fn default() -> Self {
        GroupDeclaration {
            id: String::new(),
            label: String::new(),
            parent: None,
            prefix_group_id: true,
            tooltip: None,
            display_name: None,
            tasks: Vec::new(),
            upstream_groups: Vec::new(),
            downstream_groups: Vec::new(),
            upstream_tasks: Vec::new(),
            downstream_tasks: Vec::new(),
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_true(v: &bool) -> bool {
    *v
}

/// Everything a bundle declares about one dag beyond its task ids.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DagDeclaration {
    /// Served natively to Airflow 3.4's Dag processor (no Python stub). Other dags are declared
    /// to Airflow by a Python stub dag file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub native: bool,
    /// The queues routed to the executable coordinator, as the bundle declares them. Every task's
    /// queue must be one of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coordinator_queues: Vec<String>,
    /// When runs are created.
    pub schedule: Schedule,
    /// The asset condition that also creates runs: alone (`schedule` is `None`) Airflow's
    /// `AssetTriggeredTimetable`, beside a schedule its `AssetOrTimeSchedule`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_on: Option<AssetCondition>,
    /// First logical date, RFC 3339 in UTC (`2026-01-01T00:00:00Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Last logical date, RFC 3339 in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Whether missed intervals since `start_date` are run (unset: `[scheduler]
    /// catchup_by_default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catchup: Option<bool>,
    /// Shown in the UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags, in declaration order, without repeats.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Parameters with defaults, in declaration order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamDeclaration>,
    /// How many runs may be active at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_active_runs: Option<u32>,
    /// How many task instances of the dag may run at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_active_tasks: Option<u32>,
    /// A run still going after this many seconds fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dagrun_timeout: Option<f64>,
    /// The defaults the dag declared for its tasks (already copied into each task; kept for
    /// display as Airflow's `default_args`).
    #[serde(skip_serializing_if = "TaskSettings::is_empty")]
    pub default_task: TaskSettings,
    /// The tasks, in declaration order.
    pub tasks: Vec<TaskDeclaration>,
    /// The task groups (native dags only), each after the group that holds it, in declaration
    /// order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupDeclaration>,
}

/// One thing wrong with a dag's declarations; each names the dag and, where there is one, the
/// task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationProblem {
    /// A dependency names a task the dag does not have.
    UnknownTask {
        /// The dag.
        dag_id: String,
        /// The task the dependency starts from.
        upstream: String,
        /// The task it leads to.
        downstream: String,
        /// Which of the two is unknown.
        unknown: String,
    },
    /// The dependencies form a cycle.
    Cycle {
        /// The dag.
        dag_id: String,
        /// The tasks of the cycle, in order, the first repeated at the end.
        path: Vec<String>,
    },
    /// `catchup` is on for a schedule that creates runs, but there is no start date.
    CatchupWithoutStartDate {
        /// The dag.
        dag_id: String,
    },
    /// A task's queue is not routed to the executable coordinator (or it has none).
    UnroutedQueue {
        /// The dag.
        dag_id: String,
        /// The task.
        task_id: String,
        /// Its queue, if any.
        queue: Option<String>,
        /// The routed queues.
        routed: Vec<String>,
    },
    /// A date is not RFC 3339 in UTC (`YYYY-MM-DDTHH:MM:SSZ`), or the end is before the start.
    BadDate {
        /// The dag.
        dag_id: String,
        /// What is wrong.
        detail: String,
    },
    /// `@continuous` allows one active run; the dag allows more.
    ContinuousRuns {
        /// The dag.
        dag_id: String,
        /// What it declares.
        max_active_runs: u32,
    },
    /// A number that must be finite and not negative is not.
    BadNumber {
        /// The dag.
        dag_id: String,
        /// The task, when it is a task setting.
        task_id: Option<String>,
        /// The setting.
        setting: &'static str,
    },
    /// Two parameters share a name.
    DuplicateParam {
        /// The dag.
        dag_id: String,
        /// The name.
        name: String,
    },
    /// A cron schedule's expression is one Airflow would refuse.
    BadCron {
        /// The dag.
        dag_id: String,
        /// The expression as declared.
        expression: String,
        /// What is wrong with it.
        error: CronError,
    },
    /// A task's typed arguments and their sources disagree: a native dag's task must say where
    /// each argument's value comes from (a Python stub's call cannot), and a stub dag's task
    /// must not (its stub's call does).
    ArgSources {
        /// The dag.
        dag_id: String,
        /// The task.
        task_id: String,
        /// Whether the dag is native.
        native: bool,
    },
    /// An asset or alias Airflow would refuse: in a task's inlets or outlets (`task_id` set) or
    /// in the condition the dag is scheduled on.
    BadAsset {
        /// The dag.
        dag_id: String,
        /// The task, for an inlet or outlet.
        task_id: Option<String>,
        /// Where it is declared and what it is, e.g. `outlet asset "orders" (uri "")`.
        what: String,
        /// What is wrong.
        error: AssetError,
    },
    /// A dag that is not native declares assets: its Python stub would not carry them.
    AssetsNeedNative {
        /// The dag.
        dag_id: String,
    },
    /// A task group is declared wrong ([`GroupProblem`] says how).
    Group {
        /// The dag.
        dag_id: String,
        /// The group's full id.
        group_id: String,
        /// What is wrong.
        problem: GroupProblem,
    },
    /// A manifest's declared tasks are not its task list (a bundle mixing SDKs).
    TaskListMismatch {
        /// The dag.
        dag_id: String,
        /// The ids of the declared tasks, in order.
        declared: Vec<String>,
        /// The dag's task list, in order.
        listed: Vec<String>,
    },
}

impl fmt::Display for DeclarationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeclarationProblem::UnknownTask {
                dag_id,
                upstream,
                downstream,
                unknown,
            } => write!(
                f,
                "dag {dag_id:?}: the dependency {upstream:?} >> {downstream:?} names task \
                 {unknown:?}, which the dag does not declare; add the task or fix the id"
            ),
            DeclarationProblem::Cycle { dag_id, path } => write!(
                f,
                "dag {dag_id:?}: its dependencies form a cycle through task {:?} ({}); remove \
                 one of these dependencies",
                path[0],
                path.join(" >> ")
            ),
            DeclarationProblem::CatchupWithoutStartDate { dag_id } => write!(
                f,
                "dag {dag_id:?} sets catchup but no start date: add .start_date(...) or drop \
                 .catchup(true)"
            ),
            DeclarationProblem::UnroutedQueue {
                dag_id,
                task_id,
                queue,
                routed,
            } => write_unrouted(f, dag_id, task_id, queue.as_deref(), routed),
            DeclarationProblem::BadDate { dag_id, detail } => {
                write!(f, "dag {dag_id:?}: {detail}")
            }
            DeclarationProblem::ContinuousRuns {
                dag_id,
                max_active_runs,
            } => write!(
                f,
                "dag {dag_id:?} is @continuous, which allows one active run, but sets \
                 max_active_runs {max_active_runs}: set it to 1 or leave it unset"
            ),
            DeclarationProblem::BadNumber {
                dag_id,
                task_id,
                setting,
            } => {
                if let Some(t) = task_id {
                    write!(f, "task {t:?} of ")?;
                }
                write!(
                    f,
                    "dag {dag_id:?}: {setting} must be a finite, non-negative number"
                )
            }
            DeclarationProblem::DuplicateParam { dag_id, name } => {
                write!(f, "dag {dag_id:?} declares param {name:?} more than once")
            }
            DeclarationProblem::BadCron {
                dag_id,
                expression,
                error,
            } => write!(
                f,
                "dag {dag_id:?}: the cron expression {expression:?} is invalid: {error}"
            ),
            DeclarationProblem::ArgSources { .. }
            | DeclarationProblem::BadAsset { .. }
            | DeclarationProblem::AssetsNeedNative { .. } => self.fmt_task_problem(f),
            DeclarationProblem::Group {
                dag_id,
                group_id,
                problem,
            } => write!(f, "dag {dag_id:?}: task group {group_id:?} {problem}"),
            DeclarationProblem::TaskListMismatch {
                dag_id,
                declared,
                listed,
            } => write!(
                f,
                "dag {dag_id:?}: the declared tasks {declared:?} differ from the task list \
                 {listed:?}; rebuild the bundle with one airflow-sdk"
            ),
        }
    }
}

impl DeclarationProblem {
    /// The text of a problem with a task's argument sources or with assets.
    fn fmt_task_problem(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeclarationProblem::ArgSources {
                dag_id,
                task_id,
                native,
            } => write!(
                f,
                "task {task_id:?} of dag {dag_id:?} {}",
                arg_sources_text(*native)
            ),
            DeclarationProblem::BadAsset {
                dag_id,
                task_id,
                what,
                error,
            } => {
                if let Some(t) = task_id {
                    write!(f, "task {t:?} of ")?;
                }
                write!(f, "dag {dag_id:?}: {what}: {error}")
            }
            DeclarationProblem::AssetsNeedNative { dag_id } => write!(
                f,
                "dag {dag_id:?} declares assets (inlets, outlets or a schedule on assets), which \
                 only a native dag serializes: make it native (Dag::native, Airflow 3.4), or \
                 declare them in a hand-written stub and emit events with emit_asset"
            ),
            _ => Ok(()),
        }
    }
}

/// Why a task's queue does not reach the executable coordinator.
fn write_unrouted(
    f: &mut fmt::Formatter<'_>,
    dag_id: &str,
    task_id: &str,
    queue: Option<&str>,
    routed: &[String],
) -> fmt::Result {
    match (queue, routed.is_empty()) {
        (_, true) => write!(
            f,
            "task {task_id:?} of dag {dag_id:?} has no queue routed to the executable \
             coordinator: declare one with Bundle::queue(\"rust\") and route it in \
             [sdk] queue_to_coordinator"
        ),
        (Some(q), false) => write!(
            f,
            "task {task_id:?} of dag {dag_id:?} runs on queue {q:?}, which the bundle \
             does not route to the executable coordinator (routed: {routed:?}); use one \
             of them or add it with Bundle::queue"
        ),
        (None, false) => write!(
            f,
            "task {task_id:?} of dag {dag_id:?} has no queue; give it one of {routed:?}"
        ),
    }
}

/// What is wrong with a task's argument sources, in a native dag or a stub dag.
fn arg_sources_text(native: bool) -> &'static str {
    if native {
        "takes typed arguments, but not every one says where its value comes from, and a \
         native dag has no Python call to bind them: give each one with \
         arg(\"name\").output_of(\"task\") or arg(\"name\").value(...)"
    } else {
        "says where its arguments come from, but its dag is not native: the Python stub's call \
         binds them; name the arguments only, or make the dag native"
    }
}

/// What is wrong with a task group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupProblem {
    /// Its id as declared is empty, too long, or has a character other than letters, digits,
    /// `_` and `-` ([`is_group_id`](crate::ids::is_group_id)).
    BadId,
    /// Another group of the dag has the same full id.
    Duplicate,
    /// A task of the dag has the group's full id (Airflow keeps group and task ids apart).
    ClashesWithTask,
    /// It holds no task, directly or in a nested group.
    Empty,
    /// It names a parent group or a task the dag does not declare (before it, for a parent).
    Unknown(String),
    /// It is declared in a dag that is not native: a stub dag's groups are declared in its
    /// Python file.
    NotNative,
}

impl fmt::Display for GroupProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupProblem::BadId => write!(
                f,
                "has an id Airflow refuses: use 1 to {} letters, digits, '_' and '-' (no '.', \
                 which joins a group's id to its children's)",
                crate::ids::MAX_GROUP_ID_CHARS
            ),
            GroupProblem::Duplicate => f.write_str("is declared more than once; rename one"),
            GroupProblem::ClashesWithTask => f.write_str(
                "has the id of a task of the dag, and Airflow keeps group and task ids apart; \
                 rename one",
            ),
            GroupProblem::Empty => f.write_str("holds no task; add one or remove the group"),
            GroupProblem::Unknown(id) => write!(
                f,
                "names {id:?}, which the dag does not declare (rebuild the bundle with one \
                 airflow-sdk)"
            ),
            GroupProblem::NotNative => f.write_str(
                "is declared in a dag that is not native: add .native() (Airflow 3.4), or \
                 declare the group in the stub's Python file and name its Rust tasks by their \
                 full ids (\"group.task\")",
            ),
        }
    }
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ`, the one date form declarations use.
pub fn parse_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let month_number = u32::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
    if day < 1
        || day > i64::from(days_in_month(year, month_number))
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's well-known algorithm.
    let (y2, m2) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

impl DagDeclaration {
    /// Everything wrong with the declarations of dag `dag_id`, each naming the dag and task:
    /// unknown task ids, cycles, bad dates and numbers, catchup without a start date, a cron
    /// expression Airflow would refuse ([`check_cron`]), and for a native dag a task whose queue
    /// is not routed to the coordinator ([`routing_problems`](Self::routing_problems)) or has a
    /// typed argument without a source (and for a stub dag, a task giving sources its stub's
    /// call would override), and an argument taking the output of a task the dag lacks. Time
    /// zone names are not checked (Airflow checks them).
    ///
    /// The SDK refuses a bundle with any of these when it is declared, and the packer checks a
    /// manifest by the same rules ([`Metadata::declaration_problems`]).
    pub fn problems(&self, dag_id: &str) -> Vec<DeclarationProblem> {
        let mut out = Vec::new();
        let index: HashMap<&str, usize> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        for t in &self.tasks {
            for d in &t.downstream {
                if !index.contains_key(d.as_str()) {
                    out.push(DeclarationProblem::UnknownTask {
                        dag_id: dag_id.to_owned(),
                        upstream: t.id.clone(),
                        downstream: d.clone(),
                        unknown: d.clone(),
                    });
                }
            }
        }
        if let Some(path) = find_cycle(&self.tasks, &index) {
            out.push(DeclarationProblem::Cycle {
                dag_id: dag_id.to_owned(),
                path,
            });
        }
        out.extend(self.date_problems(dag_id));
        if self.catchup == Some(true)
            && (self.schedule.can_be_scheduled() || self.schedule_on.is_some())
            && self.start_date.is_none()
        {
            out.push(DeclarationProblem::CatchupWithoutStartDate {
                dag_id: dag_id.to_owned(),
            });
        }
        if let (Schedule::Continuous, Some(n)) = (&self.schedule, self.max_active_runs)
            && n > 1
        {
            out.push(DeclarationProblem::ContinuousRuns {
                dag_id: dag_id.to_owned(),
                max_active_runs: n,
            });
        }
        if self.dagrun_timeout.is_some_and(|v| !good_number(v)) {
            out.push(DeclarationProblem::BadNumber {
                dag_id: dag_id.to_owned(),
                task_id: None,
                setting: "dagrun_timeout",
            });
        }
        let mut names = BTreeSet::new();
        for p in &self.params {
            if !names.insert(p.name.as_str()) {
                out.push(DeclarationProblem::DuplicateParam {
                    dag_id: dag_id.to_owned(),
                    name: p.name.clone(),
                });
            }
        }
        for t in &self.tasks {
            let s = &t.settings;
            for (setting, v) in [
                ("retry_delay", s.retry_delay),
                ("retry_exponential_backoff", s.retry_exponential_backoff),
                ("max_retry_delay", s.max_retry_delay),
                ("execution_timeout", s.execution_timeout),
            ] {
                if v.is_some_and(|v| !good_number(v)) {
                    out.push(DeclarationProblem::BadNumber {
                        dag_id: dag_id.to_owned(),
                        task_id: Some(t.id.clone()),
                        setting,
                    });
                }
            }
        }
        if self.native {
            out.extend(self.routing_problems(dag_id));
        }
        out.extend(self.arg_problems(dag_id, &index));
        out.extend(self.asset_problems(dag_id));
        out.extend(self.group_problems(dag_id, &index));
        if let Schedule::Cron { expression, .. } = &self.schedule
            && let Err(error) = check_cron(expression)
        {
            out.push(DeclarationProblem::BadCron {
                dag_id: dag_id.to_owned(),
                expression: expression.clone(),
                error,
            });
        }
        out
    }

    /// Assets and aliases Airflow would refuse, each named with its task, and assets in a dag
    /// that is not native.
    fn asset_problems(&self, dag_id: &str) -> Vec<DeclarationProblem> {
        let mut out = Vec::new();
        let has_assets = self.schedule_on.is_some()
            || self
                .tasks
                .iter()
                .any(|t| !t.inlets.is_empty() || !t.outlets.is_empty());
        if has_assets && !self.native {
            out.push(DeclarationProblem::AssetsNeedNative {
                dag_id: dag_id.to_owned(),
            });
        }
        let mut check = |task_id: Option<&str>, role: &str, item: &AssetOrAlias| {
            let (what, result) = match item {
                AssetOrAlias::Asset(a) => (
                    format!("{role} asset {:?} (uri {:?})", a.name, a.uri),
                    normalize_asset(a).map(|_| ()),
                ),
                AssetOrAlias::Alias(a) => (format!("{role} alias {:?}", a.name), check_alias(a)),
            };
            if let Err(error) = result {
                out.push(DeclarationProblem::BadAsset {
                    dag_id: dag_id.to_owned(),
                    task_id: task_id.map(str::to_owned),
                    what,
                    error,
                });
            }
        };
        if let Some(c) = &self.schedule_on {
            for leaf in c.leaves() {
                check(None, "the schedule's", &leaf);
            }
        }
        for t in &self.tasks {
            for i in &t.inlets {
                check(Some(&t.id), "inlet", i);
            }
            for o in &t.outlets {
                check(Some(&t.id), "outlet", o);
            }
        }
        out
    }

    /// Task groups that Airflow would refuse or that name what the dag lacks.
    fn group_problems(
        &self,
        dag_id: &str,
        index: &HashMap<&str, usize>,
    ) -> Vec<DeclarationProblem> {
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        // How many tasks each group holds, nested groups included.
        let mut held: HashMap<&str, usize> = HashMap::new();
        for g in self.groups.iter().rev() {
            let n = g.tasks.len() + held.get(g.id.as_str()).copied().unwrap_or(0);
            if let Some(p) = &g.parent {
                *held.entry(p.as_str()).or_default() += n;
            }
            held.insert(g.id.as_str(), n);
        }
        for g in &self.groups {
            let mut problem = |problem| {
                out.push(DeclarationProblem::Group {
                    dag_id: dag_id.to_owned(),
                    group_id: g.id.clone(),
                    problem,
                });
            };
            if !self.native {
                problem(GroupProblem::NotNative);
            }
            if !crate::ids::is_group_id(&g.label) {
                problem(GroupProblem::BadId);
            }
            if !seen.insert(g.id.as_str()) {
                problem(GroupProblem::Duplicate);
            }
            if index.contains_key(g.id.as_str()) {
                problem(GroupProblem::ClashesWithTask);
            }
            if let Some(p) = g.parent.as_ref().filter(|p| !seen.contains(p.as_str())) {
                problem(GroupProblem::Unknown(p.clone()));
            }
            if let Some(t) = g.tasks.iter().find(|t| !index.contains_key(t.as_str())) {
                problem(GroupProblem::Unknown(t.clone()));
            }
            if held.get(g.id.as_str()).copied().unwrap_or(0) == 0 {
                problem(GroupProblem::Empty);
            }
        }
        out
    }

    /// Typed arguments whose sources do not fit the dag, and sources naming unknown tasks. A
    /// native dag has no stub call: its tasks name each argument's source. A stub's call binds
    /// a stub dag's arguments, so sources there would be silently ignored.
    fn arg_problems(&self, dag_id: &str, index: &HashMap<&str, usize>) -> Vec<DeclarationProblem> {
        let mut out = Vec::new();
        for t in &self.tasks {
            let wrong = if self.native {
                t.arg_sources.len() != t.args.len()
            } else {
                !t.arg_sources.is_empty()
            };
            if wrong {
                out.push(DeclarationProblem::ArgSources {
                    dag_id: dag_id.to_owned(),
                    task_id: t.id.clone(),
                    native: self.native,
                });
            }
            for source in &t.arg_sources {
                if let Some(task_id) = source.upstream()
                    && !index.contains_key(task_id)
                {
                    out.push(DeclarationProblem::UnknownTask {
                        dag_id: dag_id.to_owned(),
                        upstream: task_id.to_owned(),
                        downstream: t.id.clone(),
                        unknown: task_id.to_owned(),
                    });
                }
            }
        }
        out
    }

    /// Start and end dates that are not UTC date-times, or an end before the start.
    fn date_problems(&self, dag_id: &str) -> Vec<DeclarationProblem> {
        let mut out = Vec::new();
        let bad_date = |detail: String| DeclarationProblem::BadDate {
            dag_id: dag_id.to_owned(),
            detail,
        };
        let mut dates = [None, None];
        for (i, (name, value)) in [
            ("start_date", &self.start_date),
            ("end_date", &self.end_date),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = value {
                dates[i] = parse_utc(v);
                if dates[i].is_none() {
                    out.push(bad_date(format!(
                        "{name} {v:?} is not a UTC date-time like 2026-01-01T00:00:00Z"
                    )));
                }
            }
        }
        if let [Some(s), Some(e)] = dates
            && e < s
        {
            out.push(bad_date("end_date is before start_date".into()));
        }
        out
    }

    /// The problems that matter only when tasks must reach the executable coordinator through
    /// their queue: each task's queue must be one of [`coordinator_queues`](Self::coordinator_queues).
    pub fn routing_problems(&self, dag_id: &str) -> Vec<DeclarationProblem> {
        self.tasks
            .iter()
            .filter(|t| {
                t.settings
                    .queue
                    .as_ref()
                    .is_none_or(|q| !self.coordinator_queues.contains(q))
            })
            .map(|t| DeclarationProblem::UnroutedQueue {
                dag_id: dag_id.to_owned(),
                task_id: t.id.clone(),
                queue: t.settings.queue.clone(),
                routed: self.coordinator_queues.clone(),
            })
            .collect()
    }

    /// Every dependency edge `(upstream, downstream)`, in task order.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tasks
            .iter()
            .flat_map(|t| t.downstream.iter().map(|d| (t.id.as_str(), d.as_str())))
    }
}

impl Metadata {
    /// Everything wrong with the declarations of every dag ([`DagDeclaration::problems`]), and
    /// dags whose declared tasks are not their task list. Dags without declarations (a bundle
    /// built with another SDK) have nothing to check.
    pub fn declaration_problems(&self) -> Vec<DeclarationProblem> {
        let mut out = Vec::new();
        for (dag_id, entry) in &self.dags {
            let Some(decl) = &entry.declared else {
                continue;
            };
            if !decl.tasks.iter().map(|t| &t.id).eq(entry.tasks.iter()) {
                out.push(DeclarationProblem::TaskListMismatch {
                    dag_id: dag_id.clone(),
                    declared: decl.tasks.iter().map(|t| t.id.clone()).collect(),
                    listed: entry.tasks.clone(),
                });
            }
            out.extend(decl.problems(dag_id));
        }
        out
    }
}

fn good_number(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// A cycle among the known tasks, as a path whose first task is repeated at its end. Depth-first
/// in declaration order, without recursion, so the same declarations name the same cycle.
fn find_cycle(tasks: &[TaskDeclaration], index: &HashMap<&str, usize>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let next: Vec<Vec<usize>> = tasks
        .iter()
        .map(|t| {
            t.downstream
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let mut mark = vec![Mark::New; tasks.len()];
    for root in 0..tasks.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, position in its successor list)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Open;
        while let Some(&mut (node, ref mut pos)) = stack.last_mut() {
            if let Some(&succ) = next[node].get(*pos) {
                *pos += 1;
                match mark[succ] {
                    Mark::New => {
                        mark[succ] = Mark::Open;
                        stack.push((succ, 0));
                    }
                    Mark::Open => {
                        let start = stack.iter().position(|(n, _)| *n == succ)?;
                        let mut path: Vec<String> = stack[start..]
                            .iter()
                            .map(|(n, _)| tasks[*n].id.clone())
                            .collect();
                        path.push(tasks[succ].id.clone());
                        return Some(path);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// The declarations of every dag, by id (what [`crate::DagEntry::declared`] holds per dag).
pub type Declarations = BTreeMap<String, DagDeclaration>;

/// The number of days in `month` (1 to 12) of `year`, in the proleptic Gregorian calendar.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, down: &[&str]) -> TaskDeclaration {
        TaskDeclaration {
            id: id.into(),
            settings: TaskSettings::new().queue("rust"),
            downstream: down.iter().map(|d| d.to_string()).collect(),
            args: vec![],
            arg_sources: vec![],
            branch: false,
            map_index_template: None,
            inlets: vec![],
            outlets: vec![],
        }
    }

    fn dag(tasks: Vec<TaskDeclaration>) -> DagDeclaration {
        DagDeclaration {
            coordinator_queues: vec!["rust".into()],
            tasks,
            ..DagDeclaration::default()
        }
    }

    #[test]
    fn cycles_and_unknown_tasks_are_named() {
        let d = dag(vec![
            task("a", &["b"]),
            task("b", &["c", "zz"]),
            task("c", &["a"]),
        ]);
        let p = d.problems("etl");
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(
            p[0].to_string(),
            "dag \"etl\": the dependency \"b\" >> \"zz\" names task \"zz\", which the dag does \
             not declare; add the task or fix the id"
        );
        assert_eq!(
            p[1],
            DeclarationProblem::Cycle {
                dag_id: "etl".into(),
                path: vec!["a".into(), "b".into(), "c".into(), "a".into()]
            }
        );
        assert!(p[1].to_string().contains("a >> b >> c >> a"), "{}", p[1]);
        // A diamond is not a cycle.
        let ok = dag(vec![
            task("a", &["b", "c"]),
            task("b", &["d"]),
            task("c", &["d"]),
            task("d", &[]),
        ]);
        assert_eq!(ok.problems("etl"), vec![]);
        // A self-loop is.
        let selfloop = dag(vec![task("a", &["a"])]);
        assert!(matches!(
            &selfloop.problems("x")[..],
            [DeclarationProblem::Cycle { path, .. }] if path == &["a", "a"]
        ));
    }

    #[test]
    fn catchup_dates_and_queues_are_checked() {
        let mut d = dag(vec![task("a", &[])]);
        d.schedule = Schedule::cron("@daily");
        d.catchup = Some(true);
        assert_eq!(
            d.problems("etl"),
            vec![DeclarationProblem::CatchupWithoutStartDate {
                dag_id: "etl".into()
            }]
        );
        d.start_date = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(d.problems("etl"), vec![]);
        d.end_date = Some("2025-12-31T00:00:00Z".into());
        assert!(d.problems("etl")[0].to_string().contains("before"));
        d.end_date = Some("2026-02-30T00:00:00Z".into());
        assert!(d.problems("etl")[0].to_string().contains("2026-02-30"));

        let mut d = dag(vec![task("a", &[])]);
        assert!(d.routing_problems("etl").is_empty());
        d.tasks[0].settings.queue = Some("default".into());
        let p = d.routing_problems("etl");
        assert!(
            p[0].to_string()
                .starts_with("task \"a\" of dag \"etl\" runs on queue \"default\""),
            "{}",
            p[0]
        );
        d.coordinator_queues.clear();
        d.tasks[0].settings.queue = None;
        assert!(
            d.routing_problems("etl")[0]
                .to_string()
                .contains("Bundle::queue")
        );
    }

    #[test]
    fn a_cron_expression_airflow_would_refuse_is_a_problem_of_its_dag() {
        let mut d = dag(vec![task("a", &[])]);
        d.schedule = Schedule::cron("0 25 * * *").timezone("Europe/Paris");
        let p = d.problems("etl");
        assert_eq!(
            p.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "dag \"etl\": the cron expression \"0 25 * * *\" is invalid: hour: 25 is outside 0-23"
            ]
        );
        assert!(matches!(
            &p[0],
            DeclarationProblem::BadCron {
                error: CronError::OutOfRange {
                    field: CronField::Hour,
                    value: 25
                },
                ..
            }
        ));
        // Presets, once and continuous are not cron expressions to check.
        for ok in ["@daily", " @weekly ", "@once", "@continuous"] {
            d.schedule = Schedule::cron(ok);
            assert_eq!(d.problems("etl"), vec![], "{ok}");
        }
        d.schedule = Schedule::cron("@sometimes");
        assert!(d.problems("etl")[0].to_string().contains("unknown preset"));
    }

    #[test]
    fn a_native_dag_needs_routed_queues_and_argument_sources() {
        let mut d = dag(vec![task("a", &[]), task("b", &[])]);
        d.tasks[0].args = vec!["totals".into()];
        d.tasks[1].settings.queue = Some("default".into());
        // A stub binds arguments and may route its tasks itself.
        assert_eq!(d.problems("etl"), vec![]);
        d.native = true;
        let p: Vec<String> = d.problems("etl").iter().map(ToString::to_string).collect();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("task \"b\" of dag \"etl\" runs on queue \"default\""),
            "{p:?}"
        );
        assert!(
            p[1].starts_with(
                "task \"a\" of dag \"etl\" takes typed arguments, but not every one says where"
            ),
            "{p:?}"
        );
        // The output of a task the dag does not have.
        d.tasks[1].settings.queue = Some("rust".into());
        d.tasks[0].arg_sources = vec![ArgSource::Output {
            task_id: "c".into(),
        }];
        assert_eq!(
            d.problems("etl"),
            [DeclarationProblem::UnknownTask {
                dag_id: "etl".into(),
                upstream: "c".into(),
                downstream: "a".into(),
                unknown: "c".into()
            }]
        );
        d.tasks[0].arg_sources = vec![ArgSource::Output {
            task_id: "b".into(),
        }];
        assert_eq!(d.problems("etl"), vec![]);
        // Sources in a stub dag would be ignored: refused.
        d.native = false;
        let p = d.problems("etl");
        assert!(
            matches!(
                &p[..],
                [DeclarationProblem::ArgSources { native: false, .. }]
            ),
            "{p:?}"
        );
    }

    #[test]
    fn assets_airflow_would_refuse_are_named_with_their_task() {
        let mut d = dag(vec![task("a", &[])]);
        d.native = true;
        d.tasks[0].outlets = vec![Asset::named("").into(), AssetAlias::new("ok").into()];
        d.tasks[0].inlets = vec![Asset::at("airflow://x").into()];
        d.schedule_on = Some(Asset::named("fine") & Asset::named("context"));
        let p: Vec<String> = d.problems("etl").iter().map(ToString::to_string).collect();
        assert_eq!(
            p,
            [
                "dag \"etl\": the schedule's asset \"context\" (uri \"context\"): \"context\" is \
                 a name Airflow prohibits for an asset",
                "task \"a\" of dag \"etl\": inlet asset \"airflow://x\" (uri \"airflow://x\"): \
                 the URI scheme 'airflow' is reserved",
                "task \"a\" of dag \"etl\": outlet asset \"\" (uri \"\"): its name is empty",
            ]
        );
        // A stub dag cannot carry them.
        let mut d = dag(vec![task("a", &[])]);
        d.schedule_on = Some(Asset::named("orders").into());
        assert_eq!(
            d.problems("etl"),
            [DeclarationProblem::AssetsNeedNative {
                dag_id: "etl".into()
            }]
        );
        // An asset schedule can create runs: catchup needs a start date.
        d.native = true;
        d.catchup = Some(true);
        assert_eq!(
            d.problems("etl"),
            [DeclarationProblem::CatchupWithoutStartDate {
                dag_id: "etl".into()
            }]
        );
    }

    #[test]
    fn task_groups_are_checked_as_the_packer_reads_them() {
        let mut d = dag(vec![task("g.a", &[]), task("b", &[])]);
        d.native = true;
        let mut g = GroupDeclaration::new("g");
        g.tasks = vec!["g.a".into()];
        d.groups = vec![g.clone()];
        assert_eq!(d.problems("etl"), vec![]);
        // A manifest naming a task or parent group the dag lacks (a bundle mixing SDKs).
        let mut inner = GroupDeclaration::new("h");
        inner.id = "g.h".into();
        inner.parent = Some("nope".into());
        inner.tasks = vec!["g.h.x".into()];
        d.groups.push(inner);
        let p: Vec<String> = d.problems("etl").iter().map(ToString::to_string).collect();
        assert_eq!(
            p,
            [
                "dag \"etl\": task group \"g.h\" names \"nope\", which the dag does not declare \
                 (rebuild the bundle with one airflow-sdk)",
                "dag \"etl\": task group \"g.h\" names \"g.h.x\", which the dag does not declare \
                 (rebuild the bundle with one airflow-sdk)",
            ]
        );
        // A stub dag's groups are its Python file's.
        d.groups = vec![g];
        d.native = false;
        assert!(matches!(
            &d.problems("etl")[..],
            [DeclarationProblem::Group {
                problem: GroupProblem::NotNative,
                ..
            }]
        ));
        // The manifest form: absent when there are none, prefix_group_id only when false.
        let yaml = serde_json::to_value(&d).unwrap();
        assert_eq!(
            yaml["groups"],
            serde_json::json!([{"id": "g", "label": "g", "tasks": ["g.a"]}])
        );
        d.groups.clear();
        assert!(serde_json::to_value(&d).unwrap().get("groups").is_none());
    }

    #[test]
    fn metadata_names_declared_tasks_that_differ_from_the_task_list() {
        use crate::{DagEntry, Sdk};
        let mut d = dag(vec![task("a", &["b"]), task("b", &[])]);
        d.schedule = Schedule::cron("0 0 * * 5L");
        let entry = |tasks: &[&str], declared: Option<DagDeclaration>| DagEntry {
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
            declared,
        };
        let m = Metadata {
            airflow_bundle_metadata_version: "1.0".into(),
            sdk: Sdk {
                language: "rust".into(),
                version: "0.1.0".into(),
                supervisor_schema_version: "2026-06-16".into(),
                supervisor_schema_versions: vec![],
            },
            task_handlers: None,
            dags: [
                ("etl".to_owned(), entry(&["b", "a"], Some(d))),
                // Another SDK's dag: nothing declared, nothing to check.
                ("other".to_owned(), entry(&["x"], None)),
            ]
            .into(),
        };
        let p: Vec<String> = m
            .declaration_problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            p,
            [
                "dag \"etl\": the declared tasks [\"a\", \"b\"] differ from the task list \
                 [\"b\", \"a\"]; rebuild the bundle with one airflow-sdk",
                "dag \"etl\": the cron expression \"0 0 * * 5L\" is invalid: day of week: \"5L\" \
                 is not a number"
            ]
        );
    }

    #[test]
    fn dates_convert_to_epoch_seconds() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_utc("2024-02-29T12:30:15Z"), Some(1_709_209_815));
        for bad in [
            "2026-01-01",
            "2026-01-01T00:00:00+01:00",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "+026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn presets_expand_and_settings_merge() {
        assert_eq!(
            Schedule::cron("@daily").cron_expression(),
            Some("0 0 * * *")
        );
        assert_eq!(Schedule::cron("@once"), Schedule::Once);
        assert_eq!(expand_preset(" @weekly\t"), Some("0 0 * * 0"));
        assert_eq!(expand_preset("@Daily"), None);
        assert_eq!(expand_preset("0 0 * * *"), None);
        assert_eq!(Schedule::Once.timezone("UTC"), Schedule::Once);
        let own = TaskSettings::new().retries(5);
        let merged = own.or(&TaskSettings::new().retries(1).pool("db"));
        assert_eq!(merged.retries, Some(5));
        assert_eq!(merged.pool.as_deref(), Some("db"));
    }
}
