//! `trademon bench ...`: measurements written up in docs/benchmarks.md. They are commands,
//! not timed unit tests, so CI never fails on a noisy machine.

pub mod e2e;
pub mod engine;
pub mod frame;
pub mod load;
pub mod load_client;
pub mod pong;
pub mod record;
pub mod soak;
pub mod stats;
pub mod store;
pub mod synthetic;
