//! One module per top-level command. Each parses its arguments, calls into a
//! library crate, and renders the result; logic lives in the libraries.

pub mod config;
pub mod demo;
pub mod eval;
pub mod model;
pub mod scan;
pub mod serve;
