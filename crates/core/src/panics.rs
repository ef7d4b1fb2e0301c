//! Panics as the logs and the supervisor name them: one ERROR line `panic` with the message,
//! the place and the thread, and the text of a panic payload.

use std::any::Any;

/// One ERROR line `panic` with the message, where it happened and the thread.
pub fn log(info: &std::panic::PanicHookInfo<'_>) {
    let message = payload_text(info.payload());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "an unknown place".to_string());
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("unnamed");
    tracing::error!(
        event = "panic",
        location = %location,
        thread,
        "panic at {location}: {message}"
    );
}

/// The message of a panic payload (`panic!` with a literal or with format arguments).
pub fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}
