//! From an ONNX node to a kernel: each builder checks the node's inputs and
//! attributes (how many, which are given, the BatchNorm groups, `epsilon`)
//! and wraps the kernel in its tract `Expansion`.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::Mode;
use super::acon::{AconExpansion, AconKernel, Form};
use super::meta_acon::{MetaAconExpansion, MetaAconKernel};
use crate::ops::DEFAULT_EPSILON;

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
    build_eltwise(Form::A, node, M::MODE)
}

pub(super) fn acon_b<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(Form::B, node, M::MODE)
}

pub(super) fn acon_c<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(Form::C, node, M::MODE)
}

fn given(node: &NodeProto, index: usize) -> bool {
    node.input.get(index).is_some_and(|n| !n.is_empty())
}

/// AconA/B/C compute element by element in the arithmetic type on every
/// path; [`Mode::Working`] takes the fused one, whose σ is tract's.
fn build_eltwise(form: Form, node: &NodeProto, mode: Mode) -> Built {
    let params = form.params();
    ensure!(
        node.input.len() <= params + 2,
        "node `{}`: {} takes at most {} inputs, got {}",
        node.name,
        form.name(),
        params + 2,
        node.input.len()
    );
    for index in 0..=params {
        ensure!(
            given(node, index),
            "node `{}`: input {index} of {} is required but missing",
            node.name,
            form.name()
        );
    }
    ensure!(
        node.attribute.is_empty(),
        "node `{}`: {} takes no attributes",
        node.name,
        form.name()
    );
    let has_beta = given(node, params + 1);
    let kernel = AconKernel {
        form,
        has_beta,
        fused: mode != Mode::Reference,
    };
    Ok((expand(AconExpansion(kernel)), vec![]))
}

pub(super) fn meta_acon_c<M: Marker>(_: &ParsingContext, node: &NodeProto) -> Built {
    ensure!(
        (6..=15).contains(&node.input.len()),
        "node `{}`: MetaAconC takes 6 to 15 inputs, got {}",
        node.name,
        node.input.len()
    );
    for (index, role) in [(0, "X"), (1, "p1"), (2, "p2"), (3, "W1"), (5, "W2")] {
        ensure!(
            given(node, index),
            "node `{}`: MetaAconC input {index} `{role}` is required but missing",
            node.name
        );
    }
    let group = |first: usize, name: &str| -> TractResult<bool> {
        let count = (first..first + 4).filter(|&i| given(node, i)).count();
        ensure!(
            count == 0 || count == 4,
            "node `{}`: the {name} BatchNorm group (inputs {first} to {}) is partial",
            node.name,
            first + 3
        );
        Ok(count == 4)
    };
    let epsilon = node
        .get_attr_opt::<f32>("epsilon")?
        .map(f64::from)
        .unwrap_or(DEFAULT_EPSILON);
    ensure!(
        epsilon.is_finite() && epsilon >= 0.0,
        "node `{}`: epsilon is {epsilon}, expected a finite value ≥ 0",
        node.name
    );
    let kernel = MetaAconKernel {
        has_b1: given(node, 4),
        has_b2: given(node, 6),
        has_bn1: group(7, "first")?,
        has_bn2: group(11, "second")?,
        epsilon,
        mode: M::MODE,
    };
    Ok((expand(MetaAconExpansion(kernel)), vec![]))
}
