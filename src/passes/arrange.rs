//! The standard-op arrangement every ACON activation is written in, whatever
//! form it came in: a custom-op node (`decompose-acon`) or a block of
//! standard ops that `recognise-acon` proved to compute one.
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

use crate::error::Error;
use crate::model::tensor::Array;
use crate::passes::emit::{Binary, Emitter, Value};

/// BatchNorm's constants in inference form.
#[derive(Debug, Clone)]
pub struct BnConstants {
    pub scale: Array,
    pub bias: Array,
    pub mean: Array,
    pub var: Array,
    /// How messages name the variance tensor (`input 10 \`bn1.var\``).
    pub var_label: String,
}

/// A 1×1 convolution, then an optional BatchNorm.
#[derive(Debug, Clone)]
pub struct ConvStage {
    /// `[out, in, 1, …, 1]` (a constant given as `[out, in]` is reshaped by
    /// the caller).
    pub weight: Value,
    pub bias: Option<Value>,
    pub bn: Option<BnConstants>,
}

/// Meta-ACON's switching factor: `β = σ(BN2(Conv(BN1(Conv(mean(x))))))`.
#[derive(Debug, Clone)]
pub struct MetaBeta {
    /// The number of spatial axes `k` of `x = [N, C, D1, …, Dk]`.
    pub spatial_rank: usize,
    pub fc1: ConvStage,
    pub fc2: ConvStage,
    pub epsilon: f64,
}

/// `y = x·(P·σ((β·P)·x) + p2)`, the last node writing `output`.
pub fn switch(
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
pub fn meta_beta(em: &mut Emitter, x: &str, meta: &MetaBeta) -> Result<Value, Error> {
    let k = meta.spatial_rank;
    let axes: Vec<i64> = (2..2 + k as i64).collect();
    let m = em.reduce_mean(x, &axes, "mean");
    let h = conv_bn(em, m, &meta.fc1, meta, "fc1")?;
    let g = conv_bn(em, h, &meta.fc2, meta, "fc2")?;
    Ok(em.sigmoid(g, "beta"))
}

/// `BN(Conv1x1(z, W, B))`. With the weight and bias constant, BatchNorm is
/// folded into the convolution (`s = scale / sqrt(var + ε)`):
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
    stage: &ConvStage,
    meta: &MetaBeta,
    suffix: &str,
) -> Result<Value, Error> {
    let k = meta.spatial_rank;
    let weight = stage.weight.clone();
    let bias = stage.bias.clone();
    let Some(bn) = &stage.bn else {
        return Ok(em.conv(z, weight, bias, suffix));
    };
    if let Some(w) = weight.constant()
        && bias.as_ref().is_none_or(|b| b.constant().is_some())
    {
        let b = bias.as_ref().and_then(|b| b.constant());
        let (folded_w, folded_b) = fold_bn(w, b, bn, meta.epsilon)?;
        return Ok(em.conv(
            z,
            Value::Const(folded_w),
            Some(Value::Const(folded_b)),
            suffix,
        ));
    }
    let (scale, shift) = bn_affine(bn, meta.epsilon)?;
    let out_channels = scale.len();
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

/// BatchNorm folded into the 1×1 convolution before it
/// (`s = scale / sqrt(var + ε)`, per output channel):
///
/// ```text
/// W' = W · s
/// B' = (B − mean) · s + bias        (B = 0 when the conv has no bias)
/// ```
pub fn fold_bn(
    w: &Array,
    b: Option<&Array>,
    bn: &BnConstants,
    epsilon: f64,
) -> Result<(Array, Array), Error> {
    let (scale, shift) = bn_affine(bn, epsilon)?;
    let out_channels = scale.len();
    let bias = match b {
        Some(b) => b.clone(),
        None => Array {
            dims: vec![out_channels],
            data: vec![0.0; out_channels],
        },
    };
    let mut per_out = vec![out_channels];
    per_out.extend(std::iter::repeat_n(1, w.dims.len().saturating_sub(1)));
    let folded_w = w
        .zip(&scale.clone().reshaped(per_out), |a, s| a * s)
        .filter(|f| f.dims == w.dims)
        .ok_or_else(|| shape_mismatch(&w.dims, out_channels))?;
    let folded_b = bias
        .zip(&scale, |a, s| a * s)
        .and_then(|bs| bs.zip(&shift, |a, t| a + t))
        .filter(|f| f.dims == [out_channels])
        .ok_or_else(|| shape_mismatch(&bias.dims, out_channels))?;
    Ok((folded_w, folded_b))
}

fn shape_mismatch(dims: &[usize], channels: usize) -> Error {
    Error::Unsupported(format!(
        "cannot fold BatchNorm of {channels} channels into a tensor of shape {dims:?}"
    ))
}

/// BatchNorm as `z·s + t`: `s = scale / sqrt(var + ε)`, `t = bias − mean·s`,
/// computed in f64.
pub fn bn_affine(bn: &BnConstants, epsilon: f64) -> Result<(Array, Array), Error> {
    let n = bn.scale.len();
    if [&bn.bias, &bn.mean, &bn.var].iter().any(|a| a.len() != n) {
        return Err(Error::Unsupported(format!(
            "the BatchNorm parameters have {}, {}, {} and {} elements, expected one count",
            n,
            bn.bias.len(),
            bn.mean.len(),
            bn.var.len()
        )));
    }
    if let Some(bad) = bn
        .var
        .data
        .iter()
        .position(|&v| (v + epsilon).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
    {
        return Err(Error::Unsupported(format!(
            "{} has variance {} at channel {bad}: var + epsilon must be positive",
            bn.var_label, bn.var.data[bad]
        )));
    }
    let s = Array {
        dims: vec![n],
        data: bn
            .scale
            .data
            .iter()
            .zip(&bn.var.data)
            .map(|(g, v)| g / (v + epsilon).sqrt())
            .collect(),
    };
    let t = Array {
        dims: vec![n],
        data: bn
            .bias
            .data
            .iter()
            .zip(&bn.mean.data)
            .zip(&s.data)
            .map(|((b, m), s)| b - m * s)
            .collect(),
    };
    Ok((s, t))
}
