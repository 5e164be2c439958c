//! Object storage configured from an Airflow Connection (cargo feature `object-store`): the
//! connection types Airflow's own hooks and `ObjectStoragePath` file systems read, mapped onto
//! the builders of Apache Arrow's [`object_store`] crate, so that one connection serves a Python
//! task and a Rust task alike.
//!
//! | `conn_type` | store | fields read |
//! |---|---|---|
//! | `aws` | S3 (and S3-compatible servers) | login/password = access key id/secret (else extra `aws_access_key_id`/`aws_secret_access_key`), extra `aws_session_token`, `region_name`, `endpoint_url` (or `service_config.s3.endpoint_url`), `service_config.s3.bucket_name` (the default bucket), `verify: false`, `config_kwargs.signature_version: "unsigned"` |
//! | `google_cloud_platform` | Google Cloud Storage | extra `key_path` or `keyfile_dict` (a service-account key file or its JSON), `is_anonymous`, `gcs.endpoint` |
//! | `wasb` | Azure Blob Storage | the account from extra `account_name`, else the host's first label (`<account>.blob.core.windows.net`), else login; password (or extra `account_key`) = account key; extra `tenant_id` with login/password = a service principal; `sas_token`; `managed_identity_client_id`; `anon` |
//! | `fs` | the local file system | extra `path`: the directory the store is rooted at (as `FSHook`) |
//!
//! Extras may also carry the `extra__<conn_type>__<name>` prefix of older connection forms (the
//! short name wins, as in the providers). What the connection leaves out of a cloud store's
//! credentials and region comes from the environment as `object_store`'s `from_env` reads it
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`: web identity, container and instance credentials), as boto3,
//! google-auth and azure-identity read theirs. A field this mapping cannot honour (an assumed
//! role, an AWS profile, a key kept in a secret manager, an Azure connection string, ...) is a
//! [`StorageError`] naming the connection and the field, never silently ignored.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures_util::TryStreamExt;
use object_store::ClientConfigKey;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::Value;

use crate::connection::Connection;
use crate::context::{RequestError, TaskContext};

/// Why an object store could not be made from a connection, or a blocking call on it failed.
/// Every variant about a connection names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No connection of that id exists (neither `AIRFLOW_CONN_<ID>` nor in Airflow).
    #[error("there is no connection {conn_id:?}")]
    NotFound {
        /// The connection id.
        conn_id: String,
    },
    /// Reading the connection from Airflow failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The connection's type is none of the object stores.
    #[error(
        "connection {conn_id:?} has type {conn_type:?}, which is no object store: use `aws` (S3), \
         `google_cloud_platform` (GCS), `wasb` (Azure Blob Storage) or `fs` (local files)"
    )]
    UnsupportedType {
        /// The connection id.
        conn_id: String,
        /// Its type.
        conn_type: String,
    },
    /// Something the store needs is in neither the connection nor the call.
    #[error("connection {conn_id:?} ({conn_type}) needs {what}")]
    Missing {
        /// The connection id.
        conn_id: String,
        /// Its type.
        conn_type: String,
        /// What is missing and where it may be given.
        what: &'static str,
    },
    /// The connection sets a field the object store cannot honour.
    #[error("connection {conn_id:?} ({conn_type}) sets {field}, which is not supported: {why}")]
    Unsupported {
        /// The connection id.
        conn_id: String,
        /// Its type.
        conn_type: String,
        /// The field (`extra.role_arn`, ...).
        field: String,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// A field (or the call's bucket) has a value the store cannot use.
    #[error("connection {conn_id:?} ({conn_type}): {field} {problem}")]
    Invalid {
        /// The connection id.
        conn_id: String,
        /// Its type.
        conn_type: String,
        /// The field (`extra`, `extra.keyfile_dict`, the `bucket` argument, ...).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `object_store` refused the configuration (a missing local directory, a malformed key,
    /// ...).
    #[error("connection {conn_id:?}: the object store could not be built: {source}")]
    Build {
        /// The connection id.
        conn_id: String,
        /// `object_store`'s error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// An object path is not valid (empty segments, `.` or `..`, ...).
    #[error("{path:?} is not a valid object path: {source}")]
    Path {
        /// The path as given.
        path: String,
        /// Why.
        #[source]
        source: Box<object_store::path::Error>,
    },
    /// A blocking call on the store failed.
    #[error("{op} {path:?} in connection {conn_id:?}: {source}")]
    Store {
        /// `read`, `write`, `list` or `delete`.
        op: &'static str,
        /// The object path (the prefix, for `list`).
        path: String,
        /// The connection id.
        conn_id: String,
        /// `object_store`'s error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// A blocking method was called inside an async runtime (an async task): `.await` the
    /// store's own methods there ([`ObjectStorage::store`]).
    #[error(
        "the blocking ObjectStorage methods are for sync tasks: in an async task, `.await` the \
         methods of ObjectStorage::store()"
    )]
    InAsyncTask,
    /// The runtime the blocking methods run on could not be started.
    #[error("could not start the runtime of a blocking object-store call: {0}")]
    Runtime(#[source] std::io::Error),
}

/// An object store made from an Airflow Connection: [`store`](ObjectStorage::store) for async
/// tasks (every `object_store` operation, `.await`ed on the task's runtime), and for sync tasks
/// blocking [`read`](ObjectStorage::read), [`write`](ObjectStorage::write),
/// [`list`](ObjectStorage::list) and [`delete`](ObjectStorage::delete), run on a runtime of
/// their own started at the first call.
///
/// Object paths are `/`-separated, relative to the bucket (or the `fs` connection's directory).
pub struct ObjectStorage {
    conn_id: String,
    store: Arc<dyn ObjectStore>,
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("conn_id", &self.conn_id)
            .field("store", &self.store.to_string())
            .finish()
    }
}

/// # Object storage (feature `object-store`)
impl TaskContext {
    /// The object store the connection `conn_id` names (see [`ObjectStorage::from_connection`]),
    /// read as [`connection`](TaskContext::connection) reads it.
    ///
    /// ```no_run
    /// # fn f(ctx: &airflow_sdk::TaskContext) -> Result<(), Box<dyn std::error::Error>> {
    /// let lake = ctx.object_storage("lake", Some("my-bucket"))?;
    /// lake.write("reports/today.csv", "a,b\n1,2\n")?;
    /// let back = lake.read("reports/today.csv")?;
    /// # Ok(()) }
    /// ```
    pub fn object_storage(
        &self,
        conn_id: &str,
        bucket: Option<&str>,
    ) -> Result<ObjectStorage, StorageError> {
        let conn = self
            .connection(conn_id)?
            .ok_or_else(|| StorageError::NotFound {
                conn_id: conn_id.to_owned(),
            })?;
        ObjectStorage::from_connection(&conn, bucket)
    }
}

