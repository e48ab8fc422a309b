//! The gateway: an OpenAI-compatible reverse proxy that enforces Palisade's
//! runtime controls on every request and response.
