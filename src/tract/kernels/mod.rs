//! Native ACON kernels for tract, written straight from the formulas of
//! `docs/acon-ops.md`. They are the independent reference that
//! `verify` compares a converted model against, so they share no code with
//! the decomposition in `passes/`.
//!
//! In run order: [`register`] puts one builder per op in tract-onnx's op
//! register, under the keys of [`op_key`] (`acon.AconC`, …). tract picks an
//! op by `op_type` alone and ignores the domain, so the engine renames the
//! op type of every node of an ACON domain to its key before tract sees the
//! model; no standard op name is ever registered or shadowed. A builder
//! (`build`) checks the node's inputs and returns an `Expansion` whose
//! inference rules give the output type and (symbolic) shape, and whose
//! `wire` puts in one fused `TypedOp`: [`AconKernel`] for AconA/B/C
//! (`acon`), [`MetaAconKernel`] for MetaAconC (`meta_acon`). Each evaluates
//! its formula in one pass over the output: on the reference path element
//! by element (`reference`, with `broadcast` for numpy broadcasting), on
//! the fused path with tract's vectorised sigmoid (`fused`).
//!
//! Arithmetic runs in `f32` for `float16` and `float` (as PyTorch does on
//! CPU), in `f64` for `double`; the result is rounded to the element type
//! once (`numbers`). tract has no `bfloat16`.

mod acon;
mod broadcast;
mod build;
mod fused;
mod meta_acon;
mod numbers;
mod reference;
#[cfg(test)]
mod test_util;

use tract_onnx::model::OnnxOpRegister;

use crate::ops::AconKind;

pub use acon::AconKernel;
pub use meta_acon::MetaAconKernel;
pub use numbers::{Elem, Real};

/// The op register key of an ACON op: what the engine writes into `op_type`
/// of an ACON-domain node before tract reads the model.
pub fn op_key(kind: AconKind) -> &'static str {
    match kind {
        AconKind::A => "acon.AconA",
        AconKind::B => "acon.AconB",
        AconKind::C => "acon.AconC",
        AconKind::MetaC => "acon.MetaAconC",
    }
}

/// How the kernels compute their full-size pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Straight from the formula, element by element, with libm's `exp`:
    /// the independent reference `verify` compares against.
    Reference,
    /// For `float` with per-channel (or scalar) parameters, one pass over X
    /// in the arrangement `x·(P·σ((β·P)·x) + p2)`, with tract's vectorised
    /// sigmoid (`run`, `bench`); anything else takes the reference path.
    Fused,
    /// The formulas rounded to the arithmetic type at every step, MetaAconC's
    /// small branch included (its mean, dot products and BN), with tract's
    /// own σ everywhere (the fused path where it applies): how a runtime
    /// evaluating the ops in that type rounds, independent of any
    /// decomposition. The second evaluation that calibrates `verify`'s
    /// end-to-end rule.
    Working,
}

/// Adds the four kernels to `register`, under their keys only.
pub fn register(register: &mut OnnxOpRegister, mode: Mode) {
    match mode {
        Mode::Reference => register_all::<build::Reference>(register),
        Mode::Fused => register_all::<build::Fused>(register),
        Mode::Working => register_all::<build::Working>(register),
    }
}

fn register_all<M: build::Marker>(register: &mut OnnxOpRegister) {
    register.insert(op_key(AconKind::A), build::acon_a::<M>);
    register.insert(op_key(AconKind::B), build::acon_b::<M>);
    register.insert(op_key(AconKind::C), build::acon_c::<M>);
    register.insert(op_key(AconKind::MetaC), build::meta_acon_c::<M>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_keys_are_the_op_types_in_the_acon_namespace() {
        for kind in AconKind::ALL {
            assert_eq!(op_key(kind), format!("acon.{}", kind.op_type()));
        }
    }
}
