//! Gateway configuration: `palisade.toml` plus `PALISADE_*` environment
//! overrides, parsed in two phases.
//!
//! Phase one turns TOML into raw types (`deny_unknown_fields`), section by
//! section and entry by entry, so one typo does not hide the next. Phase two
//! validates the raw types into a trusted [`Config`], collecting *every*
//! problem with its key path. Problems are then located in the source text so
//! `palisade config check` can print a line number next to each.
//!
//! Credentials never live in the file: upstreams name the environment variable
//! that holds their key (`api_key_env`), and the environment is injected
//! ([`EnvSource`]) so tests never touch the process environment.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::guard::policy::{PolicyConfig, STANDARD, validate_policies};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

/// The configuration used when `palisade serve` runs without `--config`.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// Prefix of environment variables that override configuration keys.
/// `PALISADE_SERVER__LISTEN=0.0.0.0:8080` sets `server.listen`.
pub const ENV_PREFIX: &str = "PALISADE_";

/// Where environment variables come from; injectable so tests stay hermetic.
pub trait EnvSource {
    /// The value of `name`, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// Every variable whose name starts with `prefix`.
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        std::env::vars()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect()
    }
}

/// A fixed set of variables, for tests and for `config check`.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// One thing wrong with a configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `routes[1].upstreams[0]`.
    pub path: String,
    /// What is wrong, naming keys in backticks.
    pub message: String,
    /// 1-based line in the file, when it could be located.
    pub line: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: `{}`: {}", self.path, self.message),
            None => write!(f, "`{}`: {}", self.path, self.message),
        }
    }
}

/// Errors from loading configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is invalid; every problem found is listed.
    #[error("invalid configuration ({} problem{}):\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, render_problems(.0))]
    Invalid(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- raw types

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    tls: Option<RawTls>,
    limits: Option<RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_body_bytes: Option<u64>,
    max_header_bytes: Option<u64>,
    max_headers: Option<u64>,
    header_read_timeout: Option<String>,
    body_read_timeout: Option<String>,
    max_upstream_response_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    name: String,
    #[serde(default)]
    kind: Option<String>,
    base_url: String,
    api_key_env: Option<String>,
    api_version: Option<String>,
    #[serde(default)]
    deployments: BTreeMap<String, String>,
    ca_bundle: Option<PathBuf>,
    timeouts: Option<RawTimeouts>,
    retry: Option<RawRetry>,
    circuit_breaker: Option<RawBreaker>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    connect: Option<String>,
    first_byte: Option<String>,
    total: Option<String>,
    stream_idle: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: Option<u64>,
    initial_backoff: Option<String>,
    max_backoff: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    failure_threshold: Option<u64>,
    open_for: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    models: Vec<String>,
    upstreams: Vec<String>,
    #[serde(default)]
    allow_plain_http: bool,
    #[serde(default)]
    policy: Option<String>,
}

// ----------------------------------------------------------- trusted types

/// The validated configuration the gateway runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener, TLS, limits and data directory.
    pub server: ServerConfig,
    /// Upstream LLM endpoints, by name.
    pub upstreams: Vec<UpstreamConfig>,
    /// Which model names go to which upstreams, in match order.
    pub routes: Vec<RouteConfig>,
    /// Guardrail policies by name, the built-in `standard` and `off` included.
    pub policies: BTreeMap<String, PolicyConfig>,
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the state store, audit log and keys.
    pub data_dir: PathBuf,
    /// TLS termination; plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// Limits that protect the gateway from abusive clients.
    pub limits: Limits,
}

