//! Graph consistency, checked on a model before it is rewritten and after
//! every pass (in tests and debug builds): nodes in topological order, every
//! input defined before use, every value defined once, every graph output
//! produced, every initializer that shadows a graph input of the input's type
//! and shape. A cycle shows up as a value used before it is defined. Calls to
//! model-local functions must not recurse, nest past [`MAX_CALL_DEPTH`] or
//! inline to more than [`MAX_INLINED_NODES`] nodes.

use crate::model::hash::{Map, Set};

use crate::error::Error;
use crate::model::facts::{Dim, shape_string, tensor_type, value_info_shape};
use crate::model::tensor::type_name;
use crate::proto::{FunctionProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto};

/// How deep subgraphs may nest before the model is refused.
pub const MAX_GRAPH_DEPTH: usize = 64;

pub fn check_model(model: &ModelProto) -> Result<(), Error> {
    if let Some(graph) = &model.graph {
        check_graph(graph, graph.name(), &Set::default(), 0)?;
    }
    for f in &model.functions {
        check_function(f)?;
    }
    check_function_calls(model)
}

/// How deep calls to model-local functions may nest. Inlining follows
/// them, and a chain of thousands would exhaust the stack.
pub const MAX_CALL_DEPTH: usize = 64;

/// The most nodes inlining may produce in the graph or in one function. A
/// function that calls another twice, which calls another twice, … grows
/// as 2^depth: forty levels would be a trillion nodes from a model of a few
/// kilobytes. About 4M nodes is over ten times the largest real exports.
pub const MAX_INLINED_NODES: u64 = 1 << 22;

/// A model-local function: domain (`ai.onnx` read as `""`), name, overload.
type FunctionKey<'a> = (&'a str, &'a str, &'a str);

fn function_key(domain: &str) -> &str {
    if domain == "ai.onnx" { "" } else { domain }
}

fn key_of(f: &FunctionProto) -> FunctionKey<'_> {
    (function_key(f.domain()), f.name(), f.overload())
}

/// ONNX functions may not call themselves, directly or through others; and
/// inlining must stay within [`MAX_CALL_DEPTH`] and [`MAX_INLINED_NODES`].
fn check_function_calls(model: &ModelProto) -> Result<(), Error> {
    if model.functions.is_empty() {
        return Ok(());
    }
    let keys: Set<FunctionKey> = model.functions.iter().map(key_of).collect();
    // Per function: the calls it makes and the other nodes it holds.
    let mut bodies: Map<FunctionKey, (Vec<FunctionKey>, u64)> = Map::default();
    for f in &model.functions {
        let mut calls = vec![];
        let plain = collect_calls(&f.node, &keys, &mut calls);
        bodies.insert(key_of(f), (calls, plain));
    }
    // Depth-first with an explicit stack no longer than MAX_CALL_DEPTH: a
    // callee already on the current path closes a cycle; a function is
    // measured (its nodes once inlined, saturating) when all its callees
    // are. Functions are visited in the model's order, so the same model
    // always gets the same message.
    let mut expanded: Map<FunctionKey, u64> = Map::default();
    for start in model.functions.iter().map(key_of) {
        if expanded.contains_key(&start) {
            continue;
        }
        let mut path: Vec<(FunctionKey, usize)> = vec![(start, 0)];
        while let Some(top) = path.last_mut() {
            let (current, index) = *top;
            top.1 += 1;
            let (calls, plain) = &bodies[&current];
            let Some(&callee) = calls.get(index) else {
                let size = calls
                    .iter()
                    .fold(*plain, |n, c| n.saturating_add(expanded[c]));
                check_inlined_size(&show_function(current), size)?;
                expanded.insert(current, size);
                path.pop();
                continue;
            };
            if let Some(at) = path.iter().position(|(k, _)| *k == callee) {
                let cycle: Vec<String> = path[at..]
                    .iter()
                    .map(|(k, _)| show_function(*k))
                    .chain(std::iter::once(show_function(callee)))
                    .collect();
                return Err(Error::graph(
                    "",
                    format!(
                        "function {} calls itself ({}); ONNX functions may not recurse",
                        show_function(callee),
                        cycle.join(" -> ")
                    ),
                ));
            }
            if !expanded.contains_key(&callee) {
                if path.len() == MAX_CALL_DEPTH {
                    let chain: Vec<String> = [path[0].0, path[1].0]
                        .into_iter()
                        .map(show_function)
                        .collect();
                    return Err(Error::graph(
                        "",
                        format!(
                            "function calls nest more than {MAX_CALL_DEPTH} deep ({} -> … -> \
                             {}), past what inlining follows",
                            chain.join(" -> "),
                            show_function(callee)
                        ),
                    ));
                }
                path.push((callee, 0));
            }
        }
    }
    if let Some(graph) = &model.graph {
        let mut calls = vec![];
        let plain = collect_calls(&graph.node, &keys, &mut calls);
        let size = calls
            .iter()
            .fold(plain, |n, c| n.saturating_add(expanded[c]));
        check_inlined_size("the main graph", size)?;
    }
    Ok(())
}

fn check_inlined_size(what: &str, nodes: u64) -> Result<(), Error> {
    if nodes <= MAX_INLINED_NODES {
        return Ok(());
    }
    let count = if nodes == u64::MAX {
        "more than 2^64".to_owned()
    } else {
        nodes.to_string()
    };
    Err(Error::graph(
        "",
        format!(
            "inlining the function calls in {what} would make {count} nodes, past the \
             limit of {MAX_INLINED_NODES}"
        ),
    ))
}

