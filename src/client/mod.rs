//! The client side of the one WebSocket: connection (heartbeat, health, backoff, resubscribe,
//! REST polling) and the model that replicates backend state.

pub mod link;
pub mod model;
