//! The `zayavki` command: starts every service in one process for development, mints tokens,
//! and prints ready-to-paste examples when it generated a key for the run.

pub mod addresses;
pub mod cli;
pub mod quickstart;
pub mod system;
