//! The Redis store (`OIDC_SESSION_STORE=redis://…`, feature `redis`): sessions shared by every
//! replica, ended sessions announced on a pub/sub channel that every replica watches.
//!
//! Keys, under the app's prefix `tower-oidc:{client id}:`:
//! - `s:{id}`: a hash, `d` the session record (postcard), `t` when it was last used; expires
//!   at the session's deadline (its expiry, or sooner when idle);
//! - `u:{digest of issuer and subject}`, `p:{digest of issuer and sid}`: sets of session ids,
//!   kept for the session lifetime after the last sign-in; ids of sessions gone are dropped
//!   when read;
//! - `l:{name}`: a short lock;
//! - the channel `ended`: each ended session's id.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use tokio::sync::OnceCell;

use super::{key_prefix, EndedFeed, SessionStore, StoreError, StoreFuture, StoredSession};
use crate::clock::Clock;
use crate::config::RedisUrl;

/// The sessions of one app in Redis.
pub(crate) struct RedisStore {
    client: Option<redis::Client>,
    conn: OnceCell<ConnectionManager>,
    prefix: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only the prefix is shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unreachable(e: redis::RedisError) -> StoreError {
    // Redis errors name the command and the server's message, never a key's value.
    StoreError::Unreachable(e.to_string())
}

impl RedisStore {
    pub(crate) fn new(url: &RedisUrl, client_id: &str, clock: Arc<dyn Clock>) -> Self {
        let client = redis::Client::open(url.expose())
            .inspect_err(|e| {
                tracing::error!(target: "tower_oidc", error = ?e.kind(), "OIDC_SESSION_STORE: the Redis URL is not usable; every session gets 503")
            })
            .ok();
        Self {
            client,
            conn: OnceCell::new(),
            prefix: key_prefix(client_id),
            clock,
        }
    }

    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| StoreError::Unreachable("the Redis URL is not usable".into()))?;
        self.conn
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(unreachable)
            })
            .await
            .cloned()
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}s:{id}", self.prefix)
    }

    fn user_key(&self, issuer: &str, subject: &str) -> String {
        format!("{}u:{}", self.prefix, digest(issuer, subject))
    }

    fn sid_key(&self, issuer: &str, sid: &str) -> String {
        format!("{}p:{}", self.prefix, digest(issuer, sid))
    }

    fn channel(&self) -> String {
        format!("{}ended", self.prefix)
    }

    /// The ids in the set `key` whose session is still there; the others are dropped from it.
    async fn live_members(&self, key: String) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn().await?;
        let ids: Vec<String> = c.smembers(&key).await.map_err(unreachable)?;
        let mut live = Vec::with_capacity(ids.len());
        for id in ids {
            let exists: bool = c.exists(self.session_key(&id)).await.map_err(unreachable)?;
            if exists {
                live.push(id);
            } else {
                let _: () = c.srem(&key, &id).await.map_err(unreachable)?;
            }
        }
        Ok(live)
    }
}

/// A key part for a pair of values: their digest, so that keys stay short and say nothing.
fn digest(a: &str, b: &str) -> String {
    let mut joined = Vec::with_capacity(a.len() + b.len() + 1);
    joined.extend_from_slice(a.as_bytes());
    joined.push(0);
    joined.extend_from_slice(b.as_bytes());
    crate::random::sha256_b64(&joined)
}

