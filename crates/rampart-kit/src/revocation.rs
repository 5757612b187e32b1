//! Revocation fan-out: how the auth service tells every gateway, at once,
//! that a credential, everything of one subject, or every cached verdict of
//! one tenant (its access changed) must no longer be trusted.
//!
//! Revocations are durable in the auth database; this bus only makes them
//! fast. Gateways cache verdicts for a few seconds, so each gateway
//! [`watches`](RevocationBus::watch) the bus and drops what it has cached for
//! a revoked credential or subject the moment the message arrives.
//!
//! A missed message must never leave a revoked credential cached, so the
//! watcher also reports the channel's health. With Redis, every watcher
//! publishes a heartbeat on the channel every [`HEARTBEAT`]; a watcher that
//! hears nothing (its own heartbeat included) for [`SILENCE_LIMIT`] reports
//! [`BusEvent::ChannelDown`], and the gateway stops trusting its cache until
//! [`BusEvent::ChannelUp`], when it starts again from an empty cache. The
//! in-process bus (the embedded default) cannot lose a message except by
//! falling behind, which is reported the same way.
//!
//! Each message carries its publish time (the publisher's wall clock, in
//! microseconds since the epoch), so a watcher can record the revocation's
//! spread, publish to applied, in [`crate::metrics`]. The time is an
//! optional last field: a message from an older publisher (`c key_1`) is
//! applied as before, only not measured. The spread compares two hosts'
//! clocks, so it is only as good as their synchronisation (NTP); values a
//! live bus cannot produce are clamped and counted. An older *watcher*
//! would read the time as part of the id, so upgrade the gateways before
//! auth (their caches expire within seconds either way).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::metrics::KitMetrics;

/// How often a Redis watcher proves the channel carries messages.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
/// How long a Redis watcher waits without any message before it declares the
/// channel down. Well under the one second within which a revocation must be
/// honoured everywhere.
pub const SILENCE_LIMIT: Duration = Duration::from_millis(800);
/// The longest pause between attempts to reconnect a lost channel.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);
/// How many revocations an in-process watcher may fall behind before it
/// must start again from an empty cache.
const IN_PROCESS_BACKLOG: usize = 4096;
const PUBLISH_ATTEMPTS: u32 = 3;

/// What is no longer to be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One credential, by its id: an API key id or a session id.
    Credential(String),
    /// Every credential of one subject (a user id): sign-out everywhere, a
    /// disabled account, a changed role or password.
    Subject(String),
    /// Every cached verdict of one tenant (a tenant id): its access changed
    /// (suspended by billing, or restored). Nothing is revoked for good;
    /// the gateways ask auth again and learn the tenant's new access state.
    Tenant(String),
}

impl Revocation {
    /// The metric label of this kind of revocation.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Credential(_) => "credential",
            Self::Subject(_) => "subject",
            Self::Tenant(_) => "tenant",
        }
    }

    /// `<tag> <id> <published, µs since the epoch>`. Ids never contain a
    /// space.
    fn encode(&self, published_micros: i64) -> String {
        let (tag, id) = match self {
            Self::Credential(id) => ("c", id),
            Self::Subject(id) => ("s", id),
            Self::Tenant(id) => ("t", id),
        };
        format!("{tag} {id} {published_micros}")
    }

    /// The revocation and its publish time (`None` in a message from an
    /// older publisher, or a time this version cannot read: the
    /// revocation is applied all the same). `None` for a heartbeat or
    /// anything this version does not know.
    fn decode(text: &str) -> Option<(Self, Option<i64>)> {
        let (tag, rest) = text.split_once(' ')?;
        let mut fields = rest.split(' ');
        let id = fields.next().filter(|id| !id.is_empty())?;
        let published = fields.next().and_then(|micros| micros.parse().ok());
        let revocation = match tag {
            "c" => Self::Credential(id.to_owned()),
            "s" => Self::Subject(id.to_owned()),
            "t" => Self::Tenant(id.to_owned()),
            _ => return None,
        };
        Some((revocation, published))
    }
}

/// The wall clock in microseconds since the epoch (0 before it).
fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

