//! What a request asks for, judged once: [`Call::of`] normalises a request (its method, its
//! path percent-decoded, its query keys decoded as the handlers' `Query` decodes them, the
//! authority it was sent to, from HTTP/2's `:authority` or HTTP/1's `Host`) and decides whether
//! it writes. The guard ([`super::guard`]) and the credentials check ([`super::auth`]) judge that
//! one value, and the handlers of RocketMQ Connect's `GET` writes serve only a request it judged
//! a write ([`require_judged_write`]), so no second reading of the request can disagree.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, Uri, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// A request, normalised (see the module documentation).
#[derive(Clone, Debug)]
pub(super) struct Call {
    /// The method as sent.
    pub(super) method: Method,
    /// The path as sent (open paths and messages use it).
    pub(super) path: String,
    /// The authority the request was addressed to (`host[:port]`), if it named one.
    pub(super) authority: Option<String>,
    /// Whether serving it may change state.
    pub(super) writes: bool,
}

impl Call {
    /// Normalises a request; a path that is not UTF-8 once decoded, a `Host` that contradicts
    /// the request's authority, two `Host`s, or an HTTP/1.1 request naming no host is a 400.
    pub(super) fn of(method: &Method, uri: &Uri, version: Version, headers: &HeaderMap) -> Result<Call, ApiError> {
        let segments = decoded_segments(uri.path())?;
        let authority = authority(uri, headers)?;
        if authority.is_none() && version == Version::HTTP_11 {
            return Err(ApiError::bad_request("an HTTP/1.1 request names its host (Host)"));
        }
        let writes = match *method {
            Method::GET | Method::HEAD => is_get_write(&segments, uri.query()),
            // OPTIONS, TRACE and methods no route serves are judged as writes: credentials for
            // them are never those of a reader.
            _ => true,
        };
        Ok(Call { method: method.clone(), path: uri.path().to_owned(), authority, writes })
    }

    /// Whether the request only reads.
    pub(super) fn reads(&self) -> bool {
        !self.writes
    }
}

/// The path's segments, percent-decoded, without empty ones.
fn decoded_segments(path: &str) -> Result<Vec<String>, ApiError> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| ApiError::bad_request("the path is not UTF-8 once percent-decoded"))
        })
        .collect()
}

/// `:authority` (HTTP/2, or an absolute-form HTTP/1 target), else `Host`; both present and
/// different is a 400.
fn authority(uri: &Uri, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if headers.get_all(header::HOST).iter().nth(1).is_some() {
        return Err(ApiError::bad_request("the request has two Host headers"));
    }
    let host = match headers.get(header::HOST) {
        Some(value) => Some(value.to_str().map_err(|_| ApiError::bad_request("the Host header is not text"))?.to_owned()),
        None => None,
    };
    match (uri.authority().map(|a| a.as_str().to_owned()), host) {
        (Some(target), Some(host)) if !target.eq_ignore_ascii_case(&host) => {
            Err(ApiError::bad_request(format!("Host {host:?} differs from the request's authority {target:?}")))
        }
        (Some(target), _) => Ok(Some(target)),
        (None, host) => Ok(host),
    }
}

/// RocketMQ Connect's `GET` calls that change state, read from the decoded path and query, and
/// its `GET` validation, which resolves the config's placeholders: whoever may resolve them
/// may as well create a connector that sends them anywhere.
fn is_get_write(segments: &[String], query: Option<&str>) -> bool {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["plugin", "config", "validate"] => true,
        ["connectors", "stop" | "pause" | "resume", "all"] => true,
        ["connectors", _, "pause" | "resume" | "stop"] => true,
        // `GET /connectors/{name}?config={...}` creates: `config` as the handler's `Query`
        // decodes keys (`%63onfig` and `config` alike).
        ["connectors", name] if *name != "list" => {
            query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(key, _)| key == "config"))
        }
        _ => false,
    }
}

/// Route layer of the handlers that write on `GET`: they serve a request only when [`Call::of`]
/// judged it a write (so the guard and the credentials check treated it as one); anything
/// else is a 405, whatever reading of the request led it here.
pub(super) async fn require_judged_write(request: Request, next: Next) -> Response {
    if request.extensions().get::<Call>().is_some_and(|call| call.writes && call.method == Method::GET) {
        return next.run(request).await;
    }
    ApiError::new(405, "this call changes state: it is served to a GET judged as a write only").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, uri: &str) -> Call {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8083".parse().unwrap());
        Call::of(&method, &uri.parse().unwrap(), Version::HTTP_11, &headers).unwrap()
    }

    #[test]
    fn writes_are_judged_on_the_decoded_request_whatever_the_method() {
        for uri in [
            "/connectors/stop/all",
            "/connectors/a/pause",
            "/connectors/a/%70ause",
            "//connectors//a/resume",
            "/connectors/a?config=%7B%7D",
            "/connectors/a?%63onfig=%7B%7D",
            "/connectors/a?x=1&con%66ig=1",
            "/connectors/%61?config",
            "/plugin/config/validate?config=%7B%7D",
        ] {
            assert!(call(Method::GET, uri).writes, "GET {uri}");
            assert!(call(Method::HEAD, uri).writes, "HEAD {uri}");
        }
        for uri in ["/connectors/list", "/connectors/a", "/connectors/a/status", "/connectors?config=1", "/connectors/a?configs=1"] {
            assert!(call(Method::GET, uri).reads(), "GET {uri}");
            assert!(call(Method::HEAD, uri).reads(), "HEAD {uri}");
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS, Method::TRACE] {
            assert!(call(method.clone(), "/connectors").writes, "{method}");
        }
    }

    #[test]
    fn the_authority_comes_from_the_target_or_host_and_they_must_agree() {
        let none = HeaderMap::new();
        let of = |uri: &str, headers: &HeaderMap| Call::of(&Method::GET, &uri.parse().unwrap(), Version::HTTP_2, headers);
        let h2 = of("https://127.0.0.1:8443/connectors", &none).unwrap();
        assert_eq!(h2.authority.as_deref(), Some("127.0.0.1:8443"), "HTTP/2 has :authority and no Host");
        let mut host = HeaderMap::new();
        host.insert(header::HOST, "evil.example".parse().unwrap());
        assert!(of("http://127.0.0.1/connectors", &host).is_err());
        assert_eq!(of("/connectors", &host).unwrap().authority.as_deref(), Some("evil.example"));
        assert!(of("/connectors/%ff", &none).is_err(), "not UTF-8");
        let mut twice = host.clone();
        twice.append(header::HOST, "127.0.0.1".parse().unwrap());
        assert!(of("/connectors", &twice).is_err(), "two Host headers");
        let http11 = |headers: &HeaderMap| Call::of(&Method::GET, &"/connectors".parse().unwrap(), Version::HTTP_11, headers);
        assert!(http11(&none).is_err(), "HTTP/1.1 without a host");
        assert!(Call::of(&Method::GET, &"/connectors".parse().unwrap(), Version::HTTP_10, &none).is_ok(), "HTTP/1.0 may leave it out");
    }
}
