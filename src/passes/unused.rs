//! Dropping the constants a rewrite left unread: initializers and
//! `Constant` nodes among the inputs of replaced nodes that no node of the
//! model (graph, subgraphs, functions) reads any more, and the value infos
//! of values no node writes any more.

use crate::model::hash::Set;

use crate::model::opsets::is_default_domain;
use crate::proto::{GraphProto, ModelProto};

/// Removes initializers and `Constant` nodes among `candidates` that no node
/// of the model reads any more. A graph input of the same name keeps its
/// initializer (it is the input's default value and part of the interface).
pub(crate) fn drop_unused_constants(model: &mut ModelProto, candidates: &Set<String>) {
    // Only the candidates still read are collected, not every name read: a
    // set of every name costs more to build and free than the whole rewrite.
    let mut used = Set::default();
    if let Some(g) = &model.graph {
        collect_used(g, candidates, &mut used);
    }
    for f in &model.functions {
        for n in &f.node {
            mark_used(&n.input, candidates, &mut used);
        }
    }
    let unused = |name: &str| candidates.contains(name) && !used.contains(name);
    if let Some(g) = model.graph.as_mut() {
        prune_graph(g, &unused);
    }
}

fn collect_used(graph: &GraphProto, candidates: &Set<String>, used: &mut Set<String>) {
    for o in &graph.output {
        if candidates.contains(o.name()) && !used.contains(o.name()) {
            used.insert(o.name().to_owned());
        }
    }
    for node in &graph.node {
        mark_used(&node.input, candidates, used);
        for g in node.subgraphs() {
            collect_used(g, candidates, used);
        }
    }
}

fn mark_used(names: &[String], candidates: &Set<String>, used: &mut Set<String>) {
    for name in names {
        if candidates.contains(name) && !used.contains(name) {
            used.insert(name.clone());
        }
    }
}

fn prune_graph(graph: &mut GraphProto, unused: &impl Fn(&str) -> bool) {
    let inputs: Set<String> = graph.input.iter().map(|i| i.name().to_owned()).collect();
    graph
        .initializer
        .retain(|t| inputs.contains(t.name()) || !unused(t.name()));
    graph.node.retain(|n| {
        !(n.op_type() == "Constant"
            && is_default_domain(n.domain())
            && n.output.iter().all(|o| unused(o)))
    });
    let pruned: Set<String> = graph
        .value_info
        .iter()
        .map(|v| v.name().to_owned())
        .filter(|n| unused(n) && !graph.node.iter().any(|node| node.output.contains(n)))
        .collect();
    graph.value_info.retain(|v| !pruned.contains(v.name()));
    for g in graph.node.iter_mut().flat_map(|n| n.subgraphs_mut()) {
        prune_graph(g, unused);
    }
}
