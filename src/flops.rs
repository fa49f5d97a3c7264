//! Parameter and multiply-add counts, for `inspect --flops`.
//!
//! In run order: the graph inputs' shapes are made concrete (symbolic dims
//! from `--dim NAME=VALUE`, otherwise taken as 1 and reported; a dim with
//! neither value nor name is called `INPUT[AXIS]`), a small
//! static shape inference walks the main graph's nodes in order, and each
//! node's cost is counted from the shapes it sees:
//!
//! - **multiply-adds** for `Conv` (grouped and depthwise: `N·M·out·(C/g)·k`),
//!   `Gemm`, `MatMul` and the two 1×1 convolutions inside `acon::MetaAconC`.
//!   Their sum is what papers call FLOPs (the ACON paper's table counts
//!   multiply-adds at 224×224);
//! - **element-wise** ops, one per output element (BatchNormalization,
//!   activations, ACON ops, arithmetic with broadcasting);
//! - **pooling and reductions**: a window op costs its window per output,
//!   a global pool or `ReduceMean` one per input element.
//!
//! Shape-only ops (Reshape, Transpose, Flatten, Concat, Split, …) cost
//! nothing. An op this module does not know, or whose input shapes are
//! unknown, is listed as *not counted* instead of failing the report.
//!
//! Parameters are the float initializers, less BatchNorm running statistics
//! (PyTorch counts those as buffers, not parameters, and so do papers);
//! int initializers (shapes, axes) are reported as constants.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::facts::{Dim, value_info_shape};
use crate::model::tensor::{FloatType, element_count};
use crate::ops::{self, LocalFunctions};
use crate::passes::{ConvertOptions, is_default_domain};
use crate::proto::{AttributeProto, DataType, ModelProto, NodeProto, TensorProto};

/// What the count found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FlopsReport {
    /// The graph inputs' shapes as counted.
    pub inputs: Vec<NamedShape>,
    /// The graph outputs' inferred shapes (absent where unknown).
    pub outputs: Vec<NamedShape>,
    /// Symbolic dims and the values used for them.
    pub dims: Vec<DimValue>,
    /// Learnable parameters: float initializers less BatchNorm statistics.
    pub parameters: u64,
    /// BatchNorm running means and variances.
    pub statistics: u64,
    /// Elements of non-float initializers (shapes, axes, indices).
    pub constants: u64,
    /// Conv, Gemm, MatMul and Meta-ACON's 1×1 convs: the headline FLOPs.
    pub multiply_adds: u64,
    pub matrix_ops: Vec<OpCost>,
    pub elementwise_ops: u64,
    pub elementwise: Vec<OpCost>,
    pub pooling_ops: u64,
    pub pooling: Vec<OpCost>,
    pub not_counted: Vec<NotCounted>,
}

/// A graph input or output and its shape (absent where unknown).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NamedShape {
    pub name: String,
    pub shape: Option<Vec<usize>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DimValue {
    pub name: String,
    pub value: usize,
    /// True when no `--dim` set it and 1 was assumed.
    pub assumed: bool,
}

