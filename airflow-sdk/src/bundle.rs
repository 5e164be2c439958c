//! Declaring a bundle: its dags and their tasks.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use airflow_bundle::declare::{
    self, ArgSource, AssetCondition, AssetOrAlias, DagDeclaration, GroupDeclaration,
    ParamDeclaration, Schedule, TaskDeclaration, TaskSettings,
};
use airflow_bundle::{DagEntry, Metadata, Sdk};
use airflow_protocol::messages::{HandlerBinding, TaskHandlerDeclaration, TaskHandlerParam};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::declare::{Arg, Flow, IntoUtc, Task, TaskGroup};
use crate::runtime::timeout::ExecutionTimeout;
use crate::suspend::{FAIL_METHOD, Resumed, Suspend};
use crate::{SchemaVersion, TaskContext, TaskError, TaskResult};

/// A task function with its return value erased to JSON (it becomes the `return_value` XCom).
pub(crate) type TaskFn =
    Arc<dyn Fn(&mut TaskContext) -> Result<serde_json::Value, TaskError> + Send + Sync>;

/// One declared task.
#[derive(Clone)]
pub(crate) struct TaskEntry {
    pub(crate) id: String,
    /// Its own settings over its groups' defaults (the dag's defaults are applied in
    /// [`Bundle::metadata`]).
    pub(crate) settings: TaskSettings,
    pub(crate) run: TaskFn,
    /// For a task with typed arguments: the parameter names given, and how many the function
    /// takes.
    pub(crate) params: Option<(Vec<String>, usize)>,
    /// For a task with typed arguments: the `value_schema` of each argument, derived from its
    /// type when the Dag processor asks (never while a task runs).
    pub(crate) value_schemas: Option<ValueSchemas>,
    /// For a task with typed arguments: where each argument's value comes from, if declared
    /// (native dags), one per parameter name.
    pub(crate) arg_sources: Vec<Option<ArgSource>>,
    /// A branch ([`Dag::branch`]): its function returns the ids of the tasks to follow.
    pub(crate) branch: bool,
    /// The label of each map index of a mapped task ([`Task::map_index_template`]).
    pub(crate) map_index_template: Option<String>,
    /// What the task reads ([`Task::inlet`]).
    pub(crate) inlets: Vec<AssetOrAlias>,
    /// What the task produces ([`Task::outlet`]): sent as `task_outlets` when it succeeds.
    pub(crate) outlets: Vec<AssetOrAlias>,
    /// The innermost task group it was declared in (an index into the dag's groups).
    pub(crate) group: Option<usize>,
}

/// One declared task group: as declared, with its full id and its enclosing group.
#[derive(Clone, Debug)]
struct GroupEntry {
    group: TaskGroup,
    /// The full group id (`outer.inner` when the outer group prefixes).
    id: String,
    parent: Option<usize>,
}

/// A dependency's end: a task, a task group (by index), or an id the dag lacks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Task,
    Group(usize),
    Unknown,
}

/// What the dependencies written on tasks and groups come to: the task-level edges, and per
/// group what was written on the group itself (Airflow's `upstream_group_ids`, ...).
#[derive(Default)]
struct Resolved {
    /// `(upstream, downstream)` between tasks, and those naming unknown ids as written; no
    /// repeats.
    edges: Vec<(String, String)>,
    /// Per group (same index): upstream groups, downstream groups, upstream tasks, downstream
    /// tasks.
    links: Vec<[BTreeSet<String>; 4]>,
}

/// The `value_schema` of each argument of a typed task, in order.
pub(crate) type ValueSchemas = fn() -> Vec<Option<serde_json::Value>>;

/// A task function with typed arguments after its [`TaskContext`]:
/// `Fn(&mut TaskContext, A1, ..., An) -> TaskResult<T>` for 1 to 8 arguments, each
/// `A: DeserializeOwned`. See [`Dag::task_with_args`].
pub trait TaskWithArgs<Args>: Send + Sync + 'static {
    /// What the task returns (its `return_value` XCom).
    type Output: Serialize;
    /// How many arguments the function takes.
    const ARITY: usize;
    /// Converts the bound values (one per argument, in order) and calls the function. A value
    /// that does not fit its parameter's type fails the task, naming the parameter, the type and
    /// what arrived.
    #[doc(hidden)]
    fn call(
        &self,
        ctx: &mut TaskContext,
        args: Vec<crate::context::BoundArg>,
    ) -> TaskResult<Self::Output>;
    /// The JSON Schema of the values each argument accepts (`None` where it cannot be stated),
    /// for the Dag processor's `TaskHandlerParseRequest`.
    #[doc(hidden)]
    fn value_schemas() -> Vec<Option<serde_json::Value>>
    where
        Self: Sized,
    {
        Vec::new()
    }
}

macro_rules! task_with_args {
    ($($a:ident),+) => {
        impl<F, T, $($a),+> TaskWithArgs<($($a,)+)> for F
        where
            F: Fn(&mut TaskContext, $($a),+) -> TaskResult<T> + Send + Sync + 'static,
            T: Serialize,
            $($a: DeserializeOwned,)+
        {
            type Output = T;
            const ARITY: usize = [$(stringify!($a)),+].len();
            #[allow(non_snake_case)]
            fn call(
                &self,
                ctx: &mut TaskContext,
                args: Vec<crate::context::BoundArg>,
            ) -> TaskResult<T> {
                let mut args = args.into_iter();
                $(let $a: $a = args
                    .next()
                    .ok_or_else(|| TaskError::fail_no_retry("too few bound arguments"))?
                    .convert()?;)+
                self(ctx, $($a),+)
            }
            fn value_schemas() -> Vec<Option<serde_json::Value>> {
                vec![$(crate::runtime::handlers::value_schema::<$a>()),+]
            }
        }
    };
}

task_with_args!(A1);
task_with_args!(A1, A2);
task_with_args!(A1, A2, A3);
task_with_args!(A1, A2, A3, A4);
task_with_args!(A1, A2, A3, A4, A5);
task_with_args!(A1, A2, A3, A4, A5, A6);
task_with_args!(A1, A2, A3, A4, A5, A6, A7);
task_with_args!(A1, A2, A3, A4, A5, A6, A7, A8);

/// Erases a task's return value to JSON.
pub(crate) fn to_return_value<T: Serialize>(value: T) -> Result<serde_json::Value, TaskError> {
    serde_json::to_value(value).map_err(|e| {
        TaskError::fail_no_retry(format!("the task's return value cannot be serialized: {e}"))
    })
}

/// A dag: an id, its tasks in declaration order, and what Airflow needs to know about its shape
/// (schedule, dates, params, task settings, dependencies).
///
/// ```
/// use std::time::Duration;
/// use airflow_sdk::{flow, Dag, Schedule, Task, TaskContext, TaskResult, TaskSettings};
/// # fn step(_: &mut TaskContext) -> TaskResult { Ok(()) }
///
/// let dag = Dag::new("etl")
///     .schedule(Schedule::cron("0 3 * * *").timezone("Europe/Paris"))
///     .start_date("2026-01-01")
///     .catchup(false)
///     .tags(["rust", "etl"])
///     .param("region", "eu")
///     .default_task(TaskSettings::new().retries(2).retry_delay(Duration::from_secs(30)))
///     .task("extract", step)
///     .task(Task::new("transform").retries(5).pool("db"), step)
///     .task("load_a", step)
///     .task("load_b", step)
///     .flow(flow("extract") >> "transform" >> ["load_a", "load_b"]);
/// assert_eq!(dag.task_ids().count(), 4);
/// ```
#[derive(Clone)]
#[must_use]
pub struct Dag {
    id: String,
    pub(crate) tasks: Vec<TaskEntry>,
    native: bool,
    schedule: Schedule,
    /// The asset condition that also creates runs ([`Dag::schedule_on`]).
    schedule_on: Option<AssetCondition>,
    /// Each date as given, or why it cannot be read.
    start_date: Option<Result<String, String>>,
    end_date: Option<Result<String, String>>,
    catchup: Option<bool>,
    description: Option<String>,
    tags: Vec<String>,
    params: Vec<ParamDeclaration>,
    max_active_runs: Option<u32>,
    max_active_tasks: Option<u32>,
    dagrun_timeout: Option<f64>,
    default_task: TaskSettings,
    /// Dependencies `(upstream, downstream)`, in declaration order.
    edges: Vec<(String, String)>,
    /// Resume handlers: `(task id, method, handler)`, in declaration order.
    resumes: Vec<(String, String, ResumeFn)>,
    /// Task groups, in declaration order (a group after the one holding it).
    groups: Vec<GroupEntry>,
    /// The groups being declared, innermost last: tasks added now are theirs.
    open: Vec<usize>,
}

/// A resume handler with its arguments erased: `next_kwargs` (plain JSON) in, the return value
/// out.
pub(crate) type ResumeFn = Arc<
    dyn Fn(&mut TaskContext, serde_json::Value) -> Result<serde_json::Value, TaskError>
        + Send
        + Sync,
>;

impl Dag {
    /// A dag with no tasks yet, never scheduled on its own (`schedule=None`).
    pub fn new(id: impl Into<String>) -> Self {
        Dag {
            id: id.into(),
            tasks: Vec::new(),
            native: false,
            schedule: Schedule::None,
            schedule_on: None,
            start_date: None,
            end_date: None,
            catchup: None,
            description: None,
            tags: Vec::new(),
            params: Vec::new(),
            max_active_runs: None,
            max_active_tasks: None,
            dagrun_timeout: None,
            default_task: TaskSettings::default(),
            edges: Vec::new(),
            resumes: Vec::new(),
            groups: Vec::new(),
            open: Vec::new(),
        }
    }

    /// Serves the dag natively to Airflow 3.4: when the Dag processor parses the bundle file, the
    /// bundle answers with this dag serialized, and no Python stub dag file is needed (nor
    /// generated). Every task must run on one of the bundle's coordinator queues
    /// ([`Bundle::queue`]). Airflow 3.3 cannot see a native dag.
    pub fn native(mut self) -> Self {
        self.native = true;
        self
    }