/// Applies a revocation, then records its spread: the moment that counts
/// is when this process stopped trusting the credential, not when the
/// message arrived.
fn apply<F>(on_event: &F, metrics: &KitMetrics, revocation: Revocation, published: Option<i64>)
where
    F: Fn(BusEvent),
{
    let kind = revocation.kind();
    on_event(BusEvent::Revoked(revocation));
    // Integer microseconds first: an f64 of the epoch loses sub-µs only.
    #[allow(clippy::cast_precision_loss)]
    let spread = published.map(|at| now_micros().saturating_sub(at) as f64 / 1e6);
    metrics.revocation_applied(kind, spread);
}

/// A revocation as the in-process bus carries it.
type Message = (Revocation, Option<i64>);

const HEARTBEAT_MESSAGE: &str = "h";

/// What a watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// Drop what is cached for this.
    Revoked(Revocation),
    /// Messages may be missed from now on: trust no cached verdict.
    ChannelDown,
    /// Messages flow again. Anything cached before may have missed a
    /// revocation while the channel was down, so start from empty.
    ChannelUp,
}

/// The revocation channel, in-process or through Redis pub/sub.
#[derive(Clone)]
pub struct RevocationBus {
    transport: Arc<Transport>,
    /// Where watchers record spreads and channel losses.
    metrics: Arc<KitMetrics>,
}

enum Transport {
    InProcess(broadcast::Sender<Message>),
    Redis {
        // Boxed: with TLS settings a client is a few hundred bytes.
        client: Box<redis::Client>,
        publisher: ConnectionManager,
        channel: String,
    },
}

impl std::fmt::Debug for RevocationBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.transport {
            Transport::InProcess(_) => f.write_str("RevocationBus::InProcess"),
            Transport::Redis { channel, .. } => {
                write!(f, "RevocationBus::Redis({channel})")
            }
        }
    }
}

impl RevocationBus {
    /// A bus for services that share one process (`rampart dev`).
    #[must_use]
    pub fn in_process() -> Self {
        let (sender, _) = broadcast::channel(IN_PROCESS_BACKLOG);
        Self::on(Transport::InProcess(sender))
    }

    fn on(transport: Transport) -> Self {
        Self {
            transport: Arc::new(transport),
            metrics: KitMetrics::global(),
        }
    }

    /// The same bus, its watchers recording to `metrics` instead of the
    /// process's registry (tests).
    #[must_use]
    pub fn recording_to(mut self, metrics: Arc<KitMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// A bus on the Redis at `url`, carried on `channel` (one per
    /// deployment, so several can share a Redis).
    pub async fn redis(url: &str, channel: &str) -> anyhow::Result<Self> {
        let client = crate::redis_connect::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        let publisher = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .context("cannot connect to Redis for revocations")?;
        Ok(Self::on(Transport::Redis {
            client: Box::new(client),
            publisher,
            channel: channel.to_owned(),
        }))
    }

    /// Tells every watcher. Call it after the revocation is committed: the
    /// database is the record, this only makes it fast.
    pub async fn publish(&self, revocation: &Revocation) -> anyhow::Result<()> {
        let published = now_micros();
        match &*self.transport {
            Transport::InProcess(sender) => {
                // No watcher yet is not an error: nothing is cached anywhere.
                let _ = sender.send((revocation.clone(), Some(published)));
                Ok(())
            }
            Transport::Redis {
                publisher, channel, ..
            } => {
                let message = revocation.encode(published);
                let mut last_error = None;
                for attempt in 0..PUBLISH_ATTEMPTS {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    }
                    let mut connection = publisher.clone();
                    match redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(&message)
                        .query_async::<i64>(&mut connection)
                        .await
                    {
                        Ok(_) => return Ok(()),
                        Err(error) => last_error = Some(error),
                    }
                }
                Err(last_error.map_or_else(
                    || anyhow::anyhow!("revocation not published"),
                    anyhow::Error::from,
                ))
                .context("cannot publish a revocation to Redis")
            }
        }
    }