impl ObjectStorage {
    /// Makes the store a connection names (the mapping is in the [module docs](self)).
    /// `bucket` is the S3 or GCS bucket, or the Azure container; an `aws` connection may name a
    /// default one in `extra.service_config.s3.bucket_name`; an `fs` connection takes none.
    pub fn from_connection(
        conn: &Connection,
        bucket: Option<&str>,
    ) -> Result<ObjectStorage, StorageError> {
        let conn_id = conn.conn_id.clone();
        let built = |source| StorageError::Build {
            conn_id: conn_id.clone(),
            source: Box::new(source),
        };
        let configured = configure(conn, bucket)?;
        if !matches!(configured, Configured::Local(_)) {
            // reqwest's rustls has no provider of its own (`rustls-no-provider`): ring. An
            // already installed one (the bundle's own) is kept. rustls 0.23.48 deprecates ring's
            // provider for lacking post-quantum key exchange; aws-lc-rs has it, at a second C
            // crypto library to build (see Cargo.toml).
            #[allow(deprecated)]
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let store: Arc<dyn ObjectStore> = match configured {
            Configured::S3(b) => Arc::new(b.build().map_err(built)?),
            Configured::Gcs(b) => Arc::new(b.build().map_err(built)?),
            Configured::Azure(b) => Arc::new(b.build().map_err(built)?),
            Configured::Local(dir) => {
                Arc::new(LocalFileSystem::new_with_prefix(dir).map_err(built)?)
            }
        };
        Ok(ObjectStorage {
            conn_id,
            store,
            runtime: OnceLock::new(),
        })
    }

    /// The store, for every `object_store` operation (async: `.await` them in an async task).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The id of the connection the store was made from.
    pub fn conn_id(&self) -> &str {
        &self.conn_id
    }

    /// Reads the whole object at `path` (blocking; sync tasks only).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        let location = parse(path)?;
        self.block_on("read", path, async {
            self.store.get(&location).await?.bytes().await
        })
        .map(Vec::from)
    }

