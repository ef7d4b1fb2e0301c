//! Exchange side: the MEXC adapter and the MEXC simulator. They emit the market data model of
//! `trademon_core::market`; nothing here knows about sessions or the UI.

pub use trademon_mexc as mexc;
pub use trademon_sim as sim;

pub use trademon_core::contract;
pub use trademon_core::market::{
    ContractSpec, ContractUpdate, LinkChange, MarketEvent, Side, TickerUpdate, Trade,
};