/// The cost of all nodes of one op type.
#[derive(Debug, Clone, Serialize)]
pub struct OpCost {
    pub domain: String,
    pub op_type: String,
    pub nodes: usize,
    pub count: u64,
    /// Parameters among the nodes' inputs (BatchNorm statistics excluded).
    pub parameters: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotCounted {
    pub domain: String,
    pub op_type: String,
    pub nodes: usize,
    pub reason: String,
}

/// Counts the parameters and operations of `model`'s main graph, with the
/// symbolic dims of `dims` set.
pub fn count(
    model: &ModelProto,
    dims: &BTreeMap<String, usize>,
    options: &ConvertOptions,
) -> FlopsReport {
    let mut report = FlopsReport::default();
    let Some(graph) = model.graph.as_ref() else {
        return report;
    };
    let functions = LocalFunctions::of(model);

    // Parameters, by role.
    let mut statistics: HashSet<&str> = HashSet::new();
    for node in &graph.node {
        let positions: &[usize] = match (node.op_type(), is_default_domain(node.domain())) {
            ("BatchNormalization", true) => &[3, 4],
            ("MetaAconC", false) if is_acon(node, options, &functions) => &[9, 10, 13, 14],
            _ => &[],
        };
        for &i in positions {
            if let Some(name) = node.input.get(i) {
                statistics.insert(name);
            }
        }
    }
    let mut sizes: HashMap<&str, u64> = HashMap::new();
    for t in &graph.initializer {
        let n = element_count(&t.dims).unwrap_or(0);
        if FloatType::from_onnx(t.data_type()).is_none() {
            report.constants += n;
        } else if statistics.contains(t.name()) {
            report.statistics += n;
        } else {
            report.parameters += n;
            sizes.insert(t.name(), n);
        }
    }

    // Shapes of the graph inputs and initializers.
    let mut env = Env::default();
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name()).collect();
    let mut symbols: BTreeMap<String, DimValue> = BTreeMap::new();
    for vi in graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name()))
    {
        let Some(shape) = value_info_shape(vi) else {
            continue;
        };
        let mut concrete = vec![];
        for (axis, d) in shape.iter().enumerate() {
            concrete.push(match d {
                Dim::Known(v) => (*v).max(0) as usize,
                Dim::Symbol(s) => {
                    let entry = symbols.entry(s.clone()).or_insert_with(|| DimValue {
                        name: s.clone(),
                        value: dims.get(s).copied().unwrap_or(1),
                        assumed: !dims.contains_key(s),
                    });
                    entry.value
                }
                Dim::Unknown => {
                    let name = format!("{}[{axis}]", vi.name());
                    let entry = symbols.entry(name.clone()).or_insert_with(|| DimValue {
                        name: name.clone(),
                        value: dims.get(&name).copied().unwrap_or(1),
                        assumed: !dims.contains_key(&name),
                    });
                    entry.value
                }
            });
        }
        report.inputs.push(NamedShape {
            name: vi.name().to_owned(),
            shape: Some(concrete.clone()),
        });
        env.shapes.insert(vi.name().to_owned(), concrete);
    }
    report.dims = symbols.into_values().collect();
    for t in &graph.initializer {
        env.add_tensor(t.name(), t);
    }

    let mut matrix: BTreeMap<(String, String), OpCost> = BTreeMap::new();
    let mut elementwise: BTreeMap<(String, String), OpCost> = BTreeMap::new();
    let mut pooling: BTreeMap<(String, String), OpCost> = BTreeMap::new();
    let mut skipped: BTreeMap<(String, String), NotCounted> = BTreeMap::new();
    for node in &graph.node {
        let domain = if is_default_domain(node.domain()) {
            "ai.onnx".to_owned()
        } else {
            node.domain().to_owned()
        };
        let key = (domain.clone(), node.op_type().to_owned());
        let params: u64 = node
            .input
            .iter()
            .filter_map(|i| sizes.get(i.as_str()))
            .sum();
        match infer(node, &mut env, is_acon(node, options, &functions)) {
            Ok(cost) => {
                let table = match cost {
                    Cost::Free => continue,
                    Cost::MultiplyAdds(_) => &mut matrix,
                    Cost::Elementwise(_) => &mut elementwise,
                    Cost::Pooling(_) => &mut pooling,
                };
                let entry = table.entry(key).or_insert_with(|| OpCost {
                    domain: domain.clone(),
                    op_type: node.op_type().to_owned(),
                    nodes: 0,
                    count: 0,
                    parameters: 0,
                });
                entry.nodes += 1;
                entry.count += cost.amount();
                entry.parameters += params;
            }
            Err(reason) => {
                skipped
                    .entry(key)
                    .or_insert_with(|| NotCounted {
                        domain: domain.clone(),
                        op_type: node.op_type().to_owned(),
                        nodes: 0,
                        reason,
                    })
                    .nodes += 1;
            }
        }
        // MetaAconC also pools and works element-wise; book those parts
        // where the decomposed form's ReduceMean and Mul/Sigmoid would go.
        for (extra, what) in std::mem::take(&mut env.extra_costs) {
            let table = match extra {
                Cost::Elementwise(_) => &mut elementwise,
                Cost::Pooling(_) => &mut pooling,
                Cost::MultiplyAdds(_) | Cost::Free => &mut matrix,
            };
            let op_type = format!("{} ({what})", node.op_type());
            let entry = table
                .entry((domain.clone(), op_type.clone()))
                .or_insert_with(|| OpCost {
                    domain: domain.clone(),
                    op_type,
                    nodes: 0,
                    count: 0,
                    parameters: 0,
                });
            entry.nodes += 1;
            entry.count += extra.amount();
        }
    }
    report.matrix_ops = matrix.into_values().collect();
    report.elementwise = elementwise.into_values().collect();
    report.pooling = pooling.into_values().collect();
    report.not_counted = skipped.into_values().collect();
    report.multiply_adds = report.matrix_ops.iter().map(|o| o.count).sum();
    report.elementwise_ops = report.elementwise.iter().map(|o| o.count).sum();
    report.pooling_ops = report.pooling.iter().map(|o| o.count).sum();
    report.outputs = graph
        .output
        .iter()
        .map(|o| NamedShape {
            name: o.name().to_owned(),
            shape: env.shapes.get(o.name()).cloned(),
        })
        .collect();
    report
}

/// An ACON custom op, or a call to a function named after one (counted as
/// the op it stands for).
fn is_acon(node: &NodeProto, options: &ConvertOptions, functions: &LocalFunctions) -> bool {
    ops::classify(node, functions, options)
        .acon_kind(node)
        .is_some()
}

