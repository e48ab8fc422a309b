//! Names of the headers the gateway reads or writes on every request,
//! built once. A name passed as a string is parsed, validated and
//! lower-cased again on every lookup and insert; on the proxy path those
//! parses added up to thousands of instructions per request.

use http::HeaderName;

use crate::app::REQUEST_ID_HEADER;

/// The request id, echoed on every response and sent upstream.
pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
/// Which upstream answered.
pub(crate) static UPSTREAM: HeaderName = HeaderName::from_static("x-palisade-upstream");
/// The guard policy that applied.
pub(crate) static POLICY: HeaderName = HeaderName::from_static("x-palisade-policy");
/// `enforce` or `shadow`.
pub(crate) static MODE: HeaderName = HeaderName::from_static("x-palisade-mode");
/// The strictest action taken.
pub(crate) static VERDICT: HeaderName = HeaderName::from_static("x-palisade-verdict");
/// The input stage's verdicts, without matched values.
pub(crate) static INPUT: HeaderName = HeaderName::from_static("x-palisade-input");
/// The output stage's verdicts, without matched values.
pub(crate) static OUTPUT: HeaderName = HeaderName::from_static("x-palisade-output");
/// Azure OpenAI's credential header.
pub(crate) static API_KEY: HeaderName = HeaderName::from_static("api-key");
/// A common alternative credential header.
pub(crate) static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
/// Tells a buffering reverse proxy (nginx) in front to pass events through.
pub(crate) static ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");
