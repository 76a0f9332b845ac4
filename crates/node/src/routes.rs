//! Which deployment serves a request.
//!
//! A request is matched, in order, against:
//! 1. the route patterns (`host/path*`, as Workers routes): the most
//!    specific matching pattern wins (see [`RoutePattern`]);
//! 2. the default host of every worker, `<name>.<domain>` (the domain is
//!    `localhost` unless set), so `Host: hello.localhost` reaches `hello`;
//! 3. the default worker, if one is set (`outpost dev` serves every request
//!    with its one worker).
//!
//! The table is swapped whole by [`Routes::replace`] (a node following the
//! control plane) or one deployment at a time by [`Routes::deploy`]. Requests
//! already routed keep the spec they were routed to, so in-flight requests
//! finish on the version they started on.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use outpost_runtime::WorkerSpec;

/// The domain of default hosts when none is set.
pub const DEFAULT_DOMAIN: &str = "localhost";

/// The node's routing table. Shared by all executor threads; swapping a
/// deployment's spec is how a new version goes live.
pub struct Routes {
    table: RwLock<Table>,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            table: RwLock::new(Table {
                domain: DEFAULT_DOMAIN.to_string(),
                ..Table::default()
            }),
        }
    }
}

#[derive(Default)]
struct Table {
    by_name: HashMap<String, Arc<WorkerSpec>>,
    /// Most specific first.
    patterns: Vec<(RoutePattern, String)>,
    domain: String,
    default: Option<String>,
}

/// A whole routing table, installed at once by [`Routes::replace`].
#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    /// Every deployment the node serves.
    pub workers: Vec<Arc<WorkerSpec>>,
    /// Route patterns and the worker each one sends requests to.
    pub routes: Vec<(RoutePattern, String)>,
    /// Domain of the default hosts `<name>.<domain>`.
    pub domain: String,
    /// Worker for requests nothing else matches.
    pub default: Option<String>,
}

impl Routes {
    /// An empty table with the default domain `localhost`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs (or replaces) a deployment.
    pub fn deploy(&self, spec: Arc<WorkerSpec>) {
        let mut t = self.table.write().expect("routes lock");
        t.by_name.insert(spec.name.clone(), spec);
    }

    /// Replaces the whole table at once: workers, patterns, domain and
    /// default. Requests routed before the swap keep their specs.
    pub fn replace(&self, table: RouteTable) {
        let mut patterns = table.routes;
        patterns.sort_by_key(|(p, _)| Reverse(p.specificity()));
        let new = Table {
            by_name: table
                .workers
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect(),
            patterns,
            domain: normalize_host(&table.domain).into_owned(),
            default: table.default,
        };
        *self.table.write().expect("routes lock") = new;
    }

    /// Makes `name` the worker for requests nothing else matches.
    pub fn set_default(&self, name: &str) {
        self.table.write().expect("routes lock").default = Some(name.to_string());
    }

    /// The current spec of a deployment.
    pub fn get(&self, name: &str) -> Option<Arc<WorkerSpec>> {
        self.table
            .read()
            .expect("routes lock")
            .by_name
            .get(name)
            .cloned()
    }

    /// The current spec of every deployment, in no particular order.
    pub fn workers(&self) -> Vec<Arc<WorkerSpec>> {
        let t = self.table.read().expect("routes lock");
        t.by_name.values().cloned().collect()
    }

    /// Finds the deployment for a request's `Host` (with or without port)
    /// and path (without the query).
    pub fn route(&self, host: Option<&str>, path: &str) -> Option<Arc<WorkerSpec>> {
        let host = normalize_host(host.unwrap_or(""));
        let t = self.table.read().expect("routes lock");
        for (pattern, worker) in &t.patterns {
            if pattern.matches(&host, path) {
                if let Some(spec) = t.by_name.get(worker) {
                    return Some(spec.clone());
                }
            }
        }
        if let Some(label) = host
            .strip_suffix(t.domain.as_str())
            .and_then(|h| h.strip_suffix('.'))
        {
            if let Some(spec) = t.by_name.get(label) {
                return Some(spec.clone());
            }
        }
        t.default.as_ref().and_then(|d| t.by_name.get(d)).cloned()
    }
}

