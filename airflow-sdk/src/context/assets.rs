//! Assets: the ones a task produces (sent with its success) and the ones it reads, with
//! their events.

use airflow_bundle::declare::{AssetOrAlias, normalize_asset};
use time::OffsetDateTime;

use super::{RequestError, TaskContext, unexpected};
use crate::runtime::messages::{
    AssetEventRecord, AssetProfile, AssetResult, GetAssetByName, GetAssetByUri,
    GetAssetEventByAsset, Reply, ToSupervisor, ToTask,
};

/// An asset, named by its name and URI (as a Python dag declares `Asset(name, uri=...)`); the
/// same type a native task declares as an inlet or outlet and a native dag is scheduled on.
pub use airflow_bundle::declare::Asset;

/// An asset as Airflow knows it ([`TaskContext::asset_by_name`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AssetInfo {
    /// The name.
    pub name: String,
    /// The URI.
    pub uri: String,
    /// The group (`asset` by default).
    pub group: String,
    /// The asset's `extra`.
    pub extra: serde_json::Value,
}

impl From<AssetResult> for AssetInfo {
    fn from(r: AssetResult) -> Self {
        AssetInfo {
            name: r.name,
            uri: r.uri,
            group: r.group,
            extra: r.extra.0,
        }
    }
}

/// One event of an asset ([`TaskContext::asset_events`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AssetEvent {
    /// The event id.
    pub id: i64,
    /// When it happened.
    pub timestamp: OffsetDateTime,
    /// The event's `extra`.
    pub extra: serde_json::Value,
    /// The asset.
    pub asset: AssetInfo,
    /// The dag of the task that emitted it, if a task did.
    pub source_dag_id: Option<String>,
    /// Its run.
    pub source_run_id: Option<String>,
    /// Its task.
    pub source_task_id: Option<String>,
    /// Its map index.
    pub source_map_index: Option<i64>,
}

impl From<AssetEventRecord> for AssetEvent {
    fn from(r: AssetEventRecord) -> Self {
        AssetEvent {
            id: r.id,
            timestamp: r.timestamp.0,
            extra: r.extra.0,
            asset: r.asset.into(),
            source_dag_id: r.source_dag_id,
            source_run_id: r.source_run_id,
            source_task_id: r.source_task_id,
            source_map_index: r.source_map_index,
        }
    }
}

/// # Assets
impl TaskContext {
    /// Records that this task produced `asset`, with `extra` for the asset event (`Null` for
    /// none). Sent with the task's success: Airflow then records an asset event and runs the
    /// dags scheduled on the asset. Nothing is recorded when the task does not succeed. The
    /// asset must be known to Airflow (declared by some dag).
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) {
    /// use airflow_sdk::Asset;
    /// ctx.emit_asset(&Asset::new("daily_sales", "s3://bucket/sales"), serde_json::json!({"rows": 42}));
    /// # }
    /// ```
    pub fn emit_asset(&self, asset: &Asset, extra: serde_json::Value) {
        self.emitted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((asset.clone(), extra));
    }

    /// The `task_outlets` and `outlet_events` of the success message.
    pub(crate) fn outlets(&self) -> (Vec<AssetProfile>, Vec<serde_json::Value>, Option<String>) {
        let emitted = self.emitted.lock().unwrap_or_else(|p| p.into_inner());
        // The declared outlets first, as Python's task runner sends the task's `outlets`: the
        // API server records an event for each asset among them.
        let mut profiles: Vec<AssetProfile> = self
            .declared_outlets
            .iter()
            .map(|o| match o {
                AssetOrAlias::Asset(a) => AssetProfile {
                    name: a.name.clone(),
                    uri: Some(a.uri.clone()),
                    kind: "Asset",
                },
                AssetOrAlias::Alias(a) => AssetProfile {
                    name: a.name.clone(),
                    uri: None,
                    kind: "AssetAlias",
                },
            })
            .collect();
        let mut events = Vec::new();
        for (asset, extra) in emitted.iter() {
            // Keyed as Airflow stores the asset, so an event's extra meets its declared outlet.
            let asset = &normalize_asset(asset).unwrap_or_else(|_| asset.clone());
            if !profiles
                .iter()
                .any(|p| p.name == asset.name && p.uri.as_deref() == Some(&asset.uri))
            {
                profiles.push(AssetProfile {
                    name: asset.name.clone(),
                    uri: Some(asset.uri.clone()),
                    kind: "Asset",
                });
            }
            if !extra.is_null() {
                events.push(serde_json::json!({
                    "dest_asset_key": {"name": asset.name, "uri": asset.uri},
                    "extra": extra,
                }));
            }
        }
        drop(emitted);
        self.alias_outlets(&mut profiles, &mut events);
        let label = self
            .rendered_map_index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (profiles, events, label)
    }

    /// The asset named `name`; `Ok(None)` when Airflow has none.
    pub fn asset_by_name(&self, name: &str) -> Result<Option<AssetInfo>, RequestError> {
        let what = format!("GetAssetByName {name:?}");
        let message = ToSupervisor::GetAssetByName(GetAssetByName {
            name: name.to_owned(),
        });
        self.asset(&what, message)
    }

    /// The asset at `uri`; `Ok(None)` when Airflow has none.
    pub fn asset_by_uri(&self, uri: &str) -> Result<Option<AssetInfo>, RequestError> {
        let what = format!("GetAssetByUri {uri:?}");
        let message = ToSupervisor::GetAssetByUri(GetAssetByUri {
            uri: uri.to_owned(),
        });
        self.asset(&what, message)
    }

    fn asset(&self, what: &str, message: ToSupervisor) -> Result<Option<AssetInfo>, RequestError> {
        match self.request(what, message)? {
            Reply::Body(ToTask::AssetResult(r)) => Ok(Some(r.into())),
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(None),
            other => Err(unexpected(what, other)),
        }
    }

    /// The events of `asset`, oldest first, at most `limit` (all when `None`).
    pub fn asset_events(
        &self,
        asset: &Asset,
        limit: Option<u32>,
    ) -> Result<Vec<AssetEvent>, RequestError> {
        let what = format!("GetAssetEventByAsset {:?}", asset.name);
        let message = ToSupervisor::GetAssetEventByAsset(GetAssetEventByAsset {
            name: Some(asset.name.clone()),
            uri: Some(asset.uri.clone()),
            after: None,
            before: None,
            limit: limit.map(i64::from),
            ascending: true,
        });
        self.events(&what, message)
    }

    /// Sends an asset-events query; an unknown asset or alias has no events.
    pub(super) fn events(
        &self,
        what: &str,
        message: ToSupervisor,
    ) -> Result<Vec<AssetEvent>, RequestError> {
        match self.request(what, message)? {
            Reply::Body(ToTask::AssetEventsResult(r)) => {
                Ok(r.asset_events.into_iter().map(AssetEvent::from).collect())
            }
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(Vec::new()),
            other => Err(unexpected(what, other)),
        }
    }
}