/// Certificate chain and private key files (PEM), re-read on SIGHUP.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body; larger gets 413.
    pub max_body_bytes: usize,
    /// Largest request head (request line plus headers); larger gets 431.
    pub max_header_bytes: usize,
    /// Most request headers; more gets 431.
    pub max_headers: usize,
    /// Time a client may take to send the request head.
    pub header_read_timeout: Duration,
    /// Time a client may take to send the request body; longer gets 408.
    pub body_read_timeout: Duration,
    /// Largest non-streamed upstream response the gateway will buffer.
    pub max_upstream_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 * 1024 * 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_upstream_response_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Which wire dialect an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    /// Any OpenAI-compatible base URL (OpenAI, vLLM, Ollama, llama.cpp, LM Studio):
    /// `{base_url}/chat/completions`, `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: `{base_url}/openai/deployments/{deployment}/…?api-version=…`,
    /// `api-key` header.
    Azure,
}

/// One upstream endpoint.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Name routes refer to.
    pub name: String,
    /// Wire dialect.
    pub kind: UpstreamKind,
    /// Base URL; for OpenAI-compatible upstreams it includes the `/v1` prefix.
    pub base_url: Url,
    /// Environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    /// Azure `api-version` query parameter.
    pub api_version: Option<String>,
    /// Azure deployment per model name; the model name itself when absent.
    pub deployments: BTreeMap<String, String>,
    /// Extra PEM CA bundle trusted in addition to the webpki roots.
    pub ca_bundle: Option<PathBuf>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Retry policy for failures before any response byte was relayed.
    pub retry: RetryPolicy,
    /// Circuit-breaker policy.
    pub breaker: BreakerPolicy,
}

/// Upstream timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// From sending the request to receiving the response head.
    pub first_byte: Duration,
    /// Whole non-streamed exchange. Never applied to streams.
    pub total: Duration,
    /// Longest silence between two chunks of a stream.
    pub stream_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(60),
            total: Duration::from_secs(300),
            stream_idle: Duration::from_secs(60),
        }
    }
}

/// Retry policy (jittered exponential backoff).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per upstream, including the first.
    pub max_attempts: u32,
    /// Backoff ceiling for the first retry.
    pub initial_backoff: Duration,
    /// Backoff ceiling for any retry.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Circuit-breaker policy.
#[derive(Debug, Clone, Copy)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long an open circuit rejects calls before one probe is let through.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// A route: model names to an ordered list of upstreams (first is primary,
/// the rest are fallbacks).
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Model names served; `*` matches any model no other route names.
    pub models: Vec<String>,
    /// Upstream names in fallback order.
    pub upstreams: Vec<String>,
    /// Whether this route may reach upstreams over plain `http://`.
    pub allow_plain_http: bool,
    /// Name of the guardrail policy for this route (`standard` unless the
    /// route names another).
    pub policy: String,
}

/// Command-line overrides, applied after the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--upstream URL`: one OpenAI-compatible upstream for every model.
    pub upstream: Option<String>,
}

/// Name given to the upstream that `--upstream` creates.
pub const CLI_UPSTREAM_NAME: &str = "cli";

/// Environment variable holding the API key for the `--upstream` upstream.
pub const CLI_UPSTREAM_KEY_ENV: &str = "PALISADE_UPSTREAM_API_KEY";

// ------------------------------------------------------------------ loading

/// Loads `path` (or the embedded default when `None`), applies environment
/// and command-line overrides, and validates the result.
pub fn load(
    path: Option<&Path>,
    env: &dyn EnvSource,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let (text, base_dir) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?;
            let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, base)
        }
        None => (EMBEDDED_DEFAULT.to_owned(), PathBuf::new()),
    };
    parse(&text, &base_dir, env, overrides)
}

/// Parses and validates configuration text. Relative paths in it are taken
/// relative to `base_dir` (the file's directory).
pub fn parse(
    text: &str,
    base_dir: &Path,
    env: &dyn EnvSource,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            let e: toml::de::Error = e;
            let line = e.span().map(|s| line_of_offset(text, s.start));
            return Err(ConfigError::Invalid(vec![Problem {
                path: "(file)".into(),
                message: format!("not valid TOML: {}", e.message()),
                line,
            }]));
        }
    };
    let mut problems = Vec::new();
    apply_env(&mut table, env, &mut problems);
    let config = validate(&table, base_dir, env, overrides, &mut problems);
    if problems.is_empty()
        && let Some(config) = config
    {
        return Ok(config);
    }
    locate_problems(text, &mut problems);
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    Err(ConfigError::Invalid(problems))
}

