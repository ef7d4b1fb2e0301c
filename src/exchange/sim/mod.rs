//! Protocol-faithful MEXC futures simulator (filled in by its own change).
