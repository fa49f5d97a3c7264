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
//! checks the node's inputs and returns an [`Expansion`] whose inference
//! rules give the output type and (symbolic) shape, and whose `wire` puts in
//! one fused [`TypedOp`]: [`AconKernel`] for AconA/B/C, [`MetaAconKernel`]
//! for MetaAconC. Each evaluates its formula in one pass over the output,
//! broadcasting every operand under numpy rules.
//!
//! Arithmetic runs in `f32` for `float16` and `float` (as PyTorch does on
//! CPU), in `f64` for `double`; the result is rounded to the element type
//! once. tract has no `bfloat16`.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::tract_core::broadcast::multi_broadcast;
use tract_onnx::tract_hir::tract_ndarray::{ArrayD, IxDyn};

use tract_linalg::routines::Func;

use crate::ops::{AconKind, DEFAULT_EPSILON};

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
pub enum Path {
    /// Straight from the formula, element by element, with libm's `exp`:
    /// the independent reference `verify` compares against.
    Reference,
    /// For `float` with per-channel (or scalar) parameters, one pass over X
    /// in the arrangement `x·(P·σ((β·P)·x) + p2)`, with tract's vectorised
    /// sigmoid (`run`, `bench`); anything else takes the reference path.
    Fused,
}

/// Adds the four kernels to `register`, under their keys only.
pub fn register(register: &mut OnnxOpRegister, path: Path) {
    match path {
        Path::Reference => register_all::<false>(register),
        Path::Fused => register_all::<true>(register),
    }
}

fn register_all<const FUSED: bool>(register: &mut OnnxOpRegister) {
    register.insert(op_key(AconKind::A), build_acon_a::<FUSED>);
    register.insert(op_key(AconKind::B), build_acon_b::<FUSED>);
    register.insert(op_key(AconKind::C), build_acon_c::<FUSED>);
    register.insert(op_key(AconKind::MetaC), build_meta_acon_c::<FUSED>);
}

type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

fn build_acon_a<const FUSED: bool>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(Form::A, node, FUSED)
}

fn build_acon_b<const FUSED: bool>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(Form::B, node, FUSED)
}

fn build_acon_c<const FUSED: bool>(_: &ParsingContext, node: &NodeProto) -> Built {
    build_eltwise(Form::C, node, FUSED)
}

fn given(node: &NodeProto, index: usize) -> bool {
    node.input.get(index).is_some_and(|n| !n.is_empty())
}

fn build_eltwise(form: Form, node: &NodeProto, fused: bool) -> Built {
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
        fused,
    };
    Ok((expand(AconExpansion(kernel)), vec![]))
}

fn build_meta_acon_c<const FUSED: bool>(_: &ParsingContext, node: &NodeProto) -> Built {
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
        fused: FUSED,
    };
    Ok((expand(MetaAconExpansion(kernel)), vec![]))
}

// ---- the element-wise ops: AconA, AconB, AconC ----------------------------

/// Which element-wise formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// `Y = X · σ(beta · X)`
    A,
    /// `Y = (1 − p) X · σ(beta (1 − p) X) + p X`
    B,
    /// `Y = (p1 − p2) X · σ(beta (p1 − p2) X) + p2 X`
    C,
}

impl Form {
    fn params(self) -> usize {
        match self {
            Form::A => 0,
            Form::B => 1,
            Form::C => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Form::A => "AconA",
            Form::B => "AconB",
            Form::C => "AconC",
        }
    }
}

/// AconA, AconB or AconC in one pass. Inputs: `X`, the parameters of the
/// form, then `beta` when `has_beta` (absent means 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AconKernel {
    pub form: Form,
    pub has_beta: bool,
    /// Whether the fused path may be taken (`Path::Fused`).
    pub fused: bool,
}