    /// When Airflow creates runs (default: never on its own; see [`Schedule`]). A cron expression
    /// Airflow would refuse makes the bundle's declarations invalid
    /// ([`check_cron`](airflow_bundle::declare::check_cron) says which).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Runs the dag when the asset `condition` is met, in a [native](Self::native) dag: an
    /// asset ([`asset`](crate::asset)`("orders")`, [`Asset::at`](crate::Asset::at)`("s3://...")`),
    /// an [`AssetAlias`](crate::AssetAlias), or several combined with `&` (all of them updated
    /// since the last run) and `|` (any of them), nested as Python's `&` and `|` nest them.
    /// Airflow creates an `asset_triggered` run once the condition holds, whichever dag (Rust or
    /// Python) produced the events.
    ///
    /// Alone, the dag runs only on its assets (Python's `schedule=<condition>`). With a
    /// [`schedule`](Self::schedule) too, it runs on that schedule **or** when the condition
    /// holds (Python's `AssetOrTimeSchedule`).
    ///
    /// ```
    /// use airflow_sdk::{asset, Asset, Dag, Schedule};
    ///
    /// // When orders and either price list are updated.
    /// let report = Dag::new("report")
    ///     .native()
    ///     .schedule_on(asset("orders") & (asset("prices_eu") | Asset::at("s3://prices/us")));
    /// // Nightly, and also whenever the orders are updated.
    /// let refresh = Dag::new("refresh")
    ///     .native()
    ///     .schedule(Schedule::cron("0 3 * * *"))
    ///     .schedule_on(asset("orders"));
    /// ```
    ///
    /// A condition with `&` makes Airflow batch the events (`batch_asset_events`, as it does
    /// for a Python dag): one run consumes every event queued since the previous one.
    pub fn schedule_on(mut self, condition: impl Into<AssetCondition>) -> Self {
        self.schedule_on = Some(condition.into());
        self
    }

    /// The first logical date: `"2026-01-01"`, an RFC 3339 date-time with an offset
    /// (`"2026-01-01T06:00:00+02:00"`), a [`time::Date`] or a [`time::OffsetDateTime`]. Kept in
    /// UTC, to the second.
    pub fn start_date(mut self, date: impl IntoUtc) -> Self {
        self.start_date = Some(date.into_utc());
        self
    }

    /// The last logical date (same forms as [`start_date`](Self::start_date)).
    pub fn end_date(mut self, date: impl IntoUtc) -> Self {
        self.end_date = Some(date.into_utc());
        self
    }

    /// Whether missed runs since the start date are created (needs a start date when `true`).
    pub fn catchup(mut self, catchup: bool) -> Self {
        self.catchup = Some(catchup);
        self
    }

