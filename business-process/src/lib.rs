//! business-process: the orchestrator of long-running processes. It reacts to application
//! events, drives each application through its lifecycle over
//! `applications.v1.ApplicationLifecycle`, notifies people through the outside notification
//! service, and publishes report jobs to RabbitMQ. Shared pieces it builds on: `zayavki-common`
//! (configuration, shutdown, error codes), `zayavki-identity` (service tokens), `zayavki-proto`.