/// What is known while walking the graph: shapes, and the values of small
/// int tensors (for Reshape targets, axes and the Shape→Gather→Concat
/// chains PyTorch exports for `x.view(x.size(0), -1)`).
#[derive(Default)]
struct Env {
    shapes: HashMap<String, Vec<usize>>,
    ints: HashMap<String, Vec<i64>>,
    /// Costs of the last node beyond its main one, with a label.
    extra_costs: Vec<(Cost, &'static str)>,
}

impl Env {
    fn add_tensor(&mut self, name: &str, t: &TensorProto) {
        let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
        self.shapes.insert(name.to_owned(), dims);
        if let Some(values) = int_values(t) {
            self.ints.insert(name.to_owned(), values);
        }
    }

    fn shape(&self, node: &NodeProto, i: usize) -> Result<&Vec<usize>, String> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("input {i} is missing"))?;
        self.shapes
            .get(name)
            .ok_or_else(|| format!("the shape of `{name}` is unknown"))
    }

    fn ints_of(&self, node: &NodeProto, i: usize) -> Option<&Vec<i64>> {
        node.input
            .get(i)
            .filter(|n| !n.is_empty())
            .and_then(|n| self.ints.get(n))
    }

    fn set(&mut self, node: &NodeProto, i: usize, shape: Vec<usize>) {
        if let Some(name) = node.output.get(i).filter(|n| !n.is_empty()) {
            self.shapes.insert(name.clone(), shape);
        }
    }

    fn set_ints(&mut self, node: &NodeProto, values: Vec<i64>) {
        if let Some(name) = node.output.first() {
            self.shapes.insert(name.clone(), vec![values.len()]);
            self.ints.insert(name.clone(), values);
        }
    }
}

/// Reads a small int tensor (int64 or int32), raw or typed.
fn int_values(t: &TensorProto) -> Option<Vec<i64>> {
    let count = element_count(&t.dims)? as usize;
    if count > 64 {
        return None;
    }
    let ty = DataType::try_from(t.data_type()).ok()?;
    let values: Vec<i64> = match (ty, &t.raw_data) {
        (DataType::Int64, Some(raw)) => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        (DataType::Int32, Some(raw)) => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
            .collect(),
        (DataType::Int64, None) => t.int64_data.clone(),
        (DataType::Int32, None) => t.int32_data.iter().map(|&v| v as i64).collect(),
        _ => return None,
    };
    (values.len() == count).then_some(values)
}

enum Cost {
    Free,
    MultiplyAdds(u64),
    Elementwise(u64),
    Pooling(u64),
}

impl Cost {
    fn amount(&self) -> u64 {
        match self {
            Cost::Free => 0,
            Cost::MultiplyAdds(n) | Cost::Elementwise(n) | Cost::Pooling(n) => *n,
        }
    }
}

fn numel(shape: &[usize]) -> u64 {
    shape.iter().map(|&d| d as u64).product()
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
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

fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    crate::model::tensor::broadcast_shape(a, b)
        .ok_or_else(|| format!("shapes {a:?} and {b:?} do not broadcast"))
}

