//! Exact money, shared by every service: see `zayavki_common::money`.

pub use zayavki_common::money::Money;
