//! Static shape inference: the one engine that gives a value's shape from
//! the shapes (and small int values) of a node's inputs, for the standard
//! ops models are made of and for the ACON ops. `inspect --flops` counts
//! costs from the shapes it gives (`crate::inspect::flops`), and the ACON parser
//! learns the rank of an X that `value_info` does not record
//! (`Facts::infer_shapes`).
//!
//! Dims are [`Dim`]s: a known size, a symbol or unknown. Arithmetic on a dim
//! that is not known gives an unknown dim, never a guess, so a rank is
//! known more often than a size. Small int tensors (shapes, axes, the
//! `Shape → Gather → Concat` chains PyTorch writes for `x.view(n, -1)`) are
//! followed as values. A node whose output shape cannot be told returns why,
//! and its outputs stay unknown.

use crate::model::hash::Map;

use crate::model::facts::Dim;
use crate::model::opsets::is_default_domain;
use crate::model::tensor::element_count;
use crate::ops::AconKind;
use crate::proto::{AttributeProto, NodeProto, TensorProto};

/// What is known of the values met so far.
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    shapes: Map<String, Vec<Dim>>,
    ints: Map<String, Vec<i64>>,
    /// Why a value's shape is unknown: the node that could not tell it.
    why: Map<String, String>,
}

impl Shapes {
    pub fn shape(&self, name: &str) -> Option<&Vec<Dim>> {
        self.shapes.get(name)
    }

    /// Records a shape given by the model (an input, a value_info).
    pub fn set_shape(&mut self, name: &str, dims: Vec<Dim>) {
        self.shapes.insert(name.to_owned(), dims);
    }

    /// Records a constant: its shape, and its values when it is a small int.
    pub fn add_tensor(&mut self, name: &str, t: &TensorProto) {
        self.set_shape(name, t.dims.iter().map(|&d| Dim::Known(d)).collect());
        if let Some(values) = int_values(t) {
            self.ints.insert(name.to_owned(), values);
        }
    }

    /// Why the shape of `name` is unknown, when a node could not tell it.
    pub fn why_unknown(&self, name: &str) -> Option<&str> {
        self.why.get(name).map(String::as_str)
    }

    /// The values shapes were inferred for, with their shapes.
    pub fn into_shapes(self) -> Map<String, Vec<Dim>> {
        self.shapes
    }

