//! Types that are valid once constructed. Adapters (gRPC, REST) hand raw input to the parsers
//! here, so every protocol validates the same way and reports the same field paths.

pub mod application;
pub mod caller;
pub mod day_stats;
pub mod error;
pub mod item;
pub mod list_filter;
pub mod money;
pub mod new_application;
pub mod page_token;
pub mod status;
pub mod text;
pub use zayavki_common::validation;

pub use application::Application;
pub use caller::Caller;
pub use day_stats::{AmountSum, DayStats, StatsPeriod};
pub use error::ApplicationError;
pub use item::Item;
pub use list_filter::{AppliedRange, ListFilter, PageSize};
pub use money::Money;
pub use new_application::{NewApplication, NewApplicationInput, NewItemInput};
pub use status::ApplicationStatus;
pub use validation::{FieldViolation, Violations};
