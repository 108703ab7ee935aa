//! The MQTT session both connectors use: `mqtt.server.uri` and credentials into client
//! options, and the event loop driven on a task of its own (rumqttc only makes progress
//! while its event loop is polled, and it reconnects on the next poll after an error).

use std::time::Duration;

use connect_sdk::Error;
use connect_sdk::tokio::sync::mpsc;
use connect_sdk::tokio::task::JoinHandle;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS, SubscribeFilter};

/// Where and who: what `mqtt.server.uri`, `mqtt.username`, `mqtt.password` and the client id say.
pub struct Session {
    /// `host:port` of `tcp://host:port`.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The client id (the broker keeps a persistent session per client id).
    pub client_id: String,
    /// Credentials.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
}

/// What the event loop reports.
pub enum Delivery {
    /// A message of a subscription.
    Message(Publish),
    /// The broker acknowledged a QoS 1 publish.
    Acknowledged,
}

/// Splits `tcp://host:port` (or `mqtt://`, or `host:port`).
pub fn parse_uri(uri: &str) -> Option<(String, u16)> {
    let rest = uri.strip_prefix("tcp://").or_else(|| uri.strip_prefix("mqtt://")).unwrap_or(uri);
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').map_or((rest, "1883"), |(h, p)| (h, p));
    Some((host.to_owned(), port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
}

impl Session {
    /// Connects (lazily: the event loop connects) and drives the event loop, sending what it
    /// receives to the returned channel. `subscriptions` are made again on every connection.
    pub fn start(&self, clean_session: bool, subscriptions: Vec<(String, QoS)>) -> (AsyncClient, mpsc::Receiver<Delivery>, JoinHandle<()>) {
        let mut options = MqttOptions::new(&self.client_id, &self.host, self.port);
        options.set_keep_alive(self.keep_alive).set_clean_session(clean_session).set_manual_acks(true).set_inflight(200);
        options.set_max_packet_size(16 << 20, 16 << 20);
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user, password);
        }
        let (client, eventloop) = AsyncClient::new(options, 1_000);
        let (sender, receiver) = mpsc::channel(10_000);
        let driver = connect_sdk::tokio::spawn(drive(eventloop, client.clone(), sender, subscriptions));
        (client, receiver, driver)
    }
}

async fn drive(mut eventloop: EventLoop, client: AsyncClient, sender: mpsc::Sender<Delivery>, subscriptions: Vec<(String, QoS)>) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) if !subscriptions.is_empty() => {
                let filters = subscriptions.iter().map(|(path, qos)| SubscribeFilter::new(path.clone(), *qos));
                if client.subscribe_many(filters).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if sender.send(Delivery::Message(publish)).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                if sender.send(Delivery::Acknowledged).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                if sender.is_closed() {
                    return;
                }
                connect_sdk::tracing::warn!(%error, "MQTT connection failed; reconnecting");
                connect_sdk::tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// An MQTT client error as the SDK's (retriable: the session reconnects).
pub fn client_error(doing: &str, error: rumqttc::ClientError) -> Error {
    Error::Retriable { message: format!("{doing}: {error}"), source: Some(Box::new(error)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_uris_name_host_and_port() {
        assert_eq!(parse_uri("tcp://127.0.0.1:1883"), Some(("127.0.0.1".into(), 1883)));
        assert_eq!(parse_uri("broker.local"), Some(("broker.local".into(), 1883)));
        assert_eq!(parse_uri("tcp://:1883"), None);
        assert_eq!(parse_uri("tcp://host:x"), None);
    }
}
