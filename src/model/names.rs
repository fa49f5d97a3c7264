//! Fresh names that collide with nothing already in a model: no value,
//! initializer or node name in any graph, subgraph or function.
//!
//! The table keeps a 64-bit keyed hash of each name, not the name: a large
//! model has a million names, and copying, hashing into a growing table and
//! freeing a million strings was a fifth of a conversion's time. A name
//! whose hash is in the table is taken; two names sharing a hash (a chance
//! of about 2⁻⁶⁴ per pair) only make `fresh` skip a free name, never hand
//! out a used one.

use std::collections::HashSet;
use std::hash::BuildHasher;

use crate::proto::{GraphProto, ModelProto, NodeProto};

/// Every name in use, and a way to make new ones.
#[derive(Debug, Default)]
pub struct NameTable {
    /// Hashes of the names in use (see the module doc).
    taken: HashSet<u64, IdentityHash>,
    /// Keyed per process; foldhash's quality hasher, several times faster
    /// than SipHash on names.
    hasher: foldhash::quality::RandomState,
}

/// The keys are already hashes: hashing them again is wasted work.
#[derive(Debug, Default, Clone, Copy)]
struct IdentityHash;

impl BuildHasher for IdentityHash {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

#[derive(Debug, Default)]
struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl NameTable {
    pub fn for_model(model: &ModelProto) -> NameTable {
        let mut table = NameTable::default();
        // About three names a node (its name, its outputs, a new one or
        // two); growing a table of a million names rehashes it twenty times.
        let nodes = model
            .graph
            .as_ref()
            .map_or(0, |g| g.node.len() + g.initializer.len());
        table.taken.reserve(3 * nodes);
        if let Some(graph) = &model.graph {
            table.add_graph(graph);
        }
        for f in &model.functions {
            for name in f.input.iter().chain(&f.output) {
                table.take(name);
            }
            for node in &f.node {
                table.add_node(node);
            }
        }
        for info in &model.training_info {
            for g in info.initialization.iter().chain(&info.algorithm) {
                table.add_graph(g);
            }
        }
        table
    }

    fn add_graph(&mut self, graph: &GraphProto) {
        let value_infos = graph
            .input
            .iter()
            .chain(&graph.output)
            .chain(&graph.value_info);
        for v in value_infos {
            self.take(v.name());
        }
        for t in &graph.initializer {
            self.take(t.name());
        }
        for sparse in &graph.sparse_initializer {
            if let Some(values) = &sparse.values {
                self.take(values.name());
            }
        }
        for node in &graph.node {
            self.add_node(node);
        }
    }

    fn add_node(&mut self, node: &NodeProto) {
        self.take(node.name());
        for name in node.input.iter().chain(&node.output) {
            self.take(name);
        }
        for g in node.subgraphs() {
            self.add_graph(g);
        }
    }

    fn key(&self, name: &str) -> u64 {
        self.hasher.hash_one(name)
    }

    fn take(&mut self, name: &str) {
        let key = self.key(name);
        self.taken.insert(key);
    }

    /// `base` itself if free, else `base_1`, `base_2`, …; the name is taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut candidate = base.to_owned();
        let mut n = 0u64;
        while self.contains(&candidate) {
            n += 1;
            candidate = format!("{base}_{n}");
        }
        self.take(&candidate);
        candidate
    }

    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(&self.key(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_names_never_repeat() {
        let mut t = NameTable::default();
        assert_eq!(t.fresh("a.p"), "a.p");
        assert_eq!(t.fresh("a.p"), "a.p_1");
        assert_eq!(t.fresh("a.p"), "a.p_2");
        assert!(t.contains("a.p_1"));
    }
}
