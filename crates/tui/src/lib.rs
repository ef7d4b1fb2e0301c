//! The terminal UI: state + update (`app`), a pure view (`view`), keys (`keymap`), colours
//! (`theme`), number fitting (`format`), a render thread (`render`), terminal setup and
//! restore (`terminal`) and the event loop (`run`).

pub mod action;
pub mod alerts;
pub mod app;
pub mod format;
pub mod headline;
pub mod keymap;
pub mod record;
pub mod recording;
pub mod render;
pub mod replay;
pub mod settings;
pub mod terminal;
pub mod theme;
pub mod view;

mod run;

pub use action::{Action, Effect};
pub use app::App;
pub use recording::RecordOptions;
pub use run::run;
pub use view::view;

#[cfg(test)]
mod alert_tests;
#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod control_tests;
#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod headline_tests;
#[cfg(test)]
mod symbol_tests;
#[cfg(test)]
mod tests;
