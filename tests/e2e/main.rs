//! End-to-end tests of the built `trademon` binary: in a real terminal (tmux), as a child
//! process killed and restarted, or checked on its exit codes and output files.

#[path = "../support/mod.rs"]
mod support;

mod alerts_tmux;
mod ccxt_sim;
mod config_check;
mod control_tmux;
mod e2e_tmux;
mod headline_e2e_tmux;
mod paper_journal;
mod record_bundle;
mod record_e2e;
mod record_edges;
mod scripting;
mod store_e2e_tmux;
mod supervision;
mod symbol_view_tmux;