/// Infers the node's output shapes into `env` and returns its cost.
fn infer(node: &NodeProto, env: &mut Env, acon: bool) -> Result<Cost, String> {
    if acon {
        return acon_op(node, env);
    }
    if !is_default_domain(node.domain()) {
        return Err(format!("domain `{}` is not known", node.domain()));
    }
    let op = node.op_type();
    match op {
        "Conv" => conv(node, env),
        "Gemm" => {
            let (a, b) = (env.shape(node, 0)?.clone(), env.shape(node, 1)?.clone());
            if a.len() != 2 || b.len() != 2 {
                return Err("Gemm takes 2-D inputs".into());
            }
            let ta = attr_int(node, "transA").unwrap_or(0) != 0;
            let tb = attr_int(node, "transB").unwrap_or(0) != 0;
            let (m, k) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
            let n = if tb { b[0] } else { b[1] };
            env.set(node, 0, vec![m, n]);
            Ok(Cost::MultiplyAdds((m * n * k) as u64))
        }
        "MatMul" => {
            let (a, b) = (env.shape(node, 0)?.clone(), env.shape(node, 1)?.clone());
            if a.is_empty() || b.is_empty() {
                return Err("MatMul takes tensors of rank ≥ 1".into());
            }
            // numpy.matmul: 1-D operands gain a dim that is removed again.
            let a2 = if a.len() == 1 {
                vec![1, a[0]]
            } else {
                a.clone()
            };
            let b2 = if b.len() == 1 {
                vec![b[0], 1]
            } else {
                b.clone()
            };
            let k = a2[a2.len() - 1];
            let batch = broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
            let mut out = batch;
            if a.len() > 1 {
                out.push(a2[a2.len() - 2]);
            }
            if b.len() > 1 {
                out.push(b2[b2.len() - 1]);
            }
            let macs = numel(&out) * k as u64;
            env.set(node, 0, out);
            Ok(Cost::MultiplyAdds(macs))
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
            let x = env.shape(node, 0)?.clone();
            let n = numel(&x);
            env.set(node, 0, x);
            Ok(Cost::Elementwise(n))
        }
        "Identity" | "Dropout" | "Cast" => {
            let x = env.shape(node, 0)?.clone();
            if let Some(v) = env.ints_of(node, 0).cloned() {
                env.ints.insert(node.output[0].clone(), v);
            }
            env.set(node, 0, x);
            Ok(Cost::Free)
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "Where"
        | "Equal" | "Less" | "Greater" | "And" | "Or" => {
            let mut out = env.shape(node, 0)?.clone();
            for i in 1..node.input.len() {
                out = broadcast(&out, env.shape(node, i)?)?;
            }
            let n = numel(&out);
            env.set(node, 0, out);
            Ok(Cost::Elementwise(n))
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            let x = env.shape(node, 0)?.clone();
            let kernel = attr_ints(node, "kernel_shape").ok_or("no kernel_shape")?;
            let out = window_output(node, &x, &kernel, None)?;
            let window: u64 = kernel.iter().map(|&k| k as u64).product();
            let n = numel(&out) * window;
            env.set(node, 0, out);
            Ok(Cost::Pooling(n))
        }
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
            let x = env.shape(node, 0)?.clone();
            if x.len() < 2 {
                return Err(format!("input of rank {} has no channels", x.len()));
            }
            let mut out = x[..2].to_vec();
            out.resize(x.len(), 1);
            env.set(node, 0, out);
            Ok(Cost::Pooling(numel(&x)))
        }
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2"
        | "ReduceL1" | "ReduceSumSquare" | "ReduceLogSumExp" => {
            let x = env.shape(node, 0)?.clone();
            // Axes are an attribute before opset 18 (13 for ReduceSum), an
            // input from then on.
            let axes = match attr_ints(node, "axes") {
                Some(a) => a,
                None => match env.ints_of(node, 1) {
                    Some(a) => a.clone(),
                    None if node.input.get(1).is_some_and(|n| !n.is_empty()) => {
                        return Err("its axes are not constant".into());
                    }
                    None => vec![],
                },
            };
            let keep = attr_int(node, "keepdims").unwrap_or(1) != 0;
            let noop = attr_int(node, "noop_with_empty_axes").unwrap_or(0) != 0;
            let axes: Vec<usize> = if axes.is_empty() {
                if noop { vec![] } else { (0..x.len()).collect() }
            } else {
                axes.iter()
                    .map(|&a| axis(a, x.len()))
                    .collect::<Result<_, _>>()?
            };
            let mut out = vec![];
            for (i, &d) in x.iter().enumerate() {
                if !axes.contains(&i) {
                    out.push(d);
                } else if keep {
                    out.push(1);
                }
            }
            env.set(node, 0, out);
            Ok(Cost::Pooling(numel(&x)))
        }
        "Flatten" => {
            let x = env.shape(node, 0)?.clone();
            let a = if x.is_empty() {
                0
            } else {
                axis(attr_int(node, "axis").unwrap_or(1), x.len() + 1)?
            };
            let out = vec![
                numel(&x[..a.min(x.len())]) as usize,
                numel(&x[a.min(x.len())..]) as usize,
            ];
            env.set(node, 0, out);
            Ok(Cost::Free)
        }
        "Reshape" => {
            let x = env.shape(node, 0)?.clone();
            let target = env
                .ints_of(node, 1)
                .cloned()
                .ok_or("its target shape is not constant")?;
            let allow_zero = attr_int(node, "allowzero").unwrap_or(0) != 0;
            let out = reshape(&x, &target, allow_zero)?;
            if let Some(v) = env.ints_of(node, 0).cloned() {
                env.ints.insert(node.output[0].clone(), v);
            }
            env.set(node, 0, out);
            Ok(Cost::Free)
        }
        "Transpose" => {
            let x = env.shape(node, 0)?.clone();
            let perm = attr_ints(node, "perm")
                .unwrap_or_else(|| (0..x.len() as i64).rev().collect::<Vec<_>>());
            let out = perm
                .iter()
                .map(|&p| x.get(p as usize).copied().ok_or("perm is out of range"))
                .collect::<Result<Vec<_>, _>>()?;
            env.set(node, 0, out);
            Ok(Cost::Free)
        }
        "Concat" => {
            let first = env.shape(node, 0)?.clone();
            let a = axis(attr_int(node, "axis").ok_or("no axis")?, first.len())?;
            let mut out = first;
            let mut ints = env.ints_of(node, 0).cloned();
            for i in 1..node.input.len() {
                let s = env.shape(node, i)?;
                if s.len() != out.len() {
                    return Err("inputs of different ranks".into());
                }
                out[a] += s[a];
                ints = match (ints, env.ints_of(node, i)) {
                    (Some(mut v), Some(w)) => {
                        v.extend(w);
                        Some(v)
                    }
                    _ => None,
                };
            }
            match ints {
                Some(v) if out.len() == 1 => env.set_ints(node, v),
                _ => env.set(node, 0, out),
            }
            Ok(Cost::Free)
        }
        "Split" => {
            let x = env.shape(node, 0)?.clone();
            let a = axis(attr_int(node, "axis").unwrap_or(0), x.len())?;
            let n = node.output.len();
            let sizes: Vec<usize> = match attr_ints(node, "split")
                .filter(|s| !s.is_empty())
                .or_else(|| env.ints_of(node, 1).cloned())
            {
                Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
                None => {
                    // Equal parts; from opset 18 the last may be smaller.
                    let parts = attr_int(node, "num_outputs").map_or(n, |v| v as usize);
                    let each = x[a].div_ceil(parts.max(1));
                    (0..parts)
                        .map(|i| each.min(x[a].saturating_sub(i * each)))
                        .collect()
                }
            };
            for (i, &s) in sizes.iter().enumerate() {
                let mut out = x.clone();
                out[a] = s;
                env.set(node, i, out);
            }
            Ok(Cost::Free)
        }
        "Squeeze" | "Unsqueeze" => {
            let x = env.shape(node, 0)?.clone();
            // Axes are an attribute before opset 13, an input from then on.
            let axes = attr_ints(node, "axes").or_else(|| env.ints_of(node, 1).cloned());
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
                            .map(|(_, &d)| d)
                            .collect()
                    }
                    None => x.iter().copied().filter(|&d| d != 1).collect(),
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
                            1
                        } else {
                            rest.next().copied().unwrap_or(1)
                        }
                    })
                    .collect()
            };
            if let Some(v) = env.ints_of(node, 0).cloned() {
                env.ints.insert(node.output[0].clone(), v);
            }
            env.set(node, 0, out);
            Ok(Cost::Free)
        }
        "Shape" => {
            let x = env.shape(node, 0)?.clone();
            let r = x.len() as i64;
            let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
            let start = clamp(attr_int(node, "start").unwrap_or(0)) as usize;
            let end = clamp(attr_int(node, "end").unwrap_or(r)) as usize;
            let values = x[start..end.max(start)].iter().map(|&d| d as i64).collect();
            env.set_ints(node, values);
            Ok(Cost::Free)
        }
        "Gather" => {
            let x = env.shape(node, 0)?.clone();
            let i = env.shape(node, 1)?.clone();
            let a = axis(attr_int(node, "axis").unwrap_or(0), x.len())?;
            let mut out = x[..a].to_vec();
            out.extend(&i);
            out.extend(&x[a + 1..]);
            if let (Some(data), Some(index)) = (env.ints_of(node, 0), env.ints_of(node, 1))
                && x.len() == 1
            {
                let n = data.len() as i64;
                let values: Option<Vec<i64>> = index
                    .iter()
                    .map(|&k| data.get((if k < 0 { k + n } else { k }) as usize).copied())
                    .collect();
                if let Some(v) = values {
                    env.ints.insert(node.output[0].clone(), v);
                }
            }
            env.set(node, 0, out);
            Ok(Cost::Free)
        }
        "Constant" => {
            let t = attr(node, "value")
                .and_then(|a| a.t.as_ref())
                .ok_or("only `value` constants are understood")?;
            if let Some(name) = node.output.first() {
                env.add_tensor(name, t);
            }
            Ok(Cost::Free)
        }
        "If" | "Loop" | "Scan" => Err("ops with subgraphs are not counted".into()),
        _ => Err("op not known to the counter".into()),
    }
}

