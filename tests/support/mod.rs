pub mod chaos_proxy;
