//! Who may call the API: users from an auth file (`--rest-auth-file`), each with a secret and
//! a role, identified by a bearer token or by HTTP basic auth.
//!
//! The file holds one `name:secret:role` per line (`#` starts a comment; the secret may itself
//! contain `:`). A request carries `Authorization: Bearer <secret>` or `Authorization: Basic
//! base64(name:secret)`. Role `read` may call `GET`/`HEAD` (status, configs, metrics; never one
//! of RocketMQ Connect's `GET` writes); role `admin` may call everything. A request without
//! valid credentials gets 401 with a `WWW-Authenticate` challenge, a `read` user's write 403,
//! both in Kafka Connect's error body. Paths listed as open (`--rest-open-paths /health,/metrics`)
//! answer `GET` without credentials, for probes and scrapers. Every write by a user is logged
//! with the user's name.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;

use super::ApiError;
use super::call::Call;

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `GET` and `HEAD` calls: statuses, configs, plugins, metrics.
    Read,
    /// Every call.
    Admin,
}

/// One line of the auth file.
struct User {
    name: String,
    secret: String,
    role: Role,
}

/// The users an API accepts (see the module documentation). Its `Debug` shows names and
/// roles, never secrets.
#[derive(Clone)]
pub struct Credentials {
    users: Arc<Vec<User>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.users.iter().map(|u| format!("{}:<secret>:{:?}", u.name, u.role))).finish()
    }
}

/// Why an auth file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    /// The file could not be read.
    #[error("cannot read the auth file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not `name:secret:role`, or repeats a name or a secret.
    #[error("auth file line {line}: {message}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it (never the secret itself).
        message: String,
    },
    /// The file names no user.
    #[error("the auth file names no user: add lines `name:secret:role` (role read or admin)")]
    Empty,
}

impl Credentials {
    /// Reads an auth file (see the module documentation).
    pub fn from_file(path: &Path) -> Result<Credentials, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read { path: path.display().to_string(), source })?;
        Credentials::parse(&text)
    }

    /// Parses the lines of an auth file.
    ///
    /// ```
    /// use connect_rest::{Credentials, Role};
    ///
    /// let users = Credentials::parse("# operators\nalice:s3cret:admin\nscraper:token:with:colons:read\n").unwrap();
    /// assert_eq!(users.role_of("alice"), Some(Role::Admin));
    /// assert_eq!(users.role_of("scraper"), Some(Role::Read));
    /// assert!(Credentials::parse("bob:pw:root").unwrap_err().to_string().contains("line 1"));
    /// ```
    pub fn parse(text: &str) -> Result<Credentials, AuthFileError> {
        let mut users: Vec<User> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: String| AuthFileError::Line { line: index + 1, message };
            let (Some((name, rest)), Some((_, role))) = (line.split_once(':'), line.rsplit_once(':')) else {
                return Err(error("expected name:secret:role".into()));
            };
            let secret = rest.rsplit_once(':').map(|(secret, _)| secret).unwrap_or_default();
            if name.is_empty() || secret.is_empty() {
                return Err(error("expected name:secret:role with a non-empty name and secret".into()));
            }
            let role = match role {
                "read" => Role::Read,
                "admin" => Role::Admin,
                other => return Err(error(format!("role {other:?} is unknown: use read or admin"))),
            };
            if users.iter().any(|u| u.name == name) {
                return Err(error(format!("user {name:?} is listed twice")));
            }
            if users.iter().any(|u| u.secret == secret) {
                return Err(error(format!("user {name:?} has the secret of another user: a bearer token must name one user")));
            }
            users.push(User { name: name.to_owned(), secret: secret.to_owned(), role });
        }
        if users.is_empty() {
            return Err(AuthFileError::Empty);
        }
        Ok(Credentials { users: Arc::new(users) })
    }

    /// The role of the user `name`, if listed.
    pub fn role_of(&self, name: &str) -> Option<Role> {
        self.users.iter().find(|u| u.name == name).map(|u| u.role)
    }

    /// The user an `Authorization` header proves, if any.
    fn identify(&self, authorization: &HeaderValue) -> Option<&User> {
        let value = authorization.to_str().ok()?;
        let (scheme, presented) = value.split_once(' ')?;
        let presented = presented.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            // Every secret is compared, so the time taken does not tell which one is near.
            return self.users.iter().fold(None, |found, user| if same(&user.secret, presented) { Some(user) } else { found });
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD.decode(presented).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (name, password) = decoded.split_once(':')?;
            let user = self.users.iter().find(|u| u.name == name)?;
            return same(&user.secret, password).then_some(user);
        }
        None
    }
}

