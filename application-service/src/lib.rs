//! application-service: owns applications (purchase requests) and serves them over gRPC and REST.

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod http;
pub mod indexing;
pub mod service;
pub mod startup;
pub mod storage;
