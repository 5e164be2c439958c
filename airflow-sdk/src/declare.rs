//! The pieces of a dag's declarations: [`Task`] (an id with settings), [`TaskGroup`] (a group
//! of a native dag's tasks), [`Arg`] (a typed argument and where its value comes from), [`Flow`] (dependencies written as `a >> b`) and the
//! date forms [`IntoUtc`] accepts.

use std::ops::Shr;
use std::time::Duration;

use airflow_bundle::declare::{ArgSource, Asset, AssetOrAlias, TaskSettings, TriggerRule};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// A task id with its settings, for [`Dag::task`](crate::Dag::task). A plain `"id"` is a task
/// with no settings of its own (it still gets the dag's [defaults](crate::Dag::default_task)).
///
/// ```
/// use std::time::Duration;
/// use airflow_sdk::{Task, TriggerRule};
///
/// let t = Task::new("load")
///     .retries(3)
///     .retry_delay(Duration::from_secs(10))
///     .exponential_backoff(2.0, Some(Duration::from_secs(600)))
///     .execution_timeout(Duration::from_secs(3600))
///     .trigger_rule(TriggerRule::AllDone)
///     .pool("warehouse")
///     .priority_weight(10)
///     .owner("data-team")
///     .doc_md("Loads the totals.");
/// assert_eq!(t.id(), "load");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Task {
    pub(crate) id: String,
    pub(crate) settings: TaskSettings,
    pub(crate) map_index_template: Option<String>,
    /// What the task reads ([`inlet`](Self::inlet)), in declaration order.
    pub(crate) inlets: Vec<AssetOrAlias>,
    /// What the task produces ([`outlet`](Self::outlet)), in declaration order.
    pub(crate) outlets: Vec<AssetOrAlias>,
}

/// Forwards a [`TaskSettings`] builder method to [`Task`].
macro_rules! forward {
    ($(#[$doc:meta] $name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(#[$doc] pub fn $name(mut self, $($arg: $ty),*) -> Self {
            self.settings = self.settings.$name($($arg),*);
            self
        })*
    };
}

impl Task {
    /// A task with no settings of its own.
    pub fn new(id: impl Into<String>) -> Self {
        Task {
            id: id.into(),
            settings: TaskSettings::default(),
            map_index_template: None,
            inlets: Vec::new(),
            outlets: Vec::new(),
        }
    }

    /// Declares an asset or alias the task reads (Python's `inlets`), in a
    /// [native](crate::Dag::native) dag. Airflow shows the task as the asset's consumer; a
    /// task reads the asset's events with [`TaskContext::asset_events`](crate::TaskContext::asset_events).
    ///
    /// ```
    /// use airflow_sdk::{Asset, Task};
    /// let t = Task::new("load").inlet(Asset::at("s3://bucket/raw/orders.csv"));
    /// ```
    pub fn inlet(mut self, asset: impl Into<AssetOrAlias>) -> Self {
        self.inlets.push(asset.into());
        self
    }

    /// Declares an asset or alias the task produces (Python's `outlets`), in a
    /// [native](crate::Dag::native) dag. Each time the task succeeds, Airflow records an event
    /// of each asset (with the `extra` given to [`TaskContext::emit_asset`](crate::TaskContext::emit_asset),
    /// if any) and runs the dags scheduled on it; an alias records the events emitted through
    /// it ([`TaskContext::emit_asset_via_alias`](crate::TaskContext::emit_asset_via_alias)).
    ///
    /// ```
    /// use airflow_sdk::{asset, AssetAlias, Task};
    /// let t = Task::new("export")
    ///     .outlet(asset("daily_orders"))
    ///     .outlet(AssetAlias::new("partitions"));
    /// ```
    pub fn outlet(mut self, asset: impl Into<AssetOrAlias>) -> Self {
        self.outlets.push(asset.into());
        self
    }

    /// The task id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Replaces all of the task's own settings.
    pub fn settings(mut self, settings: TaskSettings) -> Self {
        self.settings = settings;
        self
    }

    /// For a mapped task ([`Arg::expand`], [`Arg::expand_output_of`]): the label shown for each
    /// map index instead of its number, with `{name}` replaced by the value of argument `name`
    /// (its element for an expanded argument; strings without quotes). The runtime renders it
    /// before the task runs, as Python's task runner renders `map_index_template`; a task may
    /// still set its own with
    /// [`TaskContext::set_rendered_map_index`](crate::TaskContext::set_rendered_map_index).
    ///
    /// ```
    /// use airflow_sdk::Task;
    /// let t = Task::new("square").map_index_template("x={x} {unit}");
    /// ```
    pub fn map_index_template(mut self, template: impl Into<String>) -> Self {
        self.map_index_template = Some(template.into());
        self
    }