    /// Delivers this bus's events to `on_event` until `shutdown`. The first
    /// event is [`BusEvent::ChannelUp`] once the watcher is listening;
    /// until then the caller must trust no cached verdict.
    pub fn watch<F>(&self, on_event: F, shutdown: CancellationToken) -> JoinHandle<()>
    where
        F: Fn(BusEvent) + Send + Sync + 'static,
    {
        let metrics = self.metrics.clone();
        match &*self.transport {
            Transport::InProcess(sender) => {
                // Subscribed before the task starts, so nothing published
                // after this call is missed.
                let receiver = sender.subscribe();
                tokio::spawn(watch_in_process(receiver, on_event, metrics, shutdown))
            }
            Transport::Redis {
                client,
                publisher,
                channel,
            } => tokio::spawn(watch_redis(
                redis::Client::clone(client),
                publisher.clone(),
                channel.clone(),
                on_event,
                metrics,
                shutdown,
            )),
        }
    }
}

async fn watch_in_process<F>(
    mut receiver: broadcast::Receiver<Message>,
    on_event: F,
    metrics: Arc<KitMetrics>,
    shutdown: CancellationToken,
) where
    F: Fn(BusEvent),
{
    on_event(BusEvent::ChannelUp);
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = receiver.recv() => received,
        };
        match received {
            Ok((revocation, published)) => apply(&on_event, &metrics, revocation, published),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "revocation watcher fell behind; cache emptied");
                metrics.revocation_channel_down();
                on_event(BusEvent::ChannelDown);
                on_event(BusEvent::ChannelUp);
            }
            Err(broadcast::error::RecvError::Closed) => {
                metrics.revocation_channel_down();
                on_event(BusEvent::ChannelDown);
                return;
            }
        }
    }
}