    /// Writes `data` as the object at `path`, replacing it (blocking; sync tasks only).
    pub fn write(&self, path: &str, data: impl Into<PutPayload>) -> Result<(), StorageError> {
        let location = parse(path)?;
        let data = data.into();
        self.block_on("write", path, async {
            self.store.put(&location, data).await.map(drop)
        })
    }

    /// Every object under `prefix` (all of them for `None`), at any depth (blocking; sync
    /// tasks only).
    pub fn list(&self, prefix: Option<&str>) -> Result<Vec<ObjectMeta>, StorageError> {
        let location = prefix.map(parse).transpose()?;
        self.block_on("list", prefix.unwrap_or(""), async {
            self.store.list(location.as_ref()).try_collect().await
        })
    }

    /// Deletes the object at `path` (blocking; sync tasks only).
    pub fn delete(&self, path: &str) -> Result<(), StorageError> {
        let location = parse(path)?;
        self.block_on("delete", path, async { self.store.delete(&location).await })
    }

    fn block_on<T>(
        &self,
        op: &'static str,
        path: &str,
        f: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, StorageError> {
        // Starting a runtime inside one panics: say what to do instead.
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StorageError::InAsyncTask);
        }
        let runtime = match self.runtime.get() {
            Some(rt) => rt,
            None => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(StorageError::Runtime)?;
                self.runtime.get_or_init(|| rt)
            }
        };
        runtime.block_on(f).map_err(|source| StorageError::Store {
            op,
            path: path.to_owned(),
            conn_id: self.conn_id.clone(),
            source: Box::new(source),
        })
    }
}

fn parse(path: &str) -> Result<Path, StorageError> {
    Path::parse(path).map_err(|source| StorageError::Path {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// A store's builder, configured from a connection and not built yet (what the tests look at).
#[derive(Debug)]
enum Configured {
    S3(AmazonS3Builder),
    Gcs(GoogleCloudStorageBuilder),
    Azure(MicrosoftAzureBuilder),
    Local(String),
}

/// Reads one connection's fields, with its id and type for the errors.
struct Fields<'a> {
    conn: &'a Connection,
    extra: serde_json::Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(conn: &'a Connection) -> Result<Fields<'a>, StorageError> {
        let extra = match &conn.extra {
            Value::Null => serde_json::Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                return Err(Fields::invalid_of(
                    conn,
                    "extra",
                    format!("is {other}, not a JSON object"),
                ));
            }
        };
        Ok(Fields { conn, extra })
    }

    fn invalid_of(conn: &Connection, field: &str, problem: String) -> StorageError {
        StorageError::Invalid {
            conn_id: conn.conn_id.clone(),
            conn_type: conn.conn_type.clone(),
            field: field.to_owned(),
            problem,
        }
    }

    fn invalid(&self, field: &str, problem: impl Into<String>) -> StorageError {
        Fields::invalid_of(self.conn, field, problem.into())
    }

    fn missing(&self, what: &'static str) -> StorageError {
        StorageError::Missing {
            conn_id: self.conn.conn_id.clone(),
            conn_type: self.conn.conn_type.clone(),
            what,
        }
    }

    /// An error when any of `fields` is set in the extra.
    fn reject(&self, fields: &[(&str, &'static str)]) -> Result<(), StorageError> {
        for (name, why) in fields {
            if self.get(name).is_some() {
                return Err(StorageError::Unsupported {
                    conn_id: self.conn.conn_id.clone(),
                    conn_type: self.conn.conn_type.clone(),
                    field: format!("extra.{name}"),
                    why,
                });
            }
        }
        Ok(())
    }

    /// An extra field as the providers' `get_field` reads it: the short name, else
    /// `extra__<conn_type>__<name>`; null and `""` are unset.
    fn get(&self, name: &str) -> Option<&Value> {
        let set = |v: &&Value| !v.is_null() && v.as_str() != Some("");
        self.extra.get(name).filter(set).or_else(|| {
            self.extra
                .get(&format!("extra__{}__{name}", self.conn.conn_type))
                .filter(set)
        })
    }

    /// A string extra field.
    fn string(&self, name: &str) -> Result<Option<String>, StorageError> {
        self.get(name)
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(self.invalid(
                    &format!("extra.{name}"),
                    format!("is {other}, not a string"),
                )),
            })
            .transpose()
    }

    /// A boolean extra field (`true`, or the strings `"true"`/`"false"` of form fields).
    fn flag(&self, name: &str) -> Result<bool, StorageError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(self.invalid(
                &format!("extra.{name}"),
                format!("is {other}, not a boolean"),
            )),
        }
    }

    /// login and password, when both are set.
    fn login_password(&self) -> Option<(&str, &str)> {
        fn nonempty(s: &Option<String>) -> Option<&str> {
            s.as_deref().filter(|s| !s.is_empty())
        }
        Some((nonempty(&self.conn.login)?, nonempty(&self.conn.password)?))
    }
}