    /// A description shown in the UI.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Adds tags (repeats are dropped).
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        for t in tags {
            let t = t.into();
            if !self.tags.contains(&t) {
                self.tags.push(t);
            }
        }
        self
    }

    /// Declares a parameter with its default (any JSON value). A task reads it with
    /// [`TaskContext::param`]; a run's conf overrides it.
    pub fn param(mut self, name: impl Into<String>, default: impl Into<serde_json::Value>) -> Self {
        self.params.push(ParamDeclaration {
            name: name.into(),
            default: default.into(),
            description: None,
        });
        self
    }

    /// Like [`param`](Self::param), with a description for the trigger form.
    pub fn param_described(
        mut self,
        name: impl Into<String>,
        default: impl Into<serde_json::Value>,
        description: impl Into<String>,
    ) -> Self {
        self.params.push(ParamDeclaration {
            name: name.into(),
            default: default.into(),
            description: Some(description.into()),
        });
        self
    }

    /// How many runs may be active at once.
    pub fn max_active_runs(mut self, n: u32) -> Self {
        self.max_active_runs = Some(n);
        self
    }

    /// How many of the dag's task instances may run at once.
    pub fn max_active_tasks(mut self, n: u32) -> Self {
        self.max_active_tasks = Some(n);
        self
    }

    /// A run that takes longer fails.
    pub fn dagrun_timeout(mut self, timeout: Duration) -> Self {
        self.dagrun_timeout = Some(timeout.as_secs_f64());
        self
    }

    /// Settings every task gets unless it sets its own. They are copied onto each task (Airflow
    /// does not apply a serialized dag's `default_args` itself).
    pub fn default_task(mut self, settings: TaskSettings) -> Self {
        self.default_task = settings;
        self
    }

    /// Adds dependencies, written as the pipeline reads: `flow("a") >> "b" >> ["c", "d"]` (fan-out),
    /// `flow(["c", "d"]) >> "e"` (fan-in). See [`Flow`].
    pub fn flow(mut self, flow: impl Into<Flow>) -> Self {
        self.edges.extend(flow.into().edges);
        self
    }

    /// Runs the tasks one after the other: `chain(["extract", "transform", "load"])`.
    pub fn chain<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        for pair in ids.windows(2) {
            self.edges.push((pair[0].clone(), pair[1].clone()));
        }
        self
    }

    /// Declares a task group of a [native](Self::native) dag, as Python's `with TaskGroup(...)`:
    /// the tasks and groups that `build` adds to the dag are in the group. Their ids are
    /// prefixed with the group's (`load.a` for task `a` in group `load`; see
    /// [`TaskGroup::prefix_group_id`]), and their settings default to the group's
    /// [`default_task`](TaskGroup::default_task). Everywhere else (dependencies, arguments,
    /// `xcom_pull`, Airflow's REST API) a task is named by its full id.
    ///
    /// A dependency may name a group by its full id: upstream of a task it stands for the group's
    /// leaves (its tasks with no downstream task in the group), downstream of one for its roots,
    /// as in Python, and the graph in Airflow's UI draws the edge to the group. Roots and leaves
    /// are those of the dependencies inside the group, whatever order they were written in.
    ///
    /// ```
    /// use airflow_sdk::{flow, Dag, TaskContext, TaskGroup, TaskResult, TaskSettings};
    /// # fn step(_: &mut TaskContext) -> TaskResult { Ok(()) }
    ///
    /// let dag = Dag::new("etl")
    ///     .native()
    ///     .task("extract", step)
    ///     .group(
    ///         TaskGroup::new("load")
    ///             .tooltip("Loads both tables")
    ///             .default_task(TaskSettings::new().retries(2)),
    ///         |g| {
    ///             g.task("orders", step) // load.orders
    ///                 .task("customers", step) // load.customers
    ///                 .group("check", |g| g.task("counts", step)) // load.check.counts
    ///                 .flow(flow(["load.orders", "load.customers"]) >> "load.check")
    ///         },
    ///     )
    ///     .task("report", step)
    ///     // extract >> both loads; load.check.counts >> report.
    ///     .flow(flow("extract") >> "load" >> "report");
    /// assert_eq!(
    ///     dag.task_ids().collect::<Vec<_>>(),
    ///     ["extract", "load.orders", "load.customers", "load.check.counts", "report"]
    /// );
    /// ```
    ///
    /// The bundle refuses a group in a dag that is not native (a stub dag's groups are declared
    /// in its Python file), an id with characters other than letters, digits, `_` and `-`, a
    /// group id used twice or also used by a task, and a group with no task.
    pub fn group(mut self, group: impl Into<TaskGroup>, build: impl FnOnce(Dag) -> Dag) -> Self {
        let group = group.into();
        let id = self.child_id(&group.id);
        let parent = self.open.last().copied();
        self.groups.push(GroupEntry { group, id, parent });
        let depth = self.open.len();
        self.open.push(self.groups.len() - 1);
        let mut dag = build(self);
        dag.open.truncate(depth);
        dag
    }

    /// The full id of `label` declared now: prefixed by the innermost open group's id when that
    /// group prefixes (Python's `TaskGroup.child_id`).
    fn child_id(&self, label: &str) -> String {
        match self.open.last().map(|&g| &self.groups[g]) {
            Some(g) if g.group.prefix_group_id => format!("{}.{label}", g.id),
            _ => label.to_owned(),
        }
    }

    /// `task` as declared now: its full id, and its settings over the open groups' defaults
    /// (innermost first).
    fn scoped(&self, mut task: Task) -> Task {
        task.id = self.child_id(&task.id);
        for &g in self.open.iter().rev() {
            task.settings = task.settings.or(&self.groups[g].group.default_task);
        }
        task
    }

    /// Adds a task: an id (`"extract"`) or a [`Task`] with settings, and its function. Its return
    /// value (any `serde` type) becomes the task's `return_value` XCom; `()` pushes nothing.
    pub fn task<T, F>(self, task: impl Into<Task>, f: F) -> Self
    where
        T: Serialize,
        F: Fn(&mut TaskContext) -> TaskResult<T> + Send + Sync + 'static,
    {
        self.push_task(
            task.into(),
            Arc::new(move |ctx| to_return_value(f(ctx)?)),
            None,
        )
    }

    /// Adds a task whose function takes typed arguments after its context, TaskFlow style.
    ///
    /// **In a [native](Self::native) dag** each argument says where its value comes from, as a
    /// Python TaskFlow call does (`load(transform(), table="t1")`): the return value of an
    /// upstream task ([`Arg::output_of`], which also makes the task run after that one) or a
    /// literal ([`Arg::value`]). This works with either supervisor schema: under
    /// [`SchemaVersion::V2026_10_30`] Airflow hands the bindings (serialized with the dag) back
    /// with each task run, under the default the runtime takes them from the bundle itself.
    ///
    /// ```no_run
    /// use airflow_sdk::{arg, Bundle, Dag, TaskContext, TaskResult};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Totals { rows: u64 }
    ///
    /// fn transform(_ctx: &mut TaskContext) -> TaskResult<Totals> {
    ///     Ok(Totals { rows: 3 })
    /// }
    ///
    /// fn load(_ctx: &mut TaskContext, totals: Totals, table: String) -> TaskResult<u64> {
    ///     Ok(totals.rows)
    /// }
    ///
    /// fn bundle() -> Bundle {
    ///     Bundle::new().queue("rust").dag(
    ///         Dag::new("etl")
    ///             .native()
    ///             .task("transform", transform)
    ///             // transform >> load is implied.
    ///             .task_with_args(
    ///                 "load",
    ///                 [arg("totals").output_of("transform"), arg("table").value("t1")],
    ///                 load,
    ///             ),
    ///     )
    /// }
    /// ```
    ///
    /// **In a stub dag** (needs [`SchemaVersion::V2026_10_30`], Airflow 3.4) the arguments are
    /// only named, and the Python stub's call binds them:
    ///
    /// ```no_run
    /// use airflow_sdk::{Bundle, Dag, SchemaVersion, TaskContext, TaskResult};
    /// # #[derive(serde::Deserialize)] struct Totals { rows: u64 }
    ///
    /// fn load(_ctx: &mut TaskContext, totals: Totals, table: String) -> TaskResult<u64> {
    ///     Ok(totals.rows)
    /// }
    ///
    /// fn bundle() -> Bundle {
    ///     Bundle::new()
    ///         .supervisor_schema(SchemaVersion::V2026_10_30)
    ///         .dag(Dag::new("etl").task_with_args("load", ["totals", "table"], load))
    /// }
    /// ```
    ///
    /// The Python stub declares the same parameters, and the dag calls it with their values:
    ///
    /// ```python
    /// @task.stub(queue="rust")
    /// def load(totals: dict, table: str) -> int: ...
    ///
    /// load(transform(), table="t1")
    /// ```
    ///
    /// Airflow 3.4 records the call when it parses the dag file and hands each task run the
    /// bindings of the stub's parameters: a literal (`table="t1"`, or the stub's default) or an
    /// upstream task's output (`transform()`: its `return_value` XCom, pulled before the task
    /// runs). Arguments are bound **by name**: `params` are the stub's parameter names, one per
    /// argument of `f`, in `f`'s order. A stub parameter must not be named like an Airflow
    /// context key (`ti`, `params`, ...): Airflow refuses those.
    ///
    /// Either way, each value is converted from JSON with `serde` to the parameter's type
    /// (`Option<T>` accepts a missing upstream value). A parameter with no binding, or a value
    /// that does not fit its type, fails the task without retry, naming the parameter, the type
    /// and what arrived; a binding no parameter takes is logged and ignored. The bundle refuses
    /// a native task with an argument that names no source, and a stub dag's task with one that
    /// does (the stub's call would override it).
    pub fn task_with_args<A, F, P>(
        self,
        task: impl Into<Task>,
        params: impl IntoIterator<Item = P>,
        f: F,
    ) -> Self
    where
        F: TaskWithArgs<A>,
        P: Into<Arg>,
    {
        self.push_bound_task(
            task.into(),
            params,
            (F::ARITY, F::value_schemas),
            move |ctx, args| to_return_value(f.call(ctx, args)?),
        )
    }

    /// Registers `handler` as task `task_id`'s resume handler named `method`: a try of the task
    /// that Airflow resumes in `method` (after the task deferred with [`Defer`](crate::Defer)
    /// naming it, or awaited a person's input) runs `handler` instead of the task function. It
    /// receives the trigger's event (or the person's answer) and the deferral's kwargs, each
    /// converted with `serde` ([`Resumed`]); a value that does not fit fails the task without
    /// retry, naming the type and the value, except an error report (`{"error", "error_type"}`,
    /// as when nobody answered a [`InputRequest`](crate::InputRequest) without defaults in time),
    /// which fails the task with that error, retried as declared. What it returns becomes the
    /// `return_value` XCom, and it may defer again.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use airflow_sdk::{Bundle, Dag, Defer, Resumed, TaskContext, TaskError, TaskResult, Trigger};
    ///
    /// fn wait(_ctx: &mut TaskContext) -> TaskResult {
    ///     let trigger = Trigger::time_delta(Duration::from_secs(30));
    ///     Err(TaskError::defer(Defer::new(trigger, "woke")))
    /// }
    ///
    /// fn woke(_ctx: &mut TaskContext, resumed: Resumed<String>) -> TaskResult<String> {
    ///     Ok(resumed.event) // the moment the trigger fired for, RFC 3339
    /// }
    ///
    /// fn bundle() -> Bundle {
    ///     Bundle::new().dag(Dag::new("timer").task("wait", wait).on_resume("wait", "woke", woke))
    /// }
    /// ```
    ///
    /// A try that resumes after its trigger failed or timed out fails with the error Airflow
    /// recorded (retried as the task declares) without running any handler. The bundle refuses
    /// (as a [`DeclarationProblem::ResumeHandler`]) a handler for a task the dag does not
    /// declare, or two handlers of one name for a task; a task that defers to a method with no
    /// handler fails without retry instead of deferring.
    pub fn on_resume<E, K, T, F>(mut self, task_id: &str, method: &str, handler: F) -> Self
    where
        E: DeserializeOwned,
        K: DeserializeOwned,
        T: Serialize,
        F: Fn(&mut TaskContext, Resumed<E, K>) -> TaskResult<T> + Send + Sync + 'static,
    {
        let run: ResumeFn = Arc::new(move |ctx, next_kwargs| {
            let resumed = Resumed::from_next_kwargs(next_kwargs).map_err(TaskError::from)?;
            to_return_value(handler(ctx, resumed)?)
        });
        self.resumes
            .push((task_id.to_owned(), method.to_owned(), run));
        self
    }

    /// The resume handler `method` of task `task_id`.
    fn find_resume(&self, task_id: &str, method: &str) -> Option<&ResumeFn> {
        self.resumes
            .iter()
            .find(|(t, m, _)| t == task_id && m == method)
            .map(|(_, _, f)| f)
    }

    /// The names of task `task_id`'s resume handlers, for messages.
    fn resume_names(&self, task_id: &str) -> Vec<&str> {
        self.resumes
            .iter()
            .filter(|(t, _, _)| t == task_id)
            .map(|(_, m, _)| m.as_str())
            .collect()
    }

    /// Declares `task` with its run function; `params` are a typed-argument task's parameter
    /// names, its function's arity and its arguments' value schemas.
    pub(crate) fn push_task(
        self,
        task: Task,
        run: TaskFn,
        params: Option<(Vec<String>, usize, ValueSchemas)>,
    ) -> Self {
        let task = self.scoped(task);
        self.push_entry(task, run, params)
    }

    /// [`push_task`](Self::push_task) for a task already [scoped](Self::scoped).
    fn push_entry(
        mut self,
        task: Task,
        run: TaskFn,
        params: Option<(Vec<String>, usize, ValueSchemas)>,
    ) -> Self {
        let group = self.open.last().copied();
        let (params, value_schemas) = match params {
            Some((names, arity, schemas)) => (Some((names, arity)), Some(schemas)),
            None => (None, None),
        };
        self.tasks.push(TaskEntry {
            id: task.id,
            settings: task.settings,
            run,
            params,
            value_schemas,
            arg_sources: Vec::new(),
            branch: false,
            map_index_template: task.map_index_template,
            inlets: task.inlets,
            outlets: task.outlets,
            group,
        });
        self
    }

    /// Adds a branch, Python's `@task.branch`: `f` returns the ids of the tasks to follow (a
    /// `Vec<String>`, an array of ids, or an `Option` of one; none skips every downstream task),
    /// and each of the task's direct downstream tasks that is neither followed nor downstream of
    /// a followed task is skipped, and the tasks after it by their trigger rules. Give the task
    /// where the branches meet a rule that accepts skipped upstream tasks, such as
    /// [`TriggerRule::NoneFailedMinOneSuccess`](crate::TriggerRule::NoneFailedMinOneSuccess).
    /// The ids returned become the task's `return_value` XCom; an id the dag does not declare
    /// fails the task.
    ///
    /// ```
    /// use airflow_sdk::{flow, Dag, Task, TaskContext, TaskResult, TriggerRule};
    /// # fn step(_: &mut TaskContext) -> TaskResult { Ok(()) }
    ///
    /// fn choose(ctx: &mut TaskContext) -> TaskResult<[&'static str; 1]> {
    ///     let full = ctx.param::<bool>("full")?.unwrap_or(false);
    ///     Ok([if full { "full_load" } else { "incremental" }])
    /// }
    ///
    /// let dag = Dag::new("loads")
    ///     .native()
    ///     .param("full", false)
    ///     .branch("choose", choose)
    ///     .task("full_load", step)
    ///     .task("incremental", step)
    ///     .task(Task::new("report").trigger_rule(TriggerRule::NoneFailedMinOneSuccess), step)
    ///     .flow(flow("choose") >> ["full_load", "incremental"] >> "report");
    /// ```
    ///
    /// The skips are decided from the dependencies the bundle declares, so in a stub dag they
    /// must match the stub's. In a native dag Airflow also knows the task branches (it may skip
    /// downstream tasks), so a downstream task cleared later is skipped again as the branch
    /// decided.
    pub fn branch<B, S, F>(mut self, task: impl Into<Task>, f: F) -> Self
    where
        B: IntoIterator<Item = S>,
        S: Into<String>,
        F: Fn(&mut TaskContext) -> TaskResult<B> + Send + Sync + 'static,
    {
        self = self.push_task(
            task.into(),
            Arc::new(move |ctx| {
                let ids: Vec<String> = f(ctx)?.into_iter().map(Into::into).collect();
                to_return_value(ids)
            }),
            None,
        );
        if let Some(t) = self.tasks.last_mut() {
            t.branch = true;
        }
        self
    }

    /// Declares a typed-argument task: each run binds the parameters named `params` (pulling
    /// upstream outputs) and hands the bound values to `call`.
    pub(crate) fn push_bound_task<P: Into<Arg>>(
        self,
        task: Task,
        params: impl IntoIterator<Item = P>,
        (arity, schemas): (usize, ValueSchemas),
        call: impl Fn(
            &mut TaskContext,
            Vec<crate::context::BoundArg>,
        ) -> Result<serde_json::Value, TaskError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        let task = self.scoped(task);
        let args: Vec<Arg> = params.into_iter().map(Into::into).collect();
        let names: Vec<String> = args.iter().map(|a| a.name.clone()).collect();
        let sources: Vec<Option<ArgSource>> = args.into_iter().map(|a| a.source).collect();
        // A native task's own bindings, used when Airflow sends none (schema 2026-06-16).
        let declared = sources
            .iter()
            .zip(&names)
            .map(|(s, name)| s.as_ref().map(|s| crate::context::binding(name, s)))
            .collect::<Option<Vec<_>>>()
            .filter(|b| !b.is_empty());
        let bound_names = names.clone();
        let expanded: Vec<String> = sources
            .iter()
            .zip(&names)
            .filter(|(s, _)| s.as_ref().is_some_and(ArgSource::is_expanded))
            .map(|(_, n)| n.clone())
            .collect();
        let template = task.map_index_template.clone();
        let task_id = task.id.clone();
        let run: TaskFn = Arc::new(move |ctx| {
            let args =
                ctx.bind_arguments(&task_id, &bound_names, declared.as_deref(), &expanded)?;
            // Rendered before the task runs, as Python's task runner sends it early.
            if let Some(template) = &template
                && ctx.map_index().is_some()
            {
                let label = crate::context::render_map_index(template, &args);
                ctx.set_rendered_map_index(&label).map_err(|e| {
                    TaskError::fail(format!("cannot set the rendered map index: {e}"))
                })?;
            }
            call(ctx, args)
        });
        let task_id = task.id.clone();
        let mut dag = self.push_entry(task, run, Some((names, arity, schemas)));
        // The task runs after each task whose output it takes, as a TaskFlow call implies.
        for source in sources.iter().flatten() {
            if let Some(up) = source.upstream() {
                dag.edges.push((up.to_owned(), task_id.clone()));
            }
        }
        if let Some(t) = dag.tasks.last_mut() {
            t.arg_sources = sources;
        }
        dag
    }

    /// The dag id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task ids, in declaration order.
    pub fn task_ids(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().map(|t| t.id.as_str())
    }

    /// Whether the dag is served natively to Airflow 3.4 ([`native`](Self::native)).
    pub fn is_native(&self) -> bool {
        self.native
    }

    /// What a dependency's end `id` names.
    fn end(&self, id: &str) -> End {
        if self.tasks.iter().any(|t| t.id == id) {
            End::Task
        } else if let Some(g) = self.groups.iter().position(|g| g.id == id) {
            End::Group(g)
        } else {
            End::Unknown
        }
    }

    /// The groups holding group `g` and `g` itself, outermost first.
    fn group_path(&self, g: usize) -> Vec<usize> {
        let mut path = vec![g];
        while let Some(p) = self.groups[*path.last().expect("not empty")].parent {
            path.push(p);
        }
        path.reverse();
        path
    }

    /// The groups a dependency's end sits in, outermost first (a group sits in its parent).
    fn scope_of(&self, end: End, id: &str) -> Vec<usize> {
        match end {
            End::Task => self
                .tasks
                .iter()
                .find(|t| t.id == id)
                .and_then(|t| t.group)
                .map(|g| self.group_path(g))
                .unwrap_or_default(),
            End::Group(g) => self.groups[g]
                .parent
                .map(|p| self.group_path(p))
                .unwrap_or_default(),
            End::Unknown => Vec::new(),
        }
    }

    /// Whether task `t` is in group `g`, directly or in a nested group.
    fn in_group(&self, t: &TaskEntry, g: usize) -> bool {
        let mut at = t.group;
        while let Some(x) = at {
            if x == g {
                return true;
            }
            at = self.groups[x].parent;
        }
        false
    }

    /// The dependencies written on tasks and groups, resolved to task edges as Python's
    /// `TaskGroup` does: `task >> group` is `task >> roots`, `group >> task` is
    /// `leaves >> task`, `group >> group` is `leaves >> roots`, and each group records what was
    /// written on it. A dependency inside a group is resolved before those naming the group, so
    /// its roots and leaves do not depend on the order the dependencies were written in.
    fn resolve(&self) -> Resolved {
        let mut out = Resolved {
            edges: Vec::new(),
            links: vec![Default::default(); self.groups.len()],
        };
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut add = |edges: &mut Vec<(String, String)>, up: &str, down: &str| {
            if seen.insert((up.to_owned(), down.to_owned())) {
                edges.push((up.to_owned(), down.to_owned()));
            }
        };
        if self.groups.is_empty() {
            for (up, down) in &self.edges {
                add(&mut out.edges, up, down);
            }
            return out;
        }
        let written: Vec<(usize, End, End)> = self
            .edges
            .iter()
            .enumerate()
            .map(|(i, (up, down))| (i, self.end(up), self.end(down)))
            .collect();
        // Deepest common group first: the dependencies inside a group before those on it.
        let depth = |&(i, a, b): &(usize, End, End)| {
            let (up, down) = &self.edges[i];
            let (sa, sb) = (self.scope_of(a, up), self.scope_of(b, down));
            sa.iter().zip(&sb).take_while(|(x, y)| x == y).count()
        };
        // Stably by depth, each computed once (the shared sort: see airflow_bundle::sort).
        let mut keyed: Vec<(usize, (usize, End, End))> =
            written.into_iter().map(|w| (depth(&w), w)).collect();
        airflow_bundle::sort::sort_by(&mut keyed, |a, b| b.0.cmp(&a.0));
        let written: Vec<(usize, End, End)> = keyed.into_iter().map(|(_, w)| w).collect();
        // The group's tasks with no upstream (roots) or no downstream (leaves) in the group, by
        // the task edges so far.
        let ends = |edges: &[(String, String)], g: usize, roots: bool| -> Vec<String> {
            let members: Vec<&str> = self
                .tasks
                .iter()
                .filter(|t| self.in_group(t, g))
                .map(|t| t.id.as_str())
                .collect();
            members
                .iter()
                .filter(|m| {
                    !edges.iter().any(|(up, down)| {
                        let (inside, this) = if roots { (up, down) } else { (down, up) };
                        this == *m && members.contains(&inside.as_str())
                    })
                })
                .map(|m| (*m).to_owned())
                .collect()
        };
        for (i, a, b) in written {
            let (up, down) = &self.edges[i];
            match (a, b) {
                (End::Group(g), End::Group(h)) => {
                    out.links[h][0].insert(up.clone());
                    out.links[g][1].insert(down.clone());
                    let (leaves, roots) = (ends(&out.edges, g, false), ends(&out.edges, h, true));
                    for l in &leaves {
                        for r in &roots {
                            add(&mut out.edges, l, r);
                        }
                        out.links[h][2].insert(l.clone());
                    }
                }
                (End::Group(g), End::Task) => {
                    for l in ends(&out.edges, g, false) {
                        add(&mut out.edges, &l, down);
                    }
                    out.links[g][3].insert(down.clone());
                }
                (End::Task, End::Group(h)) => {
                    for r in ends(&out.edges, h, true) {
                        add(&mut out.edges, up, &r);
                    }
                    out.links[h][2].insert(up.clone());
                }
                _ => add(&mut out.edges, up, down),
            }
        }
        out
    }

    /// Each group as the metadata carries it, with what was written on it (`links`, from
    /// [`resolve`](Self::resolve)).
    fn group_declarations(&self, links: Vec<[BTreeSet<String>; 4]>) -> Vec<GroupDeclaration> {
        self.groups
            .iter()
            .zip(links)
            .enumerate()
            .map(|(i, (g, [up_groups, down_groups, up_tasks, down_tasks]))| {
                let mut d = GroupDeclaration::new(&g.group.id);
                d.id.clone_from(&g.id);
                d.parent = g.parent.map(|p| self.groups[p].id.clone());
                d.prefix_group_id = g.group.prefix_group_id;
                d.tooltip.clone_from(&g.group.tooltip);
                d.display_name.clone_from(&g.group.display_name);
                d.tasks = self
                    .tasks
                    .iter()
                    .filter(|t| t.group == Some(i))
                    .map(|t| t.id.clone())
                    .collect();
                d.upstream_groups = up_groups.into_iter().collect();
                d.downstream_groups = down_groups.into_iter().collect();
                d.upstream_tasks = up_tasks.into_iter().collect();
                d.downstream_tasks = down_tasks.into_iter().collect();
                d
            })
            .collect()
    }

    /// The declarations as the metadata carries them (each task's settings resolved over the
    /// dag's defaults and the bundle's first coordinator queue), and what is wrong with them.
    fn declaration(&self, queues: &[String]) -> (DagDeclaration, Vec<declare::DeclarationProblem>) {
        let mut problems = Vec::new();
        let known: HashSet<&str> = self.task_ids().collect();
        let mut downstream: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let resolved = self.resolve();
        for (up, down) in &resolved.edges {
            for id in [up, down] {
                // A group left here was written with an unknown id, which is named alone.
                if !known.contains(id.as_str()) && !self.groups.iter().any(|g| &g.id == id) {
                    problems.push(declare::DeclarationProblem::UnknownTask {
                        dag_id: self.id.clone(),
                        upstream: up.clone(),
                        downstream: down.clone(),
                        unknown: id.clone(),
                    });
                }
            }
            downstream.entry(up).or_default().insert(down);
        }
        let mut date = |value: &Option<Result<String, String>>, name: &str| match value {
            None => None,
            Some(Ok(v)) => Some(v.clone()),
            Some(Err(e)) => {
                problems.push(declare::DeclarationProblem::BadDate {
                    dag_id: self.id.clone(),
                    detail: format!("{name}: {e}"),
                });
                None
            }
        };
        let (start_date, end_date) = (
            date(&self.start_date, "start_date"),
            date(&self.end_date, "end_date"),
        );
        let queue_default = match queues.first() {
            Some(q) => TaskSettings::new().queue(q),
            None => TaskSettings::new(),
        };
        let tasks = self
            .tasks
            .iter()
            .map(|t| TaskDeclaration {
                id: t.id.clone(),
                settings: t.settings.clone().or(&self.default_task).or(&queue_default),
                downstream: downstream
                    .get(t.id.as_str())
                    .map(|d| {
                        d.iter()
                            .filter(|d| known.contains(**d))
                            .map(|d| (*d).to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                args: t
                    .params
                    .as_ref()
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default(),
                // Only the given ones: the rules refuse a native task missing one, and a stub
                // dag's task giving any.
                arg_sources: t.arg_sources.iter().flatten().cloned().collect(),
                branch: t.branch,
                map_index_template: t.map_index_template.clone(),
                // As Airflow stores them (normalized URIs).
                inlets: t.inlets.iter().map(AssetOrAlias::normalized).collect(),
                outlets: t.outlets.iter().map(AssetOrAlias::normalized).collect(),
            })
            .collect();
        let groups = self.group_declarations(resolved.links);
        // `@continuous` allows one active run; Airflow's default (16) would be refused.
        let max_active_runs = match (&self.schedule, self.max_active_runs) {
            (Schedule::Continuous, None) => Some(1),
            (_, n) => n,
        };
        let mut decl = DagDeclaration::default();
        decl.native = self.native;
        decl.coordinator_queues = queues.to_vec();
        decl.schedule = self.schedule.clone();
        decl.schedule_on = self.schedule_on.as_ref().map(AssetCondition::normalized);
        decl.start_date = start_date;
        decl.end_date = end_date;
        decl.catchup = self.catchup;
        decl.description = self.description.clone();
        decl.tags = self.tags.clone();
        decl.params = self.params.clone();
        decl.max_active_runs = max_active_runs;
        decl.max_active_tasks = self.max_active_tasks;
        decl.dagrun_timeout = self.dagrun_timeout;
        decl.default_task = self.default_task.clone();
        decl.tasks = tasks;
        decl.groups = groups;
        // The rules the packer applies too (airflow-bundle's), so a bad declaration is refused
        // here, naming the dag and task, rather than at pack time.
        // An argument taking the output of an unknown task is named by both checks: once.
        for p in decl.problems(&self.id) {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        (decl, problems)
    }

    /// The retries of task `task_id` (its own setting, else the dag's default), if either sets
    /// them.
    #[cfg(feature = "testing")]
    pub(crate) fn task_retries(&self, task_id: &str) -> Option<u32> {
        let task = self.tasks.iter().find(|t| t.id == task_id)?;
        task.settings.retries.or(self.default_task.retries)
    }

    /// The execution timeout of task `task_id` in seconds (its own setting, else the dag's
    /// default), if either sets one.
    pub(crate) fn execution_timeout(&self, task_id: &str) -> Option<f64> {
        let task = self.tasks.iter().find(|t| t.id == task_id)?;
        task.settings
            .execution_timeout
            .or(self.default_task.execution_timeout)
    }

    /// What dynamic task mapping asks of task `task_id` when it runs: which of the dag's tasks
    /// are mapped, and which map over its output.
    pub(crate) fn map_plan(&self, task_id: &str) -> crate::context::MapPlan {
        let expands = |t: &TaskEntry| t.arg_sources.iter().flatten().any(ArgSource::is_expanded);
        crate::context::MapPlan {
            mapped_tasks: self
                .tasks
                .iter()
                .filter(|t| expands(t))
                .map(|t| t.id.clone())
                .collect(),
            mapped_over_by: self
                .tasks
                .iter()
                .filter(|t| {
                    t.arg_sources.iter().flatten().any(
                        |s| matches!(s, ArgSource::ExpandOutput { task_id: up } if up == task_id),
                    )
                })
                .map(|t| t.id.clone())
                .collect(),
        }
    }

    /// The declared params and their defaults.
    pub(crate) fn param_defaults(&self) -> BTreeMap<String, serde_json::Value> {
        // Inserted one by one: `collect` into a map sorts first, with a stable sort
        // instantiated for this one type (about 6 KB of every bundle).
        let mut defaults = BTreeMap::new();
        for p in &self.params {
            defaults.insert(p.name.clone(), p.default.clone());
        }
        defaults
    }
}

/// What a branch task needs when it runs: its dag's id, task ids and dependencies.
struct BranchShape {
    dag_id: String,
    task_ids: Vec<String>,
    edges: Vec<(String, String)>,
}

impl BranchShape {
    /// The ids of the tasks directly downstream of `task_id`, by the declared dependencies.
    fn direct_downstream(&self, task_id: &str) -> BTreeSet<&str> {
        // Inserted one by one: `collect` into a set sorts first, a copy of the stable sort of
        // its own.
        let mut downstream = BTreeSet::new();
        for (_, down) in self.edges.iter().filter(|(up, _)| up == task_id) {
            downstream.insert(down.as_str());
        }
        downstream
    }

    /// Follows branch task `task_id`'s choice `follow` as Python's `SkipMixin.skip_all_except`
    /// does: each direct downstream task that is neither followed nor downstream of a followed
    /// one is skipped, and the followed ones are recorded (XCom `skipmixin_key`) for Airflow's
    /// `NotPreviouslySkippedDep`.
    fn follow(&self, ctx: &TaskContext, task_id: &str, follow: &[String]) -> Result<(), TaskError> {
        let unknown: Vec<&String> = follow
            .iter()
            .filter(|id| !self.task_ids.contains(id))
            .collect();
        if !unknown.is_empty() {
            return Err(TaskError::fail(format!(
                "branch task {task_id:?} chose {unknown:?}, which dag {:?} does not declare \
                 (its tasks: {:?})",
                self.dag_id, self.task_ids
            )));
        }
        let downstream = self.direct_downstream(task_id);
        if downstream.is_empty() {
            return Ok(());
        }
        // A followed task's own downstream tasks are followed too: with `branch >> join` and
        // `branch >> a >> join`, choosing `a` keeps `join`.
        let mut kept: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = follow.iter().map(String::as_str).collect();
        while let Some(id) = todo.pop() {
            if kept.insert(id) {
                todo.extend(self.direct_downstream(id));
            }
        }
        let (followed, skipped): (Vec<&str>, Vec<&str>) =
            downstream.into_iter().partition(|id| kept.contains(id));
        log::info!(target: "airflow_sdk::runtime", followed:?, skipped:?;
            "following branch {follow:?}, skipping {skipped:?}");
        ctx.xcom_push(
            "skipmixin_key",
            &serde_json::json!({ "followed": followed }),
        )?;
        if !skipped.is_empty() {
            ctx.skip_tasks(skipped)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dag")
            .field("id", &self.id)
            .field("tasks", &self.task_ids().collect::<Vec<_>>())
            .field("native", &self.native)
            .field("schedule", &self.schedule)
            .field("schedule_on", &self.schedule_on)
            .field("edges", &self.edges)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Everything a bundle binary holds: its dags, and the supervisor schema version it declares.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Bundle {
    pub(crate) dags: Vec<Dag>,
    pub(crate) schema: SchemaVersion,
    /// Queues routed to the executable coordinator; the first is every task's default.
    pub(crate) queues: Vec<String>,
}

/// One thing wrong with a bundle's declarations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclarationProblem {
    /// Two dags share an id.
    DuplicateDag(String),
    /// Two tasks of one dag share an id.
    DuplicateTask {
        /// The dag.
        dag_id: String,
        /// The repeated task id.
        task_id: String,
    },
    /// A task with typed arguments names a different number of parameters than its function
    /// takes, or names one twice.
    ArgumentNames {
        /// The dag.
        dag_id: String,
        /// The task.
        task_id: String,
        /// The names given.
        names: Vec<String>,
        /// How many arguments the function takes.
        arity: usize,
    },
    /// A task has typed arguments, but the bundle declares a schema version without them.
    ArgumentsNeedSchema {
        /// The dag.
        dag_id: String,
        /// The task.
        task_id: String,
        /// The version the bundle declares.
        declared: SchemaVersion,
    },
    /// A dag's schedule, dates, settings or dependencies are wrong (the problem names the dag
    /// and task).
    Dag(declare::DeclarationProblem),
    /// A resume handler ([`Dag::on_resume`]) names a task the dag does not declare, repeats a
    /// name, or has a name Airflow reserves.
    ResumeHandler {
        /// The dag.
        dag_id: String,
        /// The task.
        task_id: String,
        /// The handler's name.
        method: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// The bundle's declarations are inconsistent; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the bundle's declarations are invalid: {}", self.describe())]
pub struct DeclarationError {
    /// Each problem found.
    pub problems: Vec<DeclarationProblem>,
}

impl DeclarationError {
    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .problems
            .iter()
            .map(|p| match p {
                DeclarationProblem::DuplicateDag(d) => {
                    format!("dag id {d:?} is declared more than once")
                }
                DeclarationProblem::DuplicateTask { dag_id, task_id } => {
                    format!("task id {task_id:?} is declared more than once in dag {dag_id:?}")
                }
                DeclarationProblem::ArgumentNames {
                    dag_id,
                    task_id,
                    names,
                    arity,
                } => format!(
                    "task {task_id:?} of dag {dag_id:?} takes {arity} argument(s) but names \
                     {names:?}: give one distinct stub parameter name per argument"
                ),
                DeclarationProblem::ArgumentsNeedSchema {
                    dag_id,
                    task_id,
                    declared,
                } => format!(
                    "task {task_id:?} of dag {dag_id:?} takes typed arguments, which need \
                     supervisor schema {} (Airflow 3.4), but the bundle declares {declared}: \
                     add .supervisor_schema(SchemaVersion::V2026_10_30) to the Bundle",
                    SchemaVersion::V2026_10_30
                ),
                DeclarationProblem::Dag(p) => p.to_string(),
                DeclarationProblem::ResumeHandler {
                    dag_id,
                    task_id,
                    method,
                    why,
                } => format!(
                    "resume handler {method:?} of task {task_id:?} in dag {dag_id:?}: {why}"
                ),
            })
            .collect();
        parts.join("; ")
    }
}

impl Bundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Bundle::default()
    }

    /// Chooses the supervisor schema version the bundle declares in its manifest and its runtime
    /// speaks. The default, [`SchemaVersion::V2026_06_16`], runs on Airflow 3.3 and 3.4;
    /// [`SchemaVersion::V2026_10_30`] runs on Airflow 3.4 only and is needed for typed task
    /// arguments ([`Dag::task_with_args`]).
    pub fn supervisor_schema(mut self, version: SchemaVersion) -> Self {
        self.schema = version;
        self
    }

    /// The supervisor schema version the bundle declares.
    pub fn schema_version(&self) -> SchemaVersion {
        self.schema
    }

    /// Declares a queue that Airflow routes to the executable coordinator (`[sdk]
    /// queue_to_coordinator`). The first one is the queue of every task that names none; a task
    /// may name another declared one ([`Task::queue`]). The Python stubs and native dags put
    /// tasks on these queues, and the packer refuses a native dag task on any other.
    ///
    /// ```
    /// use airflow_sdk::{Bundle, Dag};
    /// let b = Bundle::new().queue("rust").dag(Dag::new("etl"));
    /// ```
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        let q = queue.into();
        if !self.queues.contains(&q) {
            self.queues.push(q);
        }
        self
    }

    /// Adds a dag.
    pub fn dag(mut self, dag: Dag) -> Self {
        self.dags.push(dag);
        self
    }

    /// The declared dags, in declaration order.
    pub fn dags(&self) -> &[Dag] {
        &self.dags
    }

    /// Checks the declarations: dag ids unique, task ids unique within their dag, typed arguments
    /// named and supported by the schema version, and each dag's own declarations by the rules
    /// the packer applies too ([`DagDeclaration::problems`]: dependencies, dates, numbers, cron
    /// expressions, and for a native dag its queues and a source for every typed argument). The
    /// bundle binary refuses to answer `--airflow-metadata` or run a task with any of these, and
    /// [`testing`](crate#unit-tests) refuses to run one, with the same text.
    pub fn validate(&self) -> Result<(), DeclarationError> {
        let mut problems = Vec::new();
        let mut dags = HashSet::new();
        for dag in &self.dags {
            if !dags.insert(dag.id.as_str())
                && !problems.contains(&DeclarationProblem::DuplicateDag(dag.id.clone()))
            {
                problems.push(DeclarationProblem::DuplicateDag(dag.id.clone()));
            }
            let mut tasks = HashSet::new();
            for task in &dag.tasks {
                let p = DeclarationProblem::DuplicateTask {
                    dag_id: dag.id.clone(),
                    task_id: task.id.clone(),
                };
                if !tasks.insert(task.id.as_str()) && !problems.contains(&p) {
                    problems.push(p);
                }
                if let Some((names, arity)) = &task.params {
                    let distinct: HashSet<&String> = names.iter().collect();
                    if names.len() != *arity || distinct.len() != names.len() {
                        problems.push(DeclarationProblem::ArgumentNames {
                            dag_id: dag.id.clone(),
                            task_id: task.id.clone(),
                            names: names.clone(),
                            arity: *arity,
                        });
                    }
                    // A native task's bindings come from the bundle when Airflow sends none.
                    if !self.schema.has_arg_bindings() && !dag.native {
                        problems.push(DeclarationProblem::ArgumentsNeedSchema {
                            dag_id: dag.id.clone(),
                            task_id: task.id.clone(),
                            declared: self.schema,
                        });
                    }
                }
            }
            let mut resumes = HashSet::new();
            for (task_id, method, _) in &dag.resumes {
                let why = if !dag.tasks.iter().any(|t| &t.id == task_id) {
                    Some("the dag declares no such task: declare the task before its handler")
                } else if method.is_empty() || method == FAIL_METHOD || method == "execute" {
                    Some("the name is empty or one Airflow reserves (`__fail__`, `execute`)")
                } else if !resumes.insert((task_id, method)) {
                    Some("the task has two handlers of this name")
                } else {
                    None
                };
                if let Some(why) = why {
                    problems.push(DeclarationProblem::ResumeHandler {
                        dag_id: dag.id.clone(),
                        task_id: task_id.clone(),
                        method: method.clone(),
                        why,
                    });
                }
            }
            let (_, found) = dag.declaration(&self.queues);
            problems.extend(found.into_iter().map(DeclarationProblem::Dag));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DeclarationError { problems })
        }
    }

    /// What `--airflow-metadata` prints: the manifest without `source`.
    pub fn metadata(&self) -> Result<Metadata, DeclarationError> {
        self.validate()?;
        // Inserted one by one, not collected: see `param_defaults`.
        let mut dags = BTreeMap::new();
        for d in &self.dags {
            dags.insert(
                d.id.clone(),
                DagEntry {
                    tasks: d.task_ids().map(str::to_owned).collect(),
                    declared: Some(d.declaration(&self.queues).0),
                },
            );
        }
        Ok(Metadata {
            airflow_bundle_metadata_version: crate::METADATA_VERSION.to_owned(),
            sdk: Sdk {
                language: "rust".to_owned(),
                version: crate::VERSION.to_owned(),
                supervisor_schema_version: self.schema.as_str().to_owned(),
                supervisor_schema_versions: SchemaVersion::ALL
                    .iter()
                    .map(|v| v.as_str().to_owned())
                    .collect(),
            },
            // Declarations always serialize to JSON.
            task_handlers: serde_json::to_value(self.task_handlers()).ok(),
            dags,
        })
    }

    /// The task handlers this bundle answers a `TaskHandlerParseRequest` with: every task of
    /// every dag a Python stub dag file declares (native dags are parsed from the bundle itself
    /// and have no stub tasks), by dag id, each list in declaration order. Derived from the
    /// declarations alone: no task function runs.
    ///
    /// A typed task ([`Dag::task_with_args`]) binds by name, exactly as the runtime does, with
    /// each argument's `value_schema` derived from its Rust type. A task without arguments is
    /// `named` with no params: an argument its stub passes is ignored by the runtime, and
    /// `named` makes Airflow warn about it instead of failing the dag file's import.
    pub(crate) fn task_handlers(&self) -> BTreeMap<String, Vec<TaskHandlerDeclaration>> {
        let mut handlers: BTreeMap<String, Vec<TaskHandlerDeclaration>> = BTreeMap::new();
        for dag in self.dags.iter().filter(|d| !d.native) {
            let declared = handlers.entry(dag.id.clone()).or_default();
            for task in &dag.tasks {
                let params = match &task.params {
                    Some((names, _)) => {
                        let schemas = task.value_schemas.map(|f| f()).unwrap_or_default();
                        let mut schemas = schemas.into_iter();
                        names
                            .iter()
                            .map(|name| TaskHandlerParam {
                                name: Some(name.clone()),
                                value_schema: schemas.next().flatten(),
                                // The runtime binds a stub argument to the parameter of the
                                // same name only.
                                exact_name: true,
                            })
                            .collect()
                    }
                    None => Vec::new(),
                };
                declared.push(TaskHandlerDeclaration {
                    task_id: task.id.clone(),
                    binding: HandlerBinding::Named,
                    params: Some(params),
                });
            }
        }
        handlers
    }

    /// What a try of task `task_id` of dag `dag_id` runs, if the task is declared: the task
    /// function, or for a try Airflow resumes (`next_method`) the resume handler given
    /// `next_kwargs` (in plain JSON), or for a failed trigger (`__fail__`) the failure Airflow
    /// recorded. Either way, a deferral or input request naming a method the task has no handler
    /// for fails the task without retry instead: nothing could resume it.
    pub(crate) fn entry_point(
        &self,
        dag_id: &str,
        task_id: &str,
        next_method: Option<&str>,
        next_kwargs: Option<&serde_json::Value>,
    ) -> Option<TaskFn> {
        let dag = self.find_dag(dag_id)?;
        let task = dag.tasks.iter().find(|t| t.id == task_id)?;
        let next_kwargs = crate::suspend::plain(next_kwargs.cloned().unwrap_or_default());
        let run: TaskFn = match next_method {
            None if task.branch => {
                let shape = BranchShape {
                    dag_id: dag.id.clone(),
                    task_ids: dag.task_ids().map(str::to_owned).collect(),
                    edges: dag.resolve().edges,
                };
                let (run, task_id) = (Arc::clone(&task.run), task_id.to_owned());
                Arc::new(move |ctx| {
                    let chosen = run(ctx)?;
                    let follow: Vec<String> = serde_json::from_value(chosen.clone())
                        .map_err(|e| TaskError::fail_no_retry(e.to_string()))?;
                    shape.follow(ctx, &task_id, &follow)?;
                    Ok(chosen)
                })
            }
            None => Arc::clone(&task.run),
            Some(FAIL_METHOD) => {
                let error = crate::suspend::trigger_failure(&next_kwargs);
                Arc::new(move |_| Err(TaskError::fail(error.clone())))
            }
            Some(method) => match dag.find_resume(task_id, method) {
                Some(resume) => {
                    let resume = Arc::clone(resume);
                    Arc::new(move |ctx| resume(ctx, next_kwargs.clone()))
                }
                None => {
                    let error = format!(
                        "Airflow resumed the task in {method:?}, but the bundle registers no such \
                         resume handler for it (it has: {:?}); register it with \
                         Dag::on_resume({task_id:?}, {method:?}, ...) and clear the task",
                        dag.resume_names(task_id)
                    );
                    Arc::new(move |_| Err(TaskError::fail_no_retry(error.clone())))
                }
            },
        };
        let handlers: Vec<String> = dag
            .resume_names(task_id)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let task_id = task_id.to_owned();
        let plan = dag.map_plan(&task_id);
        Some(Arc::new(move |ctx| {
            ctx.mapping = plan.clone();
            let result = run(ctx);
            if let Err(e) = &result
                && let Some(method) = e.suspension().and_then(Suspend::method)
                && !handlers.iter().any(|h| h == method)
            {
                return Err(TaskError::fail_no_retry(format!(
                    "the task asked to resume in {method:?}, but the bundle registers no such \
                     resume handler for task {task_id:?} (it has: {handlers:?}): add \
                     Dag::on_resume({task_id:?}, {method:?}, ...)"
                )));
            }
            result
        }))
    }

    /// Each dag's declarations by id, sorted, without checking them first (the caller has).
    pub(crate) fn declarations_unchecked(&self) -> impl Iterator<Item = (String, DagDeclaration)> {
        let mut dags: Vec<&Dag> = self.dags.iter().collect();
        airflow_bundle::sort::sort_by(&mut dags, |a, b| a.id.cmp(&b.id));
        dags.into_iter()
            .map(|d| (d.id.clone(), d.declaration(&self.queues).0))
    }

    /// The dag `dag_id`, if declared.
    pub(crate) fn find_dag(&self, dag_id: &str) -> Option<&Dag> {
        self.dags.iter().find(|d| d.id == dag_id)
    }

    /// The execution timeout declared for task `task_id` of dag `dag_id` (its own setting, else
    /// the dag's default), if any.
    pub(crate) fn execution_timeout(
        &self,
        dag_id: &str,
        task_id: &str,
    ) -> Option<ExecutionTimeout> {
        ExecutionTimeout::from_declared(self.find_dag(dag_id)?.execution_timeout(task_id))
    }

    /// The outlets task `task_id` of dag `dag_id` declares, as Airflow stores them (URIs
    /// normalized): its success reports them as `task_outlets`.
    pub(crate) fn declared_outlets(&self, dag_id: &str, task_id: &str) -> Vec<AssetOrAlias> {
        self.find_dag(dag_id)
            .and_then(|d| d.tasks.iter().find(|t| t.id == task_id))
            .map(|t| t.outlets.iter().map(AssetOrAlias::normalized).collect())
            .unwrap_or_default()
    }

    /// The task ids of dag `dag_id`, in registration order; `None` when there is no such dag.
    pub(crate) fn task_ids(&self, dag_id: &str) -> Option<Vec<&str>> {
        let dag = self.dags.iter().find(|d| d.id == dag_id)?;
        Some(dag.task_ids().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{arg, flow};

    fn noop(_: &mut TaskContext) -> TaskResult {
        Ok(())
    }

    #[test]
    fn metadata_sorts_dags_and_keeps_task_order() {
        let b = Bundle::new()
            .dag(
                Dag::new("zeta")
                    .task("transform", noop)
                    .task("extract", noop),
            )
            .dag(Dag::new("alpha").task("x", noop));
        let m = b.metadata().unwrap();
        assert_eq!(m.dags.keys().collect::<Vec<_>>(), ["alpha", "zeta"]);
        assert_eq!(m.dags["zeta"].tasks, ["transform", "extract"]);
        assert_eq!(m.sdk.language, "rust");
        assert_eq!(m.sdk.supervisor_schema_version, "2026-06-16");
    }

    fn load(_: &mut TaskContext, _totals: Vec<u32>, _table: String) -> TaskResult {
        Ok(())
    }

    #[test]
    fn typed_argument_tasks_need_2026_10_30_and_one_name_per_argument() {
        let dag = |names: &[&str]| Dag::new("d").task_with_args("load", names.to_vec(), load);
        let ok = Bundle::new()
            .supervisor_schema(SchemaVersion::V2026_10_30)
            .dag(dag(&["totals", "table"]));
        let m = ok.metadata().unwrap();
        assert_eq!(m.sdk.supervisor_schema_version, "2026-10-30");
        assert_eq!(m.dags["d"].tasks, ["load"]);

        let old = Bundle::new().dag(dag(&["totals", "table"]));
        let err = old.validate().unwrap_err();
        assert_eq!(
            err.problems,
            [DeclarationProblem::ArgumentsNeedSchema {
                dag_id: "d".into(),
                task_id: "load".into(),
                declared: SchemaVersion::V2026_06_16
            }]
        );
        assert!(err.to_string().contains("V2026_10_30"), "{err}");

        for names in [&["totals"][..], &["a", "b", "c"], &["a", "a"]] {
            let b = Bundle::new()
                .supervisor_schema(SchemaVersion::V2026_10_30)
                .dag(dag(names));
            let err = b.validate().unwrap_err();
            assert!(
                matches!(
                    &err.problems[..],
                    [DeclarationProblem::ArgumentNames { arity: 2, .. }]
                ),
                "{names:?}: {err}"
            );
        }
    }

    #[test]
    fn airflow_bundles_rules_are_checked_when_the_bundle_is_declared() {
        let bad_cron = Bundle::new().dag(
            Dag::new("nightly")
                .schedule(Schedule::cron("0 25 * * *"))
                .task("a", noop),
        );
        let err = bad_cron.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the bundle's declarations are invalid: dag \"nightly\": the cron expression \
             \"0 25 * * *\" is invalid: hour: 25 is outside 0-23"
        );
        assert_eq!(bad_cron.metadata().unwrap_err(), err);

        // A native task's arguments need their sources (there is no stub call to bind them),
        // and any schema will do (the runtime takes them from the bundle when Airflow sends
        // none); a stub dag's task must not give them.
        let native_args = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .task("transform", noop)
                .task_with_args(
                    "load",
                    [arg("totals").output_of("transform"), "table".into()],
                    load,
                ),
        );
        let err = native_args.validate().unwrap_err();
        assert_eq!(
            err.problems,
            [DeclarationProblem::Dag(
                declare::DeclarationProblem::ArgSources {
                    dag_id: "etl".into(),
                    task_id: "load".into(),
                    native: true,
                }
            )]
        );
        assert!(
            err.to_string()
                .contains("give each one with arg(\"name\").output_of(\"task\")"),
            "{err}"
        );
        let stub_sources = Bundle::new()
            .supervisor_schema(SchemaVersion::V2026_10_30)
            .dag(Dag::new("etl").task("transform", noop).task_with_args(
                "load",
                [arg("totals").output_of("transform"), arg("table")],
                load,
            ));
        let err = stub_sources.validate().unwrap_err();
        assert!(
            matches!(
                &err.problems[..],
                [DeclarationProblem::Dag(
                    declare::DeclarationProblem::ArgSources { native: false, .. }
                )]
            ),
            "{err}"
        );
    }

    #[test]
    fn a_native_task_depends_on_the_tasks_whose_output_it_takes() {
        let b = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .task("transform", noop)
                .task_with_args(
                    "load",
                    [
                        arg("totals").output_of("transform"),
                        arg("table").value("t1"),
                    ],
                    load,
                )
                .branch("choose", |_: &mut TaskContext| Ok(["load"]))
                .flow(flow("choose") >> "transform"),
        );
        let m = b.metadata().unwrap();
        let decl = m.dags["etl"].declared.as_ref().unwrap();
        let t = |id: &str| decl.tasks.iter().find(|t| t.id == id).unwrap();
        assert_eq!(t("transform").downstream, ["load"]);
        assert_eq!(t("load").args, ["totals", "table"]);
        assert_eq!(
            t("load").arg_sources,
            [
                ArgSource::Output {
                    task_id: "transform".into()
                },
                ArgSource::Literal { value: "t1".into() }
            ]
        );
        assert!(t("choose").branch && !t("load").branch);
        // An output of a task the dag lacks is named.
        let bad = Bundle::new()
            .queue("rust")
            .dag(Dag::new("etl").native().task_with_args(
                "load",
                [
                    arg("totals").output_of("transfrom"),
                    arg("table").value("t1"),
                ],
                load,
            ));
        let err = bad.validate().unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(
            err.to_string().contains("names task \"transfrom\""),
            "{err}"
        );
        // So is a mapped argument's, and an expanded argument implies the dependency too.
        let bad = Bundle::new()
            .queue("rust")
            .dag(Dag::new("etl").native().task_with_args(
                "load",
                [
                    arg("totals").expand_output_of("transfrom"),
                    arg("table").value("t1"),
                ],
                load,
            ));
        let err = bad.validate().unwrap_err();
        assert!(
            err.to_string().contains("names task \"transfrom\""),
            "{err}"
        );
        let b = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .task("transform", noop)
                .task_with_args(
                    "load",
                    [
                        arg("totals").expand_output_of("transform"),
                        arg("table").expand(["a", "b"]),
                    ],
                    load,
                ),
        );
        let m = b.metadata().unwrap();
        let decl = m.dags["etl"].declared.as_ref().unwrap();
        assert_eq!(decl.tasks[0].downstream, ["load"]);
        assert!(decl.tasks[1].is_mapped() && !decl.tasks[0].is_mapped());
        // A stub dag cannot map: its Python file would have to.
        let stub = Bundle::new()
            .supervisor_schema(SchemaVersion::V2026_10_30)
            .dag(Dag::new("etl").task("transform", noop).task_with_args(
                "load",
                [arg("totals").expand_output_of("transform"), arg("table")],
                load,
            ));
        assert!(stub.validate().is_err());
    }

    /// A native task's declared bindings are used when Airflow sends none (schema 2026-06-16);
    /// Airflow's, when sent, win.
    #[cfg(feature = "testing")]
    #[test]
    fn a_native_task_binds_its_declared_arguments_when_airflow_sends_none() {
        use crate::testing::TestRun;
        fn load(_: &mut TaskContext, rows: Vec<u32>, table: String) -> TaskResult<String> {
            Ok(format!("{} rows into {table}", rows.len()))
        }
        let bundle = Bundle::new().queue("rust").dag(
            Dag::new("etl")
                .native()
                .task("extract", noop)
                .task_with_args(
                    "load",
                    [arg("rows").output_of("extract"), arg("table").value("t1")],
                    load,
                ),
        );
        let run = || {
            TestRun::new("etl", "load").xcom("extract", "return_value", serde_json::json!([1, 2]))
        };
        let out = run().run_in(&bundle);
        out.assert_success();
        assert_eq!(out.return_value, Some("2 rows into t1".into()));
        // Under 2026-10-30 Airflow hands back the bindings serialized with the dag.
        let bundle = bundle.supervisor_schema(SchemaVersion::V2026_10_30);
        let out = run().run_in(&bundle);
        assert_eq!(out.return_value, Some("2 rows into t1".into()));
        let out = run()
            .arg_from("rows", "extract")
            .arg("table", "t2".into())
            .run_in(&bundle);
        assert_eq!(out.return_value, Some("2 rows into t2".into()));
    }

    /// A branch skips the direct downstream tasks it does not follow, except those downstream
    /// of a followed one (Python's `skip_all_except`), and records what it followed.
    #[cfg(feature = "testing")]
    #[test]
    fn a_branch_skips_what_it_does_not_follow() {
        use crate::testing::{RequestKind, TestRun, TestState};
        let bundle = |chosen: &'static [&'static str]| {
            Bundle::new().queue("rust").dag(
                Dag::new("d")
                    .native()
                    .branch("choose", move |_: &mut TaskContext| Ok(chosen.to_vec()))
                    .task("a", noop)
                    .task("b", noop)
                    .task("join", noop)
                    .flow(flow("choose") >> ["a", "b", "join"])
                    .flow(flow("a") >> "join"),
            )
        };
        let skipped = |out: &crate::testing::TestOutcome| -> Vec<serde_json::Value> {
            out.requests_of(RequestKind::SkipDownstreamTasks)
                .map(|r| r.body["tasks"].clone())
                .collect()
        };
        let out = TestRun::new("d", "choose").run_in(&bundle(&["a"]));
        out.assert_success();
        assert_eq!(out.return_value, Some(serde_json::json!(["a"])));
        assert_eq!(skipped(&out), [serde_json::json!(["b"])]);
        assert_eq!(
            out.xcom("skipmixin_key"),
            Some(&serde_json::json!({"followed": ["a", "join"]}))
        );
        // Following nothing skips every downstream task.
        let out = TestRun::new("d", "choose").run_in(&bundle(&[]));
        assert_eq!(skipped(&out), [serde_json::json!(["a", "b", "join"])]);
        // Following everything skips nothing.
        let out = TestRun::new("d", "choose").run_in(&bundle(&["a", "b"]));
        assert!(skipped(&out).is_empty());
        // An id the dag lacks fails the task.
        let out = TestRun::new("d", "choose")
            .max_tries(0)
            .run_in(&bundle(&["c"]));
        assert_eq!(out.state, TestState::Failed);
        assert!(
            out.error.as_deref().unwrap().contains("chose [\"c\"]"),
            "{:?}",
            out.error
        );
        assert!(skipped(&out).is_empty());
    }

    #[test]
    fn bad_task_groups_are_refused_naming_the_dag_and_group() {
        let problems = |dag: Dag| -> Vec<String> {
            match Bundle::new().queue("rust").dag(dag).validate() {
                Ok(()) => Vec::new(),
                Err(e) => e
                    .problems
                    .iter()
                    .map(|p| match p {
                        DeclarationProblem::Dag(p) => p.to_string(),
                        other => format!("{other:?}"),
                    })
                    .collect(),
            }
        };
        let grouped = |id: &str| Dag::new("etl").native().group(id, |g| g.task("a", noop));
        assert_eq!(problems(grouped("load")), Vec::<String>::new());
        let bad = problems(grouped("lo.ad"));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].starts_with("dag \"etl\": task group \"lo.ad\" has an id Airflow refuses"),
            "{bad:?}"
        );
        assert!(
            problems(grouped(""))
                .iter()
                .any(|p| p.contains("has an id Airflow refuses"))
        );
        assert!(
            problems(grouped(&"g".repeat(201)))
                .iter()
                .any(|p| p.contains("1 to 200"))
        );
        let twice = problems(
            Dag::new("etl")
                .native()
                .group("load", |g| g.task("a", noop))
                .group("load", |g| g.task("b", noop)),
        );
        assert_eq!(
            twice,
            ["dag \"etl\": task group \"load\" is declared more than once; rename one"]
        );
        // Without the prefix, the inner group's id is its own, and clashes with a task's.
        let clash = problems(
            Dag::new("etl")
                .native()
                .task("inner", noop)
                .group(TaskGroup::new("outer").prefix_group_id(false), |g| {
                    g.group("inner", |g| g.task("x", noop))
                }),
        );
        assert_eq!(clash.len(), 1, "{clash:?}");
        assert!(
            clash[0].contains("task group \"inner\" has the id of a task"),
            "{clash:?}"
        );
        // Prefixing makes two tasks one id: named as duplicates.
        let err = Bundle::new()
            .queue("rust")
            .dag(
                Dag::new("etl")
                    .native()
                    .task("load.a", noop)
                    .group("load", |g| g.task("a", noop)),
            )
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("task id \"load.a\" is declared more than once in dag \"etl\""),
            "{err}"
        );
        let empty = problems(Dag::new("etl").native().task("a", noop).group("g", |g| g));
        assert_eq!(
            empty,
            ["dag \"etl\": task group \"g\" holds no task; add one or remove the group"]
        );
        // A stub dag's groups belong in its Python file.
        let stub = Bundle::new()
            .dag(Dag::new("etl").group("load", |g| g.task("a", noop)))
            .validate()
            .unwrap_err();
        assert!(
            stub.to_string()
                .contains("task group \"load\" is declared in a dag that is not native"),
            "{stub}"
        );
        // A dependency on an unknown id is named once, not the group beside it.
        let unknown = problems(grouped("load").flow(flow("load") >> "lod"));
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert!(unknown[0].contains("names task \"lod\""), "{unknown:?}");
    }

    #[test]
    fn group_dependencies_mean_roots_and_leaves_and_defaults_nest() {
        let b = Bundle::new().queue("rust").dag(
            Dag::new("d")
                .native()
                .default_task(TaskSettings::new().retries(1).pool("dag"))
                .task("start", noop)
                .group(
                    TaskGroup::new("g").default_task(TaskSettings::new().retries(2).owner("g")),
                    |g| {
                        g.task("a", noop)
                            .task("b", noop)
                            .group(
                                TaskGroup::new("h").default_task(TaskSettings::new().retries(3)),
                                |h| h.task(Task::new("c").retries(4), noop).task("d", noop),
                            )
                            .flow(flow("g.a") >> "g.h")
                    },
                )
                .task("end", noop)
                .flow(flow("start") >> "g" >> "end"),
        );
        let m = b.metadata().unwrap();
        assert_eq!(
            m.dags["d"].tasks,
            ["start", "g.a", "g.b", "g.h.c", "g.h.d", "end"]
        );
        let decl = m.dags["d"].declared.as_ref().unwrap();
        let t = |id: &str| decl.tasks.iter().find(|t| t.id == id).unwrap();
        // Roots of g are a and b (c and d follow a); its leaves are b, c and d.
        assert_eq!(t("start").downstream, ["g.a", "g.b"]);
        assert_eq!(t("g.a").downstream, ["g.h.c", "g.h.d"]);
        for leaf in ["g.b", "g.h.c", "g.h.d"] {
            assert_eq!(t(leaf).downstream, ["end"], "{leaf}");
        }
        // Own setting, then the innermost group's, the outer group's, the dag's.
        let s = |id: &str| &t(id).settings;
        assert_eq!(
            (
                s("g.h.c").retries,
                s("g.h.d").retries,
                s("g.a").retries,
                s("end").retries
            ),
            (Some(4), Some(3), Some(2), Some(1))
        );
        assert_eq!(s("g.h.d").owner.as_deref(), Some("g"));
        assert_eq!(s("g.h.d").pool.as_deref(), Some("dag"));
        assert_eq!(s("end").owner, None);
        let g = &decl.groups[0];
        assert_eq!(
            (g.id.as_str(), g.tasks.as_slice()),
            ("g", &["g.a".to_owned(), "g.b".to_owned()][..])
        );
        assert_eq!(g.upstream_tasks, ["start"]);
        assert_eq!(g.downstream_tasks, ["end"]);
        let h = &decl.groups[1];
        assert_eq!(
            (h.id.as_str(), h.label.as_str(), h.parent.as_deref()),
            ("g.h", "h", Some("g"))
        );
        assert_eq!(h.upstream_tasks, ["g.a"]);
    }

    /// A grouped task runs by its full id, with its group's defaults.
    #[cfg(feature = "testing")]
    #[test]
    fn the_testing_harness_runs_a_grouped_task_by_its_full_id() {
        use crate::testing::TestRun;
        fn double(_: &mut TaskContext, n: u32) -> TaskResult<u32> {
            Ok(n * 2)
        }
        let bundle = Bundle::new().queue("rust").dag(
            Dag::new("d")
                .native()
                .task("start", |_: &mut TaskContext| Ok(21))
                .group(
                    TaskGroup::new("math").default_task(TaskSettings::new().retries(2)),
                    |g| g.task_with_args("double", [arg("n").output_of("start")], double),
                ),
        );
        assert_eq!(bundle.dags()[0].task_retries("math.double"), Some(2));
        let out = TestRun::new("d", "math.double")
            .xcom("start", "return_value", serde_json::json!(21))
            .run_in(&bundle);
        out.assert_success();
        assert_eq!(out.return_value, Some(serde_json::json!(42)));
    }

    /// `testing` refuses a bundle the binary would refuse, with the same text.
    #[cfg(feature = "testing")]
    #[test]
    fn testing_refuses_a_bad_declaration_with_the_same_text() {
        let bundle = Bundle::new().dag(
            Dag::new("nightly")
                .schedule(Schedule::cron("0 0 * * 5L"))
                .task("a", noop),
        );
        let expected = bundle.validate().unwrap_err().to_string();
        assert!(
            expected.contains("dag \"nightly\": the cron expression \"0 0 * * 5L\""),
            "{expected}"
        );
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::testing::TestRun::new("nightly", "a").run_in(&bundle)
        }))
        .unwrap_err();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(
            message,
            format!("TestRun::run_in: the bundle cannot run: {expected}")
        );
    }

    #[test]
    fn duplicates_are_named() {
        let b = Bundle::new()
            .dag(
                Dag::new("d")
                    .task("t", noop)
                    .task("t", noop)
                    .task("t", noop),
            )
            .dag(Dag::new("d"))
            .dag(Dag::new("e").task("t", noop));
        let err = b.metadata().unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                DeclarationProblem::DuplicateTask {
                    dag_id: "d".into(),
                    task_id: "t".into()
                },
                DeclarationProblem::DuplicateDag("d".into()),
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("task id \"t\" is declared more than once in dag \"d\""),
            "{text}"
        );
        assert!(
            text.contains("dag id \"d\" is declared more than once"),
            "{text}"
        );
    }
}
