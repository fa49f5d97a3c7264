//! MetaAconC as one tract op, [`MetaAconKernel`]: the small branch that
//! computes `beta` from the mean of X (in `f64`, or rounded at every step
//! in [`Mode::Working`]), then AconC with it on the
//! reference or the fused path, and the tract glue.

use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::tract_core::broadcast::multi_broadcast;
use tract_onnx::tract_hir::tract_ndarray::{ArrayD, IxDyn};

use super::Mode;
use super::acon::broadcast_rules;
use super::broadcast::{Operand, broadcast_map};
use super::fused::{Sweep, channel_values, fused_sweeps};
use super::numbers::{Elem, Real, as_f64, clear_vector_state, common_float_type};
use super::reference::{acon_c, dot, mean, sigmoid};
use crate::ops::{AconKind, Given, Signature};

const SIGNATURE: &Signature = AconKind::MetaC.signature();
const OP: &str = SIGNATURE.op_type;

/// MetaAconC in inference mode, as the spec writes it:
///
/// ```text
/// m    = mean of X over D1..Dk                 [N, C]
/// h    = W1·m + B1, then BN1                   [N, R]
/// g    = W2·h + B2, then BN2                   [N, C]
/// beta = σ(g)
/// Y    = AconC(X, p1, p2, beta)
/// BN(z) = scale·(z − mean)/sqrt(var + ε) + bias
/// ```
///
/// Inputs are the given ones in the signature's order: `X, p1, p2, W1,
/// [B1], W2, [B2], [bn1 ×4], [bn2 ×4]`. The small branch is computed in
/// `f64`, or, in [`Mode::Working`], in the arithmetic type at every step.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaAconKernel {
    /// Which of the signature's inputs the node gives.
    given: Given,
    /// Where each operand sits among them (follows from `given`).
    slots: MetaSlots,
    epsilon: f64,
    /// The path, and the precision of the small branch (see [`Mode`]).
    mode: Mode,
}

impl Eq for MetaAconKernel {}

impl std::hash::Hash for MetaAconKernel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.given, self.mode).hash(state);
        self.epsilon.to_bits().hash(state);
    }
}

/// Positions of MetaAconC's operands among the given inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MetaSlots {
    w1: usize,
    b1: Option<usize>,
    w2: usize,
    b2: Option<usize>,
    /// The first slot of each BatchNorm group, and its first position in
    /// the signature.
    bn1: Option<(usize, usize)>,
    bn2: Option<(usize, usize)>,
    count: usize,
}

impl MetaAconKernel {
    /// The kernel of a MetaAconC node whose inputs `given` are (as its
    /// signature's check found them).
    pub fn new(given: Given, epsilon: f64, mode: Mode) -> TractResult<MetaAconKernel> {
        ensure!(
            given.kind() == AconKind::MetaC,
            "{} inputs given to the {OP} kernel",
            given.kind().op_type()
        );
        Ok(MetaAconKernel {
            given,
            slots: MetaAconKernel::slots_of(given),
            epsilon,
            mode,
        })
    }

    fn slots_of(given: Given) -> MetaSlots {
        let slot = |name| given.slot(SIGNATURE.index(name));
        let optional = |index: usize| given.has(index).then(|| given.slot(index));
        let group = |name| {
            let first = SIGNATURE.group_inputs(name).start;
            optional(first).map(|slot| (slot, first))
        };
        MetaSlots {
            w1: slot("W1"),
            b1: optional(SIGNATURE.index("B1")),
            w2: slot("W2"),
            b2: optional(SIGNATURE.index("B2")),
            bn1: group("bn1"),
            bn2: group("bn2"),
            count: given.count(),
        }
    }

    /// `beta = σ(branch(mean(X)))`, shape `[N, C]`: in `f64`, or in the
    /// arithmetic type in [`Mode::Working`].
    fn beta<T: Elem>(&self, inputs: &[TValue], x: &[T]) -> TractResult<Vec<f64>> {
        if self.mode == Mode::Working {
            let mut g = self.gate_logits::<T, T::C>(inputs, x)?;
            T::C::runtime_sigmoid(&mut g)?;
            Ok(g.into_iter().map(Elem::to_f64).collect())
        } else {
            let g = self.gate_logits::<T, f64>(inputs, x)?;
            Ok(g.into_iter().map(sigmoid).collect())
        }
    }

