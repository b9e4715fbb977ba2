//! Bounded maps of entries to their expiry times, shared by the replay guard and the revocations.

use std::collections::HashMap;

/// Makes room in a map of entries to their expiry times: drops the expired ones, and if it is
/// still at `capacity`, the half that expires soonest. Keeps the map bounded whatever the input.
pub(crate) fn make_room<K: Eq + std::hash::Hash>(
    map: &mut HashMap<K, u64>,
    now: u64,
    capacity: usize,
) {
    if map.len() < capacity {
        return;
    }
    map.retain(|_, expires| *expires > now);
    if map.len() >= capacity {
        let mut expiries: Vec<u64> = map.values().copied().collect();
        expiries.sort_unstable();
        let cut = expiries[expiries.len() / 2];
        map.retain(|_, e| *e > cut);
    }
}