impl SessionStore for RedisStore {
    fn create<'a>(&'a self, session: &'a StoredSession) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let d = &session.identity;
            let key = self.session_key(d.session_id.as_str());
            let deadline = session.deadline();
            let keep = d
                .expires_at
                .saturating_sub(self.clock.unix_seconds())
                .max(1);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .hset_multiple(
                    &key,
                    &[
                        ("d", session.encode()),
                        ("t", session.seen_at.to_string().into_bytes()),
                    ],
                )
                .ignore()
                .expire_at(&key, deadline as i64)
                .ignore();
            let user = self.user_key(&d.issuer, &d.subject);
            pipe.sadd(&user, &d.session_id)
                .ignore()
                .expire(&user, keep as i64)
                .ignore();
            if let Some(sid) = &d.sid {
                let by_sid = self.sid_key(&d.issuer, sid);
                pipe.sadd(&by_sid, &d.session_id)
                    .ignore()
                    .expire(&by_sid, keep as i64)
                    .ignore();
            }
            let _: () = pipe.query_async(&mut c).await.map_err(unreachable)?;
            Ok(())
        })
    }

    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<StoredSession>> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let (data, seen): (Option<Vec<u8>>, Option<u64>) = redis::cmd("HMGET")
                .arg(self.session_key(id))
                .arg("d")
                .arg("t")
                .query_async(&mut c)
                .await
                .map_err(unreachable)?;
            let Some(data) = data else {
                return Ok(None);
            };
            Ok(StoredSession::decode(&data).map(|mut s| {
                s.seen_at = s.seen_at.max(seen.unwrap_or(0));
                s
            }))
        })
    }

    fn touch<'a>(&'a self, id: &'a str, seen_at: u64, deadline: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let key = self.session_key(id);
            // Only a session still there: EXPIREAT answers 0 for a key that is gone.
            let there: bool = c
                .expire_at(&key, deadline as i64)
                .await
                .map_err(unreachable)?;
            if there {
                let _: () = c.hset(&key, "t", seen_at).await.map_err(unreachable)?;
            }
            Ok(())
        })
    }

    fn end<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<StoredSession>> {
        Box::pin(async move {
            let ended = self.load(id).await?;
            let mut c = self.conn().await?;
            let mut pipe = redis::pipe();
            pipe.atomic().del(self.session_key(id)).ignore();
            if let Some(s) = &ended {
                let d = &s.identity;
                pipe.srem(self.user_key(&d.issuer, &d.subject), id).ignore();
                if let Some(sid) = &d.sid {
                    pipe.srem(self.sid_key(&d.issuer, sid), id).ignore();
                }
            }
            pipe.publish(self.channel(), id).ignore();
            let _: () = pipe.query_async(&mut c).await.map_err(unreachable)?;
            Ok(ended)
        })
    }

    fn sessions_of<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(self.live_members(self.user_key(issuer, subject)))
    }

    fn sessions_by_sid<'a>(
        &'a self,
        issuer: &'a str,
        sid: &'a str,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(self.live_members(self.sid_key(issuer, sid)))
    }

    fn update<'a>(&'a self, session: &'a StoredSession) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            // One step, so that a session ended meanwhile is never written back.
            const IF_THERE: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then \
                redis.call('HSET', KEYS[1], 'd', ARGV[1]) return 1 else return 0 end";
            let written: i64 = redis::cmd("EVAL")
                .arg(IF_THERE)
                .arg(1)
                .arg(self.session_key(session.id()))
                .arg(session.encode())
                .query_async(&mut c)
                .await
                .map_err(unreachable)?;
            Ok(written == 1)
        })
    }

    fn unlock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let _: () = c
                .del(format!("{}l:{name}", self.prefix))
                .await
                .map_err(unreachable)?;
            Ok(())
        })
    }

    fn lock<'a>(&'a self, name: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let taken: Option<String> = redis::cmd("SET")
                .arg(format!("{}l:{name}", self.prefix))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64)
                .query_async(&mut c)
                .await
                .map_err(unreachable)?;
            Ok(taken.is_some())
        })
    }

    fn watch(&self, feed: Weak<dyn EndedFeed>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let channel = self.channel();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "tower_oidc", "the Redis session store needs a tokio runtime when the layer is built: every session gets 503");
            return;
        };
        runtime.spawn(subscribe(client, channel, feed));
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn().await?;
            let _: String = redis::cmd("PING")
                .query_async(&mut c)
                .await
                .map_err(unreachable)?;
            Ok(())
        })
    }
}

/// Watches the channel of ended sessions for as long as `feed` lives: subscribes again after
/// every lost connection, telling the feed it was down.
async fn subscribe(client: redis::Client, channel: String, feed: Weak<dyn EndedFeed>) {
    let mut delay = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(2), connected).await {
            Ok(Ok(mut pubsub)) => {
                delay = Duration::from_millis(100);
                match feed.upgrade() {
                    Some(f) => f.reconnected(),
                    None => return,
                }
                tracing::info!(target: "tower_oidc", event = "session_feed_up", "watching the session store's feed of ended sessions");
                let mut messages = std::pin::pin!(pubsub.on_message());
                while let Some(msg) = messages.next().await {
                    let Some(f) = feed.upgrade() else {
                        return;
                    };
                    match msg.get_payload::<String>() {
                        Ok(id) => f.ended(&id),
                        Err(_) => {
                            tracing::warn!(target: "tower_oidc", "an undecodable message on the feed of ended sessions: ignored")
                        }
                    }
                }
                tracing::warn!(target: "tower_oidc", event = "session_feed_lost", "the feed of ended sessions was lost: subscribing again");
            }
            Ok(Err(e)) => {
                tracing::debug!(target: "tower_oidc", error = %e, "cannot subscribe to the feed of ended sessions yet");
            }
            Err(_) => {
                tracing::debug!(target: "tower_oidc", "subscribing to the feed of ended sessions timed out");
            }
        }
        match feed.upgrade() {
            Some(f) => f.lost(),
            None => return,
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}