    /// `g = BN2(W2·BN1(W1·mean(X) + B1) + B2)`, shape `[N, C]`, every step
    /// rounded to `A`.
    fn gate_logits<T: Elem, A: Real + Elem>(
        &self,
        inputs: &[TValue],
        x: &[T],
    ) -> TractResult<Vec<A>> {
        let slots = self.slots;
        let x_shape = inputs[0].shape();
        ensure!(
            x_shape.len() >= 3,
            "{OP}: X has shape {x_shape:?}, expected rank 3 or more [N, C, D1, …]"
        );
        let (n, c) = (x_shape[0], x_shape[1]);
        let spatial: usize = x_shape[2..].iter().product();
        let w1_t = &inputs[slots.w1];
        let r = *w1_t.shape().first().unwrap_or(&0);
        let expect_weight = |t: &TValue, rows: usize, cols: usize, role: &str| -> TractResult<()> {
            let s = t.shape();
            let fits =
                s.len() >= 2 && s[0] == rows && s[1] == cols && s[2..].iter().all(|&d| d == 1);
            ensure!(
                fits,
                "{OP}: {role} has shape {s:?}, expected [{rows}, {cols}] or [{rows}, {cols}, 1, …]"
            );
            Ok(())
        };
        expect_weight(w1_t, r, c, "W1")?;
        expect_weight(&inputs[slots.w2], c, r, "W2")?;
        let vector = |slot: usize, len: usize, role: &str| -> TractResult<Vec<A>> {
            let t = &inputs[slot];
            ensure!(
                t.len() == len && t.rank() == 1,
                "{OP}: {role} has shape {:?}, expected [{len}]",
                t.shape()
            );
            Ok(as_f64(t)?.into_iter().map(A::from_f64).collect())
        };
        // The weights are read where they lie, widened one by one: casting
        // them to f64 tensors would allocate and copy C·R values per call.
        let w1_view = w1_t.try_as_plain_ram()?;
        let w1 = w1_view.as_slice::<T>()?;
        let w2_view = inputs[slots.w2].try_as_plain_ram()?;
        let w2 = w2_view.as_slice::<T>()?;
        let b1 = slots.b1.map(|s| vector(s, r, "B1")).transpose()?;
        let b2 = slots.b2.map(|s| vector(s, c, "B2")).transpose()?;
        // scale, bias, mean, var: the group's members in the signature's order.
        let bn = |group: Option<(usize, usize)>, len: usize| -> TractResult<Option<[Vec<A>; 4]>> {
            group
                .map(|(slot, first)| {
                    let part = |k: usize| vector(slot + k, len, SIGNATURE.inputs[first + k].name);
                    Ok([part(0)?, part(1)?, part(2)?, part(3)?])
                })
                .transpose()
        };
        let bn1 = bn(slots.bn1, r)?;
        let bn2 = bn(slots.bn2, c)?;
        let eps = A::from_f64(self.epsilon);
        let batch_norm = |z: A, i: usize, p: &[Vec<A>; 4]| {
            let [scale, bias, mean, var] = p;
            scale[i] * (z - mean[i]) / (var[i] + eps).sqrt() + bias[i]
        };

        let mut logits = vec![A::ZERO; n * c];
        let mut m = vec![A::ZERO; c];
        let mut h = vec![A::ZERO; r];
        for b in 0..n {
            // m = mean of X over D1..Dk
            for (ch, m) in m.iter_mut().enumerate() {
                let start = (b * c + ch) * spatial;
                *m = mean(&x[start..start + spatial]);
            }
            // h = W1·m + B1, then BN1
            for (i, h) in h.iter_mut().enumerate() {
                let mut z = dot(&w1[i * c..(i + 1) * c], &m);
                if let Some(b1) = &b1 {
                    z = z + b1[i];
                }
                if let Some(p) = &bn1 {
                    z = batch_norm(z, i, p);
                }
                *h = z;
            }
            // g = W2·h + B2, then BN2
            for ch in 0..c {
                let mut g = dot(&w2[ch * r..(ch + 1) * r], &h);
                if let Some(b2) = &b2 {
                    g = g + b2[ch];
                }
                if let Some(p) = &bn2 {
                    g = batch_norm(g, ch, p);
                }
                logits[b * c + ch] = g;
            }
        }
        Ok(logits)
    }

