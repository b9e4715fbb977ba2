//! [`ServerSessions`]: a configuration's server-side sessions: its store, this replica's cache
//! of them, and the background work (recording use, watching the store's health and the feed
//! of ended sessions), one per configuration, shared by every layer built from it.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::flights::Flights;
use super::local::LocalSessions;
use super::memory::MemoryStore;
use super::{idle_deadline, EndedFeed, SessionStore, StoreError, StoredSession};
use crate::config::{ConfigId, OidcConfig, StoreKind};
use crate::identity::{Identity, IdentityData};

/// Use of a session is recorded in the store at most this often (seconds).
pub(crate) const TOUCH_EVERY: u64 = 60;
/// How long a store call may take before the store counts as unreachable.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the store's health is checked.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// What the hot path found for a session cookie.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A cached session, fresh.
    Found(Identity),
    /// Not cached (or idle here: another replica may have seen it since): load this id.
    Load(String),
    /// A cached session whose tokens are due for a refresh.
    Refresh(Identity),
    /// A cached session whose store has not answered for longer than the staleness.
    Unavailable,
    /// Not a session cookie of ours.
    Missing,
}

/// A use to record: the session, when, and until when it now lasts.
type Touch = (String, u64, u64);

/// The server-side sessions of one configuration.
pub(crate) struct ServerSessions {
    store: Arc<dyn SessionStore>,
    local: Arc<LocalSessions>,
    staleness: u64,
    idle: u64,
    clock: Arc<dyn crate::clock::Clock>,
    /// Whether the store is the memory store (always reachable, its feed always up).
    in_process: bool,
    /// The queue of uses to record, once the background work runs.
    touches: OnceLock<mpsc::Sender<Touch>>,
    /// Whether tokens are refreshed (`OIDC_REFRESH`).
    refresh_on: bool,
    /// The refreshes under way in this process.
    pub(crate) flights: Flights,
}

impl std::fmt::Debug for ServerSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSessions")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The server-side sessions of every configuration that still has a layer.
static REGISTRY: Mutex<Vec<(ConfigId, Weak<ServerSessions>)>> = Mutex::new(Vec::new());

impl ServerSessions {
    /// The server-side sessions of `config`: `None` with the cookie store; those of a layer
    /// already built from it, or new ones.
    pub(crate) fn of(config: &OidcConfig) -> Option<Arc<Self>> {
        let settings = &config.session_store;
        let store: Arc<dyn SessionStore> = match &settings.kind {
            StoreKind::Cookie => return None,
            StoreKind::Memory => Arc::new(MemoryStore::new(
                config.memory_capacity,
                config.clock.clone(),
            )),
            #[cfg(feature = "redis")]
            StoreKind::Redis(url) => Arc::new(super::redis::RedisStore::new(
                url,
                config.providers[0].client_id.as_str(),
                config.clock.clone(),
            )),
            #[cfg(not(feature = "redis"))]
            StoreKind::Redis(_) => unreachable!("refused by the configuration without the feature"),
        };
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        registry.retain(|(_, s)| s.strong_count() > 0);
        if let Some(s) = registry
            .iter()
            .find(|(id, _)| *id == config.id)
            .and_then(|(_, s)| s.upgrade())
        {
            return Some(s);
        }
        let in_process = settings.kind == StoreKind::Memory;
        let local = Arc::new(LocalSessions::new(
            config.memory_capacity,
            config.clock.clone(),
        ));
        if in_process {
            local.reconnected();
        }
        let sessions = Arc::new(Self {
            store,
            local,
            staleness: settings.staleness.as_secs(),
            idle: settings.idle_timeout.map_or(0, |d| d.as_secs()),
            clock: config.clock.clone(),
            in_process,
            touches: OnceLock::new(),
            refresh_on: config.refresh.on,
            flights: Flights::default(),
        });
        registry.push((config.id, Arc::downgrade(&sessions)));
        if tokio::runtime::Handle::try_current().is_ok() {
            sessions.start();
        }
        Some(sessions)
    }

    /// The idle timeout in seconds (0: none).
    pub(crate) fn idle_secs(&self) -> u64 {
        self.idle
    }

    fn fresh(&self, now: u64) -> bool {
        self.in_process || self.local.fresh(now, self.staleness)
    }