/// `acon::*` ops: the output has X's shape and costs one element-wise op per
/// element. MetaAconC's main cost is its two 1×1 convolutions on the pooled
/// `[N, C, 1, …]` tensor (multiply-adds); its mean over X and its
/// element-wise part are booked as extra costs.
fn acon_op(node: &NodeProto, env: &mut Env) -> Result<Cost, String> {
    let x = env.shape(node, 0)?.clone();
    let n = numel(&x);
    env.set(node, 0, x.clone());
    if node.op_type() != "MetaAconC" {
        return Ok(Cost::Elementwise(n));
    }
    let w1 = env.shape(node, 3)?;
    let (r, c) = (
        *w1.first().ok_or("W1 has no dims")?,
        *w1.get(1).ok_or("W1 has one dim")?,
    );
    let batch = *x.first().unwrap_or(&1) as u64;
    env.extra_costs = vec![
        (Cost::Pooling(n), "mean"),
        (Cost::Elementwise(n), "element-wise"),
    ];
    Ok(Cost::MultiplyAdds(2 * batch * (r * c) as u64))
}

/// Conv: `N·M·∏out·(C/g)·∏k` multiply-adds.
fn conv(node: &NodeProto, env: &mut Env) -> Result<Cost, String> {
    let x = env.shape(node, 0)?.clone();
    let w = env.shape(node, 1)?.clone();
    if x.len() < 3 || w.len() != x.len() {
        return Err(format!("input {x:?} and weight {w:?} do not fit"));
    }
    let kernel: Vec<i64> = attr_ints(node, "kernel_shape")
        .unwrap_or_else(|| w[2..].iter().map(|&d| d as i64).collect());
    let mut out = window_output(node, &x, &kernel, Some(w[0]))?;
    out[1] = w[0];
    let per_output: u64 = numel(&w[1..]);
    let macs = numel(&out) * per_output;
    env.set(node, 0, out);
    Ok(Cost::MultiplyAdds(macs))
}

