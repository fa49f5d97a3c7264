//! The walk over a graph and every subgraph in it (`If` branches, `Loop`
//! and `Scan` bodies, nested to any depth).

use crate::graph::scope::Scope;
use crate::proto::GraphProto;

/// Calls `f` on `graph`, then on each subgraph, outermost first.
pub fn for_each_graph<'a>(graph: &'a GraphProto, f: &mut impl FnMut(&'a GraphProto)) {
    f(graph);
    for node in &graph.node {
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                for_each_graph(sub, f);
            }
        }
    }
}

/// Calls `f` on `graph`, then on each subgraph, outermost first, for edits
/// that need no scope.
pub fn for_each_graph_edit(graph: &mut GraphProto, f: &mut impl FnMut(&mut GraphProto)) {
    f(graph);
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            for sub in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                for_each_graph_edit(sub, f);
            }
        }
    }
}

/// Calls `f` on every subgraph of `graph`, innermost first, then on `graph`
/// itself, each with its [`Scope`] (chained to `parent`). The scope is taken
/// before the subgraphs are rewritten: a rewrite of a subgraph must not
/// change what the enclosing graph defines.
pub fn for_each_graph_mut<E>(
    graph: &mut GraphProto,
    parent: Option<&Scope>,
    f: &mut impl FnMut(&mut GraphProto, &Scope) -> Result<(), E>,
) -> Result<(), E> {
    let scope = Scope::for_graph(graph, parent);
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            for sub in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                for_each_graph_mut(sub, Some(&scope), f)?;
            }
        }
    }
    f(graph, &scope)
}
