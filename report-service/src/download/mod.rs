//! Downloads: signed URLs that work without a token (for links pushed to browsers), and the
//! `Content-Disposition` that keeps a Cyrillic file name intact.

pub mod content_disposition;
pub mod signing;

pub use signing::{DownloadSecret, SignatureError, download_url, verify};