/// The output shape of a windowed op (Conv, pooling) under ONNX's pads,
/// strides, dilations, `auto_pad` and `ceil_mode`.
fn window_output(
    node: &NodeProto,
    x: &[usize],
    kernel: &[i64],
    channels: Option<usize>,
) -> Result<Vec<usize>, String> {
    let k = kernel.len();
    if x.len() != k + 2 {
        return Err(format!("input {x:?} does not fit a {k}-d kernel"));
    }
    let strides = attr_ints(node, "strides").unwrap_or_else(|| vec![1; k]);
    let dilations = attr_ints(node, "dilations").unwrap_or_else(|| vec![1; k]);
    let pads = attr_ints(node, "pads").unwrap_or_else(|| vec![0; 2 * k]);
    let auto_pad = attr(node, "auto_pad")
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let ceil = attr_int(node, "ceil_mode").unwrap_or(0) != 0;
    if strides.len() != k || dilations.len() != k || pads.len() != 2 * k {
        return Err("strides, dilations or pads do not match the kernel".into());
    }
    let mut out = vec![x[0], channels.unwrap_or(x[1])];
    for i in 0..k {
        let input = x[i + 2] as i64;
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
            return Err(format!("the window does not fit input {x:?}"));
        }
        out.push(o as usize);
    }
    Ok(out)
}

/// Reshape's output: `0` copies the input dim (unless `allowzero`), `-1`
/// takes what is left.
fn reshape(x: &[usize], target: &[i64], allow_zero: bool) -> Result<Vec<usize>, String> {
    let total = numel(x);
    let mut out: Vec<usize> = vec![];
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allow_zero => out.push(*x.get(i).ok_or("0 copies a dim that is not there")?),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(format!("invalid target dim {t}")),
        }
    }
    let known = numel(&out);
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {x:?} to {target:?}"));
        }
        out[i] = (total / known) as usize;
    } else if known != total {
        return Err(format!("cannot reshape {x:?} to {target:?}"));
    }
    Ok(out)
}

/// `1234567` as `1.23M`.
pub fn human(n: u64) -> String {
    let v = n as f64;
    if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        n.to_string()
    }
}

