//! Sessions ended by logout or by the identity provider (back-channel logout): refused until
//! they would have expired.

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::digest;

use super::ending::Ending;
use super::expiring::{make_room, warn_overflow, Floor};
use crate::identity::IdentityData;

/// Sessions ended by logout, so that a copy of the cookie taken before logout is refused even
/// though the cookie itself stays valid until it expires: by session id (new at every login;
/// a user's logout), by the provider's session `sid`, and by user signed in before a time (both
/// from a back-channel logout). Entries leave when the last session they may cover would have
/// expired. Consulted only when a cookie is opened, never on a cache hit: ending a session
/// removes its cache entry.
///
/// Bounded: each of its three maps holds at most `capacity` entries; when one is full it
/// forgets the entries that expire soonest and raises the floor to the last one forgotten,
/// refusing every session that expires no later than that (fail closed: those users sign in
/// again), rather than let a revoked session back in.
#[derive(Debug)]
pub(crate) struct Revocations {
    ended: RwLock<Ended>,
    capacity: usize,
    /// The session lifetime: a session signed in at `t` expires at `t + lifetime`.
    lifetime: u64,
}

#[derive(Debug, Default)]
struct Ended {
    /// Session id to when the session expires.
    ids: HashMap<String, u64>,
    /// SHA-256 of (issuer, `sid`) to when the last session signed in with it expires.
    sids: HashMap<[u8; 32], u64>,
    /// SHA-256 of (issuer, subject) to when the last session of that user signed in no later
    /// than the back-channel logout expires: that time less the lifetime is when it came.
    subjects: HashMap<[u8; 32], u64>,
    floor: Floor,
}