fn configure(conn: &Connection, bucket: Option<&str>) -> Result<Configured, StorageError> {
    let f = Fields::new(conn)?;
    match conn.conn_type.as_str() {
        "aws" => aws(&f, bucket).map(Configured::S3),
        "google_cloud_platform" => gcs(&f, bucket).map(Configured::Gcs),
        "wasb" => azure(&f, bucket).map(Configured::Azure),
        "fs" => {
            if let Some(b) = bucket {
                return Err(f.invalid(
                    "the bucket argument",
                    format!("is {b:?}: an `fs` connection is one directory (extra.path) and takes no bucket"),
                ));
            }
            let dir = f
                .string("path")?
                .ok_or_else(|| f.missing("extra.path (the directory)"))?;
            Ok(Configured::Local(dir))
        }
        _ => Err(StorageError::UnsupportedType {
            conn_id: conn.conn_id.clone(),
            conn_type: conn.conn_type.clone(),
        }),
    }
}

/// As the Amazon provider's `AwsConnectionWrapper` reads an `aws` connection.
fn aws(f: &Fields<'_>, bucket: Option<&str>) -> Result<AmazonS3Builder, StorageError> {
    f.reject(&[
        ("role_arn", "assuming a role: give the role's credentials (login/password and extra.aws_session_token), or let the environment supply them (AWS_* variables, web identity, instance metadata)"),
        ("profile_name", "shared-credentials profiles are not read: give the keys as login/password"),
    ])?;
    let s3 = f.extra.get("service_config").and_then(|c| c.get("s3"));
    let s3_string = |key: &str| -> Result<Option<String>, StorageError> {
        match s3.and_then(|s| s.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(f.invalid(
                &format!("extra.service_config.s3.{key}"),
                format!("is {other}, not a string"),
            )),
        }
    };
    let bucket = match bucket {
        Some(b) => b.to_owned(),
        None => s3_string("bucket_name")?.ok_or_else(|| {
            f.missing("a bucket (the bucket argument, or extra.service_config.s3.bucket_name)")
        })?,
    };
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some((key_id, secret)) = f.login_password() {
        b = b.with_access_key_id(key_id).with_secret_access_key(secret);
    } else if let (Some(key_id), Some(secret)) = (
        f.string("aws_access_key_id")?,
        f.string("aws_secret_access_key")?,
    ) {
        b = b.with_access_key_id(key_id).with_secret_access_key(secret);
    }
    if let Some(token) = f.string("aws_session_token")? {
        b = b.with_token(token);
    }
    if let Some(region) = f.string("region_name")? {
        b = b.with_region(region);
    }
    // The S3 service's own endpoint wins over the connection-wide one, as in the provider.
    if let Some(endpoint) = s3_string("endpoint_url")?.or(f.string("endpoint_url")?) {
        b = b
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    match f.get("verify") {
        None | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            b = b.with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::AllowInvalidCertificates),
                "true",
            )
        }
        Some(_) => {
            f.reject(&[(
                "verify",
                "a CA bundle: add the CA to the system's certificates, or set verify to false",
            )])?;
        }
    }
    let unsigned = f
        .extra
        .get("config_kwargs")
        .and_then(|c| c.get("signature_version"))
        .and_then(Value::as_str)
        == Some("unsigned");
    if unsigned {
        b = b.with_skip_signature(true);
    }
    Ok(b)
}

