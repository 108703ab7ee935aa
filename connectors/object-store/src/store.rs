//! Where files go: a local directory or an S3-compatible bucket, through the `object_store`
//! crate (a local file appears whole, by rename; an S3 object by one PUT).

use std::sync::Arc;

use connect_sdk::prelude::*;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The S3 keys (`store.url` `s3://bucket/prefix`); the AWS environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_REGION`, ...) fills what is not set.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); AWS when absent.
    #[serde(default)]
    pub s3_endpoint: Option<String>,
    /// Region (default `us-east-1`).
    #[serde(default)]
    pub s3_region: Option<String>,
    /// Access key id.
    #[serde(default)]
    pub aws_access_key_id: Option<String>,
    /// Secret access key; write a placeholder (`${env:VAR}`) so the secret is never stored.
    #[serde(default)]
    #[schemars(extend("x-kafka-type" = "PASSWORD"))]
    pub aws_secret_access_key: Option<String>,
}

/// A store and the prefix files are written under.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Shown in errors: where the files go.
    pub url: String,
}

/// Where a store URL points, checked.
/// Why a store URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `s3://` without a bucket.
    #[error("s3:// needs a bucket: s3://bucket/prefix")]
    NoBucket,
    /// Neither an absolute local directory nor an S3 URL.
    #[error("use file:///absolute/dir, /absolute/dir or s3://bucket/prefix")]
    NotAbsolute,
    /// The object store client refused the settings or the directory.
    #[error(transparent)]
    Client(#[from] object_store::Error),
    /// The local directory could not be created.
    #[error("cannot create {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
}

enum Target {
    /// An S3-compatible bucket, its client built.
    S3(Arc<dyn ObjectStore>),
    /// A local directory.
    Local(String),
}

impl Target {
    /// The target of `file:///dir`, `/dir` or `s3://bucket[/prefix]`, touching nothing.
    fn of(url: &str, s3: &S3Settings) -> Result<Target, StoreError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let bucket = rest.split('/').next().filter(|b| !b.is_empty()).ok_or(StoreError::NoBucket)?;
            let mut builder =
                AmazonS3Builder::from_env().with_bucket_name(bucket).with_region(s3.s3_region.as_deref().unwrap_or("us-east-1"));
            if let Some(endpoint) = &s3.s3_endpoint {
                builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &s3.aws_access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &s3.aws_secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            return Ok(Target::S3(Arc::new(builder.build()?)));
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if !dir.starts_with('/') {
            return Err(StoreError::NotAbsolute);
        }
        Ok(Target::Local(dir.to_owned()))
    }
}

impl Store {
    /// Checks `url` and the S3 settings as [`open`](Self::open) would, creating and touching
    /// nothing: validation has no side effects.
    pub fn check(url: &str, s3: &S3Settings) -> Result<(), StoreError> {
        Target::of(url, s3).map(drop)
    }

    /// The store of `file:///dir`, `/dir` or `s3://bucket[/prefix]`; a local directory is
    /// created when missing.
    pub fn open(url: &str, s3: &S3Settings) -> Result<Store, StoreError> {
        let inner: Arc<dyn ObjectStore> = match Target::of(url, s3)? {
            Target::S3(store) => store,
            Target::Local(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| StoreError::CreateDir { dir: dir.clone(), source })?;
                Arc::new(LocalFileSystem::new_with_prefix(&dir)?)
            }
        };
        Ok(Store { inner, url: url.to_owned() })
    }

    /// The object path of `name` under the URL's prefix (an S3 URL's path after the bucket).
    pub fn path(&self, name: &str) -> Path {
        let prefix = self.url.strip_prefix("s3://").and_then(|rest| rest.split_once('/')).map_or("", |(_, p)| p.trim_matches('/'));
        if prefix.is_empty() { Path::from(name) } else { Path::from(format!("{prefix}/{name}")) }
    }

    /// Writes (or replaces) a whole object.
    pub async fn put(&self, path: &Path, bytes: Vec<u8>) -> Result<()> {
        self.inner.put(path, PutPayload::from(bytes)).await.map(|_| ()).map_err(|e| {
            let message = format!("cannot write {path} to {}: {e}", self.url);
            match e {
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
                | object_store::Error::NotFound { .. } => Error::other(message),
                _ => Error::retriable(message),
            }
        })
    }
}
