//! AconA, AconB and AconC as one tract op, [`AconKernel`]: its two paths
//! (the reference formula through `broadcast`, or the fused sweep where the
//! parameters are per channel), and the tract glue (`Op`, `EvalOp`,
//! `TypedOp`, and the inference-level `Expansion` with its broadcast rules).

use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::tract_core::broadcast::multi_broadcast;
use tract_onnx::tract_hir::tract_ndarray::{ArrayD, IxDyn};

use super::broadcast::{Operand, broadcast_map};
use super::fused::{Sweep, channel_values, fused_sweeps};
use super::numbers::{Elem, Real, clear_vector_state, common_float_type};
use super::reference::{acon_a, acon_b, acon_c};
use crate::ops::AconKind;

/// AconA, AconB or AconC in one pass. Inputs: `X`, the parameters of the
/// op, then `beta` when `has_beta` (absent means 1). MetaAconC has its own
/// kernel; [`AconKernel::new`] refuses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AconKernel {
    kind: AconKind,
    has_beta: bool,
    /// Whether the fused path may be taken (`Mode::Fused`).
    fused: bool,
}

impl AconKernel {
    /// The kernel of the element-wise op `kind`; `fused` lets it take the
    /// fused path.
    pub fn new(kind: AconKind, has_beta: bool, fused: bool) -> TractResult<AconKernel> {
        ensure!(
            kind != AconKind::MetaC,
            "{} is not element-wise: it runs on MetaAconKernel",
            kind.op_type()
        );
        Ok(AconKernel {
            kind,
            has_beta,
            fused,
        })
    }

    pub fn kind(&self) -> AconKind {
        self.kind
    }

    /// How many parameters follow X: the signature's required inputs after
    /// it (beta, the last input, is optional).
    pub(super) fn params(&self) -> usize {
        self.kind.signature().min_inputs() - 1
    }

    pub(super) fn arity(&self) -> usize {
        1 + self.params() + self.has_beta as usize
    }

    fn op_type(&self) -> &'static str {
        self.kind.op_type()
    }

    fn eval_t<T: Elem>(&self, inputs: &[TValue], out: &[usize]) -> TractResult<Tensor> {
        let views: Vec<PlainView> = inputs
            .iter()
            .map(|t| t.try_as_plain_ram())
            .collect::<TractResult<_>>()?;
        let ops: Vec<Operand<T>> = views
            .iter()
            .zip(inputs)
            .map(|(v, t)| {
                Ok(Operand {
                    data: v.as_slice::<T>()?,
                    shape: t.shape(),
                })
            })
            .collect::<TractResult<_>>()?;
        let data = match (self.kind, self.has_beta, ops.as_slice()) {
            (AconKind::A, false, [x]) => broadcast_map([*x], out, |[x]| acon_a(x, T::C::ONE)),
            (AconKind::A, true, [x, beta]) => {
                broadcast_map([*x, *beta], out, |[x, beta]| acon_a(x, beta))
            }
            (AconKind::B, false, [x, p]) => {
                broadcast_map([*x, *p], out, |[x, p]| acon_b(x, p, T::C::ONE))
            }
            (AconKind::B, true, [x, p, beta]) => {
                broadcast_map([*x, *p, *beta], out, |[x, p, beta]| acon_b(x, p, beta))
            }
            (AconKind::C, false, [x, p1, p2]) => {
                broadcast_map([*x, *p1, *p2], out, |[x, p1, p2]| {
                    acon_c(x, p1, p2, T::C::ONE)
                })
            }
            (AconKind::C, true, [x, p1, p2, beta]) => {
                broadcast_map([*x, *p1, *p2, *beta], out, |[x, p1, p2, beta]| {
                    acon_c(x, p1, p2, beta)
                })
            }
            _ => bail!(
                "{} expects {} inputs, got {}",
                self.op_type(),
                self.arity(),
                inputs.len()
            ),
        }?;
        Ok(ArrayD::from_shape_vec(IxDyn(out), data)?.into_tensor())
    }
}

