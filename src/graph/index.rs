//! Producers and consumers of every value of one graph.
//!
//! A node consumes the values it names as inputs and, through its
//! subgraphs (`If`, `Loop`, `Scan` bodies), every outer value those bodies
//! read without defining it themselves. So a value that only a subgraph
//! reads still has a consumer here, and a pattern that would remove it is
//! refused. Building the index is linear in the size of the graph and its
//! subgraphs.

use crate::model::hash::{Map, Set};

use crate::graph::scope::{Constant, Scope};
use crate::proto::{GraphProto, NodeProto};

/// The index of one graph.
pub struct GraphIndex<'g> {
    graph: &'g GraphProto,
    scope: &'g Scope<'g>,
    producer: Map<&'g str, usize>,
    /// Per value, the nodes reading it, each once, in graph order.
    consumers: Map<&'g str, Vec<usize>>,
    outputs: Set<&'g str>,
}

impl<'g> GraphIndex<'g> {
    /// Indexes `graph`, whose scope (for constants) is `scope`.
    pub fn new(graph: &'g GraphProto, scope: &'g Scope<'g>) -> GraphIndex<'g> {
        let mut producer = Map::with_capacity_and_hasher(graph.node.len(), Default::default());
        let mut consumers: Map<&str, Vec<usize>> =
            Map::with_capacity_and_hasher(graph.node.len(), Default::default());
        for (i, node) in graph.node.iter().enumerate() {
            for out in node.output.iter().filter(|o| !o.is_empty()) {
                producer.insert(out.as_str(), i);
            }
            let mut read: Vec<&str> = node
                .input
                .iter()
                .filter(|n| !n.is_empty())
                .map(String::as_str)
                .collect();
            for sub in node.subgraphs() {
                outer_reads(sub, &mut Set::default(), &mut read);
            }
            read.sort_unstable();
            read.dedup();
            for name in read {
                consumers.entry(name).or_default().push(i);
            }
        }
        GraphIndex {
            graph,
            scope,
            producer,
            consumers,
            outputs: graph.output.iter().map(|o| o.name()).collect(),
        }
    }

    pub fn graph(&self) -> &'g GraphProto {
        self.graph
    }

    pub fn node(&self, index: usize) -> &'g NodeProto {
        &self.graph.node[index]
    }

    /// The node that writes `name` in this graph.
    pub fn producer(&self, name: &str) -> Option<usize> {
        self.producer.get(name).copied()
    }

    /// The nodes that read `name`, each once.
    pub fn consumers(&self, name: &str) -> &[usize] {
        self.consumers.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn is_graph_output(&self, name: &str) -> bool {
        self.outputs.contains(name)
    }

    /// The constant `name` is, through initializers, `Constant` and
    /// `Identity`, here or in an enclosing scope.
    pub fn constant(&self, name: &str) -> Option<Constant> {
        self.scope.constant(name)
    }
}

/// The names `graph` reads from outside itself, added to `read`. `defined`
/// holds the names of the scopes between the indexed graph and this one.
fn outer_reads<'a>(graph: &'a GraphProto, defined: &mut Set<&'a str>, read: &mut Vec<&'a str>) {
    let mut local: Vec<&str> = vec![];
    let mut define = |name: &'a str, defined: &mut Set<&'a str>| {
        if defined.insert(name) {
            local.push(name);
        }
    };
    for i in &graph.input {
        define(i.name(), defined);
    }
    for t in &graph.initializer {
        define(t.name(), defined);
    }
    for node in &graph.node {
        for input in node.input.iter().filter(|n| !n.is_empty()) {
            if !defined.contains(input.as_str()) {
                read.push(input);
            }
        }
        for sub in node.subgraphs() {
            outer_reads(sub, defined, read);
        }
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            define(out, defined);
        }
    }
    for o in &graph.output {
        if !defined.contains(o.name()) {
            read.push(o.name());
        }
    }
    for name in local {
        defined.remove(name);
    }
}