impl AconKernel {
    fn arity(&self) -> usize {
        1 + self.form.params() + self.has_beta as usize
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
        let data = match (self.form, self.has_beta, ops.as_slice()) {
            (Form::A, false, [x]) => broadcast_map([*x], out, |[x]| acon_a(x, T::C::ONE)),
            (Form::A, true, [x, beta]) => {
                broadcast_map([*x, *beta], out, |[x, beta]| acon_a(x, beta))
            }
            (Form::B, false, [x, p]) => {
                broadcast_map([*x, *p], out, |[x, p]| acon_b(x, p, T::C::ONE))
            }
            (Form::B, true, [x, p, beta]) => {
                broadcast_map([*x, *p, *beta], out, |[x, p, beta]| acon_b(x, p, beta))
            }
            (Form::C, false, [x, p1, p2]) => broadcast_map([*x, *p1, *p2], out, |[x, p1, p2]| {
                acon_c(x, p1, p2, T::C::ONE)
            }),
            (Form::C, true, [x, p1, p2, beta]) => {
                broadcast_map([*x, *p1, *p2, *beta], out, |[x, p1, p2, beta]| {
                    acon_c(x, p1, p2, beta)
                })
            }
            _ => bail!(
                "{} expects {} inputs, got {}",
                self.form.name(),
                self.arity(),
                inputs.len()
            ),
        }?;
        Ok(ArrayD::from_shape_vec(IxDyn(out), data)?.into_tensor())
    }
}

// acon_a(x) = x·σ(β·x)
fn acon_a<C: Real>(x: C, beta: C) -> C {
    x * sigmoid(beta * x)
}

// acon_b(x) = (1 − p)·x·σ(β·(1 − p)·x) + p·x
fn acon_b<C: Real>(x: C, p: C, beta: C) -> C {
    let d = (C::ONE - p) * x;
    d * sigmoid(beta * d) + p * x
}

// acon_c(x) = (p1 − p2)·x·σ(β·(p1 − p2)·x) + p2·x
fn acon_c<C: Real>(x: C, p1: C, p2: C, beta: C) -> C {
    let d = (p1 - p2) * x;
    d * sigmoid(beta * d) + p2 * x
}

// σ(z) = 1 / (1 + e^−z); e^−z overflows to +inf for very negative z, which
// gives the correct limit 0.
fn sigmoid<C: Real>(z: C) -> C {
    C::ONE / (C::ONE + (-z).exp())
}

impl AconKernel {
    /// The fused path: the form's parameters per channel, as the arrangement
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
            true => per_channel[self.form.params()][ch],
            false => 1.0,
        };
        let channels: Vec<Sweep> = (0..c)
            .map(|ch| {
                let (scale, p2) = match self.form {
                    Form::A => (1.0, 0.0),
                    Form::B => (1.0 - per_channel[0][ch], per_channel[0][ch]),
                    Form::C => (per_channel[0][ch] - per_channel[1][ch], per_channel[1][ch]),
                };
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
        self.form.name().into()
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
            self.form.name(),
            self.arity(),
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|t| t.datum_type()), self.form.name())?;
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let out = multi_broadcast(&shapes)?;
        let y = match dt {
            DatumType::F16 => self.eval_t::<f16>(&inputs, &out)?,
            DatumType::F32 => match self.fused_f32(&inputs, &out)? {
                Some(y) => y,
                None => self.eval_t::<f32>(&inputs, &out)?,
            },
            DatumType::F64 => self.eval_t::<f64>(&inputs, &out)?,
            other => bail!("{}: unsupported type {other:?}", self.form.name()),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for AconKernel {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == self.arity(),
            "{} expects {} inputs, got {}",
            self.form.name(),
            self.arity(),
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|f| f.datum_type), self.form.name())?;
        let shapes: Vec<&[TDim]> = inputs.iter().map(|f| &*f.shape).collect();
        Ok(tvec!(dt.fact(multi_broadcast(&shapes)?)))
    }

    as_op!();
}

/// The inference-level wrapper: type and shape rules, then the kernel.
#[derive(Debug, Clone)]
struct AconExpansion(AconKernel);

impl Expansion for AconExpansion {
    fn name(&self) -> StaticName {
        self.0.form.name().into()
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
fn broadcast_rules<'r, 'p: 'r>(
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

// ---- MetaAconC --------------------------------------------------------------

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
/// Inputs are the given ones in the spec's order: `X, p1, p2, W1, [B1], W2,
/// [B2], [bn1 ×4], [bn2 ×4]`. The small branch is computed in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaAconKernel {
    pub has_b1: bool,
    pub has_b2: bool,
    pub has_bn1: bool,
    pub has_bn2: bool,
    pub epsilon: f64,
    /// Take the fused path where it applies (see [`Path`]).
    pub fused: bool,
}

impl Eq for MetaAconKernel {}

impl std::hash::Hash for MetaAconKernel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (
            self.has_b1,
            self.has_b2,
            self.has_bn1,
            self.has_bn2,
            self.fused,
        )
            .hash(state);
        self.epsilon.to_bits().hash(state);
    }
}