/// As the Google provider's `GoogleBaseHook` and its `gcs` file system read a
/// `google_cloud_platform` connection.
fn gcs(f: &Fields<'_>, bucket: Option<&str>) -> Result<GoogleCloudStorageBuilder, StorageError> {
    f.reject(&[
        ("key_secret_name", "a key kept in Google Secret Manager: give it as extra.keyfile_dict, or a file as extra.key_path"),
        ("credential_config_file", "workload identity federation: give a service-account key, or let the environment supply credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata server)"),
        ("impersonation_chain", "service-account impersonation: give the impersonated account's key"),
    ])?;
    let bucket = bucket.ok_or_else(|| f.missing("a bucket (the bucket argument)"))?;
    let mut b = GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
    match (f.string("key_path")?, f.get("keyfile_dict")) {
        (Some(_), Some(_)) => {
            return Err(f.invalid(
                "extra.key_path",
                "and extra.keyfile_dict are both set; they are mutually exclusive",
            ));
        }
        (Some(path), None) => {
            if !path.ends_with(".json") {
                return Err(f.invalid(
                    "extra.key_path",
                    format!("is {path:?}: only JSON key files are supported (as in Airflow)"),
                ));
            }
            b = b.with_service_account_path(path);
        }
        (None, Some(key)) => {
            let json = match key {
                Value::String(s) => s.clone(),
                Value::Object(_) => key.to_string(),
                other => {
                    return Err(f.invalid(
                        "extra.keyfile_dict",
                        format!("is {other}, not a key (a JSON object or its text)"),
                    ));
                }
            };
            b = b.with_service_account_key(json);
        }
        (None, None) => {}
    }
    if f.flag("is_anonymous")? {
        b = b.with_skip_signature(true);
    }
    if let Some(endpoint) = f.string("gcs.endpoint")? {
        b = b.with_config(GoogleConfigKey::BaseUrl, endpoint);
    }
    Ok(b)
}