/// The key of an issuer's `sid` or subject: fixed-size, whatever the provider sends.
fn key(issuer: &str, id: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(issuer.as_bytes());
    ctx.update(&[0]);
    ctx.update(id.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

/// Remembers `key` until `until` in `map`, making room first; the floor after, when it rose.
fn remember<K: Eq + std::hash::Hash>(
    map: &mut HashMap<K, u64>,
    floor: &mut Floor,
    key: K,
    until: u64,
    now: u64,
    capacity: usize,
) -> Option<u64> {
    let raised = make_room(map, now, capacity).map(|cut| {
        let floor = floor.raise(cut);
        warn_overflow(
            "the list of ended sessions",
            capacity,
            floor,
            "sessions",
            "their users must sign in again",
        );
        floor
    });
    if !floor.covers(until) {
        let entry = map.entry(key).or_insert(until);
        *entry = (*entry).max(until);
    }
    raised
}

impl Revocations {
    /// A list that remembers at most `capacity` ended sessions of each kind, for sessions that
    /// last `lifetime` seconds.
    pub(crate) fn new(capacity: usize, lifetime: u64) -> Self {
        Self {
            ended: RwLock::default(),
            capacity,
            lifetime,
        }
    }

    /// Ends the session `session_id`, which expires at `expires_at`. Returns the new floor when
    /// the list was full and raised it: the caller drops every cached session expiring no later
    /// than it.
    pub(crate) fn revoke(&self, session_id: &str, expires_at: u64, now: u64) -> Option<u64> {
        let mut ended = self.ended.write().unwrap_or_else(|p| p.into_inner());
        let Ended { ids, floor, .. } = &mut *ended;
        remember(
            ids,
            floor,
            session_id.to_owned(),
            expires_at,
            now,
            self.capacity,
        )
    }

    /// Ends the sessions `ending` names (a back-channel logout received at `now`). Returns the
    /// new floor when the list was full and raised it, as [`revoke`](Self::revoke) does.
    pub(crate) fn end(&self, ending: &Ending, now: u64) -> Option<u64> {
        let mut ended = self.ended.write().unwrap_or_else(|p| p.into_inner());
        let Ended {
            sids,
            subjects,
            floor,
            ..
        } = &mut *ended;
        match ending {
            // A session signed in with that `sid` began no later than now.
            Ending::Sid { issuer, sid } => {
                let until = now.saturating_add(self.lifetime);
                remember(sids, floor, key(issuer, sid), until, now, self.capacity)
            }
            Ending::Subject {
                issuer,
                subject,
                before,
            } => {
                let until = before.saturating_add(self.lifetime);
                remember(
                    subjects,
                    floor,
                    key(issuer, subject),
                    until,
                    now,
                    self.capacity,
                )
            }
        }
    }

    /// Whether the session `data` was ended, or lies below the floor.
    pub(crate) fn is_revoked(&self, data: &IdentityData) -> bool {
        let ended = self.ended.read().unwrap_or_else(|p| p.into_inner());
        if ended.floor.covers(data.expires_at) || ended.ids.contains_key(&data.session_id) {
            return true;
        }
        if !ended.sids.is_empty() {
            if let Some(sid) = &data.sid {
                if ended.sids.contains_key(&key(&data.issuer, sid)) {
                    return true;
                }
            }
        }
        !ended.subjects.is_empty()
            && ended
                .subjects
                .get(&key(&data.issuer, &data.subject))
                .is_some_and(|until| data.authenticated_at <= until.saturating_sub(self.lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session `id` signed in at `at` for 400 s, with the provider's session `sid`.
    fn session(id: &str, at: u64, sid: Option<&str>) -> IdentityData {
        let mut data = IdentityData::sample(0);
        data.session_id = id.into();
        data.authenticated_at = at;
        data.expires_at = at + 400;
        data.sid = sid.map(str::to_owned);
        data
    }

    fn revoked(r: &Revocations, id: &str, expires_at: u64) -> bool {
        r.is_revoked(&session(id, expires_at - 400, None))
    }

    #[test]
    fn an_ended_session_is_refused_until_it_expires() {
        let r = Revocations::new(10, 400);
        assert_eq!(r.revoke("a", 500, 100), None);
        assert!(revoked(&r, "a", 500));
        assert!(!revoked(&r, "b", 500));
    }

    #[test]
    fn a_back_channel_logout_ends_sessions_by_sid_or_by_user_signed_in_before() {
        let r = Revocations::new(10, 400);
        let issuer = IdentityData::sample(0).issuer;
        let by_sid = Ending::Sid {
            issuer: issuer.clone(),
            sid: "op-1".into(),
        };
        assert_eq!(r.end(&by_sid, 200), None);
        assert!(r.is_revoked(&session("a", 150, Some("op-1"))));
        assert!(!r.is_revoked(&session("b", 150, Some("op-2"))));
        assert!(!r.is_revoked(&session("c", 150, None)));
        let mut elsewhere = session("d", 150, Some("op-1"));
        elsewhere.issuer = "https://other.example.com".into();
        assert!(!r.is_revoked(&elsewhere), "a sid belongs to its issuer");

        let by_user = Ending::Subject {
            issuer,
            subject: IdentityData::sample(0).subject,
            before: 300,
        };
        assert_eq!(r.end(&by_user, 300), None);
        assert!(r.is_revoked(&session("e", 300, None)));
        assert!(r.is_revoked(&session("f", 10, Some("op-9"))));
        assert!(
            !r.is_revoked(&session("g", 301, None)),
            "signed in after the logout"
        );
        let mut other = session("h", 100, None);
        other.subject = "someone-else".into();
        assert!(!r.is_revoked(&other));
    }

    #[test]
    fn a_full_list_of_back_channel_logouts_fails_closed() {
        let r = Revocations::new(2, 400);
        let issuer = IdentityData::sample(0).issuer;
        let end = |sid: &str, now: u64| {
            r.end(
                &Ending::Sid {
                    issuer: issuer.clone(),
                    sid: sid.into(),
                },
                now,
            )
        };
        assert_eq!(end("s1", 100), None);
        assert_eq!(end("s2", 110), None);
        assert_eq!(
            end("s3", 120),
            Some(510),
            "full: both forgotten, the floor at the later end"
        );
        assert!(
            r.is_revoked(&session("x", 100, Some("s1"))),
            "below the floor"
        );
        assert!(r.is_revoked(&session("y", 110, Some("s2"))));
        assert!(!r.is_revoked(&session("z", 200, None)));
    }

    #[test]
    fn a_full_list_refuses_every_session_it_may_have_forgotten() {
        let r = Revocations::new(4, 400);
        for (id, expires) in [("a", 510), ("b", 520), ("c", 530), ("d", 540)] {
            assert_eq!(r.revoke(id, expires, 100), None);
        }
        assert_eq!(r.revoke("e", 550, 100), Some(530));
        for (id, expires) in [("a", 510), ("c", 530), ("never-ended", 525)] {
            assert!(revoked(&r, id, expires), "{id}");
        }
        assert!(revoked(&r, "d", 540) && revoked(&r, "e", 550));
        assert!(!revoked(&r, "fresh", 531), "a later session is unaffected");
    }
}
