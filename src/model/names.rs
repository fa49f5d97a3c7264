//! Fresh names that collide with nothing already in a model: no value,
//! initializer or node name in any graph, subgraph or function.

use std::collections::HashSet;

use crate::proto::{GraphProto, ModelProto, NodeProto};

/// Every name in use, and a way to make new ones.
#[derive(Debug, Default)]
pub struct NameTable {
    taken: HashSet<String>,
}

impl NameTable {
    pub fn for_model(model: &ModelProto) -> NameTable {
        let mut table = NameTable::default();
        if let Some(graph) = &model.graph {
            table.add_graph(graph);
        }
        for f in &model.functions {
            table.taken.extend(f.input.iter().cloned());
            table.taken.extend(f.output.iter().cloned());
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
        self.taken.extend(value_infos.map(|v| v.name().to_owned()));
        self.taken
            .extend(graph.initializer.iter().map(|t| t.name().to_owned()));
        for sparse in &graph.sparse_initializer {
            if let Some(values) = &sparse.values {
                self.taken.insert(values.name().to_owned());
            }
        }
        for node in &graph.node {
            self.add_node(node);
        }
    }

    fn add_node(&mut self, node: &NodeProto) {
        self.taken.insert(node.name().to_owned());
        self.taken.extend(node.input.iter().cloned());
        self.taken.extend(node.output.iter().cloned());
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                self.add_graph(g);
            }
        }
    }

    /// `base` itself if free, else `base_1`, `base_2`, …; the name is taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut candidate = base.to_owned();
        let mut n = 0u64;
        while self.taken.contains(&candidate) {
            n += 1;
            candidate = format!("{base}_{n}");
        }
        self.taken.insert(candidate.clone());
        candidate
    }

    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
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