/// Positions of MetaAconC's operands among the given inputs.
struct MetaSlots {
    w1: usize,
    b1: Option<usize>,
    w2: usize,
    b2: Option<usize>,
    bn1: Option<usize>,
    bn2: Option<usize>,
    count: usize,
}

impl MetaAconKernel {
    fn slots(&self) -> MetaSlots {
        let mut next = 4;
        let mut take = |present: bool, width: usize| {
            present.then(|| {
                next += width;
                next - width
            })
        };
        let b1 = take(self.has_b1, 1);
        let w2 = take(true, 1).unwrap_or_default();
        let b2 = take(self.has_b2, 1);
        let bn1 = take(self.has_bn1, 4);
        let bn2 = take(self.has_bn2, 4);
        MetaSlots {
            w1: 3,
            b1,
            w2,
            b2,
            bn1,
            bn2,
            count: next,
        }
    }

    /// `beta = σ(branch(mean(X)))`, shape `[N, C]`.
    fn beta<T: Elem>(&self, inputs: &[TValue], x: &[T]) -> TractResult<Vec<f64>> {
        let slots = self.slots();
        let x_shape = inputs[0].shape();
        ensure!(
            x_shape.len() >= 3,
            "MetaAconC: X has shape {x_shape:?}, expected rank 3 or more [N, C, D1, …]"
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
                "MetaAconC: {role} has shape {s:?}, expected [{rows}, {cols}] or [{rows}, {cols}, 1, …]"
            );
            Ok(())
        };
        expect_weight(w1_t, r, c, "W1")?;
        expect_weight(&inputs[slots.w2], c, r, "W2")?;
        let vector = |slot: usize, len: usize, role: &str| -> TractResult<Vec<f64>> {
            let t = &inputs[slot];
            ensure!(
                t.len() == len && t.rank() == 1,
                "MetaAconC: {role} has shape {:?}, expected [{len}]",
                t.shape()
            );
            as_f64(t)
        };
        // The weights are read where they lie, widened one by one: casting
        // them to f64 tensors would allocate and copy C·R values per call.
        let w1_view = w1_t.try_as_plain_ram()?;
        let w1 = w1_view.as_slice::<T>()?;
        let w2_view = inputs[slots.w2].try_as_plain_ram()?;
        let w2 = w2_view.as_slice::<T>()?;
        let b1 = slots.b1.map(|s| vector(s, r, "B1")).transpose()?;
        let b2 = slots.b2.map(|s| vector(s, c, "B2")).transpose()?;
        let bn =
            |first: Option<usize>, len: usize, name: &str| -> TractResult<Option<[Vec<f64>; 4]>> {
                first
                    .map(|f| {
                        Ok([
                            vector(f, len, &format!("{name}_scale"))?,
                            vector(f + 1, len, &format!("{name}_bias"))?,
                            vector(f + 2, len, &format!("{name}_mean"))?,
                            vector(f + 3, len, &format!("{name}_var"))?,
                        ])
                    })
                    .transpose()
            };
        let bn1 = bn(slots.bn1, r, "bn1")?;
        let bn2 = bn(slots.bn2, c, "bn2")?;
        let eps = self.epsilon;
        let batch_norm = |z: f64, i: usize, p: &[Vec<f64>; 4]| {
            let [scale, bias, mean, var] = p;
            scale[i] * (z - mean[i]) / (var[i] + eps).sqrt() + bias[i]
        };