    fn input(&self, node: &NodeProto, i: usize) -> Result<&Vec<Dim>, String> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("input {i} is missing"))?;
        self.shapes
            .get(name)
            .ok_or_else(|| match self.why.get(name) {
                Some(why) => format!("the shape of `{name}` is unknown ({why})"),
                None => format!("the shape of `{name}` is unknown"),
            })
    }

    fn ints_of(&self, node: &NodeProto, i: usize) -> Option<&Vec<i64>> {
        node.input
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| self.ints.get(n))
    }

    fn set(&mut self, node: &NodeProto, i: usize, shape: Vec<Dim>) {
        if let Some(name) = node.output.get(i).filter(|n| !n.is_empty()) {
            self.shapes.insert(name.clone(), shape);
        }
    }

    fn set_ints(&mut self, node: &NodeProto, values: Vec<i64>) {
        if let Some(name) = node.output.first() {
            self.shapes
                .insert(name.clone(), vec![Dim::Known(values.len() as i64)]);
            self.ints.insert(name.clone(), values);
        }
    }

    fn copy_ints(&mut self, node: &NodeProto) {
        if let (Some(v), Some(out)) = (self.ints_of(node, 0).cloned(), node.output.first()) {
            self.ints.insert(out.clone(), v);
        }
    }

    /// Infers the output shapes of `node` (an ACON op of `acon` kind, or a
    /// standard op); on failure records why for each output and returns it.
    pub fn infer(&mut self, node: &NodeProto, acon: Option<AconKind>) -> Result<(), String> {
        let result = match acon {
            // Every ACON op's output has X's shape.
            Some(_) => self.input(node, 0).cloned().map(|x| self.set(node, 0, x)),
            None => self.standard(node),
        };
        if let Err(reason) = &result {
            let why = format!(
                "node `{}` ({}) cannot tell it: {reason}",
                crate::model::check::node_label(node),
                node.op_type()
            );
            for out in node.output.iter().filter(|o| !o.is_empty()) {
                self.why.insert(out.clone(), why.clone());
            }
        }
        result
    }

    fn standard(&mut self, node: &NodeProto) -> Result<(), String> {
        if !is_default_domain(node.domain()) {
            return Err(format!("domain `{}` is not known", node.domain()));
        }
        let op = node.op_type();
        match op {
            "Conv" => {
                let x = self.input(node, 0)?.clone();
                let w = self.input(node, 1)?.clone();
                if x.len() < 3 || w.len() != x.len() {
                    return Err(format!(
                        "input {} and weight {} do not fit",
                        show(&x),
                        show(&w)
                    ));
                }
                let kernel = match int_list_attr(node, "kernel_shape") {
                    Some(k) => k,
                    None => w[2..]
                        .iter()
                        .map(|d| known(d).ok_or("the kernel size is unknown"))
                        .collect::<Result<_, _>>()?,
                };
                let out = window_output(node, &x, &kernel, Some(w[0].clone()))?;
                self.set(node, 0, out);
            }
            "Gemm" => {
                let (a, b) = (self.input(node, 0)?.clone(), self.input(node, 1)?.clone());
                if a.len() != 2 || b.len() != 2 {
                    return Err("Gemm takes 2-D inputs".into());
                }
                let ta = int_attr(node, "transA").unwrap_or(0) != 0;
                let tb = int_attr(node, "transB").unwrap_or(0) != 0;
                let m = if ta { &a[1] } else { &a[0] };
                let n = if tb { &b[0] } else { &b[1] };
                self.set(node, 0, vec![m.clone(), n.clone()]);
            }
            "MatMul" => {
                let (a, b) = (self.input(node, 0)?.clone(), self.input(node, 1)?.clone());
                if a.is_empty() || b.is_empty() {
                    return Err("MatMul takes tensors of rank ≥ 1".into());
                }
                // numpy.matmul: 1-D operands gain a dim that is removed again.
                let a2 = if a.len() == 1 {
                    vec![Dim::Known(1), a[0].clone()]
                } else {
                    a.clone()
                };
                let b2 = if b.len() == 1 {
                    vec![b[0].clone(), Dim::Known(1)]
                } else {
                    b.clone()
                };
                let mut out = broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
                if a.len() > 1 {
                    out.push(a2[a2.len() - 2].clone());
                }
                if b.len() > 1 {
                    out.push(b2[b2.len() - 1].clone());
                }
                self.set(node, 0, out);
            }
            "BatchNormalization"
            | "InstanceNormalization"
            | "LayerNormalization"
            | "Relu"
            | "Sigmoid"
            | "Tanh"
            | "Clip"
            | "LeakyRelu"
            | "PRelu"
            | "HardSigmoid"
            | "HardSwish"
            | "Swish"
            | "Elu"
            | "Selu"
            | "Celu"
            | "Softplus"
            | "Softsign"
            | "Mish"
            | "Gelu"
            | "Erf"
            | "Exp"
            | "Log"
            | "Neg"
            | "Abs"
            | "Sqrt"
            | "Reciprocal"
            | "Floor"
            | "Ceil"
            | "Round"
            | "Softmax"
            | "LogSoftmax" => {
                let x = self.input(node, 0)?.clone();
                self.set(node, 0, x);
            }
            "Identity" | "Dropout" | "Cast" => {
                let x = self.input(node, 0)?.clone();
                self.copy_ints(node);
                self.set(node, 0, x);
            }
            "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "Where"
            | "Equal" | "Less" | "Greater" | "And" | "Or" => {
                let mut out = self.input(node, 0)?.clone();
                for i in 1..node.input.len() {
                    out = broadcast(&out, self.input(node, i)?)?;
                }
                self.set(node, 0, out);
            }
            "MaxPool" | "AveragePool" | "LpPool" => {
                let x = self.input(node, 0)?.clone();
                let kernel = int_list_attr(node, "kernel_shape").ok_or("no kernel_shape")?;
                let out = window_output(node, &x, &kernel, None)?;
                self.set(node, 0, out);
            }
            "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
                let x = self.input(node, 0)?.clone();
                if x.len() < 2 {
                    return Err(format!("input of rank {} has no channels", x.len()));
                }
                let mut out = x[..2].to_vec();
                out.resize(x.len(), Dim::Known(1));
                self.set(node, 0, out);
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
            | "ReduceL1" | "ReduceSumSquare" | "ReduceLogSumExp" => {
                let x = self.input(node, 0)?.clone();
                // Axes are an attribute before opset 18 (13 for ReduceSum), an
                // input from then on.
                let axes = match int_list_attr(node, "axes") {
                    Some(a) => a,
                    None => match self.ints_of(node, 1) {
                        Some(a) => a.clone(),
                        None if node.input.get(1).is_some_and(|n| !n.is_empty()) => {
                            return Err("its axes are not constant".into());
                        }
                        None => vec![],
                    },
                };
                let keep = int_attr(node, "keepdims").unwrap_or(1) != 0;
                let noop = int_attr(node, "noop_with_empty_axes").unwrap_or(0) != 0;
                let axes: Vec<usize> = if axes.is_empty() {
                    if noop { vec![] } else { (0..x.len()).collect() }
                } else {
                    axes.iter()
                        .map(|&a| axis(a, x.len()))
                        .collect::<Result<_, _>>()?
                };
                let mut out = vec![];
                for (i, d) in x.iter().enumerate() {
                    if !axes.contains(&i) {
                        out.push(d.clone());
                    } else if keep {
                        out.push(Dim::Known(1));
                    }
                }
                self.set(node, 0, out);
            }
            "Flatten" => {
                let x = self.input(node, 0)?.clone();
                let a = if x.is_empty() {
                    0
                } else {
                    axis(int_attr(node, "axis").unwrap_or(1), x.len() + 1)?
                };
                let a = a.min(x.len());
                self.set(node, 0, vec![product(&x[..a]), product(&x[a..])]);
            }
            "Reshape" => {
                let x = self.input(node, 0)?.clone();
                let target = self
                    .ints_of(node, 1)
                    .cloned()
                    .ok_or("its target shape is not constant")?;
                let allow_zero = int_attr(node, "allowzero").unwrap_or(0) != 0;
                let out = reshape(&x, &target, allow_zero)?;
                self.copy_ints(node);
                self.set(node, 0, out);
            }
            "Transpose" => {
                let x = self.input(node, 0)?.clone();
                let perm = int_list_attr(node, "perm")
                    .unwrap_or_else(|| (0..x.len() as i64).rev().collect::<Vec<_>>());
                let out = perm
                    .iter()
                    .map(|&p| {
                        usize::try_from(p)
                            .ok()
                            .and_then(|p| x.get(p).cloned())
                            .ok_or("perm is out of range")
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.set(node, 0, out);
            }
            "Concat" => {
                let first = self.input(node, 0)?.clone();
                let a = axis(int_attr(node, "axis").ok_or("no axis")?, first.len())?;
                let mut out = first;
                let mut ints = self.ints_of(node, 0).cloned();
                for i in 1..node.input.len() {
                    let s = self.input(node, i)?;
                    if s.len() != out.len() {
                        return Err("inputs of different ranks".into());
                    }
                    out[a] = match (&out[a], &s[a]) {
                        (Dim::Known(p), Dim::Known(q)) => Dim::Known(p + q),
                        _ => Dim::Unknown,
                    };
                    ints = match (ints, self.ints_of(node, i)) {
                        (Some(mut v), Some(w)) => {
                            v.extend(w);
                            Some(v)
                        }
                        _ => None,
                    };
                }
                match ints {
                    Some(v) if out.len() == 1 => self.set_ints(node, v),
                    _ => self.set(node, 0, out),
                }
            }
            "Split" => {
                let x = self.input(node, 0)?.clone();
                let a = axis(int_attr(node, "axis").unwrap_or(0), x.len())?;
                let n = node.output.len();
                let sizes: Vec<Dim> = match int_list_attr(node, "split")
                    .filter(|s| !s.is_empty())
                    .or_else(|| self.ints_of(node, 1).cloned())
                {
                    Some(s) => s.iter().map(|&v| Dim::Known(v.max(0))).collect(),
                    None => {
                        // Equal parts; from opset 18 the last may be smaller.
                        let parts = int_attr(node, "num_outputs").map_or(n as i64, |v| v);
                        match known(&x[a]) {
                            Some(len) => {
                                let each = (len + parts.max(1) - 1) / parts.max(1);
                                (0..parts)
                                    .map(|i| Dim::Known(each.min((len - i * each).max(0))))
                                    .collect()
                            }
                            None => vec![Dim::Unknown; parts.max(0) as usize],
                        }
                    }
                };
                for (i, s) in sizes.into_iter().enumerate() {
                    let mut out = x.clone();
                    out[a] = s;
                    self.set(node, i, out);
                }
            }
            "Squeeze" | "Unsqueeze" => {
                let x = self.input(node, 0)?.clone();
                // Axes are an attribute before opset 13, an input from then on.
                let axes = int_list_attr(node, "axes").or_else(|| self.ints_of(node, 1).cloned());
                let out = if op == "Squeeze" {
                    match axes {
                        Some(axes) => {
                            let axes: Vec<usize> = axes
                                .iter()
                                .map(|&a| axis(a, x.len()))
                                .collect::<Result<_, _>>()?;
                            x.iter()
                                .enumerate()
                                .filter(|(i, _)| !axes.contains(i))
                                .map(|(_, d)| d.clone())
                                .collect()
                        }
                        None if x.iter().all(|d| known(d).is_some()) => {
                            x.iter().filter(|d| **d != Dim::Known(1)).cloned().collect()
                        }
                        None => return Err("it squeezes dims whose sizes are unknown".into()),
                    }
                } else {
                    let axes = axes.ok_or("its axes are not constant")?;
                    let rank = x.len() + axes.len();
                    let axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| axis(a, rank))
                        .collect::<Result<_, _>>()?;
                    let mut rest = x.iter();
                    (0..rank)
                        .map(|i| {
                            if axes.contains(&i) {
                                Dim::Known(1)
                            } else {
                                rest.next().cloned().unwrap_or(Dim::Known(1))
                            }
                        })
                        .collect()
                };
                self.copy_ints(node);
                self.set(node, 0, out);
            }
            "Shape" => {
                let x = self.input(node, 0)?.clone();
                let r = x.len() as i64;
                let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
                let start = clamp(int_attr(node, "start").unwrap_or(0)) as usize;
                let end = clamp(int_attr(node, "end").unwrap_or(r)) as usize;
                let dims = &x[start..end.max(start)];
                match dims.iter().map(known).collect::<Option<Vec<i64>>>() {
                    Some(values) => self.set_ints(node, values),
                    None => self.set(node, 0, vec![Dim::Known(dims.len() as i64)]),
                }
            }
            "Gather" => {
                let x = self.input(node, 0)?.clone();
                let i = self.input(node, 1)?.clone();
                let a = axis(int_attr(node, "axis").unwrap_or(0), x.len())?;
                let mut out = x[..a].to_vec();
                out.extend(i);
                out.extend_from_slice(&x[a + 1..]);
                if let (Some(data), Some(index)) = (self.ints_of(node, 0), self.ints_of(node, 1))
                    && x.len() == 1
                {
                    let n = data.len() as i64;
                    let values: Option<Vec<i64>> = index
                        .iter()
                        .map(|&k| {
                            let k = if k < 0 { k + n } else { k };
                            usize::try_from(k).ok().and_then(|k| data.get(k).copied())
                        })
                        .collect();
                    if let (Some(v), Some(out)) = (values, node.output.first()) {
                        self.ints.insert(out.clone(), v);
                    }
                }
                self.set(node, 0, out);
            }
            "Constant" => {
                let t = attr(node, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or("only `value` constants are understood")?;
                if let Some(name) = node.output.first() {
                    self.add_tensor(name, t);
                }
            }
            "If" | "Loop" | "Scan" => return Err("ops with subgraphs are not followed".into()),
            _ => return Err("op not known to the shape inference".into()),
        }
        Ok(())
    }
}

/// The size of a dim, when known.
pub fn known(d: &Dim) -> Option<i64> {
    match d {
        Dim::Known(v) => Some(*v),
        _ => None,
    }
}

/// The product of `dims`, unknown unless every one is known.
fn product(dims: &[Dim]) -> Dim {
    dims.iter()
        .map(known)
        .try_fold(1i64, |acc, d| acc.checked_mul(d?))
        .map_or(Dim::Unknown, Dim::Known)
}

fn show(dims: &[Dim]) -> String {
    crate::model::facts::shape_string(dims)
}

/// Reads a small int tensor (int64 or int32, at most 64 values), raw or
/// typed: a shape, axes or pads.
fn int_values(t: &TensorProto) -> Option<Vec<i64>> {
    let count = element_count(&t.dims)?;
    if count > 64 {
        return None;
    }
    let values = crate::model::tensor::read_ints(t)?;
    (values.len() as u64 == count).then_some(values)
}

pub(crate) fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

pub(crate) fn int_list_attr(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

pub(crate) fn int_attr(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).and_then(|a| a.i)
}

/// A possibly negative axis of a rank-`rank` tensor.
fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}

