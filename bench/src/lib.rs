//! Pieces the benchmark binaries share: the service started in-process on a fresh database,
//! a bounded load loop, realistic drafts, and a latency recorder.

pub mod cpu;
pub mod drafts;
pub mod idle;
pub mod latency;
pub mod load;
pub mod search;
pub mod service;