/// Applies `PALISADE_A__B=value` as `a.b = value`. Only variables with a `__`
/// are configuration keys; single-word ones (`PALISADE_LISTEN`) belong to flags.
fn apply_env(table: &mut toml::Table, env: &dyn EnvSource, problems: &mut Vec<Problem>) {
    let mut vars = env.vars_with_prefix(ENV_PREFIX);
    vars.sort();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            problems.push(Problem {
                path: name.clone(),
                message: "empty key segment in environment override".into(),
                line: None,
            });
            continue;
        }
        let parsed = parse_env_value(&value);
        if let Err(blocker) = set_path(table, &keys, parsed) {
            problems.push(Problem {
                path: keys.join("."),
                message: format!(
                    "environment variable {name} overrides inside `{blocker}`, which is not a table"
                ),
                line: None,
            });
        }
    }
}

/// Sets `keys` (a dotted path) to `value`, creating tables on the way.
/// Fails with the key that holds a non-table value.
fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            match table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(first.clone()),
            }
        }
    }
}

/// Environment values are TOML scalars when they parse as one (numbers,
/// booleans, arrays), strings otherwise.
fn parse_env_value(value: &str) -> toml::Value {
    let probe = format!("v = {value}");
    match probe.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(value.to_owned())),
        Err(_) => toml::Value::String(value.to_owned()),
    }
}

pub(crate) fn deserialize_section<T: DeserializeOwned>(
    value: &toml::Value,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match T::deserialize(value.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            let message = e.message().to_owned();
            let path = match unknown_field_name(&message) {
                Some(field) => format!("{path}.{field}"),
                None => path.to_owned(),
            };
            problems.push(Problem {
                path,
                message,
                line: None,
            });
            None
        }
    }
}

fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

