//! Calls to the other services.

pub mod applications;