/// Equality in time that depends on the lengths only.
fn same(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len() && expected.bytes().zip(presented.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// What the auth check of one listener knows.
#[derive(Clone, Debug)]
pub(super) struct Gate {
    pub(super) credentials: Credentials,
    /// Paths whose `GET` needs no credentials.
    pub(super) open_paths: Arc<Vec<String>>,
}

/// Lets a request through when its credentials allow it (see the module documentation), as
/// the guard judged it: a `HEAD` or an encoded query that would write is a write here too.
pub(super) async fn check(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let Some(call) = request.extensions().get::<Call>().cloned() else {
        return super::refuse(request, ApiError::new(500, "the request was not judged before its credentials")).await;
    };
    if call.reads() && (gate.open_paths.contains(&call.path) || super::ui::is_asset(&call.path)) {
        return next.run(request).await;
    }
    let user = match request.headers().get(header::AUTHORIZATION) {
        None => return unauthorized(request, "this call needs credentials: Authorization: Bearer <token> or Basic").await,
        Some(value) => match gate.credentials.identify(value) {
            Some(user) => user,
            None => return unauthorized(request, "the credentials are not valid").await,
        },
    };
    let (method, path) = (&call.method, &call.path);
    if call.writes && user.role != Role::Admin {
        let refusal = ApiError::new(403, format!("user {:?} may only read: {method} {path} needs the admin role", user.name));
        return super::refuse(request, refusal).await;
    }
    if call.writes {
        tracing::info!(user = %user.name, %method, %path, "REST write");
    }
    next.run(request).await
}

async fn unauthorized(request: Request, message: &str) -> Response {
    let mut response = super::refuse(request, ApiError::new(401, message)).await;
    let challenge = HeaderValue::from_static("Basic realm=\"connect-worker\", Bearer realm=\"connect-worker\"");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    /// The role a request's headers prove.
    fn accepts(credentials: &Credentials, headers: &HeaderMap) -> Option<Role> {
        headers.get(header::AUTHORIZATION).and_then(|v| credentials.identify(v)).map(|u| u.role)
    }

    fn with(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_and_basic_passwords_name_their_user() {
        let users = Credentials::parse("alice:a-token:admin\n\n  # a comment\nbob:pass:with:colon:read\n").unwrap();
        assert_eq!(accepts(&users, &with("Bearer a-token")), Some(Role::Admin));
        assert_eq!(accepts(&users, &with("bearer pass:with:colon")), Some(Role::Read));
        let basic = base64::engine::general_purpose::STANDARD.encode("bob:pass:with:colon");
        assert_eq!(accepts(&users, &with(&format!("Basic {basic}"))), Some(Role::Read));
        let wrong = base64::engine::general_purpose::STANDARD.encode("bob:a-token");
        assert_eq!(accepts(&users, &with(&format!("Basic {wrong}"))), None, "another user's secret");
        for refused in ["Bearer a-toke", "Bearer", "Token a-token", "Basic !!!", "a-token"] {
            assert_eq!(accepts(&users, &with(refused)), None, "{refused}");
        }
        assert!(!format!("{users:?}").contains("a-token"), "Debug hides secrets: {users:?}");
    }

    #[test]
    fn bad_lines_are_named_without_their_secret() {
        for (text, expected) in [
            ("alice:secret", "line 1: expected name:secret:role with a non-empty"),
            ("alice:pw:root", "line 1: role \"root\" is unknown"),
            ("alice", "line 1: expected name:secret:role"),
            ("ok:x:read\n:secret:admin", "line 2: expected name:secret:role with a non-empty"),
            ("a:s1:read\na:s2:admin", "line 2: user \"a\" is listed twice"),
            ("a:same:read\nb:same:admin", "line 2: user \"b\" has the secret of another user"),
            ("# nobody\n", "names no user"),
        ] {
            let error = Credentials::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains("s1") && !error.contains("same:"), "{error}");
        }
    }
}
