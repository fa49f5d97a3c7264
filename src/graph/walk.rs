//! The walk over a graph and every subgraph in it (`If` branches, `Loop`
//! and `Scan` bodies, nested to any depth). A node's subgraphs themselves
//! are [`NodeProto::subgraphs`](crate::proto::NodeProto::subgraphs).
//!
//! The scoped walks hand each graph a context built from its enclosing
//! graph's (a [`Scope`], or the op checks' `Facts`): built before the
//! subgraphs are visited, so a rewrite of a subgraph cannot change what the
//! enclosing graph defines. Building it may decline a graph (`None`), which
//! skips the graph and everything inside it: contexts copy their enclosing
//! scope's, and a model with many subgraphs would copy them all for nothing.

use crate::graph::scope::Scope;
use crate::proto::GraphProto;

/// Calls `f` on `graph`, then on each subgraph, outermost first.
pub fn for_each_graph<'a>(graph: &'a GraphProto, f: &mut impl FnMut(&'a GraphProto)) {
    f(graph);
    for sub in graph.node.iter().flat_map(|n| n.subgraphs()) {
        for_each_graph(sub, f);
    }
}

/// Calls `f` on `graph`, then on each subgraph, outermost first, for edits
/// that need no scope.
pub fn for_each_graph_edit(graph: &mut GraphProto, f: &mut impl FnMut(&mut GraphProto)) {
    f(graph);
    for sub in graph.node.iter_mut().flat_map(|n| n.subgraphs_mut()) {
        for_each_graph_edit(sub, f);
    }
}

/// Whether `pred` holds for `graph` or any graph inside it.
pub fn any_graph(graph: &GraphProto, pred: &mut impl FnMut(&GraphProto) -> bool) -> bool {
    pred(graph)
        || graph
            .node
            .iter()
            .flat_map(|n| n.subgraphs())
            .any(|sub| any_graph(sub, pred))
}

/// Calls `f` on every subgraph of `graph`, innermost first, then on `graph`
/// itself, each with its [`Scope`] (chained to `parent`).
pub fn for_each_graph_mut<E>(
    graph: &mut GraphProto,
    parent: Option<&Scope>,
    f: &mut impl FnMut(&mut GraphProto, &Scope) -> Result<(), E>,
) -> Result<(), E> {
    // Its own recursion: a scope borrows its parent, which a context of
    // `for_each_graph_scoped` cannot.
    let scope = Scope::for_graph(graph, parent);
    for sub in graph.node.iter_mut().flat_map(|n| n.subgraphs_mut()) {
        for_each_graph_mut(sub, Some(&scope), f)?;
    }
    f(graph, &scope)
}

/// Calls `f` on every subgraph of `graph`, innermost first, then on `graph`
/// itself, each with the context `enter` builds for it from its enclosing
/// graph's; a graph `enter` declines is skipped with all it holds.
pub fn for_each_graph_scoped<C, E>(
    graph: &mut GraphProto,
    parent: Option<&C>,
    enter: &mut impl FnMut(&GraphProto, Option<&C>) -> Option<C>,
    f: &mut impl FnMut(&mut GraphProto, &C) -> Result<(), E>,
) -> Result<(), E> {
    let Some(context) = enter(graph, parent) else {
        return Ok(());
    };
    for sub in graph.node.iter_mut().flat_map(|n| n.subgraphs_mut()) {
        for_each_graph_scoped(sub, Some(&context), enter, f)?;
    }
    f(graph, &context)
}

/// [`for_each_graph_scoped`] for reading: `f` sees each graph, outermost
/// first, with its context.
pub fn visit_graphs_scoped<C, E>(
    graph: &GraphProto,
    parent: Option<&C>,
    enter: &mut impl FnMut(&GraphProto, Option<&C>) -> Option<C>,
    f: &mut impl FnMut(&GraphProto, &C) -> Result<(), E>,
) -> Result<(), E> {
    let Some(context) = enter(graph, parent) else {
        return Ok(());
    };
    f(graph, &context)?;
    for sub in graph.node.iter().flat_map(|n| n.subgraphs()) {
        visit_graphs_scoped(sub, Some(&context), enter, f)?;
    }
    Ok(())
}