    /// The hot path: the cached session of a cookie value, with no I/O. `open` opens the
    /// cookie into the session id on a miss.
    pub(crate) fn lookup(
        &self,
        value: &[u8],
        now: u64,
        open: impl FnOnce() -> Option<String>,
    ) -> Lookup {
        let Some(hit) = self
            .local
            .cache
            .get_seen(value, now, TOUCH_EVERY, self.idle)
        else {
            return open().map_or(Lookup::Missing, Lookup::Load);
        };
        if !self.fresh(now) {
            return Lookup::Unavailable;
        }
        if self.idle > 0 && now >= hit.seen.saturating_add(self.idle) {
            return Lookup::Load(hit.identity.session_id().to_owned());
        }
        if hit.touch {
            let deadline = idle_deadline(hit.identity.expires_at(), now, self.idle);
            self.touch(hit.identity.session_id(), now, deadline);
        }
        if hit.refresh_due {
            return Lookup::Refresh(hit.identity);
        }
        Lookup::Found(hit.identity)
    }

    /// Queues a use of the session `id` to record in the store, without waiting.
    fn touch(&self, id: &str, now: u64, deadline: u64) {
        if let Some(queue) = self.touches.get() {
            // Full (the store is slow): this use goes unrecorded; the next minute's counts.
            let _ = queue.try_send((id.to_owned(), now, deadline));
        }
    }

    /// Loads the session `id` (cookie `value`) from the store into the cache; `None` when the
    /// store has no such live session. With it, whether its tokens are due for a refresh.
    pub(crate) async fn load(
        &self,
        value: &str,
        id: &str,
        accept: impl Fn(&IdentityData) -> bool,
    ) -> Result<Option<(Identity, bool)>, StoreError> {
        self.ready().await?;
        let found = timed(self.store.load(id)).await?;
        self.local.answered();
        let now = self.clock.unix_seconds();
        let Some(record) =
            found.filter(|r| r.deadline() > now && r.id() == id && accept(&r.identity))
        else {
            return Ok(None);
        };
        // This request is a use too: recorded when the last one is a minute old.
        let mut seen = record.seen_at;
        if now >= seen.saturating_add(TOUCH_EVERY) {
            self.touch(
                id,
                now,
                idle_deadline(record.identity.expires_at, now, self.idle),
            );
            seen = now;
        }
        let refresh_at = self.refresh_at(&record);
        let mut data = record.identity;
        data.provider_token = record.tokens.provider_token();
        let identity = Identity::from_data(data);
        self.local.insert(value, identity.clone(), seen, refresh_at);
        Ok(Some((identity, refresh_at <= now)))
    }

    /// When the session of `record` is due for a refresh (`u64::MAX`: never).
    pub(crate) fn refresh_at(&self, record: &StoredSession) -> u64 {
        if self.refresh_on {
            record.tokens.refresh_at
        } else {
            u64::MAX
        }
    }

    /// The stored record of the session `id` (for its refresh), `None` when it is gone or
    /// past its deadline.
    pub(crate) async fn record(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
        let found = timed(self.store.load(id)).await?;
        self.local.answered();
        let now = self.clock.unix_seconds();
        Ok(found.filter(|r| r.deadline() > now && r.id() == id))
    }

    /// Writes a refreshed record back, if the session is still there; then caches it here
    /// under its cookie `value`. `false`: the session ended meanwhile.
    pub(crate) async fn refreshed(
        &self,
        value: &str,
        record: &StoredSession,
        identity: &Identity,
    ) -> Result<bool, StoreError> {
        if !timed(self.store.update(record)).await? {
            return Ok(false);
        }
        self.adopt(value, record, identity);
        Ok(true)
    }

    /// Caches the session of `record` (refreshed here or by another replica) under its
    /// cookie `value`, as `identity`.
    pub(crate) fn adopt(&self, value: &str, record: &StoredSession, identity: &Identity) {
        self.local.insert(
            value,
            identity.clone(),
            record.seen_at,
            self.refresh_at(record),
        );
    }

    /// The next try of a refresh that could not reach the provider: at `at`.
    pub(crate) fn postpone_refresh(&self, value: &str, at: u64) {
        self.local.cache.postpone_refresh(value, at);
    }

