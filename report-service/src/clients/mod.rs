//! Outside calls: application-service's export.

pub mod export;

pub use export::ExportClient;
