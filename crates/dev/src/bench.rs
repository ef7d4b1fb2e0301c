//! `trademon-dev bench ...`: measurements written up in docs/benchmarks.md. They are commands,
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

use trademon::config::Config;

/// Defaults with the data dir in a fresh temp folder. A bench runs the embedded stack in demo
/// mode with sessions of its own; in the trader's data dir they would be persisted into
/// `demo-sessions.json` and show up in the next `trademon --demo`.
pub fn scratch_config(bench: &str) -> Config {
    let mut cfg = Config::defaults();
    let dir = std::env::temp_dir().join(format!(
        "trademon-bench-{bench}-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    cfg.data.dir = dir.display().to_string();
    cfg
}