    forward! {
        /// Retries a failed try `n` times.
        retries(n: u32);
        /// Waits `delay` between tries.
        retry_delay(delay: Duration);
        /// Grows the delay by `multiplier` at each retry, up to `max_delay` when given.
        exponential_backoff(multiplier: f64, max_delay: Option<Duration>);
        /// Fails a try that runs longer than `timeout`.
        execution_timeout(timeout: Duration);
        /// Runs the task when `rule` holds for its upstream tasks.
        trigger_rule(rule: TriggerRule);
        /// Takes a slot of `pool`.
        pool(pool: impl Into<String>);
        /// Sets the scheduling priority.
        priority_weight(weight: i32);
        /// Runs on `queue`, one of the bundle's coordinator queues ([`Bundle::queue`](crate::Bundle::queue)).
        queue(queue: impl Into<String>);
        /// Sets the owner shown in the UI.
        owner(owner: impl Into<String>);
        /// Sets the documentation (Markdown) shown in the UI.
        doc_md(doc: impl Into<String>);
    }
}

/// The asset known by `name` alone (Python's `Asset("name")`, whose URI is its name): the short
/// form for inlets, outlets and [asset schedules](crate::Dag::schedule_on). Use
/// [`Asset::at`] for an asset known by its URI, [`Asset::new`] for both.
///
/// ```
/// use airflow_sdk::{asset, Asset};
/// assert_eq!(asset("orders"), Asset::new("orders", "orders"));
/// ```
pub fn asset(name: impl Into<String>) -> Asset {
    Asset::named(name)
}

impl From<&str> for Task {
    fn from(id: &str) -> Self {
        Task::new(id)
    }
}

impl From<String> for Task {
    fn from(id: String) -> Self {
        Task::new(id)
    }
}

impl From<&String> for Task {
    fn from(id: &String) -> Self {
        Task::new(id.clone())
    }
}

/// A task group of a [native](crate::Dag::native) dag, for [`Dag::group`](crate::Dag::group):
/// its id, how the UI shows it, and settings for its tasks. The tasks and groups declared inside
/// get ids prefixed with the group's (`load.a`; turn that off with
/// [`prefix_group_id(false)`](Self::prefix_group_id)), and the group's
/// [`default_task`](Self::default_task) settings unless they set their own. A plain `"id"` is a
/// group with Airflow's defaults.
///
/// ```
/// use airflow_sdk::{TaskGroup, TaskSettings};
///
/// let g = TaskGroup::new("load")
///     .tooltip("Loads the tables")
///     .display_name("Load tables")
///     .default_task(TaskSettings::new().retries(2).owner("loaders"));
/// assert_eq!(g.id(), "load");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct TaskGroup {
    pub(crate) id: String,
    pub(crate) prefix_group_id: bool,
    pub(crate) tooltip: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) default_task: TaskSettings,
}

impl TaskGroup {
    /// A group with Airflow's defaults: it prefixes its children's ids, no tooltip.
    pub fn new(id: impl Into<String>) -> Self {
        TaskGroup {
            id: id.into(),
            prefix_group_id: true,
            tooltip: None,
            display_name: None,
            default_task: TaskSettings::default(),
        }
    }

    /// The group id as declared (without an enclosing group's prefix).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the group's id prefixes the ids of the tasks and groups inside it (default
    /// `true`, as in Airflow).
    pub fn prefix_group_id(mut self, prefix: bool) -> Self {
        self.prefix_group_id = prefix;
        self
    }

    /// The text the UI's graph shows when the pointer is over the group.
    pub fn tooltip(mut self, text: impl Into<String>) -> Self {
        self.tooltip = Some(text.into());
        self
    }

    /// The name the UI shows for the group instead of its id.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Settings every task inside gets unless it sets its own; they take precedence over an
    /// enclosing group's and the dag's ([`Dag::default_task`](crate::Dag::default_task)), as a
    /// Python `TaskGroup`'s `default_args` do.
    pub fn default_task(mut self, settings: TaskSettings) -> Self {
        self.default_task = settings;
        self
    }
}

impl From<&str> for TaskGroup {
    fn from(id: &str) -> Self {
        TaskGroup::new(id)
    }
}

impl From<String> for TaskGroup {
    fn from(id: String) -> Self {
        TaskGroup::new(id)
    }
}

