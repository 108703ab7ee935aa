//! What keeps a web page from driving the worker through a browser that can reach it, and a
//! slow or oversized request from holding the API.
//!
//! Every request is judged once ([`Call::of`]: method, decoded path and query, authority) and
//! the judgement travels with it to the credentials check and the handlers.
//!
//! - **Cross-site requests.** A request that may change state is refused (403) when it carries
//!   an `Origin` other than the authority it was sent to (browsers send `Origin` with every
//!   cross-site request of the writing methods; command-line clients send none), and refused
//!   (415) when it has a body that is not `application/json` (a form or `text/plain` body is
//!   what a page can send without asking the server first).
//! - **DNS rebinding.** A worker listening on loopback answers only requests addressed to a
//!   loopback name (`localhost`, `127.0.0.1`, `[::1]`), whether the name comes in HTTP/1's
//!   `Host` or HTTP/2's `:authority`; a page whose domain was re-pointed at 127.0.0.1 sends
//!   its own domain and gets 403.
//! - **Writes by `GET` and `HEAD`.** RocketMQ Connect changes state on some `GET` calls
//!   (`/connectors/{name}/pause`, `/connectors/stop/all`, `/connectors/{name}?config=...`
//!   creates, in any percent-encoding of path or query); any page can make a browser send a
//!   `GET`, so they answer 405 unless [`RestOptions::get_writes`](super::RestOptions::get_writes)
//!   is on. A `HEAD` never writes: one that would is a 405 always.
//! - **Bodies.** A request's body is read in full before any handler runs, at most
//!   [`MAX_BODY`] bytes (413) within [`BODY_READ_TIMEOUT`] (408), so a stalled or endless body
//!   holds no handler.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::ApiError;
use super::call::Call;

/// The largest request body read (Kafka Connect's configs are a few KiB; a schema a few hundred).
pub(super) const MAX_BODY: usize = 2 * 1024 * 1024;
/// How long a client has to send its whole body.
pub(super) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The guard of one listener.
#[derive(Clone, Debug)]
pub(super) struct Guard {
    /// RocketMQ Connect's `GET` writes are served.
    pub(super) get_writes: bool,
    /// The listener is on loopback: only loopback names are accepted as its authority.
    pub(super) loopback: bool,
}

/// Judges a request, checks it against the guard and reads its body before a handler sees it;
/// the [`Call`] goes on in the request's extensions.
pub(super) async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let call = match Call::of(request.method(), request.uri(), request.version(), request.headers()) {
        Ok(call) => call,
        Err(error) => return super::refuse(request, error).await,
    };
    if let Some(error) = refusal(&guard, &call, request.headers()) {
        return super::refuse(request, error).await;
    }
    let (mut parts, body) = request.into_parts();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    if call.writes && !body.is_empty() {
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok());
        if !content_type.is_some_and(is_json) {
            let message = format!("Content-Type {} is not accepted: send application/json", content_type.unwrap_or("(none)"));
            return ApiError::new(415, message).into_response();
        }
    }
    parts.extensions.insert(call);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The whole body, bounded in size and in time.
