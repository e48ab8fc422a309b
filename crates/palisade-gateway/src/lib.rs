//! The gateway: an OpenAI-compatible reverse proxy that enforces Palisade's
//! runtime controls on every request and response.
//!
//! Layout: [`config`] parses and validates `palisade.toml`; [`app`] holds the
//! HTTP routes and handlers; [`proxy`] routes a request to its upstreams with
//! retries, fallback and circuit breakers and relays the answer; [`sse`]
//! parses upstream event streams incrementally; [`server`] accepts plain or
//! TLS connections with limits and graceful shutdown; [`mock`] is the built-in
//! deterministic upstream used by `palisade demo`, tests and benchmarks.

pub mod app;
pub mod breaker;
pub mod config;
pub mod error;
pub mod guard;
mod headers;
pub mod metrics;
pub mod mock;
pub mod proxy;
pub mod request;
pub mod server;
pub mod sse;
pub mod tls;
pub mod upstream;

pub use app::{Gateway, GatewayError};
pub use config::Config;
pub use error::ApiError;