impl AconKernel {
    /// The fused path: the op's parameters per channel, as the arrangement
    /// `x·(P·σ(a·x) + p2)` takes them (see [`fused_sweeps`]):
    ///
    /// ```text
    /// AconA: a = β,         P = 1,       p2 = 0
    /// AconB: a = β·(1 − p), P = 1 − p,   p2 = p
    /// AconC: a = β·(p1−p2), P = p1 − p2, p2 = p2
    /// ```
    ///
    /// `None` when it does not apply: not asked for, X of rank below 2, or a
    /// parameter that is neither per channel nor a scalar, or that would
    /// broadcast X to a larger shape.
    fn fused_f32(&self, inputs: &[TValue], out: &[usize]) -> TractResult<Option<Tensor>> {
        let x_shape = inputs[0].shape();
        if !self.fused || x_shape.len() < 2 || out != x_shape {
            return Ok(None);
        }
        let mut per_channel = Vec::with_capacity(inputs.len() - 1);
        for t in &inputs[1..] {
            let view = t.try_as_plain_ram()?;
            match channel_values(t.shape(), view.as_slice::<f32>()?, x_shape) {
                Some(values) => per_channel.push(values),
                None => return Ok(None),
            }
        }
        let c = x_shape[1];
        let beta = |ch: usize| match self.has_beta {
            true => per_channel[self.params()][ch],
            false => 1.0,
        };
        // (P, p2) of channel `ch`.
        let scale_offset: fn(&[Vec<f32>], usize) -> (f32, f32) = match self.kind {
            AconKind::A => |_, _| (1.0, 0.0),
            AconKind::B => |p, ch| (1.0 - p[0][ch], p[0][ch]),
            AconKind::C => |p, ch| (p[0][ch] - p[1][ch], p[1][ch]),
            // Refused by `new`; the reference path reports it.
            AconKind::MetaC => return Ok(None),
        };
        let channels: Vec<Sweep> = (0..c)
            .map(|ch| {
                let (scale, p2) = scale_offset(&per_channel, ch);
                Sweep {
                    a: beta(ch) * scale,
                    scale,
                    p2,
                }
            })
            .collect();
        let x_view = inputs[0].try_as_plain_ram()?;
        let x = x_view.as_slice::<f32>()?;
        fused_sweeps(x, x_shape, |slice| channels[slice % c]).map(Some)
    }
}

impl Op for AconKernel {
    fn name(&self) -> StaticName {
        self.op_type().into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "native ACON kernel, beta given: {}",
            self.has_beta
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for AconKernel {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        clear_vector_state();
        ensure!(
            inputs.len() == self.arity(),
            "{} expects {} inputs, got {}",
            self.op_type(),
            self.arity(),
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|t| t.datum_type()), self.op_type())?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = multi_broadcast(&shapes)?;
        let y = match dt {
            DatumType::F16 => self.eval_t::<f16>(&inputs, &out)?,
            DatumType::F32 => match self.fused_f32(&inputs, &out)? {
                Some(y) => y,
                None => self.eval_t::<f32>(&inputs, &out)?,
            },
            DatumType::F64 => self.eval_t::<f64>(&inputs, &out)?,
            other => bail!("{}: unsupported type {other:?}", self.op_type()),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for AconKernel {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == self.arity(),
            "{} expects {} inputs, got {}",
            self.op_type(),
            self.arity(),
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|f| f.datum_type), self.op_type())?;
        let shapes: Vec<&[TDim]> = inputs.iter().map(|f| &*f.shape).collect();
        Ok(tvec!(dt.fact(multi_broadcast(&shapes)?)))
    }

    as_op!();
}

/// The inference-level wrapper: type and shape rules, then the kernel.
#[derive(Debug, Clone)]
pub(super) struct AconExpansion(pub(super) AconKernel);

