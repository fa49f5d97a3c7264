//! Parameter and multiply-add counts, for `inspect --flops`.
//!
//! In run order: the graph inputs' shapes are made concrete (symbolic dims
//! from `--dim NAME=VALUE`, otherwise taken as 1 and reported; a dim with
//! neither value nor name is called `INPUT[AXIS]`), the shape inference of
//! `model::shapes` walks the main graph's nodes in order, and each node's
//! cost is counted from the shapes it gives:
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
//! nothing. An op whose output shape the shape inference cannot tell, or
//! whose input shapes are unknown, is listed as *not counted* instead of
//! failing the report.
//!
//! Parameters are the float initializers, less BatchNorm running statistics
//! (PyTorch counts those as buffers, not parameters, and so do papers);
//! int initializers (shapes, axes) are reported as constants.

use crate::model::hash::{Map, Set};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::facts::{Dim, value_info_shape};
use crate::model::opsets::is_default_domain;
use crate::model::shapes::{Shapes, int_attr, int_list_attr, known};
use crate::model::tensor::{FloatType, element_count};
use crate::ops::{self, AconKind, LocalFunctions};
use crate::passes::ConvertOptions;
use crate::proto::{ModelProto, NodeProto};

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
    /// True when no value was given for it and 1 was assumed.
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
    let mut statistics: Set<&str> = Set::default();
    for node in &graph.node {
        let positions: Vec<usize> = if is_default_domain(node.domain()) {
            match node.op_type() {
                "BatchNormalization" => vec![3, 4],
                _ => vec![],
            }
        } else {
            match ops::classify(node, &functions, options).acon_kind(node) {
                Some(kind) => kind.signature().statistics().collect(),
                None => vec![],
            }
        };
        for i in positions {
            if let Some(name) = node.input.get(i) {
                statistics.insert(name);
            }
        }
    }
    let mut sizes: Map<&str, u64> = Map::default();
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
    let mut shapes = Shapes::default();
    let initializers: Set<&str> = graph.initializer.iter().map(|t| t.name()).collect();
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
        shapes.set_shape(
            vi.name(),
            concrete.iter().map(|&d| Dim::Known(d as i64)).collect(),
        );
    }
    report.dims = symbols.into_values().collect();
    for t in &graph.initializer {
        shapes.add_tensor(t.name(), t);
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
        let acon = ops::classify(node, &functions, options).acon_kind(node);
        let costed = shapes
            .infer(node, acon)
            .and_then(|()| cost(node, &shapes, acon));
        let mut extra_costs = vec![];
        match costed {
            Ok((cost, extra)) => {
                extra_costs = extra;
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
        for (extra, what) in extra_costs {
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
            shape: concrete(&shapes, Some(&o.name().to_owned())).ok(),
        })
        .collect();
    report
}

/// A node's cost, and the extra parts of it booked under their own label.
type Costs = (Cost, Vec<(Cost, &'static str)>);

/// The cost of one node, by kind.
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

/// The shape of a node's input or output, all of whose dims must be known
/// (they are, the graph inputs' dims having been made concrete).
fn concrete(shapes: &Shapes, name: Option<&String>) -> Result<Vec<usize>, String> {
    let name = name.filter(|n| !n.is_empty()).ok_or("a value is missing")?;
    let dims = shapes
        .shape(name)
        .ok_or_else(|| format!("the shape of `{name}` is unknown"))?;
    dims.iter()
        .map(|d| known(d).map(|v| v.max(0) as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("the shape of `{name}` is not fully known"))
}

/// What `node` costs, from the shapes inference gave its inputs and
/// outputs; MetaAconC's extra parts (its mean and element-wise pass) are
/// returned beside, with a label.
fn cost(node: &NodeProto, shapes: &Shapes, acon: Option<AconKind>) -> Result<Costs, String> {
    let input = |i: usize| concrete(shapes, node.input.get(i));
    let output = || concrete(shapes, node.output.first());
    if let Some(kind) = acon {
        // `acon::*` ops: one element-wise op per element. MetaAconC's main
        // cost is its two 1×1 convolutions on the pooled `[N, C, 1, …]`
        // tensor (multiply-adds); its mean over X and its element-wise part
        // are booked as extra costs.
        let x = input(0)?;
        let n = numel(&x);
        if kind != AconKind::MetaC {
            return Ok((Cost::Elementwise(n), vec![]));
        }
        let w1 = input(kind.signature().index("W1"))?;
        let (r, c) = (
            *w1.first().ok_or("W1 has no dims")?,
            *w1.get(1).ok_or("W1 has one dim")?,
        );
        let batch = *x.first().unwrap_or(&1) as u64;
        let extra = vec![
            (Cost::Pooling(n), "mean"),
            (Cost::Elementwise(n), "element-wise"),
        ];
        return Ok((Cost::MultiplyAdds(2 * batch * (r * c) as u64), extra));
    }
    let cost = match node.op_type() {
        // Conv: `N·M·∏out·(C/g)·∏k` multiply-adds.
        "Conv" => Cost::MultiplyAdds(numel(&output()?) * numel(&input(1)?[1..])),
        "Gemm" => {
            let a = input(0)?;
            let ta = int_attr(node, "transA").unwrap_or(0) != 0;
            let k = if ta { a[0] } else { a[1] };
            Cost::MultiplyAdds(numel(&output()?) * k as u64)
        }
        "MatMul" => {
            let a = input(0)?;
            let k = *a.last().ok_or("MatMul takes tensors of rank ≥ 1")?;
            Cost::MultiplyAdds(numel(&output()?) * k as u64)
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            let kernel = int_list_attr(node, "kernel_shape").ok_or("no kernel_shape")?;
            let window: u64 = kernel.iter().map(|&k| k.max(0) as u64).product();
            Cost::Pooling(numel(&output()?) * window)
        }
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" | "ReduceMean" | "ReduceSum"
        | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2" | "ReduceL1"
        | "ReduceSumSquare" | "ReduceLogSumExp" => Cost::Pooling(numel(&input(0)?)),
        "Identity" | "Dropout" | "Cast" | "Flatten" | "Reshape" | "Transpose" | "Concat"
        | "Split" | "Squeeze" | "Unsqueeze" | "Shape" | "Gather" | "Constant" => Cost::Free,
        // Everything else the inference knows works element by element.
        _ => Cost::Elementwise(numel(&output()?)),
    };
    Ok((cost, vec![]))
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
        self.to_text_with_hint(None)
    }

    /// [`FlopsReport::to_text`], with `assumed_hint` after "assumed" on the
    /// line of each dim no value was given for (the command line says there
    /// which flag sets it).
    pub fn to_text_with_hint(&self, assumed_hint: Option<&str>) -> String {
        let mut s = String::new();
        let shapes: Vec<String> = self
            .inputs
            .iter()
            .map(|i| format!("{} {:?}", i.name, i.shape.as_deref().unwrap_or_default()))
            .collect();
        let _ = writeln!(s, "  FLOPs       at {}", shapes.join(", "));
        for d in &self.dims {
            let how = match (d.assumed, assumed_hint) {
                (false, _) => String::new(),
                (true, None) => " (assumed)".to_owned(),
                (true, Some(hint)) => format!(" (assumed; {hint})"),
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
    use crate::proto::{
        AttributeProto, DataType, GraphProto, OperatorSetIdProto, TensorProto, ValueInfoProto,
    };

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
}
