//! The `zayavki` command: starts every service as a supervised child process for development,
//! runs the development notification sink, mints tokens, and prints ready-to-paste examples when
//! it generated a key for the run.

pub mod addresses;
pub mod cli;
pub mod gateway;
pub mod instance;
pub mod quickstart;
pub mod start;
pub mod status;
pub mod supervisor;
pub mod web_server;
