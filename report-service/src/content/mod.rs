//! Where report files are kept: a local directory (the default) or an S3 bucket, both through
//! `object_store`. Files are written to a temporary file first and uploaded from it in parts,
//! so a file of any size passes through bounded memory.

mod location;

use std::{path::Path, sync::Arc};

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use object_store::{
    ObjectStore, WriteMultipart, aws::AmazonS3Builder, local::LocalFileSystem,
    path::Path as ObjectPath,
};
use tokio::io::AsyncReadExt;

pub use location::{S3Location, StorageLocation};

/// Parts of this size are uploaded (S3 needs at least 5 MiB for every part but the last).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded at once: with the part being read, this bounds the memory of an upload.
const PARTS_IN_FLIGHT: usize = 2;

/// The store of report files. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ContentStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

/// A stored file being read.
pub struct Download {
    pub size: u64,
    pub body: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

impl ContentStore {
    /// Opens the store; a local directory is created when missing.
    pub fn open(location: &StorageLocation) -> anyhow::Result<Self> {
        match location {
            StorageLocation::Local(directory) => {
                std::fs::create_dir_all(directory).with_context(|| {
                    format!("cannot create the report directory {}", directory.display())
                })?;
                let store = LocalFileSystem::new_with_prefix(directory)
                    .with_context(|| format!("cannot open {}", directory.display()))?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: String::new(),
                })
            }
            StorageLocation::S3(s3) => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(&s3.bucket);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                if let Some((key_id, secret)) = &s3.credentials {
                    builder = builder
                        .with_access_key_id(key_id)
                        .with_secret_access_key(secrecy::ExposeSecret::expose_secret(secret));
                }
                let store = builder
                    .build()
                    .with_context(|| format!("cannot use S3 bucket {}", s3.bucket))?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: s3.prefix.clone(),
                })
            }
        }
    }

    /// The key a report's file is stored under.
    pub fn key_for(&self, file_stem: &str) -> String {
        if self.prefix.is_empty() {
            file_stem.to_owned()
        } else {
            format!("{}/{file_stem}", self.prefix.trim_end_matches('/'))
        }
    }

    /// Uploads the file at `path` under `key`, in parts; an upload that fails is aborted.
    #[tracing::instrument(skip(self, path))]
    pub async fn upload(&self, key: &str, path: &Path) -> anyhow::Result<()> {
        let location = ObjectPath::parse(key).context("not a valid object key")?;
        let mut file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .context("cannot start the upload")?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let outcome = async {
            let mut buffer = vec![0_u8; PART_SIZE];
            loop {
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                writer.write(&buffer[..read]);
            }
            anyhow::Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                writer.finish().await.context("cannot finish the upload")?;
                Ok(())
            }
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "cannot abort a failed upload");
                }
                Err(error.context("cannot upload the report file"))
            }
        }
    }

    /// Opens the file stored under `key` for streaming.
    pub async fn download(&self, key: &str) -> anyhow::Result<Download> {
        let location = ObjectPath::parse(key).context("not a valid object key")?;
        let found = self
            .store
            .get(&location)
            .await
            .with_context(|| format!("cannot read {key}"))?;
        Ok(Download {
            size: found.meta.size,
            body: found.into_stream().boxed(),
        })
    }

    /// Whether the store answers (for readiness).
    pub async fn is_reachable(&self) -> bool {
        let probe = ObjectPath::from(self.key_for(".probe").as_str());
        matches!(
            self.store.head(&probe).await,
            Ok(_) | Err(object_store::Error::NotFound { .. })
        )
    }
}