    fn eval_t<T: Elem>(&self, inputs: &[TValue], out: &[usize]) -> TractResult<Tensor> {
        let views: Vec<PlainView> = inputs[..3]
            .iter()
            .map(|t| t.try_as_plain_ram())
            .collect::<TractResult<_>>()?;
        let beta = self.beta(inputs, views[0].as_slice::<T>()?)?;
        let beta: Vec<T> = beta.into_iter().map(T::from_f64).collect();
        let x_shape = inputs[0].shape();
        let mut beta_shape = vec![1usize; x_shape.len()];
        beta_shape[0] = x_shape[0];
        beta_shape[1] = x_shape[1];
        let op = |i: usize| -> TractResult<Operand<T>> {
            Ok(Operand {
                data: views[i].as_slice::<T>()?,
                shape: inputs[i].shape(),
            })
        };
        let beta = Operand {
            data: &beta,
            shape: &beta_shape,
        };
        let data = broadcast_map([op(0)?, op(1)?, op(2)?, beta], out, |[x, p1, p2, beta]| {
            acon_c(x, p1, p2, beta)
        })?;
        Ok(ArrayD::from_shape_vec(IxDyn(out), data)?.into_tensor())
    }
}

impl MetaAconKernel {
    /// The fused path ([`fused_sweeps`]), with per `(n, c)` slice
    /// `a = β[n, c]·P[c]`, `P = p1 − p2` and `p2`. `None` when it does not
    /// apply (not asked for, or p1/p2 not per-channel or scalar).
    fn fused_f32(&self, inputs: &[TValue]) -> TractResult<Option<Tensor>> {
        if self.mode == Mode::Reference {
            return Ok(None);
        }
        let x_shape = inputs[0].shape();
        let x_view = inputs[0].try_as_plain_ram()?;
        let x = x_view.as_slice::<f32>()?;
        let per_channel = |t: &TValue| -> TractResult<Option<Vec<f32>>> {
            let view = t.try_as_plain_ram()?;
            Ok(channel_values(t.shape(), view.as_slice::<f32>()?, x_shape))
        };
        let (Some(p1), Some(p2)) = (per_channel(&inputs[1])?, per_channel(&inputs[2])?) else {
            return Ok(None);
        };
        let beta = self.beta(inputs, x)?;
        let c = x_shape[1];
        let per_slice = |slice: usize| {
            let ch = slice % c;
            let scale = p1[ch] - p2[ch];
            Sweep {
                a: (beta[slice] * scale as f64) as f32,
                scale,
                p2: p2[ch],
            }
        };
        fused_sweeps(x, x_shape, per_slice).map(Some)
    }
}

