//! Asset aliases: a task declares an alias as its outlet and decides at run time which asset
//! the event is for (Python's `outlet_events[AssetAlias("x")].add(Asset(...))`). Dags scheduled
//! on the alias run when an event goes through it; other tasks read the events by alias and the
//! assets the alias resolved to.

use super::{Asset, AssetEvent, AssetInfo, RequestError, TaskContext, unexpected};
use crate::runtime::messages::{
    AssetProfile, GetAssetEventByAssetAlias, GetAssetsByAlias, Reply, ToSupervisor, ToTask,
};

/// An asset alias, by name (as a Python dag declares `AssetAlias("name")`); the same type a
/// native task declares as an outlet.
pub use airflow_bundle::declare::AssetAlias;

/// One event emitted through an alias, kept until the task's success is reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AliasEmission {
    pub(crate) alias: AssetAlias,
    pub(crate) asset: Asset,
    pub(crate) extra: serde_json::Value,
}

/// # Asset aliases
impl TaskContext {
    /// Records an event of `asset` emitted through `alias`, with `extra` (a JSON object; `Null`
    /// for none). Sent with the task's success, as Python sends
    /// `outlet_events[AssetAlias(alias)].add(asset, extra=...)`: Airflow records the event, links
    /// it to the alias, creates the asset if it does not exist yet, and runs the dags scheduled
    /// on the alias or the asset. Nothing is recorded when the task does not succeed. The alias
    /// should be declared as an outlet of the task in its dag (`outlets=[AssetAlias("...")]`),
    /// so that Airflow knows it before the first event.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) {
    /// use airflow_sdk::{Asset, AssetAlias};
    /// // Which partition was written is known only now.
    /// let day = "2026-12-06";
    /// ctx.emit_asset_via_alias(
    ///     &AssetAlias::new("daily_partitions"),
    ///     &Asset::new(&format!("sales_{day}"), &format!("s3://bucket/sales/{day}")),
    ///     serde_json::json!({"rows": 42}),
    /// );
    /// # }
    /// ```
    pub fn emit_asset_via_alias(
        &self,
        alias: &AssetAlias,
        asset: &Asset,
        extra: serde_json::Value,
    ) {
        self.alias_emitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(AliasEmission {
                alias: alias.clone(),
                asset: asset.clone(),
                extra,
            });
    }

    /// Adds the aliases emitted through to the success message's `task_outlets` (the API
    /// server registers an alias event only for an alias among them) and their events to its
    /// `outlet_events`, in Python's shape.
    pub(crate) fn alias_outlets(
        &self,
        profiles: &mut Vec<AssetProfile>,
        events: &mut Vec<serde_json::Value>,
    ) {
        let emitted = self.alias_emitted.lock().unwrap_or_else(|p| p.into_inner());
        for e in emitted.iter() {
            if !profiles
                .iter()
                .any(|p| p.kind == "AssetAlias" && p.name == e.alias.name)
            {
                profiles.push(AssetProfile {
                    name: e.alias.name.clone(),
                    uri: None,
                    kind: "AssetAlias",
                });
            }
            let extra = if e.extra.is_null() {
                serde_json::json!({})
            } else {
                e.extra.clone()
            };
            let asset = airflow_bundle::declare::normalize_asset(&e.asset)
                .unwrap_or_else(|_| e.asset.clone());
            events.push(serde_json::json!({
                "source_alias_name": e.alias.name,
                "dest_asset_key": {"name": asset.name, "uri": asset.uri},
                "dest_asset_extra": {},
                "extra": extra,
            }));
        }
    }

    /// The events emitted through `alias`, oldest first, at most `limit` (all when `None`).
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
    /// use airflow_sdk::AssetAlias;
    /// let alias = AssetAlias::new("daily_partitions");
    /// for event in ctx.asset_events_by_alias(&alias, Some(10))? {
    ///     airflow_sdk::log::info!("{} got {}", event.asset.name, event.extra);
    /// }
    /// let partitions = ctx.assets_by_alias(&alias)?; // every asset it resolved to
    /// # Ok(()) }
    /// ```
    pub fn asset_events_by_alias(
        &self,
        alias: &AssetAlias,
        limit: Option<u32>,
    ) -> Result<Vec<AssetEvent>, RequestError> {
        let what = format!("GetAssetEventByAssetAlias {:?}", alias.name);
        let message = ToSupervisor::GetAssetEventByAssetAlias(GetAssetEventByAssetAlias {
            alias_name: alias.name.clone(),
            after: None,
            before: None,
            limit: limit.map(i64::from),
            ascending: true,
        });
        self.events(&what, message)
    }

    /// The assets `alias` resolved to (every asset an event went to through it); empty for an
    /// alias without events or unknown to Airflow.
    pub fn assets_by_alias(&self, alias: &AssetAlias) -> Result<Vec<AssetInfo>, RequestError> {
        let what = format!("GetAssetsByAlias {:?}", alias.name);
        let message = ToSupervisor::GetAssetsByAlias(GetAssetsByAlias {
            alias_name: alias.name.clone(),
        });
        match self.request(&what, message)? {
            Reply::Body(ToTask::AssetsByAliasResult(r)) => {
                Ok(r.assets.into_iter().map(AssetInfo::from).collect())
            }
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(Vec::new()),
            other => Err(unexpected(&what, other)),
        }
    }
}
