//! The hash maps and sets the converter keys by value names: std's, with
//! foldhash's fast hasher (seeded per process, like std's) instead of
//! SipHash, which dominated `convert` on large graphs. Build them with
//! `Map::default()` / `Set::default()` or by collecting.

pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