/// One typed argument of a task ([`Dag::task_with_args`](crate::Dag::task_with_args)): its name,
/// and in a [native](crate::Dag::native) dag where its value comes from, as a Python TaskFlow
/// call says it (`load(transform(), table="t1")`). Start one with [`arg`]; a plain `"name"` is an
/// argument whose value a Python stub's call binds.
///
/// ```
/// use airflow_sdk::{arg, Arg};
///
/// let totals: Arg = arg("totals").output_of("transform"); // transform's return value
/// let table: Arg = arg("table").value("t1"); // a literal
/// assert_eq!(totals.name(), "totals");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Arg {
    pub(crate) name: String,
    pub(crate) source: Option<ArgSource>,
}

/// The typed argument `name`; say where its value comes from with [`Arg::output_of`] or
/// [`Arg::value`].
pub fn arg(name: impl Into<String>) -> Arg {
    Arg {
        name: name.into(),
        source: None,
    }
}

impl Arg {
    /// The argument's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value is what task `task_id` returned (its `return_value` XCom, pulled before the
    /// task runs; `Option<T>` takes a missing one). The task then runs after `task_id`: the
    /// dependency is added for you. When `task_id` is mapped, the value is the list of what its
    /// task instances returned, in map index order (Python's lazy sequence of mapped outputs).
    pub fn output_of(mut self, task_id: impl Into<String>) -> Self {
        self.source = Some(ArgSource::Output {
            task_id: task_id.into(),
        });
        self
    }

    /// Maps the task over the list task `task_id` returns, as Python's
    /// `.expand(name=task_id())`: Airflow creates one task instance per element (map indexes 0
    /// to n-1) and each runs the function with its element as this argument. The task runs
    /// after `task_id`, which must return a JSON array (the runtime pushes its length with it).
    ///
    /// ```
    /// use airflow_sdk::{arg, Arg};
    /// let x: Arg = arg("x").expand_output_of("numbers");
    /// ```
    pub fn expand_output_of(mut self, task_id: impl Into<String>) -> Self {
        self.source = Some(ArgSource::ExpandOutput {
            task_id: task_id.into(),
        });
        self
    }

