//! The keys every NATS connector shares: the server and the credentials.

use connect_sdk::prelude::*;

/// `nats.url` and the credentials (`nats.user` + `nats.password`, or `nats.token`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct NatsConnection {
    /// Servers, `nats://host:4222` (comma-separated for a cluster).
    #[serde(default = "default_url")]
    pub nats_url: String,
    /// User name.
    #[serde(default)]
    pub nats_user: Option<String>,
    /// Password; write a placeholder (`${env:VAR}`) so the secret is never stored.
    #[serde(default)]
    #[schemars(extend("x-kafka-type" = "PASSWORD"))]
    pub nats_password: Option<String>,
    /// Token, instead of a user and password.
    #[serde(default)]
    #[schemars(extend("x-kafka-type" = "PASSWORD"))]
    pub nats_token: Option<String>,
}

fn default_url() -> String {
    "nats://127.0.0.1:4222".to_owned()
}

impl NatsConnection {
    /// Connects, failing (retriably) when the server does not answer within 10 s.
    pub async fn connect(&self, name: &str) -> Result<async_nats::Client> {
        let mut options = async_nats::ConnectOptions::new().name(name).connection_timeout(std::time::Duration::from_secs(10));
        if let (Some(user), Some(password)) = (&self.nats_user, &self.nats_password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &self.nats_token {
            options = options.token(token.clone());
        }
        options
            .connect(self.nats_url.as_str())
            .await
            .map_err(|e| Error::retriable(format!("cannot connect to NATS at {}: {e}", self.nats_url)))
    }
}