impl Op for MetaAconKernel {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        let slots = self.slots;
        Ok(vec![format!(
            "native ACON kernel, B1 {}, B2 {}, BN1 {}, BN2 {}, epsilon {}",
            slots.b1.is_some(),
            slots.b2.is_some(),
            slots.bn1.is_some(),
            slots.bn2.is_some(),
            self.epsilon
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for MetaAconKernel {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        clear_vector_state();
        let count = self.slots.count;
        ensure!(
            inputs.len() == count,
            "{OP} expects {count} inputs, got {}",
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|t| t.datum_type()), OP)?;
        let shapes: Vec<&[usize]> = inputs[..3].iter().map(|t| t.shape()).collect();
        let out = multi_broadcast(&shapes)?;
        ensure!(
            out.as_slice() == inputs[0].shape(),
            "{OP}: p1 {:?} and p2 {:?} must broadcast to X {:?}",
            inputs[1].shape(),
            inputs[2].shape(),
            inputs[0].shape()
        );
        let y = match dt {
            DatumType::F16 => self.eval_t::<f16>(&inputs, &out)?,
            DatumType::F32 => match self.fused_f32(&inputs)? {
                Some(y) => y,
                None => self.eval_t::<f32>(&inputs, &out)?,
            },
            DatumType::F64 => self.eval_t::<f64>(&inputs, &out)?,
            other => bail!("{OP}: unsupported type {other:?}"),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for MetaAconKernel {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let count = self.slots.count;
        ensure!(
            inputs.len() == count,
            "{OP} expects {count} inputs, got {}",
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|f| f.datum_type), OP)?;
        ensure!(
            inputs[0].rank() >= 3,
            "{OP}: X has rank {}, expected 3 or more [N, C, D1, …]",
            inputs[0].rank()
        );
        let shapes: Vec<&[TDim]> = inputs[..3].iter().map(|f| &*f.shape).collect();
        Ok(tvec!(dt.fact(multi_broadcast(&shapes)?)))
    }

    as_op!();
}

#[derive(Debug, Clone)]
pub(super) struct MetaAconExpansion(pub(super) MetaAconKernel);

impl Expansion for MetaAconExpansion {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.0.slots.count)?;
        check_output_arity(outputs, 1)?;
        for input in inputs {
            s.equals(&input.datum_type, &outputs[0].datum_type)?;
        }
        broadcast_rules(s, &inputs[..3], outputs)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.0.clone(), inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tract::kernels::fused::FUSED_BLOCK;
    use crate::tract::kernels::test_util::{assert_close, sig};

    /// In [`Mode::Working`] the small branch rounds in f32 at every step:
    /// over a long channel with a large common offset, an f32 running sum
    /// loses the small terms that the reference's f64 sum keeps.
    #[test]
    fn the_working_mean_rounds_in_f32() {
        let xs: Vec<f32> = (0..1 << 16)
            .map(|i| 1000.0 + if i % 2 == 0 { 1e-4 } else { -3e-5 })
            .collect();
        let exact: f64 = xs.iter().map(|&v| v as f64).sum::<f64>() / xs.len() as f64;
        let wide: f64 = mean::<f32, f64>(&xs);
        let narrow: f32 = mean::<f32, f32>(&xs);
        assert!((wide - exact).abs() < 1e-9, "{wide} vs {exact}");
        assert_ne!(narrow as f64, wide, "an f32 sum rounds");
        assert!((narrow as f64 - exact).abs() < 1e-2, "{narrow} vs {exact}");
    }

    #[test]
    fn the_kernel_takes_only_meta_acon_c_inputs() {
        let c = AconKind::C.signature().check(&["x", "p1", "p2"]).unwrap();
        let err = MetaAconKernel::new(c, 1e-5, Mode::Reference).unwrap_err();
        assert!(err.to_string().contains("AconC inputs given"), "{err}");
    }

    #[test]
    fn the_fused_path_agrees_with_the_reference() -> TractResult<()> {
        // R = 2, p1 per channel, p2 a scalar; no BN. The spatial sizes give
        // one block for all slices, blocks of two slices with a last one of
        // one, and slices longer than a block.
        for (n, h, w) in [
            (2usize, 4usize, 5usize),
            (1, 40, 40),
            (2, 1, FUSED_BLOCK + 3),
        ] {
            fused_and_reference_agree(n, h, w)?;
        }
        Ok(())
    }

    fn fused_and_reference_agree(n: usize, h: usize, w: usize) -> TractResult<()> {
        let (c, r, s) = (3usize, 2usize, h * w);
        let x: Vec<f32> = (0..n * c * s)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 3.0)
            .collect();
        let p1 = [1.5f32, -0.5, 0.8];
        let w1: Vec<f32> = (0..r * c).map(|i| 0.3 - 0.1 * i as f32).collect();
        let w2: Vec<f32> = (0..c * r).map(|i| 0.2 * i as f32 - 0.4).collect();
        let inputs = || -> TractResult<TVec<TValue>> {
            Ok(tvec![
                Tensor::from_shape(&[n, c, h, w], &x)?.into_tvalue(),
                Tensor::from_shape(&[1, c, 1, 1], &p1)?.into_tvalue(),
                Tensor::from_shape(&[1], &[0.25f32])?.into_tvalue(),
                Tensor::from_shape(&[r, c, 1, 1], &w1)?.into_tvalue(),
                Tensor::from_shape(&[c, r, 1, 1], &w2)?.into_tvalue(),
            ])
        };
        let given = SIGNATURE.check(&["x", "p1", "p2", "w1", "", "w2"]).unwrap();
        let kernel = |mode| MetaAconKernel::new(given, 1e-5, mode).unwrap();
        assert!(
            kernel(Mode::Fused).fused_f32(&inputs()?)?.is_some(),
            "the fused path applies"
        );
        let reference = kernel(Mode::Reference).eval(&EvalContext::out_of_plan(), inputs()?)?;
        let what = format!("X [{n}, {c}, {h}, {w}]");
        let fused = kernel(Mode::Fused).eval(&EvalContext::out_of_plan(), inputs()?)?;
        assert_close(&reference[0], &fused[0], &what)?;
        // The working-precision evaluation is another valid rounding of the
        // same function.
        let working = kernel(Mode::Working).eval(&EvalContext::out_of_plan(), inputs()?)?;
        assert_close(
            &reference[0],
            &working[0],
            &format!("{what}, working precision"),
        )
    }

    #[test]
    fn meta_acon_c_follows_the_spec_with_batch_norm() -> TractResult<()> {
        // N = 1, C = 2, spatial 2, R = 1; both BN groups, epsilon 1e-3.
        let names = [
            "x", "p1", "p2", "w1", "b1", "w2", "", "s1", "b1", "m1", "v1", "s2", "b2", "m2", "v2",
        ];
        let given = SIGNATURE.check(&names).unwrap();
        let kernel = MetaAconKernel::new(given, 1e-3, Mode::Reference)?;
        let x = [1.0f64, 3.0, -2.0, 0.5];
        let (p1, p2) = ([1.5, -0.5], [0.25, 0.75]);
        let (w1, b1, w2) = ([0.3, -0.7], 0.1, [1.2, -0.4]);
        let bn1 = [2.0, 0.5, 0.3, 0.8];
        let bn2 = [[1.1, 0.9], [-0.2, 0.3], [0.05, -0.1], [0.5, 1.5]];
        let inputs: TVec<TValue> = tvec![
            Tensor::from_shape(&[1, 2, 2], &x)?,
            Tensor::from_shape(&[1, 2, 1], &p1)?,
            Tensor::from_shape(&[1, 2, 1], &p2)?,
            Tensor::from_shape(&[1, 2, 1], &w1)?,
            Tensor::from_shape(&[1], &[b1])?,
            Tensor::from_shape(&[2, 1], &w2)?,
            Tensor::from_shape(&[1], &[bn1[0]])?,
            Tensor::from_shape(&[1], &[bn1[1]])?,
            Tensor::from_shape(&[1], &[bn1[2]])?,
            Tensor::from_shape(&[1], &[bn1[3]])?,
            Tensor::from_shape(&[2], &bn2[0])?,
            Tensor::from_shape(&[2], &bn2[1])?,
            Tensor::from_shape(&[2], &bn2[2])?,
            Tensor::from_shape(&[2], &bn2[3])?,
        ]
        .into_iter()
        .map(|t| t.into_tvalue())
        .collect();
        let y = kernel.eval(&EvalContext::out_of_plan(), inputs)?;
        let y = y[0].to_plain_array_view::<f64>()?;
        let m = [(x[0] + x[1]) / 2.0, (x[2] + x[3]) / 2.0];
        let h = w1[0] * m[0] + w1[1] * m[1] + b1;
        let h = bn1[0] * (h - bn1[2]) / (bn1[3] + 1e-3f64).sqrt() + bn1[1];
        for c in 0..2 {
            let g = w2[c] * h;
            let g = bn2[0][c] * (g - bn2[2][c]) / (bn2[3][c] + 1e-3f64).sqrt() + bn2[1][c];
            let beta = sig(g);
            for s in 0..2 {
                let xv = x[c * 2 + s];
                let d = (p1[c] - p2[c]) * xv;
                let want = d * sig(beta * d) + p2[c] * xv;
                let got = y[[0, c, s]];
                assert!((got - want).abs() < 1e-12, "c {c} s {s}: {got} vs {want}");
            }
        }
        Ok(())
    }
}
