//! Graph consistency, checked on a model before it is rewritten and after
//! every pass (in tests and debug builds): nodes in topological order, every
//! input defined before use, every value defined once, every graph output
//! produced. A cycle shows up as a value used before it is defined.

use std::collections::HashSet;

use crate::error::Error;
use crate::proto::{FunctionProto, GraphProto, ModelProto, NodeProto};

/// How deep subgraphs may nest before the model is refused.
pub const MAX_GRAPH_DEPTH: usize = 64;

pub fn check_model(model: &ModelProto) -> Result<(), Error> {
    if let Some(graph) = &model.graph {
        check_graph(graph, graph.name(), &HashSet::new(), 0)?;
    }
    for f in &model.functions {
        check_function(f)?;
    }
    Ok(())
}

fn check_graph(
    graph: &GraphProto,
    scope: &str,
    outer: &HashSet<String>,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_GRAPH_DEPTH {
        return Err(Error::graph(
            scope,
            format!("subgraphs nest deeper than {MAX_GRAPH_DEPTH} levels"),
        ));
    }
    let mut visible = outer.clone();
    let mut local = HashSet::new();
    for vi in &graph.input {
        if !local.insert(vi.name()) {
            return Err(Error::graph(
                scope,
                format!("input `{}` is declared twice", vi.name()),
            ));
        }
        visible.insert(vi.name().to_owned());
    }
    for t in &graph.initializer {
        visible.insert(t.name().to_owned());
    }
    for s in &graph.sparse_initializer {
        if let Some(v) = &s.values {
            visible.insert(v.name().to_owned());
        }
    }
    let mut produced: HashSet<&str> = HashSet::new();
    for node in &graph.node {
        check_node_inputs(node, &visible, scope)?;
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                let sub_scope = format!("{scope}/{}:{}", node_label(node), attr.name());
                check_graph(sub, &sub_scope, &visible, depth + 1)?;
            }
        }
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            let declared_here = graph.input.iter().any(|v| v.name() == out)
                || graph.initializer.iter().any(|t| t.name() == out);
            if declared_here || !produced.insert(out) {
                return Err(Error::graph(
                    scope,
                    format!(
                        "value `{out}` is written by node `{}` but is already defined",
                        node_label(node)
                    ),
                ));
            }
            visible.insert(out.clone());
        }
    }
    for out in &graph.output {
        if !visible.contains(out.name()) {
            return Err(Error::graph(
                scope,
                format!("graph output `{}` is produced by no node", out.name()),
            ));
        }
    }
    Ok(())
}

fn check_function(f: &FunctionProto) -> Result<(), Error> {
    let scope = format!("function {}::{}", f.domain(), f.name());
    let mut visible: HashSet<String> = f.input.iter().cloned().collect();
    for node in &f.node {
        check_node_inputs(node, &visible, &scope)?;
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                let sub_scope = format!("{scope}/{}:{}", node_label(node), attr.name());
                check_graph(sub, &sub_scope, &visible, 1)?;
            }
        }
        visible.extend(node.output.iter().filter(|o| !o.is_empty()).cloned());
    }
    for out in &f.output {
        if !visible.contains(out) {
            return Err(Error::graph(
                &scope,
                format!("function output `{out}` is produced by no node"),
            ));
        }
    }
    Ok(())
}

fn check_node_inputs(
    node: &NodeProto,
    visible: &HashSet<String>,
    scope: &str,
) -> Result<(), Error> {
    for (index, input) in node.input.iter().enumerate() {
        if !input.is_empty() && !visible.contains(input) {
            return Err(Error::graph(
                scope,
                format!(
                    "node `{}` ({}): input {index} `{input}` is not defined before it is used",
                    node_label(node),
                    node.op_type()
                ),
            ));
        }
    }
    Ok(())
}

/// A node's name, or its first output when it has none.
pub fn node_label(node: &NodeProto) -> &str {
    if !node.name().is_empty() {
        node.name()
    } else {
        node.output
            .first()
            .map(String::as_str)
            .unwrap_or("<unnamed>")
    }
}