    /// Takes the refresh lock of session `id` across replicas for `ttl`.
    pub(crate) async fn lock_refresh(&self, id: &str, ttl: Duration) -> Result<bool, StoreError> {
        timed(self.store.lock(&format!("refresh:{id}"), ttl)).await
    }

    /// Releases the refresh lock of session `id`.
    pub(crate) async fn unlock_refresh(&self, id: &str) {
        if let Err(e) = timed(self.store.unlock(&format!("refresh:{id}"))).await {
            tracing::debug!(target: "tower_oidc", error = %e, "a refresh lock was left to expire");
        }
    }

    /// Stores a new session (its use recorded now).
    pub(crate) async fn create(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.ready().await?;
        timed(self.store.create(session)).await?;
        self.local.answered();
        Ok(())
    }

    /// Ends the session `id` everywhere; the ended record, if the store still had it.
    pub(crate) async fn end(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
        // Evicted here first, whatever the store says.
        self.local.ended(id);
        self.start();
        timed(self.store.end(id)).await
    }

    /// Ends every session of `(issuer, subject)` signed in no later than `before` (Unix
    /// seconds, the record's `authenticated_at`); how many. A session signed in after it (the
    /// user signed in again after the logout) is kept.
    pub(crate) async fn end_sessions_of(
        &self,
        issuer: &str,
        subject: &str,
        before: u64,
    ) -> Result<usize, StoreError> {
        self.start();
        let ids = timed(self.store.sessions_of(issuer, subject)).await?;
        let mut ended = 0;
        for id in &ids {
            let record = timed(self.store.load(id)).await?;
            if record.is_some_and(|r| r.identity.authenticated_at > before) {
                continue;
            }
            self.end(id).await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// Ends every session the provider's session `sid` at `issuer` started; how many.
    // For the back-channel logout, which ends sessions by `sid`.
    pub(crate) async fn end_sessions_by_sid(
        &self,
        issuer: &str,
        sid: &str,
    ) -> Result<usize, StoreError> {
        self.start();
        let ids = timed(self.store.sessions_by_sid(issuer, sid)).await?;
        for id in &ids {
            self.end(id).await?;
        }
        Ok(ids.len())
    }

    /// The live sessions of `(issuer, subject)`.
    pub(crate) async fn sessions_of(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<StoredSession>, StoreError> {
        self.start();
        let ids = timed(self.store.sessions_of(issuer, subject)).await?;
        let now = self.clock.unix_seconds();
        let mut found = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(s) = timed(self.store.load(id)).await? {
                if s.deadline() > now {
                    found.push(s);
                }
            }
        }
        Ok(found)
    }

    /// The store is reachable and its feed up (waiting a moment for both after a start).
    pub(crate) async fn ready(&self) -> Result<(), StoreError> {
        self.start();
        if self.in_process {
            return Ok(());
        }
        let give_up = tokio::time::Instant::now() + CALL_TIMEOUT;
        while !self.local.feed_up() {
            if tokio::time::Instant::now() >= give_up {
                return Err(StoreError::Unreachable(
                    "no connection to the feed of ended sessions".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Whether a new sign-in may start: the store answered lately.
    pub(crate) async fn accepts_sign_ins(&self) -> bool {
        if self.ready().await.is_err() {
            return false;
        }
        let now = self.clock.unix_seconds();
        if self.fresh(now) {
            return true;
        }
        timed(self.store.ping()).await.is_ok() && {
            self.local.answered();
            self.fresh(now)
        }
    }

    /// Starts the background work once, on the current tokio runtime: the feed of ended
    /// sessions, the queue of uses to record, and the heartbeat that keeps the store's health.
    fn start(&self) {
        if self.touches.get().is_some() {
            return;
        }
        let (tx, mut rx) = mpsc::channel::<Touch>(1024);
        if self.touches.set(tx).is_err() {
            return;
        }
        let feed: Arc<dyn EndedFeed> = self.local.clone();
        self.store.watch(Arc::downgrade(&feed));
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            while let Some((id, seen, deadline)) = rx.recv().await {
                if let Err(e) = timed(store.touch(&id, seen, deadline)).await {
                    tracing::debug!(target: "tower_oidc", error = %e, "a session's use was not recorded");
                }
            }
        });
        if self.in_process {
            return;
        }
        let store = Arc::clone(&self.store);
        let local = Arc::downgrade(&self.local);
        tokio::spawn(async move {
            let mut was_up = true;
            loop {
                let ok = timed(store.ping()).await.is_ok();
                let Some(local) = local.upgrade() else {
                    return;
                };
                if ok {
                    local.answered();
                }
                if ok != was_up {
                    if ok {
                        tracing::info!(target: "tower_oidc", event = "session_store_back", "the session store answers again");
                    } else {
                        tracing::warn!(target: "tower_oidc", event = "session_store_lost", "the session store does not answer: cached sessions are served for OIDC_SESSION_STORE_STALENESS, then get 503");
                    }
                    was_up = ok;
                }
                drop(local);
                tokio::time::sleep(HEARTBEAT).await;
            }
        });
    }
}

/// A store call bounded by [`CALL_TIMEOUT`].
async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(StoreError::Unreachable("timed out".into())))
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;
    use crate::clock::TestClock;

    fn config(clock: Arc<TestClock>, idle: Option<u64>) -> OidcConfig {
        let mut b = OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_base_url("https://app.example.com")
            .with_cookie_key("IlzD4pae0xgKesB/FsBsW2mHVTdPgyTAuifsk+NJpzw=")
            .with_clock(clock)
            .with_session_store("memory");
        if let Some(idle) = idle {
            b = b.with_session_idle_timeout(Duration::from_secs(idle));
        }
        b.build().expect("a valid test configuration")
    }

    #[tokio::test]
    async fn a_loaded_session_is_served_from_the_cache_until_it_ends() {
        let clock = TestClock::at(1_000);
        let s = ServerSessions::of(&config(clock.clone(), None)).unwrap();
        let value = "c".repeat(40);
        let open = || Some("s1".to_owned());
        assert!(matches!(s.lookup(value.as_bytes(), 1_000, open), Lookup::Load(id) if id == "s1"));
        assert!(
            s.load(&value, "s1", |_| true).await.unwrap().is_none(),
            "not stored"
        );
        s.create(&record("s1", "u1", None, 1_000)).await.unwrap();
        // Signed in after the cut-off of the ending below: kept.
        s.create(&record("s2", "u1", None, 1_001)).await.unwrap();
        assert!(s.load(&value, "s1", |_| true).await.unwrap().is_some());
        assert!(matches!(
            s.lookup(value.as_bytes(), 1_000, || None),
            Lookup::Found(_)
        ));
        assert_eq!(
            s.end_sessions_of("https://id.example.com", "u1", 1_000)
                .await
                .unwrap(),
            1
        );
        let left = s.sessions_of("https://id.example.com", "u1").await.unwrap();
        assert_eq!(left.iter().map(|r| r.id()).collect::<Vec<_>>(), ["s2"]);
        assert!(matches!(
            s.lookup(value.as_bytes(), 1_000, || None),
            Lookup::Missing
        ));
        assert!(
            s.load(&value, "s1", |_| true).await.unwrap().is_none(),
            "ended for good"
        );

        s.create(&record("s3", "u2", Some("p-9"), 1_000))
            .await
            .unwrap();
        assert!(s.load(&value, "s3", |_| true).await.unwrap().is_some());
        assert_eq!(
            s.end_sessions_by_sid("https://id.example.com", "p-9")
                .await
                .unwrap(),
            1
        );
        assert!(matches!(
            s.lookup(value.as_bytes(), 1_000, || None),
            Lookup::Missing
        ));
    }

    #[tokio::test]
    async fn an_idle_session_is_loaded_again_and_ends_in_the_store() {
        let clock = TestClock::at(1_000);
        let s = ServerSessions::of(&config(clock.clone(), Some(600))).unwrap();
        let mut r = record("s2", "u1", None, 1_000);
        r.idle_secs = 600;
        s.create(&r).await.unwrap();
        let value = "d".repeat(40);
        s.load(&value, "s2", |_| true).await.unwrap().unwrap();
        assert!(matches!(
            s.lookup(value.as_bytes(), 1_050, || None),
            Lookup::Found(_)
        ));
        clock.set(1_600);
        assert!(matches!(
            s.lookup(value.as_bytes(), 1_600, || None),
            Lookup::Load(_)
        ));
        assert!(
            s.load(&value, "s2", |_| true).await.unwrap().is_none(),
            "idle for 600 s"
        );
    }
}
