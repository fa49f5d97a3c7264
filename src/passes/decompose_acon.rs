//! `decompose-acon`: every node of an ACON domain becomes standard ops
//! (Sigmoid, Mul, Sub, Add, ReduceMean, Conv), in the main graph and in the
//! bodies of `If`, `Loop` and `Scan`, nested ones included.
//!
//! In run order, per graph: collect what is known of each value, rewrite the
//! subgraphs, then replace each ACON node in place by its decomposition (so
//! the node list stays topologically sorted). Constants are folded; the
//! initializers that only the replaced nodes read are dropped afterwards.
//!
//! Every op is written in the one arrangement of [`super::arrange`].

use crate::model::hash::Set;

use crate::error::Error;
use crate::graph::{any_graph, for_each_graph, for_each_graph_scoped, visit_graphs_scoped};
use crate::model::check::node_label;
use crate::model::facts::Facts;
use crate::model::names::NameTable;
use crate::model::opsets::default_opset;
use crate::model::tensor::{Array, FloatType};
use crate::ops::{
    self, AconNode, AconOp, BatchNorm, LocalFunctions, MetaBranch, NodeClass, Operand,
};
use crate::passes::arrange::{self, BnConstants, ConvStage, MetaBeta};
use crate::passes::emit::{Binary, Emitter, Value};
use crate::passes::unused::drop_unused_constants;
use crate::passes::{ConvertOptions, Pass, PassContext, Warning};
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
        if !has_acon(graph, &functions, cx.options) {
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
            replaced_inputs: Set::default(),
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
    visit_graphs_scoped(
        graph,
        outer,
        &mut |g, outer| acon_facts(g, outer, functions, options),
        &mut |g, facts| {
            for node in g
                .node
                .iter()
                .filter(|n| is_custom_op(n, functions, options))
            {
                ops::parse(node, facts)?;
            }
            Ok(())
        },
    )
}

/// The facts the ACON nodes of `graph` are checked against, or `None` when
/// neither it nor its subgraphs hold one (facts copy their enclosing
/// scope's: a model with many subgraphs would copy them all, quadratically,
/// for nothing).
fn acon_facts(
    graph: &GraphProto,
    outer: Option<&Facts>,
    functions: &LocalFunctions,
    options: &ConvertOptions,
) -> Option<Facts> {
    has_acon(graph, functions, options).then(|| ops::facts_for(graph, outer, functions, options))
}

/// Whether `graph` or a graph inside it holds an ACON custom op.
fn has_acon(graph: &GraphProto, functions: &LocalFunctions, options: &ConvertOptions) -> bool {
    any_graph(graph, &mut |g| {
        g.node.iter().any(|n| is_custom_op(n, functions, options))
    })
}

struct Rewriter<'c, 'o> {
    cx: &'c mut PassContext<'o>,
    functions: LocalFunctions,
    names: NameTable,
    opset: i64,
    /// Inputs of replaced nodes: constants among them may now be unused.
    replaced_inputs: Set<String>,
}

impl Rewriter<'_, '_> {
    /// Rewrites the ACON nodes of `graph` and its subgraphs, innermost first.
    fn graph(&mut self, graph: &mut GraphProto, outer: Option<&Facts>) -> Result<(), Error> {
        let (functions, options) = (self.functions.clone(), self.cx.options);
        for_each_graph_scoped(
            graph,
            outer,
            &mut |g, outer| acon_facts(g, outer, &functions, options),
            &mut |g, facts| self.nodes(g, facts),
        )
    }

    /// Rewrites the ACON nodes of `graph` itself.
    fn nodes(&mut self, graph: &mut GraphProto, facts: &Facts) -> Result<(), Error> {
        let nodes = std::mem::take(&mut graph.node);
        graph.node.reserve(nodes.len());
        for node in nodes {
            if !is_custom_op(&node, &self.functions, self.cx.options) {
                graph.node.push(node);
                continue;
            }
            let parsed = ops::parse(&node, facts)?;
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
            arrange::switch(em, x, one, None, beta.as_ref().map(operand), out)
        }
        AconOp::B { p, beta } => {
            let one = Value::Const(Array::scalar(1.0));
            let scale = em.binary(Binary::Sub, one, operand(p), "p")?;
            arrange::switch(
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
            arrange::switch(
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
            let beta = arrange::meta_beta(em, x, &meta_branch(branch)?)?;
            let scale = em.binary(Binary::Sub, operand(p1), operand(p2), "p")?;
            arrange::switch(em, x, scale, Some(operand(p2)), Some(beta), out)
        }
    }
}

/// The constant Meta-ACON branch of a parsed node, as [`arrange::meta_beta`]
/// takes it. A weight given as `[out, in]` is reshaped to the conv's
/// `[out, in, 1, …, 1]`; BatchNorm parameters must be constants.
fn meta_branch(branch: &MetaBranch) -> Result<MetaBeta, Error> {
    Ok(MetaBeta {
        spatial_rank: branch.spatial_rank,
        fc1: conv_stage(&branch.w1, branch.b1.as_ref(), branch.bn1.as_ref(), branch)?,
        fc2: conv_stage(&branch.w2, branch.b2.as_ref(), branch.bn2.as_ref(), branch)?,
        epsilon: branch.epsilon,
    })
}

fn conv_stage(
    w: &Operand,
    b: Option<&Operand>,
    bn: Option<&BatchNorm>,
    branch: &MetaBranch,
) -> Result<ConvStage, Error> {
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
    let bn = match bn {
        Some(bn) => Some(bn_constants(bn)?),
        None => None,
    };
    Ok(ConvStage {
        weight,
        bias: b.map(operand),
        bn,
    })
}

fn bn_constants(bn: &BatchNorm) -> Result<BnConstants, Error> {
    let constant = |op: &Operand| {
        op.value.clone().ok_or_else(|| {
            Error::Unsupported(format!(
                "input {} `{}` is computed; BatchNorm parameters must be initializers",
                op.index, op.name
            ))
        })
    };
    Ok(BnConstants {
        scale: constant(&bn.scale)?,
        bias: constant(&bn.bias)?,
        mean: constant(&bn.mean)?,
        var: constant(&bn.var)?,
        var_label: format!("input {} `{}`", bn.var.index, bn.var.name),
    })
}

/// A node this pass rewrites: an ACON custom op, not a function call that
/// happens to share its domain and name (see `ops::classify`).
fn is_custom_op(node: &NodeProto, functions: &LocalFunctions, options: &ConvertOptions) -> bool {
    matches!(
        ops::classify(node, functions, options),
        NodeClass::CustomOp(_)
    )
}

/// ACON op types in domains nobody named are left alone, with a warning.
fn warn_foreign_acon(model: &ModelProto, cx: &mut PassContext) {
    let functions = LocalFunctions::of(model);
    let mut found = vec![];
    if let Some(g) = &model.graph {
        collect_foreign(g, cx, &functions, &mut found);
    }
    for node in found {
        cx.report.warnings.push(Warning::ForeignAcon {
            node: node_label(&node).to_owned(),
            domain: node.domain().to_owned(),
            op_type: node.op_type().to_owned(),
        });
    }
}

fn collect_foreign(
    graph: &GraphProto,
    cx: &PassContext,
    functions: &LocalFunctions,
    found: &mut Vec<NodeProto>,
) {
    for_each_graph(graph, &mut |g| {
        found.extend(
            g.node
                .iter()
                .filter(|n| {
                    matches!(
                        ops::classify(n, functions, cx.options),
                        NodeClass::Foreign(_)
                    )
                })
                .cloned(),
        );
    });
}
