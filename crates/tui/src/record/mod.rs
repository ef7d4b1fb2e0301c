//! Recordings of the TUI for bug reports.
//!
//! - `events`: the NDJSON event log (what `App::update` was given) and the state keyframe.
//! - `cast`: the asciicast v2 screen recording; `tee`: captures the bytes of each frame.
//! - `manifest`: versions, terminal, colour mode, redacted config.
//! - `redact` (in trademon-core, the store redacts with it too): secrets out at serialization time.
//! - `recorder`: the tap both the event loop and the render thread feed.
//! - `flight`: the always-on ring of the last minutes.
//! - `bundle`: a bundle directory, written live and read back; `bugreport`: the tar.gz.
//! - `unpack`: finds the recording in a bug bundle (`.tar.gz` or its folder) for replay
//!   (`crate::replay` drives the same `update`/`view` code from it).

pub mod bugreport;
pub mod bundle;
pub mod cast;
pub mod events;
pub mod flight;
pub mod manifest;
pub mod recorder;

pub mod tee;
pub mod unpack;

pub use bundle::BundleError;
pub use recorder::Tap;
pub use trademon_core::redact::{self, Redactor};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the panic hook needs to write a bug bundle from the flight recorder.
struct PanicDump {
    tap: Arc<Tap>,
    out_dir: PathBuf,
    extras: bugreport::Extras,
}

static PANIC_DUMP: Mutex<Option<PanicDump>> = Mutex::new(None);

/// Let the panic hook dump `tap`'s flight recorder into `out_dir`.
pub fn register_panic_dump(tap: Arc<Tap>, out_dir: PathBuf, extras: bugreport::Extras) {
    if let Ok(mut g) = PANIC_DUMP.lock() {
        *g = Some(PanicDump {
            tap,
            out_dir,
            extras,
        });
    }
}

pub fn unregister_panic_dump() {
    if let Ok(mut g) = PANIC_DUMP.lock() {
        *g = None;
    }
}

/// Called from the panic hook: write a bug bundle if a flight recorder is registered.
/// Never blocks for long and never panics itself (a panic in a panic hook aborts).
pub fn dump_on_panic(message: &str) -> Option<PathBuf> {
    let g = PANIC_DUMP.try_lock().ok()?;
    let d = g.as_ref()?;
    let files = d.tap.try_flight_bundle()?;
    let mut extras = d.extras.clone();
    extras.reason = format!("panic: {message}");
    bugreport::write(&d.out_dir, bugreport::Recording::Files(files), &extras).ok()
}