pub(super) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<LengthLimitError>() => {
            Err(ApiError::new(413, format!("the request body is over {} MiB", MAX_BODY / (1024 * 1024))))
        }
        Ok(Err(error)) => Err(ApiError::bad_request(format!("the request body could not be read: {error}"))),
        Err(_) => Err(ApiError::new(408, format!("the request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()))),
    }
}

fn refusal(guard: &Guard, call: &Call, headers: &HeaderMap) -> Option<ApiError> {
    let authority = call.authority.as_deref().unwrap_or_default();
    if guard.loopback && !authority.is_empty() && !is_loopback_name(authority) {
        return Some(ApiError::new(403, format!("{authority:?} is not a name of this worker (it listens on loopback only)")));
    }
    if call.reads() {
        return None;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !same_origin(origin, authority) {
            return Some(ApiError::new(403, format!("cross-site request from {origin:?} refused")));
        }
    }
    if call.method == Method::HEAD {
        return Some(ApiError::new(405, "HEAD never changes state: this call needs POST or PUT"));
    }
    if call.method == Method::GET && !guard.get_writes {
        return Some(ApiError::new(
            405,
            "GET does not change state here: use POST or PUT (or start the worker with --rest-get-writes for RocketMQ Connect's GET calls)",
        ));
    }
    None
}

/// Whether `origin` (`scheme://host[:port]`) is the authority the request was sent to, the
/// scheme's default port implied where either leaves it out.
fn same_origin(origin: &str, authority: &str) -> bool {
    let Some((scheme, origin_authority)) = origin.split_once("://") else { return false };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let normal = |a: &str| {
        let a = a.trim_end_matches('/').to_ascii_lowercase();
        a.strip_suffix(default_port).map(str::to_owned).unwrap_or(a)
    };
    !authority.is_empty() && normal(origin_authority) == normal(authority)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(guard: &Guard, method: Method, uri: &str, headers: &[(header::HeaderName, &str)]) -> Option<u16> {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, "127.0.0.1:8083".parse().unwrap());
        for (name, value) in headers {
            map.insert(name.clone(), value.parse().unwrap());
        }
        match Call::of(&method, &uri.parse().unwrap(), axum::http::Version::HTTP_11, &map) {
            Ok(call) => refusal(guard, &call, &map).map(|e| e.status.as_u16()),
            Err(error) => Some(error.status.as_u16()),
        }
    }

    fn request(method: Method, uri: &str, headers: &[(header::HeaderName, &str)]) -> Option<u16> {
        judged(&Guard { get_writes: false, loopback: true }, method, uri, headers)
    }

    #[test]
    fn command_line_clients_pass_and_cross_site_writes_do_not() {
        assert_eq!(request(Method::POST, "/connectors", &[(header::CONTENT_TYPE, "application/json")]), None);
        assert_eq!(request(Method::PUT, "/connectors/a/pause", &[]), None, "no body, no origin: curl");
        assert_eq!(request(Method::GET, "/connectors/a/status", &[(header::ORIGIN, "https://evil.example")]), None, "reads are fine");
        let cross = [(header::ORIGIN, "https://evil.example")];
        assert_eq!(request(Method::PUT, "/connectors/a/pause", &cross), Some(403));
        assert_eq!(request(Method::PUT, "/connectors/a/pause", &[(header::ORIGIN, "null")]), Some(403), "an opaque origin");
        assert_eq!(request(Method::DELETE, "/connectors/a", &[(header::ORIGIN, "http://127.0.0.1:8083")]), None, "same origin");
        assert_eq!(request(Method::DELETE, "/connectors/a", &[(header::ORIGIN, "HTTP://127.0.0.1:8083/")]), None);
        assert!(same_origin("https://worker", "worker:443") && same_origin("http://worker:80", "worker"));
        assert!(!same_origin("https://worker", "worker:80") && !same_origin("ftp://worker", "worker") && !same_origin("https://w", ""));
        assert!(is_json("application/json; charset=utf-8") && is_json("application/vnd.schemaregistry.v1+json"));
        assert!(!is_json("text/plain") && !is_json("application/x-www-form-urlencoded") && !is_json("multipart/form-data"));
    }

    #[test]
    fn a_rebound_name_is_refused_on_loopback_in_host_or_authority() {
        assert_eq!(request(Method::GET, "/connectors", &[(header::HOST, "evil.example:8083")]), Some(403));
        assert_eq!(request(Method::GET, "https://evil.example:8083/connectors", &[(header::HOST, "evil.example:8083")]), Some(403));
        assert_eq!(request(Method::GET, "https://evil.example:8083/connectors", &[]), Some(400), "Host and :authority differ");
        for host in ["localhost:8083", "LOCALHOST", "127.0.0.1", "127.1.2.3:1", "[::1]:8083", "[::1]"] {
            assert!(is_loopback_name(host), "{host}");
        }
        assert!(!is_loopback_name("10.0.0.1:8083"));
        let open = Guard { get_writes: false, loopback: false };
        assert_eq!(judged(&open, Method::GET, "/connectors", &[(header::HOST, "worker-1.internal:8083")]), None, "any name off loopback");
    }

    #[test]
    fn writes_by_get_need_the_option_and_by_head_are_refused() {
        let writes = [
            "/connectors/stop/all",
            "/connectors/a/pause",
            "/connectors/a/resume",
            "/connectors/a/stop",
            "/connectors/a?config=%7B%7D",
            "/connectors/a?%63onfig=%7B%7D",
            "/connectors/a/%70ause",
        ];
        for uri in writes {
            assert_eq!(request(Method::GET, uri, &[]), Some(405), "GET {uri}");
            assert_eq!(request(Method::HEAD, uri, &[]), Some(405), "HEAD {uri}");
        }
        for uri in ["/connectors/list", "/connectors/a", "/connectors/a/status", "/connectors?expand=status"] {
            assert_eq!(request(Method::GET, uri, &[]), None, "{uri}");
            assert_eq!(request(Method::HEAD, uri, &[]), None, "{uri}");
        }
        let allowed = Guard { get_writes: true, loopback: true };
        assert_eq!(judged(&allowed, Method::GET, "/connectors/a/pause", &[]), None);
        assert_eq!(judged(&allowed, Method::HEAD, "/connectors/a/pause", &[]), Some(405), "HEAD never writes");
        assert_eq!(judged(&allowed, Method::GET, "/connectors/a/pause", &[(header::ORIGIN, "https://evil.example")]), Some(403));
    }
}
