//! `REPORT_STORAGE`: a directory, or `s3://bucket/prefix`.

use std::path::PathBuf;

use secrecy::SecretString;

#[derive(Clone, Debug)]
pub enum StorageLocation {
    /// Files in this directory (created when missing).
    Local(PathBuf),
    /// Objects in an S3 bucket.
    S3(S3Location),
}

/// A bucket and a key prefix. Credentials and region come from the usual `AWS_*` variables
/// unless given here.
#[derive(Clone, Debug)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
    /// `REPORT_S3_ENDPOINT`: an S3-compatible server instead of AWS (path-style requests).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Access key id and secret; `None` uses `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub credentials: Option<(String, SecretString)>,
}

impl StorageLocation {
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        let Some(rest) = raw.strip_prefix("s3://") else {
            anyhow::ensure!(!raw.is_empty(), "names no directory");
            return Ok(Self::Local(PathBuf::from(raw)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        anyhow::ensure!(
            !bucket.is_empty(),
            "{raw:?} names no bucket (s3://bucket/prefix)"
        );
        Ok(Self::S3(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint: None,
            region: None,
            credentials: None,
        }))
    }

    /// Points an S3 location at `endpoint`, when one is given.
    pub fn with_s3_endpoint(self, endpoint: Option<String>) -> Self {
        match (self, endpoint) {
            (Self::S3(s3), Some(endpoint)) => Self::S3(S3Location {
                endpoint: Some(endpoint),
                ..s3
            }),
            (location, _) => location,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_buckets_are_told_apart() {
        match StorageLocation::parse("data/reports").expect("a directory") {
            StorageLocation::Local(path) => assert_eq!(path, PathBuf::from("data/reports")),
            other => panic!("{other:?}"),
        }
        match StorageLocation::parse("s3://zayavki/reports/2026/").expect("a bucket") {
            StorageLocation::S3(s3) => {
                assert_eq!(s3.bucket, "zayavki");
                assert_eq!(s3.prefix, "reports/2026");
            }
            other => panic!("{other:?}"),
        }
        assert!(StorageLocation::parse("s3:///prefix").is_err());
        assert!(StorageLocation::parse("  ").is_err());
    }
}
