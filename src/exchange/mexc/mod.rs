//! MEXC futures adapter (filled in by its own change).
