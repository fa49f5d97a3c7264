//! `decompose-acon`: every node of an ACON domain becomes standard ops
//! (Sigmoid, Mul, Sub, Add, ReduceMean, Conv), in the main graph and in the
//! bodies of `If`, `Loop` and `Scan`, nested ones included.
//!
//! In run order, per graph: collect what is known of each value, rewrite the
//! subgraphs, then replace each ACON node in place by its decomposition (so
//! the node list stays topologically sorted). Constants are folded; the
//! initializers that only the replaced nodes read are dropped afterwards.
//!
//! All four ops are one shape, ACON-C with a scale `P` and an offset `p2`:
//!
//! ```text
//! acon_c(x) = P·x·σ(β·P·x) + p2·x = x·(P·σ((β·P)·x) + p2)     P = p1 − p2
//! acon_b(x) = acon_c with P = 1 − p, p2 = p
//! acon_a(x) = acon_c with P = 1, p2 = 0      = x·σ(β·x)
//! ```
//!
//! The right-hand form is the one emitted: `β·P` is folded (or computed on the
//! small `[N, C, 1, …]` tensor for Meta-ACON), leaving one Mul, one Sigmoid
//! and a Mul-Add-Mul chain whose running value is always the first input,
//! which tract fuses into a single pass.

use std::collections::HashSet;

use crate::error::Error;
use crate::model::check::node_label;
use crate::model::facts::Facts;
use crate::model::names::NameTable;
use crate::model::tensor::{Array, FloatType};
use crate::ops::{
    self, AconNode, AconOp, BatchNorm, LocalFunctions, MetaBranch, NodeClass, Operand,
};
use crate::passes::emit::{Binary, Emitter, Value};
use crate::passes::{ConvertOptions, Pass, PassContext, default_opset, is_default_domain};
use crate::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};

pub struct DecomposeAcon;

/// The default-domain opset added to a model that imports none.
const OPSET_WHEN_MISSING: i64 = 17;

/// The oldest default opset whose Mul/Add/Sub broadcast like numpy.
const MIN_OPSET: i64 = 7;

impl Pass for DecomposeAcon {
    fn name(&self) -> &'static str {
        "decompose-acon"
    }

    fn run(&self, model: &mut ModelProto, cx: &mut PassContext) -> Result<bool, Error> {
        let Some(graph) = model.graph.as_ref() else {
            return Ok(false);
        };
        let functions = LocalFunctions::of(model);
        if !graph_has_acon(graph, &functions, cx.options) {
            warn_foreign_acon(model, cx);
            return Ok(false);
        }
        let opset = match default_opset(model) {
            Some(v) => v,
            None => {
                model.opset_import.push(OperatorSetIdProto {
                    domain: Some(String::new()),
                    version: Some(OPSET_WHEN_MISSING),
                });
                OPSET_WHEN_MISSING
            }
        };
        if opset < MIN_OPSET {
            return Err(Error::Unsupported(format!(
                "the model imports default-domain opset {opset}; the decomposition needs \
                 opset {MIN_OPSET} or newer (multidirectional broadcasting)"
            )));
        }
        let mut rewriter = Rewriter {
            cx,
            functions,
            names: NameTable::for_model(model),
            opset,
            replaced_inputs: HashSet::new(),
        };
        let graph = model.graph.as_mut().expect("checked above");
        rewriter.graph(graph, None)?;
        let candidates = std::mem::take(&mut rewriter.replaced_inputs);
        drop_unused_constants(model, &candidates);
        warn_foreign_acon(model, cx);
        Ok(true)
    }
}

impl DecomposeAcon {
    /// Checks every ACON node of the graph and its subgraphs against the spec
    /// without rewriting anything: what `inspect` refuses a model for.
    pub fn validate(model: &ModelProto, options: &ConvertOptions) -> Result<(), Error> {
        match &model.graph {
            Some(graph) => validate_graph(graph, None, &LocalFunctions::of(model), options),
            None => Ok(()),
        }
    }
}