/// As the Azure provider's `adls` file system (and `WasbHook`) read a `wasb` connection.
fn azure(f: &Fields<'_>, bucket: Option<&str>) -> Result<MicrosoftAzureBuilder, StorageError> {
    f.reject(&[
        ("connection_string", "connection strings are not parsed: give the account (extra.account_name or login) and its key (password)"),
        ("account_host", "a custom endpoint host"),
        ("workload_identity_client_id", "workload identity: let the environment supply it (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)"),
        ("workload_identity_tenant_id", "workload identity: let the environment supply it (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)"),
        ("client_secret_auth_config", "extra settings of the client-secret credential"),
    ])?;
    let container = bucket.ok_or_else(|| f.missing("a container (the bucket argument)"))?;
    let conn = f.conn;
    // adls.py's `_get_default_account_name` for a `wasb` connection: the host's first label
    // when the host is a domain name, else login.
    let from_host = conn.host.as_deref().and_then(|h| {
        let rest = h.split_once("://").map_or(h, |(_, r)| r);
        let hostname = rest.split(['/', ':', '?']).next().unwrap_or("");
        (!hostname.is_empty()).then(|| hostname.split('.').next().unwrap_or("").to_owned())
    });
    let host_has_dot = conn.host.as_deref().is_some_and(|h| h.contains('.'));
    let login = conn.login.clone().filter(|l| !l.is_empty());
    let account = match f.string("account_name")? {
        Some(a) => Some(a),
        None if host_has_dot && from_host.is_some() => from_host,
        None => login.clone().or(from_host),
    };
    let account = account.ok_or_else(|| {
        f.missing("an account name (extra.account_name, a host <account>.blob.core.windows.net, or login)")
    })?;
    let mut b = MicrosoftAzureBuilder::from_env()
        .with_account(account)
        .with_container_name(container);
    let password = conn.password.clone().filter(|p| !p.is_empty());
    match f.string("tenant_id")? {
        // A service principal: login is its client id, password its secret.
        Some(tenant) => {
            let (Some(client_id), Some(secret)) = (login, password) else {
                return Err(f.missing(
                    "login (client id) and password (client secret) with extra.tenant_id",
                ));
            };
            b = b
                .with_tenant_id(tenant)
                .with_client_id(client_id)
                .with_client_secret(secret);
        }
        None => {
            if let Some(key) = password {
                b = b.with_access_key(key);
            }
        }
    }
    if let Some(key) = f.string("account_key")? {
        b = b.with_access_key(key);
    }
    if let Some(sas) = f.string("sas_token")? {
        if sas.contains("://") {
            return Err(f.invalid(
                "extra.sas_token",
                "is a URL: give the token alone (its query string)",
            ));
        }
        b = b.with_config(AzureConfigKey::SasKey, sas.trim_start_matches('?'));
    }
    if let Some(client_id) = f.string("managed_identity_client_id")? {
        b = b.with_client_id(client_id);
    }
    if f.flag("anon")? {
        b = b.with_skip_signature(true);
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(
        conn_type: &str,
        login: Option<&str>,
        password: Option<&str>,
        extra: Value,
    ) -> Connection {
        let mut c = Connection::from_json(
            "c",
            &serde_json::json!({"conn_type": conn_type}).to_string(),
        )
        .unwrap();
        c.login = login.map(str::to_owned);
        c.password = password.map(str::to_owned);
        c.extra = extra;
        c
    }

    fn s3(c: &Connection, bucket: Option<&str>) -> AmazonS3Builder {
        match configure(c, bucket) {
            Ok(Configured::S3(b)) => b,
            other => panic!("not S3: {other:?}"),
        }
    }

    fn err(c: &Connection, bucket: Option<&str>) -> String {
        let e = configure(c, bucket).expect_err("configured");
        let text = e.to_string();
        // Every error names the connection.
        assert!(text.contains("\"c\""), "{text}");
        text
    }

    #[test]
    fn aws_reads_keys_endpoint_region_and_default_bucket() {
        let c = conn(
            "aws",
            Some("AKID"),
            Some("SECRET"),
            serde_json::json!({"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1",
                               "aws_session_token": "TOKEN"}),
        );
        let b = s3(&c, Some("lake"));
        let get = |k| b.get_config_value(&k);
        assert_eq!(get(AmazonS3ConfigKey::AccessKeyId).as_deref(), Some("AKID"));
        assert_eq!(
            get(AmazonS3ConfigKey::SecretAccessKey).as_deref(),
            Some("SECRET")
        );
        assert_eq!(get(AmazonS3ConfigKey::Token).as_deref(), Some("TOKEN"));
        assert_eq!(get(AmazonS3ConfigKey::Region).as_deref(), Some("eu-west-1"));
        assert_eq!(
            get(AmazonS3ConfigKey::Endpoint).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(get(AmazonS3ConfigKey::Bucket).as_deref(), Some("lake"));
        assert_eq!(
            get(AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp)).as_deref(),
            Some("true")
        );

        // Keys in the extra; the S3 service's endpoint and default bucket; unsigned; verify off.
        let c = conn(
            "aws",
            None,
            None,
            serde_json::json!({"aws_access_key_id": "X", "aws_secret_access_key": "Y",
                "endpoint_url": "https://all.example",
                "service_config": {"s3": {"endpoint_url": "https://s3.example", "bucket_name": "dflt"}},
                "verify": false, "config_kwargs": {"signature_version": "unsigned"}}),
        );
        let b = s3(&c, None);
        let get = |k| b.get_config_value(&k);
        assert_eq!(get(AmazonS3ConfigKey::AccessKeyId).as_deref(), Some("X"));
        assert_eq!(
            get(AmazonS3ConfigKey::Endpoint).as_deref(),
            Some("https://s3.example")
        );
        assert_eq!(get(AmazonS3ConfigKey::Bucket).as_deref(), Some("dflt"));
        assert_eq!(
            get(AmazonS3ConfigKey::SkipSignature).as_deref(),
            Some("true")
        );
        assert_eq!(
            get(AmazonS3ConfigKey::Client(
                ClientConfigKey::AllowInvalidCertificates
            ))
            .as_deref(),
            Some("true")
        );
        // The argument wins over the default bucket.
        assert_eq!(
            s3(&c, Some("other"))
                .get_config_value(&AmazonS3ConfigKey::Bucket)
                .as_deref(),
            Some("other")
        );
    }

    #[test]
    fn aws_errors_name_what_is_missing_or_unsupported() {
        let c = conn("aws", Some("k"), Some("s"), Value::Null);
        assert!(err(&c, None).contains("needs a bucket"));
        let c = conn(
            "aws",
            None,
            None,
            serde_json::json!({"role_arn": "arn:aws:iam::1:role/r"}),
        );
        assert!(err(&c, Some("b")).contains("extra.role_arn"));
        let c = conn(
            "aws",
            None,
            None,
            serde_json::json!({"profile_name": "dev"}),
        );
        assert!(err(&c, Some("b")).contains("extra.profile_name"));
        let c = conn(
            "aws",
            None,
            None,
            serde_json::json!({"verify": "/etc/ca.pem"}),
        );
        assert!(err(&c, Some("b")).contains("extra.verify"));
        let c = conn("aws", None, None, serde_json::json!({"region_name": 3}));
        assert!(err(&c, Some("b")).contains("extra.region_name is 3, not a string"));
        let c = conn(
            "aws",
            None,
            None,
            serde_json::json!({"service_config": {"s3": {"bucket_name": 1}}}),
        );
        assert!(err(&c, None).contains("extra.service_config.s3.bucket_name"));
        let c = conn("aws", None, None, Value::String("not json".into()));
        assert!(err(&c, Some("b")).contains("extra is \"not json\", not a JSON object"));
    }

    #[test]
    fn gcs_reads_a_key_file_or_its_json_with_either_spelling() {
        let gcs_of = |c: &Connection| match configure(c, Some("bkt")) {
            Ok(Configured::Gcs(b)) => b,
            other => panic!("not GCS: {other:?}"),
        };
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"key_path": "/keys/sa.json"}),
        );
        let b = gcs_of(&c);
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::ServiceAccount)
                .as_deref(),
            Some("/keys/sa.json")
        );
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::Bucket).as_deref(),
            Some("bkt")
        );
        // The prefixed form of older connections, a dict value, anonymous, and an endpoint.
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"extra__google_cloud_platform__keyfile_dict": {"type": "service_account"},
                               "is_anonymous": true, "gcs.endpoint": "http://127.0.0.1:4443"}),
        );
        let b = gcs_of(&c);
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::ServiceAccountKey)
                .as_deref(),
            Some(r#"{"type":"service_account"}"#)
        );
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::SkipSignature)
                .as_deref(),
            Some("true")
        );
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::BaseUrl).as_deref(),
            Some("http://127.0.0.1:4443")
        );
        // The short name wins over the prefixed one.
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"keyfile_dict": "{\"a\": 1}", "extra__google_cloud_platform__keyfile_dict": "{}"}),
        );
        assert_eq!(
            gcs_of(&c)
                .get_config_value(&GoogleConfigKey::ServiceAccountKey)
                .as_deref(),
            Some("{\"a\": 1}")
        );
    }

    #[test]
    fn gcs_errors() {
        let c = conn("google_cloud_platform", None, None, Value::Null);
        assert!(err(&c, None).contains("needs a bucket"));
        for key in [
            "key_secret_name",
            "credential_config_file",
            "impersonation_chain",
        ] {
            let c = conn(
                "google_cloud_platform",
                None,
                None,
                serde_json::json!({key: "x"}),
            );
            assert!(
                err(&c, Some("b")).contains(&format!("extra.{key}")),
                "{key}"
            );
        }
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"key_path": "/k.json", "keyfile_dict": "{}"}),
        );
        assert!(err(&c, Some("b")).contains("mutually exclusive"));
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"key_path": "/k.p12"}),
        );
        assert!(err(&c, Some("b")).contains("only JSON key files"));
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"keyfile_dict": 7}),
        );
        assert!(err(&c, Some("b")).contains("extra.keyfile_dict is 7"));
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"is_anonymous": "maybe"}),
        );
        assert!(err(&c, Some("b")).contains("not a boolean"));
    }

    #[test]
    fn wasb_reads_the_account_its_key_a_service_principal_and_sas() {
        let az = |c: &Connection| match configure(c, Some("ctr")) {
            Ok(Configured::Azure(b)) => b,
            other => panic!("not Azure: {other:?}"),
        };
        let c = conn("wasb", Some("acct"), Some("a2V5"), Value::Null);
        let b = az(&c);
        assert_eq!(
            b.get_config_value(&AzureConfigKey::AccountName).as_deref(),
            Some("acct")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::AccessKey).as_deref(),
            Some("a2V5")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::ContainerName)
                .as_deref(),
            Some("ctr")
        );
        // The host names the account; tenant_id makes login/password a service principal.
        let mut c = conn(
            "wasb",
            Some("client-id"),
            Some("client-secret"),
            serde_json::json!({"tenant_id": "t"}),
        );
        c.host = Some("https://myacct.blob.core.windows.net/".into());
        let b = az(&c);
        assert_eq!(
            b.get_config_value(&AzureConfigKey::AccountName).as_deref(),
            Some("myacct")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::ClientId).as_deref(),
            Some("client-id")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::ClientSecret).as_deref(),
            Some("client-secret")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::AuthorityId).as_deref(),
            Some("t")
        );
        assert_eq!(b.get_config_value(&AzureConfigKey::AccessKey), None);
        // Extra account_name, a SAS token with its `?`, anonymous.
        let c = conn(
            "wasb",
            None,
            None,
            serde_json::json!({"extra__wasb__account_name": "x", "sas_token": "?sv=1&sig=abc", "anon": true,
                               "managed_identity_client_id": "mi"}),
        );
        let b = az(&c);
        assert_eq!(
            b.get_config_value(&AzureConfigKey::AccountName).as_deref(),
            Some("x")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::SkipSignature)
                .as_deref(),
            Some("true")
        );
        assert_eq!(
            b.get_config_value(&AzureConfigKey::ClientId).as_deref(),
            Some("mi")
        );
    }

    #[test]
    fn wasb_errors() {
        let c = conn("wasb", Some("a"), Some("k"), Value::Null);
        assert!(err(&c, None).contains("needs a container"));
        let c = conn("wasb", None, Some("k"), Value::Null);
        assert!(err(&c, Some("c")).contains("needs an account name"));
        let c = conn(
            "wasb",
            None,
            None,
            serde_json::json!({"account_name": "a", "tenant_id": "t"}),
        );
        assert!(err(&c, Some("c")).contains("client id"));
        for key in [
            "connection_string",
            "account_host",
            "workload_identity_client_id",
            "workload_identity_tenant_id",
            "client_secret_auth_config",
        ] {
            let c = conn("wasb", Some("a"), None, serde_json::json!({key: "x"}));
            assert!(
                err(&c, Some("c")).contains(&format!("extra.{key}")),
                "{key}"
            );
        }
        let c = conn(
            "wasb",
            Some("a"),
            None,
            serde_json::json!({"sas_token": "https://a.blob.core.windows.net/?sv=1"}),
        );
        assert!(err(&c, Some("c")).contains("is a URL"));
    }

    #[test]
    fn fs_and_unsupported_types() {
        let c = conn("fs", None, None, serde_json::json!({"path": "/data"}));
        assert!(matches!(configure(&c, None), Ok(Configured::Local(d)) if d == "/data"));
        assert!(err(&c, Some("b")).contains("takes no bucket"));
        let c = conn("fs", None, None, Value::Null);
        assert!(err(&c, None).contains("needs extra.path"));
        let c = conn("http", None, None, Value::Null);
        let e = configure(&c, None).unwrap_err();
        assert!(
            matches!(&e, StorageError::UnsupportedType { conn_id, conn_type } if conn_id == "c" && conn_type == "http"),
            "{e}"
        );
    }

    #[test]
    fn stores_build_without_network() {
        // The cloud stores build their HTTP client (ring as rustls's provider) without a request.
        let c = conn(
            "aws",
            Some("k"),
            Some("s"),
            serde_json::json!({"endpoint_url": "http://127.0.0.1:1"}),
        );
        let s = ObjectStorage::from_connection(&c, Some("bkt")).unwrap();
        assert!(s.store().to_string().contains("bkt"), "{s:?}");
        let c = conn("wasb", Some("acct"), Some("a2V5"), Value::Null);
        ObjectStorage::from_connection(&c, Some("ctr")).unwrap();
        let c = conn(
            "google_cloud_platform",
            None,
            None,
            serde_json::json!({"is_anonymous": true}),
        );
        ObjectStorage::from_connection(&c, Some("bkt")).unwrap();
        // A missing directory is object_store's error, with the connection id.
        let c = conn(
            "fs",
            None,
            None,
            serde_json::json!({"path": "/no/such/dir/for/airflow-sdk"}),
        );
        let e = ObjectStorage::from_connection(&c, None).unwrap_err();
        assert!(matches!(e, StorageError::Build { .. }), "{e}");
    }

    #[test]
    fn blocking_calls_write_read_list_and_delete_local_files() {
        let dir = std::env::temp_dir().join(format!("airflow-sdk-storage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = conn(
            "fs",
            None,
            None,
            serde_json::json!({"path": dir.to_str().unwrap()}),
        );
        let s = ObjectStorage::from_connection(&c, None).unwrap();
        s.write("a/b.txt", "hello").unwrap();
        assert_eq!(std::fs::read(dir.join("a/b.txt")).unwrap(), b"hello");
        assert_eq!(s.read("a/b.txt").unwrap(), b"hello");
        let listed: Vec<String> = s
            .list(Some("a"))
            .unwrap()
            .into_iter()
            .map(|m| m.location.to_string())
            .collect();
        assert_eq!(listed, ["a/b.txt"]);
        s.delete("a/b.txt").unwrap();
        let e = s.read("a/b.txt").unwrap_err();
        assert!(
            matches!(
                &e,
                StorageError::Store { op: "read", source, .. }
                    if matches!(**source, object_store::Error::NotFound { .. })
            ),
            "{e}"
        );
        assert!(e.to_string().contains("connection \"c\""), "{e}");
        assert!(matches!(s.read("a/../b"), Err(StorageError::Path { .. })));
        // Inside a runtime (an async task) the blocking calls refuse instead of panicking.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { assert!(matches!(s.read("x"), Err(StorageError::InAsyncTask))) });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