impl FlopsReport {
    /// The report's text, indented to follow `inspect`'s.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let shapes: Vec<String> = self
            .inputs
            .iter()
            .map(|i| format!("{} {:?}", i.name, i.shape.as_deref().unwrap_or_default()))
            .collect();
        let _ = writeln!(s, "  FLOPs       at {}", shapes.join(", "));
        for d in &self.dims {
            let how = if d.assumed {
                " (assumed; set it with --dim)"
            } else {
                ""
            };
            let _ = writeln!(s, "    dim {} = {}{how}", d.name, d.value);
        }
        let line = |s: &mut String, label: &str, nodes: usize, count: u64, params: Option<u64>| {
            let params = params
                .map(|p| format!(", {} params", human(p)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "    {label:<22} {:>15} ({}) in {nodes} nodes{params}",
                count,
                human(count),
            );
        };
        for op in &self.matrix_ops {
            line(&mut s, &op.op_type, op.nodes, op.count, Some(op.parameters));
        }
        let _ = writeln!(
            s,
            "    {:<22} {:>15} ({})",
            "multiply-adds",
            self.multiply_adds,
            human(self.multiply_adds)
        );
        let breakdown = |ops: &[OpCost]| {
            ops.iter()
                .map(|o| format!("{} {}", o.op_type, human(o.count)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let nodes = |ops: &[OpCost]| ops.iter().map(|o| o.nodes).sum::<usize>();
        line(
            &mut s,
            "element-wise ops",
            nodes(&self.elementwise),
            self.elementwise_ops,
            None,
        );
        if !self.elementwise.is_empty() {
            let _ = writeln!(s, "      {}", breakdown(&self.elementwise));
        }
        line(
            &mut s,
            "pooling/reduce ops",
            nodes(&self.pooling),
            self.pooling_ops,
            None,
        );
        if !self.pooling.is_empty() {
            let _ = writeln!(s, "      {}", breakdown(&self.pooling));
        }
        for n in &self.not_counted {
            let _ = writeln!(
                s,
                "    not counted            {}::{} ({} nodes): {}",
                n.domain, n.op_type, n.nodes, n.reason
            );
        }
        for NamedShape { name, shape } in &self.outputs {
            let shape = shape
                .as_ref()
                .map(|d| format!("{d:?}"))
                .unwrap_or_else(|| "unknown".into());
            let _ = writeln!(s, "    output {name} {shape}");
        }
        let _ = writeln!(
            s,
            "    {:<22} {:>15} ({}), besides {} BatchNorm statistics and {} int constants",
            "parameters",
            self.parameters,
            human(self.parameters),
            self.statistics,
            self.constants
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tensor::{Array, float_tensor, int64_tensor};
    use crate::proto::{GraphProto, OperatorSetIdProto, ValueInfoProto};

    fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute: attrs,
            ..Default::default()
        }
    }

    fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            ints: v.to_vec(),
            ..Default::default()
        }
    }

    fn int(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            i: Some(v),
            ..Default::default()
        }
    }

    fn weight(name: &str, dims: &[usize]) -> TensorProto {
        let n = dims.iter().product();
        float_tensor(
            name,
            &Array {
                dims: dims.to_vec(),
                data: vec![0.5; n],
            },
            FloatType::F32,
        )
    }

    fn input(name: &str, dims: &[Dim]) -> ValueInfoProto {
        crate::model::build::tensor_value_info(name, DataType::Float as i32, dims)
    }