fn validate_graph(
    graph: &GraphProto,
    outer: Option<&Facts>,
    functions: &LocalFunctions,
    options: &ConvertOptions,
) -> Result<(), Error> {
    // Facts copy their enclosing scope's: build them only where they are read.
    if !graph_has_acon(graph, functions, options) {
        return Ok(());
    }
    let facts = ops::facts_for(graph, outer, functions, options);
    for node in &graph.node {
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                validate_graph(sub, Some(&facts), functions, options)?;
            }
        }
        if is_custom_op(node, functions, options) {
            ops::parse(node, &facts)?;
        }
    }
    Ok(())
}

struct Rewriter<'c, 'o> {
    cx: &'c mut PassContext<'o>,
    functions: LocalFunctions,
    names: NameTable,
    opset: i64,
    /// Inputs of replaced nodes: constants among them may now be unused.
    replaced_inputs: HashSet<String>,
}

impl Rewriter<'_, '_> {
    fn graph(&mut self, graph: &mut GraphProto, outer: Option<&Facts>) -> Result<(), Error> {
        // Facts copy their enclosing scope's: a model with many subgraphs
        // would copy them all, quadratically, for nothing.
        if !graph_has_acon(graph, &self.functions, self.cx.options) {
            return Ok(());
        }
        let facts = ops::facts_for(graph, outer, &self.functions, self.cx.options);
        for node in &mut graph.node {
            for attr in &mut node.attribute {
                for sub in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                    self.graph(sub, Some(&facts))?;
                }
            }
        }
        let nodes = std::mem::take(&mut graph.node);
        graph.node.reserve(nodes.len());
        for node in nodes {
            if !is_custom_op(&node, &self.functions, self.cx.options) {
                graph.node.push(node);
                continue;
            }
            let parsed = ops::parse(&node, &facts)?;
            let mut em = Emitter::new(node_label(&node), &mut self.names, parsed.dtype, self.opset);
            decompose(&parsed, &mut em).map_err(|e| match e {
                Error::Unsupported(msg) => Error::Unsupported(format!(
                    "node `{}` ({}::{}): {msg}",
                    node_label(&node),
                    node.domain(),
                    node.op_type()
                )),
                other => other,
            })?;
            let Emitter {
                mut nodes,
                initializers,
                ..
            } = em;
            if let Some(last) = nodes.last_mut() {
                last.doc_string = node.doc_string.clone();
            }
            *self
                .cx
                .report
                .rewritten
                .entry(node.op_type().to_owned())
                .or_default() += 1;
            self.cx.report.nodes_added += nodes.len();
            // Only a constant can be left unused and dropped.
            self.replaced_inputs.extend(
                node.input
                    .iter()
                    .filter(|i| facts.constant(i).is_some())
                    .cloned(),
            );
            graph.node.extend(nodes);
            graph.initializer.extend(initializers);
        }
        Ok(())
    }
}

fn operand(op: &Operand) -> Value {
    match &op.value {
        Some(a) => Value::Stored {
            name: op.name.clone(),
            array: a.clone(),
        },
        None => Value::Tensor(op.name.clone()),
    }
}

fn decompose(node: &AconNode, em: &mut Emitter) -> Result<(), Error> {
    let x = &node.x.name;
    let out = &node.output;
    match &node.op {
        AconOp::A { beta } => {
            let one = Value::Const(Array::scalar(1.0));
            switch(em, x, one, None, beta.as_ref().map(operand), out)
        }
        AconOp::B { p, beta } => {
            let one = Value::Const(Array::scalar(1.0));
            let scale = em.binary(Binary::Sub, one, operand(p), "p")?;
            switch(
                em,
                x,
                scale,
                Some(operand(p)),
                beta.as_ref().map(operand),
                out,
            )
        }
        AconOp::C { p1, p2, beta } => {
            let scale = em.binary(Binary::Sub, operand(p1), operand(p2), "p")?;
            switch(
                em,
                x,
                scale,
                Some(operand(p2)),
                beta.as_ref().map(operand),
                out,
            )
        }
        AconOp::MetaC { p1, p2, branch } => {
            if node.dtype == FloatType::BF16 && em.opset < 22 {
                return Err(Error::Unsupported(format!(
                    "MetaAconC in bfloat16 needs Conv in bfloat16, which ONNX has from \
                     opset 22; the model imports opset {}",
                    em.opset
                )));
            }
            let beta = meta_beta(em, x, branch)?;
            let scale = em.binary(Binary::Sub, operand(p1), operand(p2), "p")?;
            switch(em, x, scale, Some(operand(p2)), Some(beta), out)
        }
    }
}

