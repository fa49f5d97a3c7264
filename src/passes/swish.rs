//! `swish-as-acon`: every ONNX `Swish` node (default domain, opset 24)
//! becomes the ACON-A custom op it is, `acon::AconA(X, β)` with a scalar
//! initializer β = alpha in X's float type, in the main graph and in
//! subgraphs; the `acon` op set is imported if it was not.
//!
//! ```text
//! Swish(x; alpha) = x·σ(alpha·x) = acon_a(x; β = alpha)
//! ```
//!
//! Why: tract 0.23.9 maps `Swish` to SiLU and ignores alpha, so
//! `Swish(alpha=2)` runs as x·σ(x). As an AconA node it runs on the native
//! kernels (`run`, `bench`, `verify`), and `convert`, which runs this pass
//! before `decompose-acon`, writes the standard x·σ(β·x) arrangement. A
//! Swish of alpha 1 is rewritten too: the converter never emits `Swish`.

use crate::error::Error;
use crate::graph::{any_graph, for_each_graph_scoped};
use crate::model::check::node_label;
use crate::model::facts::Facts;
use crate::model::names::NameTable;
use crate::model::opsets::is_default_domain;
use crate::model::tensor::{Array, FloatType, float_tensor, type_name};
use crate::ops::{AconKind, DEFAULT_ACON_DOMAIN, KNOWN_VERSIONS, LocalFunctions, NodeClass};
use crate::passes::{Pass, PassContext};
use crate::proto::{AttributeType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto};

pub struct SwishAsAcon;

/// ONNX's default for Swish's `alpha`.
const DEFAULT_ALPHA: f32 = 1.0;

impl Pass for SwishAsAcon {
    fn name(&self) -> &'static str {
        "swish-as-acon"
    }

    fn run(&self, model: &mut ModelProto, cx: &mut PassContext) -> Result<bool, Error> {
        let Some(graph) = model.graph.as_ref() else {
            return Ok(false);
        };
        if !graph_has_swish(graph) {
            return Ok(false);
        }
        let probe = NodeProto {
            domain: Some(DEFAULT_ACON_DOMAIN.into()),
            op_type: Some(AconKind::A.op_type().into()),
            ..Default::default()
        };
        if crate::ops::classify(&probe, &LocalFunctions::of(model), cx.options)
            == NodeClass::Function
        {
            return Err(Error::Unsupported(format!(
                "the model defines a function `{DEFAULT_ACON_DOMAIN}::{}`, so its Swish \
                 nodes cannot be written as that op",
                AconKind::A.op_type()
            )));
        }
        let mut names = NameTable::for_model(model);
        let graph = model.graph.as_mut().expect("checked above");
        // decompose-acon counts them among the AconA nodes it rewrites.
        rewrite_graph(graph, None, &mut names)?;
        if !model
            .opset_import
            .iter()
            .any(|o| o.domain() == DEFAULT_ACON_DOMAIN)
        {
            model.opset_import.push(OperatorSetIdProto {
                domain: Some(DEFAULT_ACON_DOMAIN.into()),
                version: Some(KNOWN_VERSIONS[0]),
            });
        }
        Ok(true)
    }
}

/// True for an ONNX `Swish` node.
pub fn is_swish(node: &NodeProto) -> bool {
    node.op_type() == "Swish" && is_default_domain(node.domain())
}

/// Swish's `alpha`: the attribute, or ONNX's default of 1.
pub fn alpha(node: &NodeProto) -> Result<f32, Error> {
    match node.attribute.iter().find(|a| a.name() == "alpha") {
        None => Ok(DEFAULT_ALPHA),
        Some(a) if a.r#type() == AttributeType::Float && a.f.is_some() => Ok(a.f()),
        Some(_) => Err(Error::Unsupported(format!(
            "node `{}` (ai.onnx::Swish): attribute `alpha` must be a float",
            node_label(node)
        ))),
    }
}

fn graph_has_swish(graph: &GraphProto) -> bool {
    any_graph(graph, &mut |g| g.node.iter().any(is_swish))
}

/// Rewrites the Swish nodes of `graph` and its subgraphs; returns how many.
fn rewrite_graph(
    graph: &mut GraphProto,
    outer: Option<&Facts>,
    names: &mut NameTable,
) -> Result<usize, Error> {
    // Facts copy their enclosing scope's: build them only where Swish is.
    let mut count = 0;
    for_each_graph_scoped(
        graph,
        outer,
        &mut |g, outer| graph_has_swish(g).then(|| Facts::for_graph(g, outer)),
        &mut |g, facts| {
            count += rewrite_nodes(g, facts, names)?;
            Ok::<(), Error>(())
        },
    )?;
    Ok(count)
}

/// Rewrites the Swish nodes of `graph` itself; returns how many.
fn rewrite_nodes(
    graph: &mut GraphProto,
    facts: &Facts,
    names: &mut NameTable,
) -> Result<usize, Error> {
    let mut count = 0;
    let mut betas = vec![];
    for node in &mut graph.node {
        if !is_swish(node) {
            continue;
        }
        let alpha = alpha(node)?;
        let dtype = float_type(node, facts)?;
        let beta = names.fresh(&format!("{}.beta", node_label(node)));
        betas.push(float_tensor(&beta, &Array::scalar(alpha as f64), dtype));
        node.domain = Some(DEFAULT_ACON_DOMAIN.into());
        node.op_type = Some(AconKind::A.op_type().into());
        node.attribute.clear();
        node.input.truncate(1);
        node.input.push(beta);
        count += 1;
    }
    graph.initializer.extend(betas);
    Ok(count)
}

/// X's float type, from what the graph records of X or of the output.
fn float_type(node: &NodeProto, facts: &Facts) -> Result<FloatType, Error> {
    let fail = |what: String| {
        Error::Unsupported(format!(
            "node `{}` (ai.onnx::Swish): {what}",
            node_label(node)
        ))
    };
    let x = node
        .input
        .first()
        .filter(|x| !x.is_empty())
        .ok_or_else(|| fail("has no input X".into()))?;
    let elem_type = [Some(x), node.output.first()]
        .into_iter()
        .flatten()
        .find_map(|name| facts.get(name).and_then(|f| f.elem_type))
        .ok_or_else(|| {
            fail(format!(
                "the element type of input `{x}` is unknown (no value_info, input or \
                 initializer gives it, nor one for the output); record it in value_info"
            ))
        })?;
    FloatType::from_onnx(elem_type).ok_or_else(|| {
        fail(format!(
            "input `{x}` has type {}, expected float, float16, bfloat16 or double",
            type_name(elem_type)
        ))
    })
}