fn validate(
    table: &toml::Table,
    base_dir: &Path,
    env: &dyn EnvSource,
    overrides: &Overrides,
    problems: &mut Vec<Problem>,
) -> Option<Config> {
    for key in table.keys() {
        if !matches!(key.as_str(), "server" | "upstreams" | "routes" | "policies") {
            problems.push(Problem {
                path: key.clone(),
                message: format!(
                    "unknown section `{key}`, expected one of `server`, `upstreams`, `routes`, `policies`"
                ),
                line: None,
            });
        }
    }
    let raw_server: RawServer = match table.get("server") {
        Some(v) => deserialize_section(v, "server", problems).unwrap_or_default(),
        None => RawServer::default(),
    };
    let raw_upstreams: Vec<Option<RawUpstream>> = array_entries(table, "upstreams", problems);
    let raw_routes: Vec<Option<RawRoute>> = array_entries(table, "routes", problems);

    let server = validate_server(raw_server, base_dir, overrides, problems);
    let policies = validate_policies(table.get("policies"), problems);
    let mut upstreams = Vec::new();
    for (i, raw) in raw_upstreams.into_iter().enumerate() {
        if let Some(raw) = raw
            && let Some(u) = validate_upstream(raw, &format!("upstreams[{i}]"), base_dir, problems)
        {
            upstreams.push(u);
        }
    }
    let mut routes = Vec::new();
    for (i, raw) in raw_routes.into_iter().enumerate() {
        if let Some(raw) = raw {
            routes.push((
                i,
                RouteConfig {
                    models: raw.models,
                    upstreams: raw.upstreams,
                    allow_plain_http: raw.allow_plain_http,
                    policy: raw.policy.unwrap_or_else(|| STANDARD.to_owned()),
                },
            ));
        }
    }

    if let Some(url) = &overrides.upstream {
        match Url::parse(url) {
            Ok(base_url) if matches!(base_url.scheme(), "http" | "https") => {
                // "One upstream for every model": the file's upstreams and
                // routes give way entirely.
                upstreams = vec![UpstreamConfig {
                    name: CLI_UPSTREAM_NAME.into(),
                    kind: UpstreamKind::OpenAi,
                    base_url,
                    // Local servers (Ollama, llama.cpp) need no key; send one
                    // only when it is set.
                    api_key_env: env
                        .var(CLI_UPSTREAM_KEY_ENV)
                        .map(|_| CLI_UPSTREAM_KEY_ENV.into()),
                    api_version: None,
                    deployments: BTreeMap::new(),
                    ca_bundle: None,
                    timeouts: Timeouts::default(),
                    retry: RetryPolicy::default(),
                    breaker: BreakerPolicy::default(),
                }];
                // Naming the URL on the command line is the explicit opt-in to
                // plain HTTP for this one upstream.
                routes = vec![(
                    usize::MAX,
                    RouteConfig {
                        models: vec!["*".into()],
                        upstreams: vec![CLI_UPSTREAM_NAME.into()],
                        allow_plain_http: true,
                        policy: STANDARD.to_owned(),
                    },
                )];
            }
            _ => problems.push(Problem {
                path: "--upstream".into(),
                message: format!("`{url}` is not an http:// or https:// URL"),
                line: None,
            }),
        }
    }

    let mut seen = BTreeMap::new();
    for (i, u) in upstreams.iter().enumerate() {
        if let Some(prev) = seen.insert(u.name.clone(), i) {
            problems.push(Problem {
                path: format!("upstreams[{i}].name"),
                message: format!(
                    "duplicate upstream name `{}` (also upstreams[{prev}])",
                    u.name
                ),
                line: None,
            });
        }
    }
    let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
    for (i, route) in &routes {
        let path = |suffix: &str| {
            if *i == usize::MAX {
                format!("--upstream{suffix}")
            } else {
                format!("routes[{i}]{suffix}")
            }
        };
        if route.models.is_empty() {
            problems.push(Problem {
                path: path(".models"),
                message: "a route needs at least one model name (or `*`)".into(),
                line: None,
            });
        }
        for (j, model) in route.models.iter().enumerate() {
            if model.trim().is_empty() {
                problems.push(Problem {
                    path: path(&format!(".models[{j}]")),
                    message: "empty model name".into(),
                    line: None,
                });
            } else if let Some(prev) = claimed.insert(model.clone(), *i) {
                problems.push(Problem {
                    path: path(&format!(".models[{j}]")),
                    message: format!("model `{model}` is already routed by routes[{prev}]"),
                    line: None,
                });
            }
        }
        if !policies.contains_key(&route.policy) {
            problems.push(Problem {
                path: path(".policy"),
                message: format!(
                    "no policy named `{}`; define `[policies.{}]` or use `standard` or `off`",
                    route.policy.chars().take(64).collect::<String>(),
                    route.policy.chars().take(64).collect::<String>()
                ),
                line: None,
            });
        }
        if route.upstreams.is_empty() {
            problems.push(Problem {
                path: path(".upstreams"),
                message: "a route needs at least one upstream".into(),
                line: None,
            });
        }
        for (j, name) in route.upstreams.iter().enumerate() {
            match upstreams.iter().find(|u| &u.name == name) {
                None => problems.push(Problem {
                    path: path(&format!(".upstreams[{j}]")),
                    message: format!("no upstream named `{name}` is defined"),
                    line: None,
                }),
                Some(u) if u.base_url.scheme() == "http" && !route.allow_plain_http => problems.push(Problem {
                    path: path(&format!(".upstreams[{j}]")),
                    message: format!(
                        "upstream `{name}` uses plain http://; set `allow_plain_http = true` on this route to allow unencrypted traffic explicitly"
                    ),
                    line: None,
                }),
                Some(_) => {}
            }
        }
    }
    let server = server?;
    Some(Config {
        server,
        upstreams,
        routes: routes.into_iter().map(|(_, r)| r).collect(),
        policies,
    })
}