/// numpy broadcasting of two shapes. A dim of 1 yields to the other; equal
/// known dims or equal symbols stay; a known dim other than 1 against one
/// not known is that dim (the other must be 1 or the same); anything else
/// is unknown.
fn broadcast(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    let rank = a.len().max(b.len());
    let dim = |s: &[Dim], i: usize| {
        let pad = rank - s.len();
        if i < pad {
            Dim::Known(1)
        } else {
            s[i - pad].clone()
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y && x != Dim::Unknown => Ok(x),
            (Dim::Known(1), y) => Ok(y),
            (x, Dim::Known(1)) => Ok(x),
            (Dim::Known(x), Dim::Known(y)) => Err(format!(
                "shapes {} and {} do not broadcast ({x} against {y})",
                show(a),
                show(b)
            )),
            (Dim::Known(x), _) | (_, Dim::Known(x)) => Ok(Dim::Known(x)),
            _ => Ok(Dim::Unknown),
        })
        .collect()
}

/// The output shape of a windowed op (Conv, pooling) under ONNX's pads,
/// strides, dilations, `auto_pad` and `ceil_mode`; a spatial dim not known
/// gives an unknown output dim.
pub(crate) fn window_output(
    node: &NodeProto,
    x: &[Dim],
    kernel: &[i64],
    channels: Option<Dim>,
) -> Result<Vec<Dim>, String> {
    let k = kernel.len();
    if x.len() != k + 2 {
        return Err(format!("input {} does not fit a {k}-d kernel", show(x)));
    }
    let strides = int_list_attr(node, "strides").unwrap_or_else(|| vec![1; k]);
    let dilations = int_list_attr(node, "dilations").unwrap_or_else(|| vec![1; k]);
    let pads = int_list_attr(node, "pads").unwrap_or_else(|| vec![0; 2 * k]);
    let auto_pad = attr(node, "auto_pad")
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let ceil = int_attr(node, "ceil_mode").unwrap_or(0) != 0;
    if strides.len() != k || dilations.len() != k || pads.len() != 2 * k {
        return Err("strides, dilations or pads do not match the kernel".into());
    }
    let mut out = vec![x[0].clone(), channels.unwrap_or_else(|| x[1].clone())];
    for i in 0..k {
        let Some(input) = known(&x[i + 2]) else {
            out.push(Dim::Unknown);
            continue;
        };
        let s = strides[i].max(1);
        let extent = dilations[i] * (kernel[i] - 1) + 1;
        let o = match auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => (input + s - 1) / s,
            "VALID" => (input - extent) / s + 1,
            _ => {
                let span = input + pads[i] + pads[i + k] - extent;
                if ceil {
                    // The last window must start inside the input or left pad.
                    let mut o = (span + s - 1) / s + 1;
                    if (o - 1) * s >= input + pads[i] {
                        o -= 1;
                    }
                    o
                } else {
                    span.div_euclid(s) + 1
                }
            }
        };
        if o <= 0 {
            return Err(format!("the window does not fit input {}", show(x)));
        }
        out.push(Dim::Known(o));
    }
    Ok(out)
}

