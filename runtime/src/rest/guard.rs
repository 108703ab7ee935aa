//! What keeps a web page from driving the worker through a browser that can reach it.
//!
//! - **Cross-site requests.** A request that may change state (`POST`, `PUT`, `PATCH`,
//!   `DELETE`) is refused (403) when it carries an `Origin` other than the `Host` it was sent
//!   to (browsers send `Origin` with every cross-site request of these methods; command-line
//!   clients send none), and refused (415) when its body is not `application/json` (a form or
//!   `text/plain` body is what a page can send without asking the server first).
//! - **DNS rebinding.** A worker listening on loopback answers only requests addressed to a
//!   loopback name (`localhost`, `127.0.0.1`, `[::1]`); a page whose domain was re-pointed at
//!   127.0.0.1 sends its own domain as `Host` and gets 403.
//! - **Writes by `GET`.** RocketMQ Connect changes state on some `GET` calls (`/connectors/{name}/pause`,
//!   `/connectors/stop/all`, `/connectors/{name}?config=...` creates); any page can make a browser
//!   send a `GET`, so they answer 405 unless [`RestOptions::get_writes`](super::RestOptions::get_writes) is on.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::ApiError;

/// The guard of one listener.
#[derive(Clone, Debug)]
pub(super) struct Guard {
    /// RocketMQ Connect's `GET` writes are served.
    pub(super) get_writes: bool,
    /// The listener is on loopback: only loopback names are accepted as `Host`.
    pub(super) loopback: bool,
}

/// Checks a request against the guard before it reaches a handler.
pub(super) async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match refusal(&guard, request.method(), request.uri(), request.headers()) {
        Some(error) => super::refuse(request, error).await,
        None => next.run(request).await,
    }
}

fn refusal(guard: &Guard, method: &Method, uri: &axum::http::Uri, headers: &HeaderMap) -> Option<ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if guard.loopback && !host.is_empty() && !is_loopback_name(host) {
        return Some(ApiError::new(403, format!("Host {host:?} is not a name of this worker (it listens on loopback only)")));
    }
    let writes = matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if writes {
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
            && origin_authority(origin) != Some(host)
        {
            return Some(ApiError::new(403, format!("cross-site request from {origin:?} refused")));
        }
        let has_body = headers.get(header::CONTENT_LENGTH).is_some_and(|l| l != "0") || headers.contains_key(header::TRANSFER_ENCODING);
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok());
        if has_body && !content_type.is_some_and(is_json) {
            return Some(ApiError::new(
                415,
                format!("Content-Type {} is not accepted: send application/json", content_type.unwrap_or("(none)")),
            ));
        }
    }
    if *method == Method::GET && !guard.get_writes && is_get_write(uri) {
        return Some(ApiError::new(
            405,
            "GET does not change state here: use POST or PUT (or start the worker with --rest-get-writes for RocketMQ Connect's GET calls)",
        ));
    }
    None
}

/// `application/json` or a JSON media type of its own (`application/vnd.schemaregistry.v1+json`,
/// which the registry's clients send), with or without parameters (`; charset=utf-8`). None of
/// them is a type a page may send across sites without asking the server first.
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| t == "application/json" || (t.starts_with("application/") && t.ends_with("+json")))
}

/// `host[:port]` of an `Origin` (`scheme://host[:port]`).
fn origin_authority(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, authority)| authority.trim_end_matches('/'))
}

/// Whether `host[:port]` names this machine's loopback interface.
fn is_loopback_name(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8083`, `[::1]`, `name:8083`; a bare IPv6 address is not a valid Host.
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// RocketMQ Connect's `GET` calls that change state.
pub(super) fn is_get_write(uri: &axum::http::Uri) -> bool {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["connectors", "stop" | "pause" | "resume", "all"] => true,
        ["connectors", _, "pause" | "resume" | "stop"] => true,
        ["connectors", name] if *name != "list" => {
            uri.query().is_some_and(|q| q.split('&').any(|pair| pair.split('=').next() == Some("config")))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, headers: &[(header::HeaderName, &str)]) -> Option<u16> {
        let guard = Guard { get_writes: false, loopback: true };
        let mut map = HeaderMap::new();
        map.insert(header::HOST, "127.0.0.1:8083".parse().unwrap());
        for (name, value) in headers {
            map.insert(name.clone(), value.parse().unwrap());
        }
        refusal(&guard, &method, &uri.parse().unwrap(), &map).map(|e| e.status.as_u16())
    }

    #[test]
    fn command_line_clients_pass_and_browser_shaped_writes_do_not() {
        let json = [(header::CONTENT_TYPE, "application/json; charset=utf-8"), (header::CONTENT_LENGTH, "2")];
        assert_eq!(request(Method::POST, "/connectors", &json), None);
        assert_eq!(request(Method::PUT, "/connectors/a/pause", &[]), None, "no body, no origin: curl");
        assert_eq!(request(Method::GET, "/connectors/a/status", &[(header::ORIGIN, "https://evil.example")]), None, "reads are fine");
        let form = [(header::CONTENT_TYPE, "text/plain"), (header::CONTENT_LENGTH, "40")];
        assert_eq!(request(Method::POST, "/connectors", &form), Some(415));
        assert_eq!(request(Method::POST, "/connectors", &[(header::CONTENT_LENGTH, "40")]), Some(415), "a body without a type");
        let cross = [(header::ORIGIN, "https://evil.example")];
        assert_eq!(request(Method::PUT, "/connectors/a/pause", &cross), Some(403));
        assert_eq!(request(Method::DELETE, "/connectors/a", &[(header::ORIGIN, "http://127.0.0.1:8083")]), None, "same origin");
    }

    #[test]
    fn a_rebound_name_is_refused_on_loopback() {
        assert_eq!(request(Method::GET, "/connectors", &[(header::HOST, "evil.example:8083")]), Some(403));
        for host in ["localhost:8083", "LOCALHOST", "127.0.0.1", "127.1.2.3:1", "[::1]:8083", "[::1]"] {
            assert!(is_loopback_name(host), "{host}");
        }
        assert!(!is_loopback_name("10.0.0.1:8083"));
        let open = Guard { get_writes: false, loopback: false };
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "worker-1.internal:8083".parse().unwrap());
        assert!(refusal(&open, &Method::GET, &"/connectors".parse().unwrap(), &headers).is_none(), "any name when not on loopback");
    }

    #[test]
    fn rocketmq_connect_s_get_writes_need_the_option() {
        for uri in
            ["/connectors/stop/all", "/connectors/a/pause", "/connectors/a/resume", "/connectors/a/stop", "/connectors/a?config=%7B%7D"]
        {
            assert_eq!(request(Method::GET, uri, &[]), Some(405), "{uri}");
        }
        for uri in ["/connectors/list", "/connectors/a", "/connectors/a/status", "/connectors?expand=status"] {
            assert_eq!(request(Method::GET, uri, &[]), None, "{uri}");
        }
        let allowed = Guard { get_writes: true, loopback: true };
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "localhost:8083".parse().unwrap());
        assert!(refusal(&allowed, &Method::GET, &"/connectors/a/pause".parse().unwrap(), &headers).is_none());
    }
}
