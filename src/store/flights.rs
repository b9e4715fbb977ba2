//! [`Flights`]: at most one token refresh per session at a time in this process. The first
//! request that finds a session due starts the refresh; the others join it and get its
//! outcome, or are served with the current session meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::AuthError;
use crate::identity::Identity;

/// How a refresh ended.
#[derive(Clone, Debug)]
pub(crate) enum Refreshed {
    /// The session with its new tokens, its identity decided again by the policy.
    Session(Identity),
    /// The session ended: refused by the provider, by the checks of its answer or by the
    /// policy, or ended meanwhile; with the page a navigation gets (`None`: it signs in
    /// again).
    Ended(Option<AuthError>),
    /// The provider or the store could not be reached (or another replica's refresh did not
    /// finish in time): the current session is served within the grace.
    Unreachable,
}

/// What a request that found its session due got to do.
#[derive(Debug)]
pub(crate) enum Joined {
    /// Start the refresh, and land it with [`Flights::land`].
    Leader(watch::Sender<Option<Refreshed>>),
    /// Another request's refresh is under way: wait for it with [`wait`].
    Follower(watch::Receiver<Option<Refreshed>>),
}

/// The refreshes under way, by session id.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    under_way: Mutex<HashMap<Box<str>, watch::Receiver<Option<Refreshed>>>>,
}

impl Flights {
    /// Joins the refresh of session `id`, or starts it.
    pub(crate) fn join(&self, id: &str) -> Joined {
        let mut under_way = self.under_way.lock().unwrap_or_else(|p| p.into_inner());
        // A flight whose leader is gone (its task ended without landing) is no flight.
        if let Some(rx) = under_way.get(id).filter(|rx| rx.has_changed().is_ok()) {
            return Joined::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        under_way.insert(id.into(), rx);
        Joined::Leader(tx)
    }

    /// The refresh of `id` ended with `outcome`: its followers get it, and the next refresh
    /// of the session is a new flight.
    pub(crate) fn land(&self, id: &str, tx: watch::Sender<Option<Refreshed>>, outcome: Refreshed) {
        self.under_way
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let _ = tx.send(Some(outcome));
    }
}

/// The outcome of the flight `rx`, waited for at most `bound`; `None` when it did not land in
/// time.
pub(crate) async fn wait(
    mut rx: watch::Receiver<Option<Refreshed>>,
    bound: Duration,
) -> Option<Refreshed> {
    let landed = tokio::time::timeout(bound, rx.wait_for(Option::is_some)).await;
    landed.ok()?.ok().and_then(|r| r.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_per_session_and_followers_get_its_outcome() {
        let f = Flights::default();
        let Joined::Leader(tx) = f.join("s1") else {
            panic!("the first request leads");
        };
        let Joined::Follower(rx) = f.join("s1") else {
            panic!("the second follows");
        };
        assert!(matches!(f.join("s2"), Joined::Leader(_)), "another session");
        assert!(wait(rx.clone(), Duration::from_millis(10)).await.is_none());
        f.land("s1", tx, Refreshed::Ended(None));
        assert!(matches!(
            wait(rx, Duration::from_millis(10)).await,
            Some(Refreshed::Ended(None))
        ));
        assert!(matches!(f.join("s1"), Joined::Leader(_)), "a new flight");
    }

    #[tokio::test]
    async fn a_leader_gone_without_landing_leaves_no_flight() {
        let f = Flights::default();
        let Joined::Leader(tx) = f.join("s1") else {
            panic!("leads");
        };
        let Joined::Follower(rx) = f.join("s1") else {
            panic!("follows");
        };
        drop(tx);
        assert!(wait(rx, Duration::from_millis(10)).await.is_none());
        assert!(matches!(f.join("s1"), Joined::Leader(_)));
    }
}
