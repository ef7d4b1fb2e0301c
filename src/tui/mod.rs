//! The terminal UI (filled in by its own change).
