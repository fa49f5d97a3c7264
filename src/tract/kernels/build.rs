//! From an ONNX node to a kernel: each builder checks the node's inputs and
//! attributes against its op's signature (how many, which are given, the
//! BatchNorm groups, `epsilon`: the same `Signature::check` as
//! `ops::parse`) and wraps the kernel in its tract `Expansion`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::Mode;
use super::acon::{AconExpansion, AconKernel};
use super::meta_acon::{MetaAconExpansion, MetaAconKernel};
use crate::ops::{AconKind, Given, InputProblem};

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// A [`Mode`] as a type: tract's register takes plain functions, so the
/// mode a builder gives its kernels is a type parameter.
pub(super) trait Marker {
    const MODE: Mode;
}

pub(super) struct Reference;
pub(super) struct Fused;
pub(super) struct Working;

impl Marker for Reference {
    const MODE: Mode = Mode::Reference;
}

impl Marker for Fused {
    const MODE: Mode = Mode::Fused;
}

impl Marker for Working {
    const MODE: Mode = Mode::Working;
}

pub(super) fn acon_a<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(AconKind::A, node, M::MODE)
}

pub(super) fn acon_b<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(AconKind::B, node, M::MODE)
}

pub(super) fn acon_c<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(AconKind::C, node, M::MODE)
}

/// `node`'s inputs and attribute names against `kind`'s signature (the
/// check `ops::parse` makes too), in tract's words.
fn check(kind: AconKind, node: &NodeProto) -> TractResult<Given> {
    let sig = kind.signature();
    let given = sig.check(&node.input).map_err(|problem| match problem {
        InputProblem::Count { actual } => format_err!(
            "node `{}`: {} takes {} inputs, got {actual}",
            node.name,
            sig.op_type,
            sig.arity()
        ),
        InputProblem::Missing { index } => format_err!(
            "node `{}`: {} input {index} `{}` is required but missing",
            node.name,
            sig.op_type,
            sig.role(index).unwrap_or("?")
        ),
        InputProblem::PartialGroup { group, inputs, .. } => format_err!(
            "node `{}`: the {} BatchNorm group (inputs {} to {}) is partial",
            node.name,
            group.label,
            inputs.start,
            inputs.end - 1
        ),
    })?;
    for attr in &node.attribute {
        ensure!(
            sig.attribute(&attr.name).is_some(),
            "node `{}`: {} takes {}",
            node.name,
            sig.op_type,
            match sig.attributes {
                [] => "no attributes".to_owned(),
                takes => format!(
                    "no attribute `{}` (only {})",
                    attr.name,
                    takes
                        .iter()
                        .map(|a| format!("`{}`", a.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        );
    }
    Ok(given)
}

/// AconA/B/C compute element by element in the arithmetic type on every
/// path; [`Mode::Working`] takes the fused one, whose σ is tract's.
fn build_eltwise(kind: AconKind, node: &NodeProto, mode: Mode) -> Built {
    let given = check(kind, node)?;
    let has_beta = given.has(kind.signature().index("beta"));
    let kernel = AconKernel::new(kind, has_beta, mode != Mode::Reference)?;
    Ok((expand(AconExpansion(kernel)), vec![]))
}

pub(super) fn meta_acon_c<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    let kind = AconKind::MetaC;
    let given = check(kind, node)?;
    let Some(spec) = kind.signature().attribute("epsilon") else {
        bail!("{} has no epsilon", kind.op_type());
    };
    let epsilon = node
        .get_attr_opt::<f32>(spec.name)?
        .map(f64::from)
        .unwrap_or(spec.default);
    ensure!(
        spec.accepts(epsilon),
        "node `{}`: epsilon is {epsilon}, expected a finite value ≥ {}",
        node.name,
        spec.at_least
    );
    let kernel = MetaAconKernel::new(given, epsilon, M::MODE)?;
    Ok((expand(MetaAconExpansion(kernel)), vec![]))
}