    /// Maps the task over `values`, as Python's `.expand(name=[...])`: one task instance per
    /// element, each running the function with its element as this argument. With several
    /// expanded arguments, one instance per combination (Python's cross product).
    ///
    /// ```
    /// use airflow_sdk::{arg, Arg};
    /// let city: Arg = arg("city").expand(["Paris", "Lima"]);
    /// ```
    pub fn expand<V: Into<serde_json::Value>>(
        mut self,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.source = Some(ArgSource::ExpandValues {
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The value is `value`, as written here (any JSON value; `serde_json::to_value` makes one
    /// of a struct).
    pub fn value(mut self, value: impl Into<serde_json::Value>) -> Self {
        self.source = Some(ArgSource::Literal {
            value: value.into(),
        });
        self
    }
}

impl From<&str> for Arg {
    fn from(name: &str) -> Self {
        arg(name)
    }
}

impl From<String> for Arg {
    fn from(name: String) -> Self {
        arg(name)
    }
}

impl From<&String> for Arg {
    fn from(name: &String) -> Self {
        arg(name.clone())
    }
}

/// Dependencies between tasks, written as the pipeline reads.
///
/// `a >> b` runs `b` after `a`; a list runs its items side by side, so `a >> [b, c]` fans out and
/// `[b, c] >> d` fans in. Start a flow with [`flow`]; after the first `>>`, plain ids and arrays of
/// ids work.
///
/// ```
/// use airflow_sdk::{flow, Flow};
///
/// let f: Flow = flow("extract") >> ["clean_a", "clean_b"] >> "load";
/// assert_eq!(
///     f.edges(),
///     [
///         ("extract".into(), "clean_a".into()),
///         ("extract".into(), "clean_b".into()),
///         ("clean_a".into(), "load".into()),
///         ("clean_b".into(), "load".into()),
///     ]
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Flow {
    /// The tasks an upstream flow leads into.
    heads: Vec<String>,
    /// The tasks a downstream flow follows.
    tails: Vec<String>,
    pub(crate) edges: Vec<(String, String)>,
}

/// Starts a [`Flow`] at one task (`flow("a")`) or at tasks side by side (`flow(["a", "b"])`).
pub fn flow(start: impl Into<Flow>) -> Flow {
    start.into()
}

impl Flow {
    /// The dependencies, `(upstream, downstream)`, in the order written.
    pub fn edges(&self) -> &[(String, String)] {
        &self.edges
    }

    fn single(id: String) -> Flow {
        Flow {
            heads: vec![id.clone()],
            tails: vec![id],
            edges: Vec::new(),
        }
    }
}

impl From<&str> for Flow {
    fn from(id: &str) -> Self {
        Flow::single(id.to_owned())
    }
}

impl From<String> for Flow {
    fn from(id: String) -> Self {
        Flow::single(id)
    }
}

impl<T: Into<Flow>, const N: usize> From<[T; N]> for Flow {
    fn from(items: [T; N]) -> Self {
        Flow::from_iter(items)
    }
}

impl<T: Into<Flow>> From<Vec<T>> for Flow {
    fn from(items: Vec<T>) -> Self {
        Flow::from_iter(items)
    }
}

impl<T: Into<Flow>> FromIterator<T> for Flow {
    /// The flows side by side.
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut out = Flow::default();
        for f in items {
            let f = f.into();
            out.heads.extend(f.heads);
            out.tails.extend(f.tails);
            out.edges.extend(f.edges);
        }
        out
    }
}

impl<R: Into<Flow>> Shr<R> for Flow {
    type Output = Flow;

    /// Runs `next` after `self`: every last task of `self` before every first task of `next`.
    fn shr(mut self, next: R) -> Flow {
        let next = next.into();
        for up in &self.tails {
            for down in &next.heads {
                self.edges.push((up.clone(), down.clone()));
            }
        }
        self.edges.extend(next.edges);
        Flow {
            heads: self.heads,
            tails: next.tails,
            edges: self.edges,
        }
    }
}

/// A date or date-time the declarations accept, kept in UTC to the second.
pub trait IntoUtc {
    /// `YYYY-MM-DDTHH:MM:SSZ`, or why the value is not a date.
    fn into_utc(self) -> Result<String, String>;
}

fn format_utc(t: OffsetDateTime) -> Result<String, String> {
    let t = t
        .to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .expect("0 is valid");
    let s = t.format(&Rfc3339).map_err(|e| e.to_string())?;
    // `time` writes `Z` for UTC; the check keeps the one form the packer and stubs read.
    if airflow_bundle::declare::parse_utc(&s).is_some() {
        Ok(s)
    } else {
        Err(format!("{s} is outside the years 0000 to 9999"))
    }
}

impl IntoUtc for OffsetDateTime {
    fn into_utc(self) -> Result<String, String> {
        format_utc(self)
    }
}

impl IntoUtc for Date {
    fn into_utc(self) -> Result<String, String> {
        format_utc(self.midnight().assume_utc())
    }
}

impl IntoUtc for &str {
    fn into_utc(self) -> Result<String, String> {
        let t = self.trim();
        if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
            return format_utc(dt);
        }
        // A bare date is midnight UTC.
        match OffsetDateTime::parse(&format!("{t}T00:00:00Z"), &Rfc3339) {
            Ok(dt) if t.len() == 10 => format_utc(dt),
            _ => Err(format!(
                "{self:?} is neither a date (2026-01-01) nor an RFC 3339 date-time with an \
                 offset (2026-01-01T06:00:00Z)"
            )),
        }
    }
}

impl IntoUtc for String {
    fn into_utc(self) -> Result<String, String> {
        self.as_str().into_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(f: &Flow) -> Vec<(&str, &str)> {
        f.edges
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect()
    }

    #[test]
    fn flows_chain_fan_out_and_fan_in() {
        let f = flow("a") >> "b" >> "c";
        assert_eq!(pairs(&f), [("a", "b"), ("b", "c")]);
        let f = flow(["a", "b"]) >> "c" >> ["d", "e"];
        assert_eq!(pairs(&f), [("a", "c"), ("b", "c"), ("c", "d"), ("c", "e")]);
        // A nested flow joins at its first tasks and continues from its last ones.
        let f = flow("a") >> (flow("b") >> "c") >> "d";
        assert_eq!(pairs(&f), [("a", "b"), ("b", "c"), ("c", "d")]);
    }

    #[test]
    fn dates_are_kept_in_utc() {
        assert_eq!("2026-01-01".into_utc().unwrap(), "2026-01-01T00:00:00Z");
        assert_eq!(
            "2026-01-01T06:00:00.5+02:00".into_utc().unwrap(),
            "2026-01-01T04:00:00Z"
        );
        let err = "01/02/2026".into_utc().unwrap_err();
        assert!(err.contains("\"01/02/2026\""), "{err}");
        assert!("2026-02-30".into_utc().is_err());
    }
}