async fn watch_redis<F>(
    client: redis::Client,
    publisher: ConnectionManager,
    channel: String,
    on_event: F,
    metrics: Arc<KitMetrics>,
    shutdown: CancellationToken,
) where
    F: Fn(BusEvent),
{
    let mut delay = HEARTBEAT;
    loop {
        let subscribed = tokio::select! {
            () = shutdown.cancelled() => return,
            subscribed = subscribe(&client, &channel) => subscribed,
        };
        match subscribed {
            Ok(pubsub) => {
                delay = HEARTBEAT;
                on_event(BusEvent::ChannelUp);
                let ended =
                    listen(pubsub, &publisher, &channel, &on_event, &metrics, &shutdown).await;
                on_event(BusEvent::ChannelDown);
                if !matches!(ended, Listening::Shutdown) {
                    metrics.revocation_channel_down();
                }
                match ended {
                    Listening::Shutdown => return,
                    Listening::Silent => {
                        tracing::warn!(%channel, "revocation channel went silent; cache distrusted");
                    }
                    Listening::Closed => {
                        tracing::warn!(%channel, "revocation channel closed; cache distrusted");
                    }
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = %format!("{error:#}"),
                    %channel,
                    "cannot subscribe to revocations; cache distrusted"
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> anyhow::Result<redis::aio::PubSub> {
    let attempt = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        anyhow::Ok(pubsub)
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .context("timed out subscribing")?
}

enum Listening {
    Shutdown,
    /// Nothing arrived, not even a heartbeat, for [`SILENCE_LIMIT`].
    Silent,
    /// The connection ended.
    Closed,
}

async fn listen<F>(
    pubsub: redis::aio::PubSub,
    publisher: &ConnectionManager,
    channel: &str,
    on_event: &F,
    metrics: &KitMetrics,
    shutdown: &CancellationToken,
) -> Listening
where
    F: Fn(BusEvent),
{
    let mut messages = pubsub.into_on_message();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Listening::Shutdown,
            message = messages.next() => {
                let Some(message) = message else {
                    return Listening::Closed;
                };
                last_heard = Instant::now();
                let Ok(text) = message.get_payload::<String>() else {
                    continue;
                };
                if let Some((revocation, published)) = Revocation::decode(&text) {
                    apply(on_event, metrics, revocation, published);
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    return Listening::Silent;
                }
                // Fire and forget: a heartbeat that does not arrive is
                // exactly what the silence check detects.
                let mut connection = publisher.clone();
                let channel = channel.to_owned();
                tokio::spawn(async move {
                    let _: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(HEARTBEAT_MESSAGE)
                        .query_async(&mut connection)
                        .await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn messages_round_trip_and_unknown_ones_are_ignored() {
        for revocation in [
            Revocation::Credential("key_1".to_owned()),
            Revocation::Subject("usr_1".to_owned()),
            Revocation::Tenant("ten_1".to_owned()),
        ] {
            assert_eq!(
                Revocation::decode(&revocation.encode(1_733_300_000_123_456)),
                Some((revocation, Some(1_733_300_000_123_456)))
            );
        }
        for text in [HEARTBEAT_MESSAGE, "c ", "t ", "x key_1", "", "c", "c  5"] {
            assert_eq!(Revocation::decode(text), None, "{text:?}");
        }
    }

    #[test]
    fn messages_of_older_publishers_still_revoke() {
        // What versions before the publish time sent, and a time this
        // version cannot read: applied, not measured.
        assert_eq!(
            Revocation::decode("c key_1"),
            Some((Revocation::Credential("key_1".to_owned()), None))
        );
        assert_eq!(
            Revocation::decode("s usr_1 soon"),
            Some((Revocation::Subject("usr_1".to_owned()), None))
        );
    }

    type Seen = Arc<Mutex<Vec<BusEvent>>>;

    fn recorder() -> (Seen, impl Fn(BusEvent) + Send + Sync + 'static) {
        let seen: Seen = Arc::default();
        let sink = seen.clone();
        (seen, move |event| sink.lock().unwrap().push(event))
    }

    async fn wait_for(seen: &Seen, wanted: &BusEvent) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !seen.lock().unwrap().contains(wanted) {
            assert!(Instant::now() < deadline, "never saw {wanted:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn in_process_watchers_hear_every_revocation() {
        let bus = RevocationBus::in_process();
        let shutdown = CancellationToken::new();
        let (seen, on_event) = recorder();
        let task = bus.watch(on_event, shutdown.clone());
        let revoked = Revocation::Subject("usr_1".to_owned());
        bus.publish(&revoked).await.unwrap();
        wait_for(&seen, &BusEvent::Revoked(revoked)).await;
        assert_eq!(seen.lock().unwrap()[0], BusEvent::ChannelUp);
        shutdown.cancel();
        task.await.unwrap();
    }

    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn redis_watchers_on_other_connections_hear_a_revocation() {
        let Some((url, channel)) = crate::testing::redis_namespace().await else {
            return;
        };
        let publisher = RevocationBus::redis(&url, &channel).await.unwrap();
        let shutdown = CancellationToken::new();
        let mut watchers = Vec::new();
        for _ in 0..2 {
            let bus = RevocationBus::redis(&url, &channel).await.unwrap();
            let (seen, on_event) = recorder();
            let task = bus.watch(on_event, shutdown.clone());
            wait_for(&seen, &BusEvent::ChannelUp).await;
            watchers.push((seen, task));
        }
        let revoked = Revocation::Credential("key_2".to_owned());
        publisher.publish(&revoked).await.unwrap();
        for (seen, _) in &watchers {
            wait_for(seen, &BusEvent::Revoked(revoked.clone())).await;
        }
        // Heartbeats keep a healthy channel up well past the silence limit.
        tokio::time::sleep(SILENCE_LIMIT * 2).await;
        for (seen, _) in &watchers {
            assert!(!seen.lock().unwrap().contains(&BusEvent::ChannelDown));
        }
        shutdown.cancel();
        for (_, task) in watchers {
            task.await.unwrap();
        }
    }

    async fn wait_for_sample(metrics: &KitMetrics, series: &str, wanted: f64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while metrics.sample(series) != Some(wanted) {
            assert!(
                Instant::now() < deadline,
                "{series} never reached {wanted}:\n{}",
                metrics.encode()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    const CREDENTIAL_SPREADS: &str = "rampart_revocation_spread_seconds_count{kind=\"credential\"}";
    /// Spreads within the 1 s objective.
    const CREDENTIAL_WITHIN_1S: &str =
        "rampart_revocation_spread_seconds_bucket{le=\"1.0\",kind=\"credential\"}";

    #[tokio::test]
    async fn in_process_watchers_record_the_spread_and_apply_untimed_messages() {
        let metrics = Arc::new(KitMetrics::new());
        let bus = RevocationBus::in_process().recording_to(metrics.clone());
        let shutdown = CancellationToken::new();
        let (seen, on_event) = recorder();
        let task = bus.watch(on_event, shutdown.clone());
        let revoked = Revocation::Credential("key_1".to_owned());
        bus.publish(&revoked).await.unwrap();
        wait_for(&seen, &BusEvent::Revoked(revoked)).await;
        wait_for_sample(&metrics, CREDENTIAL_SPREADS, 1.0).await;
        assert_eq!(metrics.sample(CREDENTIAL_WITHIN_1S), Some(1.0));

        // A message without a publish time is applied, and counted apart.
        let Transport::InProcess(sender) = &*bus.transport else {
            unreachable!("an in-process bus")
        };
        let untimed = Revocation::Subject("usr_old".to_owned());
        sender.send((untimed.clone(), None)).unwrap();
        wait_for(&seen, &BusEvent::Revoked(untimed)).await;
        wait_for_sample(
            &metrics,
            "rampart_revocation_unmeasured_total{kind=\"subject\"}",
            1.0,
        )
        .await;
        assert_eq!(
            metrics.sample("rampart_revocation_spread_seconds_count{kind=\"subject\"}"),
            None
        );
        assert_eq!(metrics.sample(CREDENTIAL_SPREADS), Some(1.0));
        shutdown.cancel();
        task.await.unwrap();
    }

    /// The spread measured across two Redis connections, as between auth
    /// and a gateway; and a message as older publishers sent it (no time)
    /// still revokes.
    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn redis_watchers_record_the_spread_and_apply_untimed_messages() {
        let Some((url, channel)) = crate::testing::redis_namespace().await else {
            return;
        };
        let publisher = RevocationBus::redis(&url, &channel).await.unwrap();
        let metrics = Arc::new(KitMetrics::new());
        let bus = RevocationBus::redis(&url, &channel)
            .await
            .unwrap()
            .recording_to(metrics.clone());
        let shutdown = CancellationToken::new();
        let (seen, on_event) = recorder();
        let task = bus.watch(on_event, shutdown.clone());
        wait_for(&seen, &BusEvent::ChannelUp).await;

        let revoked = Revocation::Credential("key_timed".to_owned());
        publisher.publish(&revoked).await.unwrap();
        wait_for(&seen, &BusEvent::Revoked(revoked)).await;
        wait_for_sample(&metrics, CREDENTIAL_SPREADS, 1.0).await;
        assert_eq!(metrics.sample(CREDENTIAL_WITHIN_1S), Some(1.0));

        let mut raw = crate::redis_connect::open(&url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg("c key_untimed")
            .query_async(&mut raw)
            .await
            .unwrap();
        let untimed = Revocation::Credential("key_untimed".to_owned());
        wait_for(&seen, &BusEvent::Revoked(untimed)).await;
        wait_for_sample(
            &metrics,
            "rampart_revocation_unmeasured_total{kind=\"credential\"}",
            1.0,
        )
        .await;
        assert_eq!(metrics.sample(CREDENTIAL_SPREADS), Some(1.0));
        shutdown.cancel();
        task.await.unwrap();
    }

    /// A watcher that loses its Redis says so within the silence limit
    /// (fail closed), and says so again when it hears the channel anew.
    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn a_lost_channel_is_reported_down_then_up_again() {
        let Some((url, channel)) = crate::testing::redis_namespace().await else {
            return;
        };
        let upstream: std::net::SocketAddr = url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .parse()
            .expect("the test Redis URL is host:port");
        let link = crate::testing::CuttableLink::start(upstream).await;
        let metrics = Arc::new(KitMetrics::new());
        let bus = RevocationBus::redis(&format!("redis://{}", link.address()), &channel)
            .await
            .unwrap()
            .recording_to(metrics.clone());
        let shutdown = CancellationToken::new();
        let (seen, on_event) = recorder();
        let task = bus.watch(on_event, shutdown.clone());
        wait_for(&seen, &BusEvent::ChannelUp).await;

        link.cut();
        let cut_at = Instant::now();
        wait_for(&seen, &BusEvent::ChannelDown).await;
        assert!(
            cut_at.elapsed() < Duration::from_secs(1),
            "{:?}",
            cut_at.elapsed()
        );
        wait_for_sample(&metrics, "rampart_revocation_channel_down_total", 1.0).await;

        seen.lock().unwrap().clear();
        link.restore();
        wait_for(&seen, &BusEvent::ChannelUp).await;
        shutdown.cancel();
        task.await.unwrap();
    }
}
