//! Bounded maps of entries to their expiry times, shared by the replay guard and the revocations.

use std::collections::HashMap;

/// Makes room in a map of entries to their expiry times: drops the expired ones, and if it is
/// still at `capacity`, the half that expires soonest. Keeps the map bounded whatever the input.
///
/// Returns the cut-off when entries that had not expired yet were dropped: every dropped entry
/// expired no later than it, so the caller refuses whatever expires no later than it from then
/// on (it can no longer tell those apart), instead of forgetting them silently.
#[must_use = "forgotten entries must be refused through the returned cut-off"]
pub(crate) fn make_room<K: Eq + std::hash::Hash>(
    map: &mut HashMap<K, u64>,
    now: u64,
    capacity: usize,
) -> Option<u64> {
    if map.len() < capacity {
        return None;
    }
    map.retain(|_, expires| *expires > now);
    if map.is_empty() || map.len() < capacity {
        return None;
    }
    let mut expiries: Vec<u64> = map.values().copied().collect();
    expiries.sort_unstable();
    let cut = expiries[expiries.len() / 2];
    map.retain(|_, e| *e > cut);
    Some(cut)
}

/// Logs that a full memory raised its floor: from now on it refuses the `entries` that expire
/// no later than `floor`; `then` says what their users must do.
pub(crate) fn warn_overflow(memory: &str, capacity: usize, floor: u64, entries: &str, then: &str) {
    tracing::warn!(
        target: "tower_oidc",
        capacity,
        refused_until = floor,
        "{memory} is full: {entries} that expire no later than `refused_until` (Unix seconds) are refused; {then}"
    );
}

/// The cut-off of a memory: what expires no later than it is refused, because a full memory
/// forgot some of those entries. Only ever rises.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Floor(u64);

impl Floor {
    /// Raises the floor to `cut`; the floor after.
    pub(crate) fn raise(&mut self, cut: u64) -> u64 {
        self.0 = self.0.max(cut);
        self.0
    }

    /// Whether an entry expiring at `expires_at` is below the floor (and must be refused).
    pub(crate) fn covers(self, expires_at: u64) -> bool {
        expires_at <= self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_drops_the_expired_first_then_half_and_names_the_cut() {
        let mut map: HashMap<u32, u64> = (0..4).map(|i| (i, 100 + u64::from(i))).collect();
        assert_eq!(make_room(&mut map, 50, 5), None, "not full");
        assert_eq!(
            make_room(&mut map, 101, 4),
            None,
            "two expired: room enough"
        );
        assert_eq!(map.len(), 2);
        map.extend([(10, 200), (11, 201)]);
        assert_eq!(make_room(&mut map, 101, 4), Some(200));
        let mut left: Vec<_> = map.keys().copied().collect();
        left.sort_unstable();
        assert_eq!(left, [11], "only what expires after the cut stays");
        assert_eq!(make_room(&mut HashMap::<u32, u64>::new(), 0, 0), None);
    }

    #[test]
    fn the_floor_only_rises() {
        let mut floor = Floor::default();
        assert!(!floor.covers(1));
        assert_eq!(floor.raise(10), 10);
        assert_eq!(floor.raise(5), 10);
        assert!(floor.covers(10));
        assert!(!floor.covers(11));
    }
}