impl Expansion for AconExpansion {
    fn name(&self) -> StaticName {
        self.0.op_type().into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.0.arity())?;
        check_output_arity(outputs, 1)?;
        broadcast_rules(s, inputs, outputs)
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

/// Every input has the output's type; the output's shape is the numpy
/// broadcast of the inputs' shapes (symbolic dims included).
pub(super) fn broadcast_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
) -> InferenceResult {
    for input in inputs {
        s.equals(&input.datum_type, &outputs[0].datum_type)?;
    }
    s.given_all(
        inputs.iter().map(|i| &i.shape),
        move |s, shapes: Vec<TVec<TDim>>| {
            let out = multi_broadcast(&shapes)?;
            s.equals(&outputs[0].shape, ShapeFactoid::from(out))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tract::kernels::test_util::{assert_close, sig};

    #[test]
    fn acon_c_keeps_symbolic_dims_and_runs_once_they_are_known() -> TractResult<()> {
        let mut model = TypedModel::default();
        let n = model.sym("N");
        let shape: TVec<TDim> = tvec![n.to_dim(), 2.to_dim(), 3.to_dim()];
        let x = model.add_source("x", f32::fact(shape.clone()))?;
        let p1 = model.add_const("p1", tensor3(&[[[0.5f32], [2.0]]]))?;
        let p2 = model.add_const("p2", tensor1(&[0.25f32]))?;
        let beta = model.add_const("beta", tensor0(1.5f32))?;
        let kernel = AconKernel::new(AconKind::C, true, false)?;
        let y = model.wire_node("acon", kernel, &[x, p1, p2, beta])?;
        assert_eq!(model.outlet_fact(y[0])?.shape.to_tvec(), shape);
        model.select_output_outlets(&y)?;
        let plan = model.into_runnable()?;
        let data: Vec<f32> = (0..24).map(|i| i as f32 / 4.0 - 3.0).collect();
        let out = plan.run(tvec![Tensor::from_shape(&[4, 2, 3], &data)?.into_tvalue()])?;
        let out = out[0].to_plain_array_view::<f32>()?;
        for (i, (&x, &y)) in data.iter().zip(out.iter()).enumerate() {
            let p1 = if (i / 3) % 2 == 0 { 0.5 } else { 2.0 };
            let d = (p1 - 0.25) * x as f64;
            let want = d * sig(1.5 * d) + 0.25 * x as f64;
            assert!((y as f64 - want).abs() < 1e-6, "{i}: {y} vs {want}");
        }
        Ok(())
    }

    #[test]
    fn meta_acon_c_never_reaches_the_element_wise_kernel() {
        let err = AconKernel::new(AconKind::MetaC, true, false).unwrap_err();
        assert!(
            err.to_string().contains("MetaAconC is not element-wise"),
            "{err}"
        );
        let kernel = AconKernel::new(AconKind::C, false, false).unwrap();
        assert_eq!(
            (kernel.kind(), kernel.params(), kernel.arity()),
            (AconKind::C, 2, 3)
        );
    }

    /// AconA/B/C on the fused path against the reference, with X of rank 2
    /// and 4, parameters per channel and scalar, beta given or not; and the
    /// cases the fused path must leave to the reference.
    #[test]
    fn the_element_wise_fused_path_agrees_with_the_reference() -> TractResult<()> {
        let per_channel = |c: usize, base: f32| -> Tensor {
            let v: Vec<f32> = (0..c).map(|i| base + 0.3 * i as f32).collect();
            Tensor::from_shape(&[1, c, 1, 1], &v).unwrap()
        };
        for x_shape in [vec![2usize, 5], vec![2, 3, 7, 9], vec![1, 2, 70, 70]] {
            let c = x_shape[1];
            let len: usize = x_shape.iter().product();
            let x: Vec<f32> = (0..len)
                .map(|i| ((i * 29 % 31) as f32 - 15.0) / 4.0)
                .collect();
            // Parameters shaped [1, C, 1, 1] need X of rank 4.
            let shaped = |t: Tensor| -> Tensor {
                let mut shape = vec![1usize; x_shape.len()];
                shape[1] = t.len();
                if t.len() == 1 {
                    shape = vec![1];
                }
                t.into_shape(&shape).unwrap()
            };
            let scalar = |v: f32| Tensor::from_shape(&[1], &[v]).unwrap();
            let cases: Vec<(AconKind, Vec<Tensor>)> = vec![
                (AconKind::A, vec![]),
                (AconKind::A, vec![shaped(per_channel(c, 0.5))]),
                (AconKind::B, vec![shaped(per_channel(c, -0.4))]),
                (AconKind::B, vec![shaped(per_channel(c, 0.2)), scalar(1.7)]),
                (AconKind::C, vec![shaped(per_channel(c, 1.1)), scalar(0.25)]),
                (
                    AconKind::C,
                    vec![
                        shaped(per_channel(c, 1.1)),
                        shaped(per_channel(c, -0.6)),
                        shaped(per_channel(c, 0.9)),
                    ],
                ),
            ];
            for (kind, params) in cases {
                let has_beta = params.len() + 1 > kind.signature().min_inputs();
                let inputs = || -> TractResult<TVec<TValue>> {
                    let mut v = tvec![Tensor::from_shape(&x_shape, &x)?.into_tvalue()];
                    v.extend(params.iter().map(|t| t.clone().into_tvalue()));
                    Ok(v)
                };
                let kernel = |fused| AconKernel::new(kind, has_beta, fused).unwrap();
                let out = x_shape.clone();
                assert!(kernel(true).fused_f32(&inputs()?, &out)?.is_some());
                let reference = kernel(false).eval(&EvalContext::out_of_plan(), inputs()?)?;
                let fused = kernel(true).eval(&EvalContext::out_of_plan(), inputs()?)?;
                let what = format!("{kind:?} X {x_shape:?}, beta {has_beta}");
                assert_close(&reference[0], &fused[0], &what)?;
            }
        }

        // Left to the reference: a parameter varying along another axis, one
        // that broadcasts X to a larger shape, and the reference path itself.
        let x = Tensor::from_shape(&[1, 2, 2, 2], &[1.0f32; 8])?.into_tvalue();
        let along_h = Tensor::from_shape(&[1, 1, 2, 1], &[0.5f32, 0.7])?.into_tvalue();
        let kernel = |fused| AconKernel::new(AconKind::B, false, fused).unwrap();
        let inputs = tvec![x.clone(), along_h];
        assert!(kernel(true).fused_f32(&inputs, &[1, 2, 2, 2])?.is_none());
        let wider = Tensor::from_shape(&[3, 1, 1, 1], &[0.5f32, 0.7, 0.9])?.into_tvalue();
        let inputs = tvec![x.clone(), wider];
        assert!(kernel(true).fused_f32(&inputs, &[3, 2, 2, 2])?.is_none());
        let p = Tensor::from_shape(&[1], &[0.5f32])?.into_tvalue();
        assert!(
            kernel(false)
                .fused_f32(&tvec![x, p], &[1, 2, 2, 2])?
                .is_none()
        );
        Ok(())
    }
}