        let mut beta = vec![0.0; n * c];
        let mut m = vec![0.0; c];
        let mut h = vec![0.0; r];
        for b in 0..n {
            // m = mean of X over D1..Dk
            for (ch, mean) in m.iter_mut().enumerate() {
                let start = (b * c + ch) * spatial;
                *mean = mean_f64(&x[start..start + spatial]);
            }
            // h = W1·m + B1, then BN1
            for (i, h) in h.iter_mut().enumerate() {
                let mut z = dot_f64(&w1[i * c..(i + 1) * c], &m);
                if let Some(b1) = &b1 {
                    z += b1[i];
                }
                if let Some(p) = &bn1 {
                    z = batch_norm(z, i, p);
                }
                *h = z;
            }
            // g = W2·h + B2, then BN2; beta = σ(g)
            for ch in 0..c {
                let mut g = dot_f64(&w2[ch * r..(ch + 1) * r], &h);
                if let Some(b2) = &b2 {
                    g += b2[ch];
                }
                if let Some(p) = &bn2 {
                    g = batch_norm(g, ch, p);
                }
                beta[b * c + ch] = sigmoid(g);
            }
        }
        Ok(beta)
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
        if !self.fused {
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

/// One `(n, c)` slice's constants in `y = x·(P·σ(a·x) + p2)`.
#[derive(Debug, Clone, Copy)]
struct Sweep {
    a: f32,
    /// `P`.
    scale: f32,
    p2: f32,
}

/// The fused pass over `X = [N, C, …]`: per `(n, c)` slice, with that
/// slice's constants from `per_slice(n·C + c)`,
///
/// ```text
/// y = a·x;  y = σ(y);  y = x·(P·y + p2)
/// ```
///
/// three sweeps over a block of whole slices that stays in L1, so one pass
/// over memory, with tract's vectorised sigmoid.
fn fused_sweeps(
    x: &[f32],
    x_shape: &[usize],
    per_slice: impl Fn(usize) -> Sweep,
) -> TractResult<Tensor> {
    let spatial: usize = x_shape[2..].iter().product();
    // Written straight into tract's aligned storage: building a Vec and
    // converting it would copy the whole output once more, and zeroing it
    // first would be one more pass over memory.
    // SAFETY: `fill_fused` covers every element (n·c slices of `spatial`;
    // none when X is empty), and in each block `scale` writes every element
    // before `sigmoid` and `gate` read any.
    let mut y = unsafe { Tensor::uninitialized::<f32>(x_shape)? };
    fill_fused(
        y.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        x,
        spatial,
        per_slice,
    )?;
    Ok(y)
}

/// The loop of [`fused_sweeps`], writing `out` (as long as `x`).
fn fill_fused(
    out: &mut [f32],
    x: &[f32],
    spatial: usize,
    per_slice: impl Fn(usize) -> Sweep,
) -> TractResult<()> {
    let sigmoid = Func::Sigmoid.ew_f32()?;
    let sweeps = Sweeps::detect();
    let len = spatial.max(1);
    // Slices are taken a block at a time, so that a small `spatial` (7×7
    // late in a network) does not pay the sigmoid's call per slice.
    let per_block = (FUSED_BLOCK / len).max(1);
    for (block, (ys, xs)) in out
        .chunks_mut(len * per_block)
        .zip(x.chunks(len * per_block))
        .enumerate()
    {
        let first = block * per_block;
        for (k, (ys, xs)) in ys
            .chunks_exact_mut(len)
            .zip(xs.chunks_exact(len))
            .enumerate()
        {
            sweeps.scale(ys, xs, per_slice(first + k).a);
        }
        sigmoid.run(ys)?;
        for (k, (ys, xs)) in ys
            .chunks_exact_mut(len)
            .zip(xs.chunks_exact(len))
            .enumerate()
        {
            let Sweep { scale, p2, .. } = per_slice(first + k);
            sweeps.gate(ys, xs, scale, p2);
        }
    }
    Ok(())
}

/// Elements per block of the fused path: 16 KiB of `f32`, which stays in L1
/// between its three sweeps.
const FUSED_BLOCK: usize = 4096;

/// The two element sweeps of the fused path, compiled twice: for the
/// baseline x86-64 (SSE2, 4 lanes) and, chosen at run time, for AVX2 (8
/// lanes), the width tract's own kernels use. Same arithmetic either way (no
/// FMA contraction), so the result does not depend on the CPU.
#[derive(Clone, Copy)]
struct Sweeps {
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

impl Sweeps {
    fn detect() -> Sweeps {
        Sweeps {
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2"),
        }
    }

    /// `y = a·x`, element by element.
    fn scale(self, ys: &mut [f32], xs: &[f32], a: f32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU has AVX2, detected above.
            return unsafe { scale_avx2(ys, xs, a) };
        }
        scale(ys, xs, a)
    }

    /// `y = x·(p·y + q)`, element by element.
    fn gate(self, ys: &mut [f32], xs: &[f32], p: f32, q: f32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU has AVX2, detected above.
            return unsafe { gate_avx2(ys, xs, p, q) };
        }
        gate(ys, xs, p, q)
    }
}

#[inline(always)]
fn scale(ys: &mut [f32], xs: &[f32], a: f32) {
    for (y, &x) in ys.iter_mut().zip(xs) {
        *y = a * x;
    }
}

#[inline(always)]
fn gate(ys: &mut [f32], xs: &[f32], p: f32, q: f32) {
    for (y, &x) in ys.iter_mut().zip(xs) {
        *y = x * (p * *y + q);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scale_avx2(ys: &mut [f32], xs: &[f32], a: f32) {
    scale(ys, xs, a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn gate_avx2(ys: &mut [f32], xs: &[f32], p: f32, q: f32) {
    gate(ys, xs, p, q)
}

/// A parameter's value per channel of `X = [N, C, …]` when it varies along
/// the channel axis only (or not at all); `None` otherwise.
fn channel_values(shape: &[usize], data: &[f32], x_shape: &[usize]) -> Option<Vec<f32>> {
    let c = x_shape[1];
    let pad = x_shape.len().checked_sub(shape.len())?;
    let per_channel = shape
        .iter()
        .enumerate()
        .all(|(i, &d)| d == 1 || (pad + i == 1 && d == c));
    match data.len() {
        _ if !per_channel => None,
        1 => Some(vec![data[0]; c]),
        len if len == c => Some(data.to_vec()),
        _ => None,
    }
}

/// `Σ w[i]·v[i]` in f64, with four running sums so that the adds do not wait
/// on one another.
fn dot_f64<T: Elem>(w: &[T], v: &[f64]) -> f64 {
    let mut lanes = [0f64; 4];
    let (w_chunks, v_chunks) = (w.chunks_exact(4), v.chunks_exact(4));
    let rest: f64 = w_chunks
        .remainder()
        .iter()
        .zip(v_chunks.remainder())
        .map(|(w, v)| w.to_f64() * v)
        .sum();
    for (ws, vs) in w_chunks.zip(v_chunks) {
        for ((lane, w), v) in lanes.iter_mut().zip(ws).zip(vs) {
            *lane += w.to_f64() * v;
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}

/// The mean of `xs` in f64. Eight running sums instead of one: the adds no
/// longer wait on each other, which makes the mean as fast as the memory.
fn mean_f64<T: Elem>(xs: &[T]) -> f64 {
    let mut lanes = [0f64; 8];
    let chunks = xs.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|v| v.to_f64()).sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v.to_f64();
        }
    }
    (lanes.iter().sum::<f64>() + rest) / xs.len() as f64
}

fn as_f64(t: &Tensor) -> TractResult<Vec<f64>> {
    let cast = t.cast_to::<f64>()?;
    let view = cast.try_as_plain_ram()?;
    Ok(view.as_slice::<f64>()?.to_vec())
}

impl Op for MetaAconKernel {
    fn name(&self) -> StaticName {
        "MetaAconC".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "native ACON kernel, B1 {}, B2 {}, BN1 {}, BN2 {}, epsilon {}",
            self.has_b1, self.has_b2, self.has_bn1, self.has_bn2, self.epsilon
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for MetaAconKernel {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        clear_vector_state();
        let count = self.slots().count;
        ensure!(
            inputs.len() == count,
            "MetaAconC expects {count} inputs, got {}",
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|t| t.datum_type()), "MetaAconC")?;
        let shapes: Vec<&[usize]> = inputs[..3].iter().map(|t| t.shape()).collect();
        let out = multi_broadcast(&shapes)?;
        ensure!(
            out.as_slice() == inputs[0].shape(),
            "MetaAconC: p1 {:?} and p2 {:?} must broadcast to X {:?}",
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
            other => bail!("MetaAconC: unsupported type {other:?}"),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for MetaAconKernel {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let count = self.slots().count;
        ensure!(
            inputs.len() == count,
            "MetaAconC expects {count} inputs, got {}",
            inputs.len()
        );
        let dt = common_float_type(inputs.iter().map(|f| f.datum_type), "MetaAconC")?;
        ensure!(
            inputs[0].rank() >= 3,
            "MetaAconC: X has rank {}, expected 3 or more [N, C, D1, …]",
            inputs[0].rank()
        );
        let shapes: Vec<&[TDim]> = inputs[..3].iter().map(|f| &*f.shape).collect();
        Ok(tvec!(dt.fact(multi_broadcast(&shapes)?)))
    }

    as_op!();
}

#[derive(Debug, Clone)]
struct MetaAconExpansion(MetaAconKernel);

impl Expansion for MetaAconExpansion {
    fn name(&self) -> StaticName {
        "MetaAconC".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.0.slots().count)?;
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

// ---- numbers and broadcasting -----------------------------------------------

/// Clears the upper halves of the vector registers (`vzeroupper`). tract's
/// AVX kernels may return with them dirty, and then every SSE instruction of
/// ours (and of libm's `exp`) pays a state-transition penalty on Intel CPUs:
/// measured at 15-20× on this kernel when a converted model ran just before.
fn clear_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper()
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // Safety: the CPU has AVX, checked just above.
            unsafe { zero_upper() }
        }
    }
}

/// The one float type all operands share.
fn common_float_type(types: impl Iterator<Item = DatumType>, op: &str) -> TractResult<DatumType> {
    let mut found: Option<DatumType> = None;
    for (index, dt) in types.enumerate() {
        ensure!(
            matches!(dt, DatumType::F16 | DatumType::F32 | DatumType::F64),
            "{op}: input {index} has type {dt:?}, expected float16, float or double"
        );
        match found {
            None => found = Some(dt),
            Some(first) => ensure!(
                first == dt,
                "{op}: input {index} has type {dt:?}, expected {first:?} like input 0"
            ),
        }
    }
    found.with_context(|| format!("{op} has no inputs"))
}

/// The arithmetic the kernels need, in `f32` or `f64`.
pub trait Real:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    const ONE: Self;
    fn exp(self) -> Self;
}

impl Real for f32 {
    const ONE: f32 = 1.0;
    fn exp(self) -> f32 {
        f32::exp(self)
    }
}

impl Real for f64 {
    const ONE: f64 = 1.0;
    fn exp(self) -> f64 {
        f64::exp(self)
    }
}

/// A tensor element type and the type its arithmetic runs in.
pub trait Elem: Datum + Copy {
    type C: Real;
    fn up(self) -> Self::C;
    fn down(c: Self::C) -> Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Elem for f16 {
    type C = f32;
    fn up(self) -> f32 {
        self.to_f32()
    }
    fn down(c: f32) -> f16 {
        f16::from_f32(c)
    }
    fn from_f64(v: f64) -> f16 {
        f16::from_f64(v)
    }
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
}

impl Elem for f32 {
    type C = f32;
    fn up(self) -> f32 {
        self
    }
    fn down(c: f32) -> f32 {
        c
    }
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Elem for f64 {
    type C = f64;
    fn up(self) -> f64 {
        self
    }
    fn down(c: f64) -> f64 {
        c
    }
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// One operand of an element-wise kernel: row-major data and its shape.
#[derive(Clone, Copy)]
struct Operand<'a, T> {
    data: &'a [T],
    shape: &'a [usize],
}

/// `f` applied element-wise over `out`, each operand broadcast to it under
/// numpy rules (missing leading axes and size-1 axes repeat), in one pass.
///
/// Adjacent axes along which every operand is either contiguous or repeated
/// are merged first, so that `X [N, C, H, W]` with `p [1, C, 1, 1]` runs as
/// `N·C` inner loops of length `H·W` with the parameters fixed.
fn broadcast_map<T: Elem, const K: usize>(
    ops: [Operand<'_, T>; K],
    out: &[usize],
    f: impl Fn([T::C; K]) -> T::C,
) -> TractResult<Vec<T>> {
    let rank = out.len();
    let mut strides = vec![[0usize; K]; rank];
    for (k, op) in ops.iter().enumerate() {
        ensure!(
            op.shape.len() <= rank,
            "operand {k} of shape {:?} has a higher rank than the output {out:?}",
            op.shape
        );
        let pad = rank - op.shape.len();
        let mut stride = 1usize;
        for (i, &d) in op.shape.iter().enumerate().rev() {
            ensure!(
                d == out[pad + i] || d == 1,
                "operand {k} of shape {:?} does not broadcast to {out:?}",
                op.shape
            );
            strides[pad + i][k] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
        ensure!(
            op.data.len() == stride,
            "operand {k} holds {} values for shape {:?}",
            op.data.len(),
            op.shape
        );
    }
    let mut axes: Vec<(usize, [usize; K])> = Vec::with_capacity(rank);
    for (&extent, st) in out.iter().zip(&strides) {
        if extent == 1 {
            continue;
        }
        match axes.last_mut() {
            Some(last) if (0..K).all(|k| last.1[k] == st[k] * extent) => {
                last.0 *= extent;
                last.1 = *st;
            }
            _ => axes.push((extent, *st)),
        }
    }
    let total: usize = out.iter().product();
    let mut y = Vec::with_capacity(total);
    if total == 0 {
        return Ok(y);
    }
    let (inner, inner_strides) = axes.pop().unwrap_or((1, [0; K]));
    let mut index = vec![0usize; axes.len()];
    let mut base = [0usize; K];
    loop {
        for j in 0..inner {
            let v: [T::C; K] =
                std::array::from_fn(|k| ops[k].data[base[k] + j * inner_strides[k]].up());
            y.push(T::down(f(v)));
        }
        // Advance the outer odometer, innermost axis first.
        let mut axis = axes.len();
        loop {
            if axis == 0 {
                return Ok(y);
            }
            axis -= 1;
            let (extent, st) = axes[axis];
            index[axis] += 1;
            for k in 0..K {
                base[k] += st[k];
            }
            if index[axis] < extent {
                break;
            }
            for k in 0..K {
                base[k] -= st[k] * extent;
            }
            index[axis] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op<'a>(data: &'a [f64], shape: &'a [usize]) -> Operand<'a, f64> {
        Operand { data, shape }
    }

    #[test]
    fn broadcasting_follows_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let p = [10.0, 20.0];
        let q = [100.0, 200.0, 300.0];
        let y = broadcast_map(
            [op(&x, &[2, 3]), op(&p, &[2, 1]), op(&q, &[3])],
            &[2, 3],
            |[x, p, q]| x + p + q,
        )
        .unwrap();
        assert_eq!(y, vec![111.0, 212.0, 313.0, 124.0, 225.0, 326.0]);
        assert!(broadcast_map([op(&x, &[2, 3]), op(&p, &[2])], &[2, 3], |[a, b]| a + b).is_err());
    }

    #[test]
    fn formulas_match_the_spec_at_known_points() {
        // AconC with p1 = p2 is linear: p2·x.
        assert_eq!(acon_c(3.0f64, 0.5, 0.5, 2.0), 1.5);
        // AconA with β = 0 is x/2.
        assert_eq!(acon_a(4.0f64, 0.0), 2.0);
        // AconB(p) is AconC(1, p).
        let (x, p, b) = (0.7f64, -0.3, 1.3);
        assert!((acon_b(x, p, b) - acon_c(x, 1.0, p, b)).abs() < 1e-15);
        // Large negative arguments give 0, not NaN.
        assert_eq!(sigmoid(-1e4f32), 0.0);
    }

    fn sig(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn acon_c_keeps_symbolic_dims_and_runs_once_they_are_known() -> TractResult<()> {
        let mut model = TypedModel::default();
        let n = model.sym("N");
        let shape: TVec<TDim> = tvec![n.to_dim(), 2.to_dim(), 3.to_dim()];
        let x = model.add_source("x", f32::fact(shape.clone()))?;
        let p1 = model.add_const("p1", tensor3(&[[[0.5f32], [2.0]]]))?;
        let p2 = model.add_const("p2", tensor1(&[0.25f32]))?;
        let beta = model.add_const("beta", tensor0(1.5f32))?;
        let kernel = AconKernel {
            form: Form::C,
            has_beta: true,
            fused: false,
        };
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
        let kernel = |fused| MetaAconKernel {
            has_b1: false,
            has_b2: false,
            has_bn1: false,
            has_bn2: false,
            epsilon: 1e-5,
            fused,
        };
        assert!(
            kernel(true).fused_f32(&inputs()?)?.is_some(),
            "the fused path applies"
        );
        let reference = kernel(false).eval(&EvalContext::out_of_plan(), inputs()?)?;
        let fused = kernel(true).eval(&EvalContext::out_of_plan(), inputs()?)?;
        assert_close(&reference[0], &fused[0], &format!("X [{n}, {c}, {h}, {w}]"))
    }

    /// `fused` agrees with `reference` element by element within 1e-5 + 1e-4·|reference|.
    fn assert_close(reference: &TValue, fused: &TValue, what: &str) -> TractResult<()> {
        let (a, b) = (
            reference.to_plain_array_view::<f32>()?,
            fused.to_plain_array_view::<f32>()?,
        );
        assert_eq!(a.shape(), b.shape(), "{what}");
        for (i, (a, b)) in a.iter().zip(b.iter()).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-4 * a.abs(),
                "{what}, element {i}: {a} vs {b}"
            );
        }
        Ok(())
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
            let cases: Vec<(Form, Vec<Tensor>)> = vec![
                (Form::A, vec![]),
                (Form::A, vec![shaped(per_channel(c, 0.5))]),
                (Form::B, vec![shaped(per_channel(c, -0.4))]),
                (Form::B, vec![shaped(per_channel(c, 0.2)), scalar(1.7)]),
                (Form::C, vec![shaped(per_channel(c, 1.1)), scalar(0.25)]),
                (
                    Form::C,
                    vec![
                        shaped(per_channel(c, 1.1)),
                        shaped(per_channel(c, -0.6)),
                        shaped(per_channel(c, 0.9)),
                    ],
                ),
            ];
            for (form, params) in cases {
                let has_beta = params.len() > form.params();
                let inputs = || -> TractResult<TVec<TValue>> {
                    let mut v = tvec![Tensor::from_shape(&x_shape, &x)?.into_tvalue()];
                    v.extend(params.iter().map(|t| t.clone().into_tvalue()));
                    Ok(v)
                };
                let kernel = |fused| AconKernel {
                    form,
                    has_beta,
                    fused,
                };
                let out = x_shape.clone();
                assert!(kernel(true).fused_f32(&inputs()?, &out)?.is_some());
                let reference = kernel(false).eval(&EvalContext::out_of_plan(), inputs()?)?;
                let fused = kernel(true).eval(&EvalContext::out_of_plan(), inputs()?)?;
                let what = format!("{form:?} X {x_shape:?}, beta {has_beta}");
                assert_close(&reference[0], &fused[0], &what)?;
            }
        }

        // Left to the reference: a parameter varying along another axis, one
        // that broadcasts X to a larger shape, and the reference path itself.
        let x = Tensor::from_shape(&[1, 2, 2, 2], &[1.0f32; 8])?.into_tvalue();
        let along_h = Tensor::from_shape(&[1, 1, 2, 1], &[0.5f32, 0.7])?.into_tvalue();
        let kernel = |fused| AconKernel {
            form: Form::B,
            has_beta: false,
            fused,
        };
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

    #[test]
    fn parameters_varying_along_another_axis_leave_the_fused_path() {
        let x_shape = [1, 3, 2, 2];
        assert_eq!(
            channel_values(&[1, 3, 1, 1], &[1.0, 2.0, 3.0], &x_shape),
            Some(vec![1.0, 2.0, 3.0])
        );
        assert_eq!(channel_values(&[1], &[5.0], &x_shape), Some(vec![5.0; 3]));
        assert_eq!(
            channel_values(&[3, 1, 1], &[1.0, 2.0, 3.0], &x_shape),
            Some(vec![1.0, 2.0, 3.0])
        );
        assert_eq!(channel_values(&[1, 1, 2, 1], &[1.0, 2.0], &x_shape), None);
        assert_eq!(channel_values(&[2], &[1.0, 2.0], &x_shape), None);
    }

    #[test]
    fn meta_acon_c_follows_the_spec_with_batch_norm() -> TractResult<()> {
        // N = 1, C = 2, spatial 2, R = 1; both BN groups, epsilon 1e-3.
        let kernel = MetaAconKernel {
            has_b1: true,
            has_b2: false,
            has_bn1: true,
            has_bn2: true,
            epsilon: 1e-3,
            fused: false,
        };
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