fn array_entries<T: DeserializeOwned>(
    table: &toml::Table,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Option<T>> {
    match table.get(key) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| deserialize_section(v, &format!("{key}[{i}]"), problems))
            .collect(),
        Some(_) => {
            problems.push(Problem {
                path: key.into(),
                message: format!("`{key}` must be an array of tables (`[[{key}]]`)"),
                line: None,
            });
            Vec::new()
        }
    }
}

fn validate_server(
    raw: RawServer,
    base_dir: &Path,
    overrides: &Overrides,
    problems: &mut Vec<Problem>,
) -> Option<ServerConfig> {
    let (listen_text, listen_path) = match &overrides.listen {
        Some(l) => (l.clone(), "--listen"),
        None => (
            raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
            "server.listen",
        ),
    };
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(Problem {
                path: listen_path.into(),
                message: format!("`{listen_text}` is not a socket address like 127.0.0.1:8080"),
                line: None,
            });
            None
        }
    };
    let data_dir = match &overrides.data_dir {
        Some(d) => d.clone(),
        None => resolve(
            base_dir,
            &raw.data_dir
                .unwrap_or_else(|| PathBuf::from("./palisade-data")),
        ),
    };
    let tls = raw.tls.map(|t| TlsFiles {
        cert: resolve(base_dir, &t.cert),
        key: resolve(base_dir, &t.key),
    });
    let raw_limits = raw.limits.unwrap_or_default();
    let defaults = Limits::default();
    let mut limits = defaults.clone();
    let size = |v: Option<u64>,
                path: &str,
                min: u64,
                max: u64,
                default: usize,
                problems: &mut Vec<Problem>|
     -> usize {
        match v {
            None => default,
            Some(n) if n < min || n > max => {
                problems.push(Problem {
                    path: path.into(),
                    message: format!("must be between {min} and {max}, got {n}"),
                    line: None,
                });
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(default),
        }
    };
    limits.max_body_bytes = size(
        raw_limits.max_body_bytes,
        "server.limits.max_body_bytes",
        1024,
        1 << 30,
        defaults.max_body_bytes,
        problems,
    );
    // hyper cannot buffer a head smaller than 8 KiB.
    limits.max_header_bytes = size(
        raw_limits.max_header_bytes,
        "server.limits.max_header_bytes",
        8192,
        1 << 20,
        defaults.max_header_bytes,
        problems,
    );
    limits.max_headers = size(
        raw_limits.max_headers,
        "server.limits.max_headers",
        8,
        1000,
        defaults.max_headers,
        problems,
    );
    limits.max_upstream_response_bytes = size(
        raw_limits.max_upstream_response_bytes,
        "server.limits.max_upstream_response_bytes",
        1024,
        1 << 32,
        defaults.max_upstream_response_bytes,
        problems,
    );
    set_duration(
        &mut limits.header_read_timeout,
        raw_limits.header_read_timeout.as_deref(),
        "server.limits.header_read_timeout",
        problems,
    );
    set_duration(
        &mut limits.body_read_timeout,
        raw_limits.body_read_timeout.as_deref(),
        "server.limits.body_read_timeout",
        problems,
    );
    Some(ServerConfig {
        listen: listen?,
        data_dir,
        tls,
        limits,
    })
}