    /// x [N, 8, 10, 10] → dense 3×3 s2 p1 conv to 16 → BN → depthwise 3×3
    /// → grouped (4) 1×1 to 32 → channel shuffle → GAP → Flatten → Gemm 10
    /// → MatMul [10, 6].
    fn model() -> ModelProto {
        let nodes = vec![
            node(
                "Conv",
                &["x", "w1"],
                "c1",
                vec![
                    ints("strides", &[2, 2]),
                    ints("pads", &[1, 1, 1, 1]),
                    ints("kernel_shape", &[3, 3]),
                ],
            ),
            node(
                "BatchNormalization",
                &["c1", "s", "b", "m", "v"],
                "bn",
                vec![],
            ),
            node(
                "Conv",
                &["bn", "w2"],
                "c2",
                vec![int("group", 16), ints("pads", &[1, 1, 1, 1])],
            ),
            node("Conv", &["c2", "w3"], "c3", vec![int("group", 4)]),
            node("Reshape", &["c3", "split"], "r1", vec![]),
            node(
                "Transpose",
                &["r1"],
                "t",
                vec![ints("perm", &[0, 2, 1, 3, 4])],
            ),
            node("Reshape", &["t", "merged"], "r2", vec![]),
            node("GlobalAveragePool", &["r2"], "gap", vec![]),
            node("Flatten", &["gap"], "flat", vec![]),
            node("Gemm", &["flat", "fc", "fcb"], "g", vec![int("transB", 1)]),
            node("MatMul", &["g", "mm"], "y", vec![]),
        ];
        let graph = GraphProto {
            node: nodes,
            input: vec![input(
                "x",
                &[
                    Dim::Symbol("batch".into()),
                    Dim::Known(8),
                    Dim::Known(10),
                    Dim::Known(10),
                ],
            )],
            output: vec![input("y", &[])],
            initializer: vec![
                weight("w1", &[16, 8, 3, 3]),
                weight("s", &[16]),
                weight("b", &[16]),
                weight("m", &[16]),
                weight("v", &[16]),
                weight("w2", &[16, 1, 3, 3]),
                weight("w3", &[32, 4, 1, 1]),
                int64_tensor("split", &[0, 2, 16, 5, 5]),
                int64_tensor("merged", &[0, 32, -1, 5]),
                weight("fc", &[10, 32]),
                weight("fcb", &[10]),
                weight("mm", &[10, 6]),
            ],
            ..Default::default()
        };
        ModelProto {
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            }],
            graph: Some(graph),
            ..Default::default()
        }
    }

    #[test]
    fn counts_dense_depthwise_grouped_and_matrix_ops() {
        let dims = BTreeMap::from([("batch".to_owned(), 2)]);
        let r = count(&model(), &dims, &ConvertOptions::default());
        assert!(r.not_counted.is_empty(), "{:?}", r.not_counted);
        let conv = |n: u64| n * 2;
        // Dense: 16 outputs · 5·5 pixels · 8·3·3 taps; depthwise: 16·25·9;
        // grouped: 32·25·(16/4).
        let expected_conv = conv(16 * 25 * 72) + conv(16 * 25 * 9) + conv(32 * 25 * 4);
        let by = |op: &str| r.matrix_ops.iter().find(|o| o.op_type == op).unwrap();
        assert_eq!(by("Conv").count, expected_conv);
        assert_eq!(by("Gemm").count, 2 * 10 * 32);
        assert_eq!(by("MatMul").count, 2 * 6 * 10);
        assert_eq!(r.multiply_adds, expected_conv + 640 + 120);
        assert_eq!(r.outputs[0].shape, Some(vec![2, 6]));
        // BN statistics are not parameters; the int shapes are constants.
        assert_eq!(r.statistics, 32);
        assert_eq!(r.constants, 9);
        assert_eq!(r.parameters, 1152 + 32 + 144 + 128 + 330 + 60);
        assert_eq!(by("Conv").parameters, 1152 + 144 + 128);
        // BN is element-wise, GAP a reduction over its input.
        assert_eq!(r.elementwise_ops, 2 * 16 * 25);
        assert_eq!(r.pooling_ops, 2 * 32 * 25);
        assert!(!r.dims[0].assumed);
    }

    #[test]
    fn unset_symbols_count_as_one_and_unknown_ops_are_listed() {
        let mut m = model();
        let g = m.graph.as_mut().unwrap();
        g.node.insert(
            9,
            NodeProto {
                op_type: Some("Frobnicate".into()),
                input: vec!["flat".into()],
                output: vec!["flat2".into()],
                ..Default::default()
            },
        );
        g.node[10].input[0] = "flat2".into();
        let r = count(&m, &BTreeMap::new(), &ConvertOptions::default());
        assert!(r.dims[0].assumed && r.dims[0].value == 1);
        assert_eq!(r.not_counted.len(), 3, "{:?}", r.not_counted);
        assert_eq!(r.not_counted[0].op_type, "Frobnicate");
        assert_eq!(r.outputs[0].shape, None);
    }

    /// `x.view(x.size(0), -1)` as PyTorch exports it: Shape, Gather,
    /// Unsqueeze, Concat with a constant, Reshape.
    #[test]
    fn follows_shape_arithmetic_into_reshape() {
        let constant = |name: &str, t: TensorProto| NodeProto {
            op_type: Some("Constant".into()),
            output: vec![name.into()],
            attribute: vec![AttributeProto {
                name: Some("value".into()),
                t: Some(t),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut index = int64_tensor("i", &[0]);
        index.dims = vec![];
        let nodes = vec![
            node("Shape", &["x"], "s", vec![]),
            constant("i", index),
            node("Gather", &["s", "i"], "n", vec![int("axis", 0)]),
            constant("zero", int64_tensor("zero", &[0])),
            node("Unsqueeze", &["n", "zero"], "n1", vec![]),
            constant("minus", int64_tensor("minus", &[-1])),
            node("Concat", &["n1", "minus"], "target", vec![int("axis", 0)]),
            node("Reshape", &["x", "target"], "flat", vec![]),
            node("MatMul", &["flat", "w"], "y", vec![]),
        ];
        let m = ModelProto {
            graph: Some(GraphProto {
                node: nodes,
                input: vec![input(
                    "x",
                    &[Dim::Unknown, Dim::Known(4), Dim::Known(3), Dim::Known(3)],
                )],
                output: vec![input("y", &[])],
                initializer: vec![weight("w", &[36, 7])],
                ..Default::default()
            }),
            ..Default::default()
        };
        let dims = BTreeMap::from([("x[0]".to_owned(), 5)]);
        let r = count(&m, &dims, &ConvertOptions::default());
        assert!(r.not_counted.is_empty(), "{:?}", r.not_counted);
        assert_eq!(r.outputs[0].shape, Some(vec![5, 7]));
        assert_eq!(r.multiply_adds, 5 * 36 * 7);
    }

    #[test]
    fn window_output_follows_onnx() {
        let pool = node(
            "MaxPool",
            &["x"],
            "y",
            vec![
                ints("kernel_shape", &[3, 3]),
                ints("strides", &[2, 2]),
                int("ceil_mode", 1),
            ],
        );
        // floor((112 − 3)/2) + 1 = 55; ceil mode: 56.
        assert_eq!(
            window_output(&pool, &[1, 4, 112, 112], &[3, 3], None).unwrap(),
            vec![1, 4, 56, 56]
        );
        assert_eq!(reshape(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert!(reshape(&[2, 3, 4], &[5, -1], false).is_err());
    }
}