/// `y = x·(P·σ((β·P)·x) + p2)`, the last node writing `output`.
fn switch(
    em: &mut Emitter,
    x: &str,
    scale: Value,
    offset: Option<Value>,
    beta: Option<Value>,
    output: &str,
) -> Result<(), Error> {
    let x_value = || Value::Tensor(x.to_owned());
    // A computed β uses P twice as a node input: store it once.
    let computed_beta = beta.as_ref().is_some_and(|b| b.constant().is_none());
    let scale = if computed_beta && !scale.is_all(1.0) {
        Value::Tensor(em.tensor(scale, "p"))
    } else {
        scale
    };
    let beta_scale = match beta {
        Some(b) if !b.is_all(1.0) => em.binary(Binary::Mul, b, scale.clone(), "beta_p")?,
        _ => scale.clone(),
    };
    let z = if beta_scale.is_all(1.0) {
        x_value()
    } else {
        em.binary(Binary::Mul, x_value(), beta_scale, "z")?
    };
    let mut gate = em.sigmoid(z, "sigmoid");
    if !scale.is_all(1.0) {
        gate = em.binary(Binary::Mul, gate, scale, "gate_scale")?;
    }
    if let Some(offset) = offset.filter(|o| !o.is_all(0.0)) {
        gate = em.binary(Binary::Add, gate, offset, "gate")?;
    }
    em.binary_into(Binary::Mul, gate, x_value(), "mul", output);
    Ok(())
}

/// Meta-ACON's switching factor:
///
/// ```text
/// m = mean(x, axes 2..2+k, keepdims)
/// h = BN1(Conv1x1(m, W1, B1))
/// g = BN2(Conv1x1(h, W2, B2))
/// β = σ(g)
/// ```
fn meta_beta(em: &mut Emitter, x: &str, branch: &MetaBranch) -> Result<Value, Error> {
    let k = branch.spatial_rank;
    let axes: Vec<i64> = (2..2 + k as i64).collect();
    let m = em.reduce_mean(x, &axes, "mean");
    let h = conv_bn(
        em,
        m,
        &branch.w1,
        branch.b1.as_ref(),
        branch.bn1.as_ref(),
        branch,
        "fc1",
    )?;
    let g = conv_bn(
        em,
        h,
        &branch.w2,
        branch.b2.as_ref(),
        branch.bn2.as_ref(),
        branch,
        "fc2",
    )?;
    Ok(em.sigmoid(g, "beta"))
}