fn validate_upstream(
    raw: RawUpstream,
    path: &str,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Option<UpstreamConfig> {
    let before = problems.len();
    if raw.name.trim().is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        problems.push(Problem {
            path: format!("{path}.name"),
            message: "upstream names use letters, digits, `-`, `_` and `.` only".into(),
            line: None,
        });
    }
    let kind = match raw.kind.as_deref() {
        None | Some("openai") => UpstreamKind::OpenAi,
        Some("azure") => UpstreamKind::Azure,
        Some(other) => {
            problems.push(Problem {
                path: format!("{path}.kind"),
                message: format!("unknown upstream kind `{other}`, expected `openai` or `azure`"),
                line: None,
            });
            UpstreamKind::OpenAi
        }
    };
    let base_url = match Url::parse(&raw.base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            if !u.username().is_empty() || u.password().is_some() {
                problems.push(Problem {
                    path: format!("{path}.base_url"),
                    message: "credentials do not belong in the URL; use `api_key_env`".into(),
                    line: None,
                });
            }
            Some(u)
        }
        _ => {
            problems.push(Problem {
                path: format!("{path}.base_url"),
                message: "must be an absolute http:// or https:// URL".into(),
                line: None,
            });
            None
        }
    };
    if let Some(var) = &raw.api_key_env
        && (var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        problems.push(Problem {
                path: format!("{path}.api_key_env"),
                message: "must be the NAME of an environment variable (letters, digits, `_`), never the key itself".into(),
                line: None,
            });
    }
    if kind == UpstreamKind::Azure && raw.api_version.is_none() {
        problems.push(Problem {
            path: format!("{path}.api_version"),
            message: "Azure OpenAI upstreams need `api_version` (for example \"2024-10-21\")"
                .into(),
            line: None,
        });
    }
    let raw_t = raw.timeouts.unwrap_or_default();
    let mut timeouts = Timeouts::default();
    set_duration(
        &mut timeouts.connect,
        raw_t.connect.as_deref(),
        &format!("{path}.timeouts.connect"),
        problems,
    );
    set_duration(
        &mut timeouts.first_byte,
        raw_t.first_byte.as_deref(),
        &format!("{path}.timeouts.first_byte"),
        problems,
    );
    set_duration(
        &mut timeouts.total,
        raw_t.total.as_deref(),
        &format!("{path}.timeouts.total"),
        problems,
    );
    set_duration(
        &mut timeouts.stream_idle,
        raw_t.stream_idle.as_deref(),
        &format!("{path}.timeouts.stream_idle"),
        problems,
    );
    let raw_r = raw.retry.unwrap_or_default();
    let mut retry = RetryPolicy::default();
    if let Some(n) = raw_r.max_attempts {
        if (1..=10).contains(&n) {
            retry.max_attempts = n as u32;
        } else {
            problems.push(Problem {
                path: format!("{path}.retry.max_attempts"),
                message: format!("must be between 1 and 10, got {n}"),
                line: None,
            });
        }
    }
    set_duration(
        &mut retry.initial_backoff,
        raw_r.initial_backoff.as_deref(),
        &format!("{path}.retry.initial_backoff"),
        problems,
    );
    set_duration(
        &mut retry.max_backoff,
        raw_r.max_backoff.as_deref(),
        &format!("{path}.retry.max_backoff"),
        problems,
    );
    let raw_b = raw.circuit_breaker.unwrap_or_default();
    let mut breaker = BreakerPolicy::default();
    if let Some(n) = raw_b.failure_threshold {
        if (1..=1000).contains(&n) {
            breaker.failure_threshold = n as u32;
        } else {
            problems.push(Problem {
                path: format!("{path}.circuit_breaker.failure_threshold"),
                message: format!("must be between 1 and 1000, got {n}"),
                line: None,
            });
        }
    }
    set_duration(
        &mut breaker.open_for,
        raw_b.open_for.as_deref(),
        &format!("{path}.circuit_breaker.open_for"),
        problems,
    );
    if problems.len() != before {
        return None;
    }
    Some(UpstreamConfig {
        name: raw.name,
        kind,
        base_url: base_url?,
        api_key_env: raw.api_key_env,
        api_version: raw.api_version,
        deployments: raw.deployments,
        ca_bundle: raw.ca_bundle.map(|p| resolve(base_dir, &p)),
        timeouts,
        retry,
        breaker,
    })
}

