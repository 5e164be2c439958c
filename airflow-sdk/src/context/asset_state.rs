//! The asset state store: small JSON values Airflow keeps per asset (not per task instance),
//! shared by every task and watcher that reads or writes that asset. A task that consumes an
//! asset incrementally records there how far it got (a watermark, an offset, a file list), and
//! the next run of any dag picks up from it.
//!
//! The messages are `Get/Set/Delete/ClearAssetStateStoreByName` and `...ByUri`; they have the
//! same shape in both supervisor schema versions this SDK speaks (2026-06-16 and 2026-10-30).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{RequestError, TaskContext, expect_ok, unexpected};
use crate::runtime::messages::{
    AssetStateKeyByName, AssetStateKeyByUri, GetAssetByName, GetAssetByUri, Reply,
    SetAssetStateStoreByName, SetAssetStateStoreByUri, ToSupervisor, ToTask,
};

/// How the store names its asset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Name(String),
    Uri(String),
}

/// The state store of one asset, named by its name ([`TaskContext::asset_state_by_name`]) or its
/// URI ([`TaskContext::asset_state_by_uri`]). The asset must be known to Airflow (declared by
/// some dag, or created by an event): writing to an unknown asset fails with
/// [`RequestError::ApiServer`] (HTTP 404), and reading from one finds nothing.
///
/// Values are any `serde` type that maps to JSON, except `null` (Airflow refuses it; use
/// [`delete`](Self::delete)).
///
/// ```no_run
/// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), airflow_sdk::RequestError> {
/// // Read the files of `raw_orders` added since the last run, then move the watermark.
/// let store = ctx.asset_state_by_name("raw_orders");
/// let since: String = store.get("watermark")?.unwrap_or_else(|| "1970-01-01".into());
/// // ... process what arrived after `since` ...
/// store.set("watermark", "2026-12-06")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AssetStateStore<'a> {
    ctx: &'a TaskContext,
    target: Target,
}

/// # The asset state store
impl TaskContext {
    /// The state store of the asset named `name`.
    pub fn asset_state_by_name(&self, name: &str) -> AssetStateStore<'_> {
        AssetStateStore {
            ctx: self,
            target: Target::Name(name.to_owned()),
        }
    }

    /// The state store of the asset at `uri`.
    pub fn asset_state_by_uri(&self, uri: &str) -> AssetStateStore<'_> {
        AssetStateStore {
            ctx: self,
            target: Target::Uri(uri.to_owned()),
        }
    }
}

impl AssetStateStore<'_> {
    /// The value under `key`; `Ok(None)` when there is none (or the asset is unknown: Airflow
    /// answers both the same way).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, RequestError> {
        let (what, message) = match &self.target {
            Target::Name(name) => (
                format!("GetAssetStateStoreByName {name:?} {key:?}"),
                ToSupervisor::GetAssetStateStoreByName(AssetStateKeyByName {
                    name: name.clone(),
                    key: key.to_owned(),
                }),
            ),
            Target::Uri(uri) => (
                format!("GetAssetStateStoreByUri {uri:?} {key:?}"),
                ToSupervisor::GetAssetStateStoreByUri(AssetStateKeyByUri {
                    uri: uri.clone(),
                    key: key.to_owned(),
                }),
            ),
        };
        match self.ctx.request(&what, message)? {
            Reply::Body(ToTask::AssetStateStoreResult(r)) if r.value.0.is_null() => Ok(None),
            Reply::Body(ToTask::AssetStateStoreResult(r)) => serde_json::from_value(r.value.0)
                .map(Some)
                .map_err(|e| RequestError::Value {
                    what,
                    problem: format!("the value has another type: {e}"),
                }),
            Reply::ErrorBody(e) if e.error.ends_with("NOT_FOUND") => Ok(None),
            other => Err(unexpected(&what, other)),
        }
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), RequestError> {
        let what = match &self.target {
            Target::Name(name) => format!("SetAssetStateStoreByName {name:?} {key:?}"),
            Target::Uri(uri) => format!("SetAssetStateStoreByUri {uri:?} {key:?}"),
        };
        let value = serde_json::to_value(value).map_err(|e| RequestError::Value {
            what: what.clone(),
            problem: format!("the value cannot be serialized: {e}"),
        })?;
        // Refused here rather than by the API server, whose 422 would not say why.
        if value.is_null() {
            return Err(RequestError::Value {
                what,
                problem: "Airflow does not store a null value; delete the key instead".into(),
            });
        }
        let message = match &self.target {
            Target::Name(name) => {
                ToSupervisor::SetAssetStateStoreByName(SetAssetStateStoreByName {
                    name: name.clone(),
                    key: key.to_owned(),
                    value,
                })
            }
            Target::Uri(uri) => ToSupervisor::SetAssetStateStoreByUri(SetAssetStateStoreByUri {
                uri: uri.clone(),
                key: key.to_owned(),
                value,
            }),
        };
        expect_ok(self.ctx, &what, message)
    }

    /// Deletes `key` (no error when it is not there).
    pub fn delete(&self, key: &str) -> Result<(), RequestError> {
        let (what, message) = match &self.target {
            Target::Name(name) => (
                format!("DeleteAssetStateStoreByName {name:?} {key:?}"),
                ToSupervisor::DeleteAssetStateStoreByName(AssetStateKeyByName {
                    name: name.clone(),
                    key: key.to_owned(),
                }),
            ),
            Target::Uri(uri) => (
                format!("DeleteAssetStateStoreByUri {uri:?} {key:?}"),
                ToSupervisor::DeleteAssetStateStoreByUri(AssetStateKeyByUri {
                    uri: uri.clone(),
                    key: key.to_owned(),
                }),
            ),
        };
        expect_ok(self.ctx, &what, message)
    }

    /// Deletes every key of the asset.
    pub fn clear(&self) -> Result<(), RequestError> {
        let (what, message) = match &self.target {
            Target::Name(name) => (
                format!("ClearAssetStateStoreByName {name:?}"),
                ToSupervisor::ClearAssetStateStoreByName(GetAssetByName { name: name.clone() }),
            ),
            Target::Uri(uri) => (
                format!("ClearAssetStateStoreByUri {uri:?}"),
                ToSupervisor::ClearAssetStateStoreByUri(GetAssetByUri { uri: uri.clone() }),
            ),
        };
        expect_ok(self.ctx, &what, message)
    }
}