/// `BN(Conv1x1(z, W, B))`. With everything constant, BatchNorm is folded into
/// the convolution (`s = scale / sqrt(var + ε)`):
///
/// ```text
/// W' = W · s            (per output channel)
/// B' = (B − mean) · s + bias
/// ```
///
/// With a computed weight or bias it follows the conv as `h·s + (bias − mean·s)`.
fn conv_bn(
    em: &mut Emitter,
    z: Value,
    w: &Operand,
    b: Option<&Operand>,
    bn: Option<&BatchNorm>,
    branch: &MetaBranch,
    suffix: &str,
) -> Result<Value, Error> {
    let k = branch.spatial_rank;
    let weight = match (&w.value, w.shape.as_ref().map(Vec::len)) {
        (Some(a), _) if a.dims.len() == 2 => {
            let mut dims = a.dims.clone();
            dims.extend(std::iter::repeat_n(1, k));
            Value::Const(a.clone().reshaped(dims))
        }
        (Some(_), _) => operand(w),
        (None, Some(2)) | (None, None) => {
            return Err(Error::Unsupported(format!(
                "input {} `{}` is computed and not of rank {}; a 1×1 conv weight given \
                 as [out, in] must be an initializer",
                w.index,
                w.name,
                k + 2
            )));
        }
        (None, Some(_)) => Value::Tensor(w.name.clone()),
    };
    let bias = b.map(operand);
    let Some(bn) = bn else {
        return Ok(em.conv(z, weight, bias, suffix));
    };
    let (scale, shift) = bn_affine(bn, branch.epsilon)?;
    let out_channels = scale.len();
    let all_constant =
        weight.constant().is_some() && bias.as_ref().is_none_or(|b| b.constant().is_some());
    match (weight, bias) {
        (weight, _) if all_constant => {
            let w = weight.constant().expect("checked").clone();
            let bias = match b.and_then(|b| b.value.clone()) {
                Some(b) => b,
                None => Array {
                    dims: vec![out_channels],
                    data: vec![0.0; out_channels],
                },
            };
            let mut per_out = vec![out_channels];
            per_out.extend(std::iter::repeat_n(1, w.dims.len() - 1));
            let folded_w = w
                .zip(&scale.clone().reshaped(per_out), |a, s| a * s)
                .ok_or_else(|| shape_mismatch(w_label(w.dims.clone()), out_channels))?;
            let folded_b = bias
                .zip(&scale, |a, s| a * s)
                .and_then(|bs| bs.zip(&shift, |a, t| a + t))
                .ok_or_else(|| shape_mismatch(w_label(bias.dims.clone()), out_channels))?;
            Ok(em.conv(
                z,
                Value::Const(folded_w),
                Some(Value::Const(folded_b)),
                suffix,
            ))
        }
        (weight, bias) => {
            let h = em.conv(z, weight, bias, suffix);
            let mut channel_dims = vec![1, out_channels];
            channel_dims.extend(std::iter::repeat_n(1, k));
            let h = em.binary(
                Binary::Mul,
                h,
                Value::Const(scale.reshaped(channel_dims.clone())),
                &format!("{suffix}_bn_scale"),
            )?;
            em.binary(
                Binary::Add,
                h,
                Value::Const(shift.reshaped(channel_dims)),
                &format!("{suffix}_bn_shift"),
            )
        }
    }
}

fn w_label(dims: Vec<usize>) -> String {
    format!("{dims:?}")
}

fn shape_mismatch(what: String, channels: usize) -> Error {
    Error::Unsupported(format!(
        "cannot fold BatchNorm of {channels} channels into a tensor of shape {what}"
    ))
}

