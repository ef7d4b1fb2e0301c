//! In-process integration tests: backend, client, adapter, simulator, store and recordings
//! driven over real loopback sockets. One binary, so the whole stack is linked once.

#[path = "../support/mod.rs"]
mod support;

mod backend_control;
mod backend_engine;
mod backend_load;
mod backend_service;
mod backend_views;
mod bad_input;
mod chaos;
mod client_connection;
mod config_docs;
mod contracts;
mod mexc_adapter;
mod mexc_faults;
mod module_graph;
mod proptest_parsers;
mod protocol_docs;
mod sim_faults;
mod sim_protocol;
mod stack;
mod store_history;
mod store_queries;
mod store_stack;
mod store_writer;
