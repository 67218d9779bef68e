//! Integration tests: business-process and application-service in-process on free ports, each
//! test with its own databases and RabbitMQ virtual host; a fake only for the outside
//! notification service.

mod grpc;
mod helpers;
mod messages;
mod notifier;
mod notifier_helpers;
mod races;
mod resilience;
mod scenarios;
mod trace_context;