/// Overwrites `target` with the duration in `text`, if given and valid.
fn set_duration(
    target: &mut Duration,
    text: Option<&str>,
    path: &str,
    problems: &mut Vec<Problem>,
) {
    if let Some(d) = duration(text, path, problems) {
        *target = d;
    }
}

fn duration(text: Option<&str>, path: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    let text = text?;
    match humantime::parse_duration(text) {
        Ok(d) if d > Duration::ZERO && d <= Duration::from_secs(24 * 3600) => Some(d),
        Ok(_) => {
            problems.push(Problem {
                path: path.into(),
                message: "must be more than 0 and at most 24h".into(),
                line: None,
            });
            None
        }
        Err(_) => {
            problems.push(Problem {
                path: path.into(),
                message: format!("`{text}` is not a duration like \"500ms\", \"5s\" or \"2m\""),
                line: None,
            });
            None
        }
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || base.as_os_str().is_empty() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Fills in line numbers by walking the key path through a span-preserving
/// parse of the source; the deepest key that exists gives the line.
fn locate_problems(text: &str, problems: &mut [Problem]) {
    let Ok(doc) = text.parse::<toml_edit::Document<String>>() else {
        return;
    };
    for p in problems.iter_mut() {
        if p.line.is_none() {
            p.line = locate(&doc, &p.path).map(|offset| line_of_offset(text, offset));
        }
    }
}

fn locate(doc: &toml_edit::Document<String>, path: &str) -> Option<usize> {
    let segments: Vec<(&str, Option<usize>)> = path
        .split('.')
        .map(|segment| match segment.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        })
        .collect();
    locate_in(doc.as_table(), &segments, None)
}

fn locate_in(
    table: &dyn toml_edit::TableLike,
    segments: &[(&str, Option<usize>)],
    best: Option<usize>,
) -> Option<usize> {
    use toml_edit::{Item, Value};
    let Some(((key, index), rest)) = segments.split_first() else {
        return best;
    };
    let Some((k, child)) = table.get_key_value(key) else {
        return best;
    };
    let best = k.span().map(|s| s.start).or(best);
    match (child, index) {
        (Item::ArrayOfTables(tables), Some(i)) => match tables.get(*i) {
            Some(t) => locate_in(t, rest, t.span().map(|s| s.start).or(best)),
            None => best,
        },
        (Item::Value(Value::Array(values)), Some(i)) => match values.get(*i) {
            Some(Value::InlineTable(t)) => locate_in(t, rest, t.span().map(|s| s.start).or(best)),
            Some(v) => v.span().map(|s| s.start).or(best),
            None => best,
        },
        (_, None) => match child.as_table_like() {
            Some(t) => locate_in(t, rest, best),
            None => best,
        },
        _ => best,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> MapEnv {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn problems(text: &str) -> Vec<Problem> {
        match parse(text, Path::new(""), &env(&[]), &Overrides::default()) {
            Err(ConfigError::Invalid(p)) => p,
            other => panic!("expected invalid config, got {other:?}"),
        }
    }

    #[test]
    fn embedded_default_is_valid() {
        let config = parse(
            EMBEDDED_DEFAULT,
            Path::new(""),
            &env(&[]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.data_dir, PathBuf::from("./palisade-data"));
        assert!(config.server.tls.is_none());
    }

    #[test]
    fn reports_every_problem_with_path_and_line() {
        let text = r#"
[server]
listen = "not an address"
lisen = 3

[[upstreams]]
name = "a"
base_url = "ftp://x"

[[upstreams]]
name = "b"
base_url = "https://b.example/v1"
[upstreams.timeouts]
connect = "soon"

[[routes]]
models = ["m"]
upstreams = ["missing"]
"#;
        let p = problems(text);
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"server.lisen"), "{p:?}");
        assert!(paths.contains(&"upstreams[0].base_url"), "{p:?}");
        assert!(paths.contains(&"upstreams[1].timeouts.connect"), "{p:?}");
        assert!(paths.contains(&"routes[0].upstreams[0]"), "{p:?}");
        let lisen = p.iter().find(|p| p.path == "server.lisen").unwrap();
        assert_eq!(lisen.line, Some(4));
        let base = p
            .iter()
            .find(|p| p.path == "upstreams[0].base_url")
            .unwrap();
        assert_eq!(base.line, Some(8));
        let connect = p
            .iter()
            .find(|p| p.path == "upstreams[1].timeouts.connect")
            .unwrap();
        assert_eq!(connect.line, Some(14));
    }

    #[test]
    fn toml_syntax_error_has_line() {
        let p = problems("[server]\nlisten = \n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(2));
    }

    #[test]
    fn plain_http_upstream_needs_explicit_route_opt_in() {
        let text = r#"
[[upstreams]]
name = "local"
base_url = "http://127.0.0.1:11434/v1"
[[routes]]
models = ["llama3"]
upstreams = ["local"]
"#;
        let p = problems(text);
        assert!(p[0].message.contains("allow_plain_http"), "{p:?}");
        let ok = text.replace(
            "upstreams = [\"local\"]",
            "upstreams = [\"local\"]\nallow_plain_http = true",
        );
        assert!(parse(&ok, Path::new(""), &env(&[]), &Overrides::default()).is_ok());
    }

    #[test]
    fn env_overrides_nested_keys_and_cli_wins() {
        let e = env(&[
            ("PALISADE_SERVER__LISTEN", "0.0.0.0:9000"),
            ("PALISADE_SERVER__LIMITS__MAX_BODY_BYTES", "2048"),
        ]);
        let c = parse(EMBEDDED_DEFAULT, Path::new(""), &e, &Overrides::default()).unwrap();
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.server.limits.max_body_bytes, 2048);
        let o = Overrides {
            listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        let c = parse(EMBEDDED_DEFAULT, Path::new(""), &e, &o).unwrap();
        assert_eq!(c.server.listen.port(), 0);
    }

    #[test]
    fn cli_upstream_replaces_routes_with_a_catch_all() {
        let o = Overrides {
            upstream: Some("http://127.0.0.1:1234/v1".into()),
            ..Overrides::default()
        };
        let c = parse(EMBEDDED_DEFAULT, Path::new(""), &env(&[]), &o).unwrap();
        assert_eq!(c.routes.len(), 1);
        assert_eq!(c.routes[0].models, vec!["*".to_string()]);
        assert_eq!(c.routes[0].upstreams, vec![CLI_UPSTREAM_NAME.to_string()]);
        assert_eq!(c.upstreams.len(), 1);
        assert!(c.upstreams[0].api_key_env.is_none());
        let keyed = parse(
            EMBEDDED_DEFAULT,
            Path::new(""),
            &env(&[(CLI_UPSTREAM_KEY_ENV, "k")]),
            &o,
        )
        .unwrap();
        assert_eq!(
            keyed.upstreams[0].api_key_env.as_deref(),
            Some(CLI_UPSTREAM_KEY_ENV)
        );
    }

    #[test]
    fn keys_are_never_accepted_inline() {
        let text = r#"
[[upstreams]]
name = "x"
base_url = "https://x.example/v1"
api_key = "sk-live-123"
"#;
        let p = problems(text);
        assert_eq!(p[0].path, "upstreams[0].api_key");
        assert!(!p.iter().any(|p| p.message.contains("sk-live-123")));
    }

    #[test]
    fn duplicate_models_and_upstreams_are_rejected() {
        let text = r#"
[[upstreams]]
name = "x"
base_url = "https://x.example/v1"
[[upstreams]]
name = "x"
base_url = "https://y.example/v1"
[[routes]]
models = ["m"]
upstreams = ["x"]
[[routes]]
models = ["m"]
upstreams = ["x"]
"#;
        let p = problems(text);
        assert!(p.iter().any(|p| p.path == "upstreams[1].name"), "{p:?}");
        assert!(p.iter().any(|p| p.path == "routes[1].models[0]"), "{p:?}");
    }
}