/// Reshape's output: `0` copies the input dim (unless `allowzero`), `-1`
/// takes what is left (unknown unless every other size is known).
pub(crate) fn reshape(x: &[Dim], target: &[i64], allow_zero: bool) -> Result<Vec<Dim>, String> {
    let mut out: Vec<Dim> = vec![];
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(Dim::Known(1));
            }
            0 if !allow_zero => out.push(
                x.get(i)
                    .cloned()
                    .ok_or("0 copies a dim that is not there")?,
            ),
            t if t >= 0 => out.push(Dim::Known(t)),
            _ => return Err(format!("invalid target {target:?}")),
        }
    }
    let total = product(x);
    let rest = product(&out);
    match (infer, known(&total), known(&rest)) {
        (Some(i), Some(total), Some(rest)) => {
            if rest == 0 || total % rest != 0 {
                return Err(format!("cannot reshape {} to {target:?}", show(x)));
            }
            out[i] = Dim::Known(total / rest);
        }
        (Some(i), _, _) => out[i] = Dim::Unknown,
        (None, Some(total), Some(rest)) if total != rest => {
            return Err(format!("cannot reshape {} to {target:?}", show(x)));
        }
        (None, _, _) => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(v: &[i64]) -> Vec<Dim> {
        v.iter().map(|&d| Dim::Known(d)).collect()
    }

    #[test]
    fn unknown_sizes_keep_the_rank() {
        let n = Dim::Symbol("N".into());
        let x = vec![n.clone(), Dim::Known(8), Dim::Unknown, Dim::Unknown];
        assert_eq!(
            reshape(&x, &[0, -1], false).unwrap(),
            vec![n.clone(), Dim::Unknown]
        );
        assert_eq!(
            reshape(&k(&[2, 3, 4]), &[0, -1], false).unwrap(),
            k(&[2, 12])
        );
        assert!(reshape(&k(&[2, 3, 4]), &[5, -1], false).is_err());
        assert_eq!(
            broadcast(&x, &k(&[1, 8, 1, 1])).unwrap(),
            vec![n, Dim::Known(8), Dim::Unknown, Dim::Unknown]
        );
        assert!(broadcast(&k(&[2, 3]), &k(&[4, 3])).is_err());
    }

    #[test]
    fn window_output_follows_onnx() {
        let int = |name: &str, v: i64| AttributeProto {
            name: Some(name.into()),
            i: Some(v),
            ..Default::default()
        };
        let ints = |name: &str, v: &[i64]| AttributeProto {
            name: Some(name.into()),
            ints: v.to_vec(),
            ..Default::default()
        };
        let pool = NodeProto {
            op_type: Some("MaxPool".into()),
            attribute: vec![
                ints("kernel_shape", &[3, 3]),
                ints("strides", &[2, 2]),
                int("ceil_mode", 1),
            ],
            ..Default::default()
        };
        // floor((112 − 3)/2) + 1 = 55; ceil mode: 56.
        assert_eq!(
            window_output(&pool, &k(&[1, 4, 112, 112]), &[3, 3], None).unwrap(),
            k(&[1, 4, 56, 56])
        );
        let x = [Dim::Known(1), Dim::Known(4), Dim::Unknown, Dim::Known(112)];
        assert_eq!(
            window_output(&pool, &x, &[3, 3], None).unwrap(),
            vec![Dim::Known(1), Dim::Known(4), Dim::Unknown, Dim::Known(56)]
        );
    }
}
