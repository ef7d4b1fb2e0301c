//! Pure building blocks every other trademon crate shares: the market data model an exchange
//! adapter emits, contract specifications, number formatting, the reconnect backoff schedule.
//! No IO, no async runtime.

pub mod backoff;
pub mod contract;
pub mod depth_book;
pub mod market;
pub mod numfmt;
pub mod panics;
pub mod redact;

pub use contract::{ContractError, ContractSpec, ContractUpdate};
pub use market::{BookTop, Feed, FeedWant, LinkChange, MarketEvent, Side, TickerUpdate, Trade};