/// BatchNorm as `z·s + t`: `s = scale / sqrt(var + ε)`, `t = bias − mean·s`,
/// computed in f64.
fn bn_affine(bn: &BatchNorm, epsilon: f64) -> Result<(Array, Array), Error> {
    let constant = |op: &Operand| {
        op.value.clone().ok_or_else(|| {
            Error::Unsupported(format!(
                "input {} `{}` is computed; BatchNorm parameters must be initializers",
                op.index, op.name
            ))
        })
    };
    let (scale, bias, mean, var) = (
        constant(&bn.scale)?,
        constant(&bn.bias)?,
        constant(&bn.mean)?,
        constant(&bn.var)?,
    );
    if let Some(bad) = var
        .data
        .iter()
        .position(|&v| (v + epsilon).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
    {
        return Err(Error::Unsupported(format!(
            "input {} `{}` has variance {} at channel {bad}: var + epsilon must be positive",
            bn.var.index, bn.var.name, var.data[bad]
        )));
    }
    let s = Array {
        dims: scale.dims.clone(),
        data: scale
            .data
            .iter()
            .zip(&var.data)
            .map(|(g, v)| g / (v + epsilon).sqrt())
            .collect(),
    };
    let t = Array {
        dims: bias.dims.clone(),
        data: bias
            .data
            .iter()
            .zip(&mean.data)
            .zip(&s.data)
            .map(|((b, m), s)| b - m * s)
            .collect(),
    };
    Ok((s, t))
}

/// A node this pass rewrites: an ACON custom op, not a function call that
/// happens to share its domain and name (see `ops::classify`).
fn is_custom_op(node: &NodeProto, functions: &LocalFunctions, options: &ConvertOptions) -> bool {
    matches!(
        ops::classify(node, functions, options),
        NodeClass::CustomOp(_)
    )
}

fn graph_has_acon(
    graph: &GraphProto,
    functions: &LocalFunctions,
    options: &ConvertOptions,
) -> bool {
    graph.node.iter().any(|n| {
        is_custom_op(n, functions, options)
            || n.attribute
                .iter()
                .flat_map(|a| a.g.iter().chain(&a.graphs))
                .any(|g| graph_has_acon(g, functions, options))
    })
}

/// ACON op types in domains nobody named are left alone, with a warning.
fn warn_foreign_acon(model: &ModelProto, cx: &mut PassContext) {
    let functions = LocalFunctions::of(model);
    let mut found = vec![];
    if let Some(g) = &model.graph {
        collect_foreign(g, cx, &functions, &mut found);
    }
    for node in found {
        cx.report.warnings.push(format!(
            "node `{}` ({}::{}) looks like an ACON op but its domain is not an ACON domain; \
             it was left alone (add `--acon-domain {}` to convert it)",
            node_label(&node),
            node.domain(),
            node.op_type(),
            node.domain()
        ));
    }
}

fn collect_foreign(
    graph: &GraphProto,
    cx: &PassContext,
    functions: &LocalFunctions,
    found: &mut Vec<NodeProto>,
) {
    for node in &graph.node {
        if let NodeClass::Foreign(_) = ops::classify(node, functions, cx.options) {
            found.push(node.clone());
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                collect_foreign(g, cx, functions, found);
            }
        }
    }
}

/// Removes initializers and `Constant` nodes among `candidates` that no node
/// of the model reads any more. A graph input of the same name keeps its
/// initializer (it is the input's default value and part of the interface).
fn drop_unused_constants(model: &mut ModelProto, candidates: &HashSet<String>) {
    // Only the candidates still read are collected, not every name read: a
    // set of every name costs more to build and free than the whole rewrite.
    let mut used = HashSet::new();
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

fn collect_used(graph: &GraphProto, candidates: &HashSet<String>, used: &mut HashSet<String>) {
    for o in &graph.output {
        if candidates.contains(o.name()) && !used.contains(o.name()) {
            used.insert(o.name().to_owned());
        }
    }
    for node in &graph.node {
        mark_used(&node.input, candidates, used);
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                collect_used(g, candidates, used);
            }
        }
    }
}

fn mark_used(names: &[String], candidates: &HashSet<String>, used: &mut HashSet<String>) {
    for name in names {
        if candidates.contains(name) && !used.contains(name) {
            used.insert(name.clone());
        }
    }
}

fn prune_graph(graph: &mut GraphProto, unused: &impl Fn(&str) -> bool) {
    let inputs: HashSet<String> = graph.input.iter().map(|i| i.name().to_owned()).collect();
    graph
        .initializer
        .retain(|t| inputs.contains(t.name()) || !unused(t.name()));
    graph.node.retain(|n| {
        !(n.op_type() == "Constant"
            && is_default_domain(n.domain())
            && n.output.iter().all(|o| unused(o)))
    });
    let pruned: HashSet<String> = graph
        .value_info
        .iter()
        .map(|v| v.name().to_owned())
        .filter(|n| unused(n) && !graph.node.iter().any(|node| node.output.contains(n)))
        .collect();
    graph.value_info.retain(|v| !pruned.contains(v.name()));
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            for g in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                prune_graph(g, unused);
            }
        }
    }
}
