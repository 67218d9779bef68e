//! Pieces the benchmark binaries share: the service started in-process on a fresh database
//! (empty, or filled before it starts), a bounded load loop, realistic drafts, a latency
//! recorder, CPU accounting from `/proc`, and a bare tonic server for baselines.

pub mod bare_server;
pub mod cpu;
pub mod drafts;
pub mod idle;
pub mod latency;
pub mod load;
pub mod prepared;
pub mod search;
pub mod service;
