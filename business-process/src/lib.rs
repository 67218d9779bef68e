//! business-process: the orchestrator of each application's long-running process. It reacts to
//! application events, drives each application through its lifecycle over
//! `applications.v1.ApplicationLifecycle`, reserves the total against the applicant's monthly
//! budget and compensates, waits for operators with durable deadlines, notifies people through
//! an outside notification service that may be down, and publishes report jobs to RabbitMQ.
//!
//! - `events/` consumes application and report events (inbox, order by version, dead letters);
//! - `driver` takes each process's next step from its stored state;
//! - `deadlines` fires the durable decision deadlines;
//! - `notifier/` delivers notifications through the outside service (timeout, retry, breaker);
//! - `service/` holds the use cases of the gRPC API (`grpc/`); `http/` the probes and metrics.

pub mod clients;
pub mod config;
pub mod deadlines;
pub mod domain;
pub mod driver;
pub mod events;
pub mod grpc;
pub mod http;
pub mod notifier;
pub mod service;
pub mod startup;
pub mod storage;