/// Lower-cases a host and strips its port and any trailing dot. Borrows
/// when there is nothing to change (the common case on the request path).
pub fn normalize_host(host: &str) -> Cow<'_, str> {
    let host = host.trim();
    let bare = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    let bare = bare.trim_end_matches('.');
    if bare.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(bare.to_ascii_lowercase())
    } else {
        Cow::Borrowed(bare)
    }
}

/// A route pattern, `host/path`, as Workers routes are written:
///
/// - host: `example.com` (exactly), `*.example.com` (any subdomain),
///   `*example.com` (the domain and any subdomain), or `*` (any host);
/// - path: `/exact` or `/prefix*` (a `*` only at the end).
///
/// A scheme (`https://`) is accepted and ignored; the query string of a
/// request is never matched. When several patterns match, the most specific
/// wins: an exact host beats a wildcard host, then the longer host, then an
/// exact path beats a prefix, then the longer path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    text: String,
    host: HostMatch,
    path: PathMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// `*.example.com`: stores `.example.com`.
    Subdomains(String),
    /// `*example.com`: stores `example.com`.
    DomainAndSubdomains(String),
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathMatch {
    Exact(String),
    Prefix(String),
}

/// Why a route pattern is invalid.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid route pattern `{pattern}`: {reason}")]
pub struct RouteError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl RoutePattern {
    /// Parses a pattern such as `example.com/*` or `*.example.com/api/*`.
    pub fn parse(pattern: &str) -> Result<RoutePattern, RouteError> {
        let err = |reason| RouteError {
            pattern: pattern.to_string(),
            reason,
        };
        let text = pattern.trim();
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .unwrap_or(text);
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => return Err(err("a path is required, e.g. `example.com/*`")),
        };
        if host.is_empty() {
            return Err(err("the host is empty"));
        }
        if path.contains('?') || path.contains('#') {
            return Err(err("a query string or fragment cannot be routed"));
        }
        let host_match = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostMatch::Subdomains(format!(
                ".{}",
                valid_host(suffix).ok_or_else(|| err(BAD_HOST))?
            ))
        } else if let Some(suffix) = host.strip_prefix('*') {
            HostMatch::DomainAndSubdomains(valid_host(suffix).ok_or_else(|| err(BAD_HOST))?)
        } else {
            HostMatch::Exact(valid_host(host).ok_or_else(|| err(BAD_HOST))?)
        };
        let path_match = match path.strip_suffix('*') {
            Some(prefix) if !prefix.contains('*') => PathMatch::Prefix(prefix.to_string()),
            None if !path.contains('*') => PathMatch::Exact(path.to_string()),
            _ => {
                return Err(err(
                    "`*` is only allowed at the start of the host and the end of the path",
                ))
            }
        };
        Ok(RoutePattern {
            text: text.to_string(),
            host: host_match,
            path: path_match,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a request for `host` (normalized: lower case, no port) and
    /// `path` matches.
    pub fn matches(&self, host: &str, path: &str) -> bool {
        let host_ok = match &self.host {
            HostMatch::Exact(h) => host == h,
            HostMatch::Subdomains(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
            HostMatch::DomainAndSubdomains(d) => {
                host == d
                    || host
                        .strip_suffix(d.as_str())
                        .is_some_and(|h| h.ends_with('.'))
            }
            HostMatch::Any => true,
        };
        host_ok
            && match &self.path {
                PathMatch::Exact(p) => path == p,
                PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            }
    }

    /// A key that orders patterns from least to most specific: exact host,
    /// host length, exact path, path length.
    pub fn specificity(&self) -> (bool, usize, bool, usize) {
        let (host_exact, host_len) = match &self.host {
            HostMatch::Exact(h) => (true, h.len()),
            HostMatch::Subdomains(s) => (false, s.len()),
            HostMatch::DomainAndSubdomains(d) => (false, d.len()),
            HostMatch::Any => (false, 0),
        };
        let (path_exact, path_len) = match &self.path {
            PathMatch::Exact(p) => (true, p.len()),
            PathMatch::Prefix(p) => (false, p.len()),
        };
        (host_exact, host_len, path_exact, path_len)
    }
}

impl std::fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

const BAD_HOST: &str = "the host must be a domain name (letters, digits, `-` and `.`), optionally starting with `*` or `*.`";

fn valid_host(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let ok = !host.is_empty()
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !host.contains("..")
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> Arc<WorkerSpec> {
        let source = "export default { fetch() { return new Response('x') } };";
        Arc::new(WorkerSpec::from_source(name, source).unwrap())
    }

    fn p(s: &str) -> RoutePattern {
        RoutePattern::parse(s).unwrap()
    }

    #[test]
    fn parses_and_matches_patterns() {
        assert!(p("example.com/*").matches("example.com", "/x"));
        assert!(!p("example.com/*").matches("www.example.com", "/x"));
        assert!(p("*.example.com/*").matches("www.example.com", "/"));
        assert!(!p("*.example.com/*").matches("example.com", "/"));
        assert!(p("*example.com/*").matches("example.com", "/"));
        assert!(p("*example.com/*").matches("a.b.example.com", "/"));
        assert!(!p("*example.com/*").matches("badexample.com", "/"));
        assert!(p("https://Example.com/api/*").matches("example.com", "/api/v1"));
        assert!(!p("example.com/api/*").matches("example.com", "/ap"));
        assert!(p("example.com/exact").matches("example.com", "/exact"));
        assert!(!p("example.com/exact").matches("example.com", "/exact/more"));
        assert!(p("*/*").matches("anything", "/"));
        for bad in [
            "example.com",
            "/x",
            "exa*mple.com/*",
            "example.com/a*b",
            "ex ample.com/*",
        ] {
            assert!(RoutePattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn most_specific_wins_then_default_host_then_default() {
        let routes = Routes::new();
        routes.replace(RouteTable {
            workers: ["site", "api", "v2", "wild", "hello"]
                .iter()
                .map(|n| spec(n))
                .collect(),
            routes: vec![
                (p("*example.com/*"), "wild".into()),
                (p("example.com/*"), "site".into()),
                (p("example.com/api/*"), "api".into()),
                (p("example.com/api/v2/*"), "v2".into()),
            ],
            domain: "localhost".into(),
            default: None,
        });
        let at = |host: &str, path: &str| routes.route(Some(host), path).map(|s| s.name.clone());
        assert_eq!(at("example.com", "/").as_deref(), Some("site"));
        assert_eq!(at("EXAMPLE.com:8787", "/api/x").as_deref(), Some("api"));
        assert_eq!(at("example.com", "/api/v2/y").as_deref(), Some("v2"));
        assert_eq!(at("www.example.com", "/api/x").as_deref(), Some("wild"));
        assert_eq!(at("hello.localhost:8787", "/").as_deref(), Some("hello"));
        assert_eq!(at("hello.localhost.", "/").as_deref(), Some("hello"));
        assert_eq!(at("nobody.localhost", "/"), None);
        assert_eq!(at("localhost", "/"), None);
        assert_eq!(routes.route(None, "/").map(|s| s.name.clone()), None);
        routes.set_default("hello");
        assert_eq!(at("nobody.localhost", "/").as_deref(), Some("hello"));
        // A pattern whose worker is not deployed falls through.
        routes.replace(RouteTable {
            workers: vec![spec("hello")],
            routes: vec![(p("hello.localhost/*"), "gone".into())],
            domain: "example.net".into(),
            default: None,
        });
        assert_eq!(at("hello.localhost", "/"), None);
        assert_eq!(at("hello.example.net", "/").as_deref(), Some("hello"));
    }

    #[test]
    fn normalizes_hosts() {
        assert_eq!(normalize_host("Hello.LOCALHOST:8787"), "hello.localhost");
        assert_eq!(normalize_host("[::1]:80"), "::1");
        assert_eq!(normalize_host("example.com."), "example.com");
    }
}
