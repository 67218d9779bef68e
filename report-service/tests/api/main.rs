//! Integration tests: report-service and application-service in-process on free ports (and the
//! report-service binary as a child process where a worker must die), each test with its own
//! databases and RabbitMQ virtual host.

mod downloads;
mod fixtures;
mod formats;
mod helpers;
mod processes;
mod s3;
mod websocket;
mod worker;