/// Pushes the calls among `nodes` (subgraphs included) to `out`; returns the
/// number of the other nodes.
fn collect_calls<'a>(
    nodes: &'a [NodeProto],
    keys: &Set<FunctionKey<'a>>,
    out: &mut Vec<FunctionKey<'a>>,
) -> u64 {
    let mut plain = 0u64;
    for node in nodes {
        let key = (function_key(node.domain()), node.op_type(), node.overload());
        if keys.contains(&key) {
            out.push(key);
        } else {
            plain += 1;
        }
        for sub in node.subgraphs() {
            plain += collect_calls(&sub.node, keys, out);
        }
    }
    plain
}

fn show_function((domain, name, overload): FunctionKey) -> String {
    if overload.is_empty() {
        format!("`{domain}::{name}`")
    } else {
        format!("`{domain}::{name}` (overload `{overload}`)")
    }
}

fn check_graph<'a>(
    graph: &'a GraphProto,
    scope: &str,
    outer: &Set<&'a str>,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_GRAPH_DEPTH {
        return Err(Error::graph(
            scope,
            format!("subgraphs nest deeper than {MAX_GRAPH_DEPTH} levels"),
        ));
    }
    let mut visible = outer.clone();
    let mut local = Set::default();
    for vi in &graph.input {
        if !local.insert(vi.name()) {
            return Err(Error::graph(
                scope,
                format!("input `{}` is declared twice", vi.name()),
            ));
        }
        visible.insert(vi.name());
    }
    // Looked up by name, not searched: a graph holds thousands of
    // initializers, and older exports list each among the inputs too.
    let inputs: Map<&str, &ValueInfoProto> = graph.input.iter().map(|vi| (vi.name(), vi)).collect();
    for t in &graph.initializer {
        check_initializer_matches_input(inputs.get(t.name()).copied(), t, scope)?;
        visible.insert(t.name());
    }
    let declared: Set<&str> = graph
        .input
        .iter()
        .map(|vi| vi.name())
        .chain(graph.initializer.iter().map(|t| t.name()))
        .collect();
    for s in &graph.sparse_initializer {
        if let Some(v) = &s.values {
            visible.insert(v.name());
        }
    }
    let mut produced: Set<&str> = Set::default();
    for node in &graph.node {
        check_node_inputs(node, &visible, scope)?;
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                let sub_scope = format!("{scope}/{}:{}", node_label(node), attr.name());
                check_graph(sub, &sub_scope, &visible, depth + 1)?;
            }
        }
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            if declared.contains(out.as_str()) || !produced.insert(out) {
                return Err(Error::graph(
                    scope,
                    format!(
                        "value `{out}` is written by node `{}` but is already defined",
                        node_label(node)
                    ),
                ));
            }
            visible.insert(out.as_str());
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

/// An initializer named like a graph input is that input's default value
/// (IR 4 and later): it must have the type and shape the input declares, or
/// the graph means two things at once. Unknown and symbolic dims accept any
/// size.
fn check_initializer_matches_input(
    input: Option<&ValueInfoProto>,
    t: &TensorProto,
    scope: &str,
) -> Result<(), Error> {
    let Some(input) = input else {
        return Ok(());
    };
    let Some(declared) = input.r#type.as_ref().and_then(tensor_type) else {
        return Ok(());
    };
    let mismatch = |what: &str, given: String, declared: String| {
        Error::graph(
            scope,
            format!(
                "initializer `{}` has {what} {given} but graph input `{}` declares {declared}",
                t.name(),
                input.name()
            ),
        )
    };
    let elem_type = declared.elem_type();
    if elem_type != 0 && elem_type != t.data_type() {
        return Err(mismatch(
            "type",
            type_name(t.data_type()),
            type_name(elem_type),
        ));
    }
    if let Some(shape) = value_info_shape(input) {
        let fits = shape.len() == t.dims.len()
            && shape.iter().zip(&t.dims).all(|(d, &n)| match d {
                Dim::Known(k) => *k == n,
                Dim::Symbol(_) | Dim::Unknown => true,
            });
        if !fits {
            return Err(mismatch(
                "shape",
                format!("{:?}", t.dims),
                shape_string(&shape),
            ));
        }
    }
    Ok(())
}

fn check_function(f: &FunctionProto) -> Result<(), Error> {
    let scope = format!("function {}::{}", f.domain(), f.name());
    let mut visible: Set<&str> = f.input.iter().map(String::as_str).collect();
    for node in &f.node {
        check_node_inputs(node, &visible, &scope)?;
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                let sub_scope = format!("{scope}/{}:{}", node_label(node), attr.name());
                check_graph(sub, &sub_scope, &visible, 1)?;
            }
        }
        visible.extend(
            node.output
                .iter()
                .filter(|o| !o.is_empty())
                .map(String::as_str),
        );
    }
    for out in &f.output {
        if !visible.contains(out.as_str()) {
            return Err(Error::graph(
                &scope,
                format!("function output `{out}` is produced by no node"),
            ));
        }
    }
    Ok(())
}

fn check_node_inputs(node: &NodeProto, visible: &Set<&str>, scope: &str) -> Result<(), Error> {
    for (index, input) in node.input.iter().enumerate() {
        if !input.is_empty() && !visible.contains(input.as_str()) {
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
