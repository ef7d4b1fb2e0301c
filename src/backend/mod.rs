//! The backend service: hub, server, wiring (filled in by its own change).
