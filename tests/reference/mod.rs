//! What the tests of issue #3 check converted models against: a chain of
//! ACON nodes built in Rust with its result computed in f64 straight from the
//! formulas of `shared/spec/acon-ops.md`, and PyTorch's outputs of the
//! fixtures, both compared under the named `close` tolerance of the model's
//! float type; a scope check (everything read is in scope, nothing shadows);
//! and a small f64 evaluator of converted graphs for what tract cannot run
//! (`Loop`, `double` Sigmoid).
#![allow(dead_code)]

use std::path::Path;

use acon_onnx::compare::{Tolerance, compare};
use acon_onnx::model::tensor::{Array, FloatType, float_tensor};
use std::collections::{HashMap, HashSet};

use acon_onnx::proto::{
    AttributeProto, AttributeType, DataType, GraphProto, NodeProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};

use crate::common::{self, acon_node};

/// One ACON node of a chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stage {
    /// `AconA(X)`, beta omitted.
    Swish,
    A,
    B,
    C,
    /// `MetaAconC` without the BatchNorm groups.
    Meta,
    /// `MetaAconC` with both BatchNorm groups and `epsilon`.
    MetaBn,
}

pub const EVERY_STAGE: [Stage; 6] = [
    Stage::Swish,
    Stage::A,
    Stage::B,
    Stage::C,
    Stage::Meta,
    Stage::MetaBn,
];

/// MetaAconC's `epsilon`; an ONNX float attribute is an f32.
const EPSILON: f32 = 1e-3;

/// Deterministic pseudo-random numbers (a 64-bit LCG, top 53 bits).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// An array of `dims` in `[lo, hi)`, rounded to `ty` as the model stores it.
    pub fn array(&mut self, dims: &[usize], lo: f64, hi: f64, ty: FloatType) -> Array {
        let count = dims.iter().product();
        Array {
            dims: dims.to_vec(),
            data: (0..count).map(|_| ty.round(self.uniform(lo, hi))).collect(),
        }
    }
}

/// `x → stage 1 → … → y` on `[N, C, …]` tensors, with its parameters.
pub struct Chain {
    pub ty: FloatType,
    /// Per stage, its parameters in the spec's input order (`None` = omitted).
    pub stages: Vec<(Stage, Vec<Option<Array>>)>,
}

/// The nodes and initializers of a chain, and the names of its values.
pub struct Built {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    /// The values between stages, in order.
    pub intermediates: Vec<String>,
}

impl Chain {
    /// Random parameters for `stages` on `channels` channels and `spatial`
    /// spatial axes (R = 3 for Meta-ACON).
    pub fn new(
        stages: &[Stage],
        channels: usize,
        spatial: usize,
        ty: FloatType,
        seed: u64,
    ) -> Chain {
        let mut rng = Rng::new(seed);
        let per_channel: Vec<usize> = [1, channels]
            .into_iter()
            .chain(std::iter::repeat_n(1, spatial))
            .collect();
        let conv = |out: usize, inp: usize| -> Vec<usize> {
            [out, inp]
                .into_iter()
                .chain(std::iter::repeat_n(1, spatial))
                .collect()
        };
        let r = 3;
        let stages = stages
            .iter()
            .map(|&stage| {
                let mut p = |dims: &[usize], lo, hi| Some(rng.array(dims, lo, hi, ty));
                // p1 > 1 > p2 > 0 (a leaky, ReLU-like stage whatever β is)
                // keeps a long chain from vanishing or exploding.
                let params = match stage {
                    Stage::Swish => vec![],
                    Stage::A => vec![p(&per_channel, 0.5, 2.0)],
                    Stage::B => vec![p(&per_channel, 0.1, 0.5), p(&per_channel, 0.5, 2.0)],
                    Stage::C => vec![
                        p(&per_channel, 1.0, 1.8),
                        p(&per_channel, 0.1, 0.5),
                        p(&per_channel, 0.5, 2.0),
                    ],
                    Stage::Meta | Stage::MetaBn => {
                        let mut v = vec![
                            p(&per_channel, 1.0, 1.8),
                            p(&per_channel, 0.1, 0.5),
                            p(&conv(r, channels), -0.8, 0.8),
                            p(&[r], -0.5, 0.5),
                            p(&conv(channels, r), -0.8, 0.8),
                            p(&[channels], -0.5, 0.5),
                        ];
                        if stage == Stage::MetaBn {
                            for len in [r, channels] {
                                v.push(p(&[len], 0.5, 1.5));
                                v.push(p(&[len], -0.5, 0.5));
                                v.push(p(&[len], -0.5, 0.5));
                                v.push(p(&[len], 0.2, 1.2));
                            }
                        }
                        v
                    }
                };
                (stage, params)
            })
            .collect();
        Chain { ty, stages }
    }

    /// A random input of `dims`, rounded to the chain's type.
    pub fn input(&self, dims: &[usize], seed: u64) -> Array {
        Rng::new(seed).array(dims, -2.0, 2.0, self.ty)
    }

    /// Nodes from `input` to `output`; every name starts with `prefix`.
    pub fn build(&self, prefix: &str, input: &str, output: &str) -> Built {
        let mut built = Built {
            nodes: vec![],
            initializers: vec![],
            intermediates: vec![],
        };
        let mut x = input.to_owned();
        for (i, (stage, params)) in self.stages.iter().enumerate() {
            let y = if i + 1 == self.stages.len() {
                output.to_owned()
            } else {
                format!("{prefix}v{i}")
            };
            let mut inputs = vec![x.clone()];
            for (k, p) in params.iter().enumerate() {
                inputs.push(match p {
                    Some(array) => {
                        let name = format!("{prefix}act{i}.p{}", k + 1);
                        built.initializers.push(float_tensor(&name, array, self.ty));
                        name
                    }
                    None => String::new(),
                });
            }
            let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let op = match stage {
                Stage::Swish | Stage::A => "AconA",
                Stage::B => "AconB",
                Stage::C => "AconC",
                Stage::Meta | Stage::MetaBn => "MetaAconC",
            };
            let mut node = acon_node(&format!("{prefix}act{i}"), op, &refs, &[&y]);
            if *stage == Stage::MetaBn {
                node.attribute.push(AttributeProto {
                    name: Some("epsilon".into()),
                    r#type: Some(AttributeType::Float as i32),
                    f: Some(EPSILON),
                    ..Default::default()
                });
            }
            built.nodes.push(node);
            if y != output {
                built.intermediates.push(y.clone());
            }
            x = y;
        }
        built
    }

    /// The chain applied to `x`, in f64.
    pub fn reference(&self, x: &Array) -> Array {
        let mut y = x.clone();
        for (stage, params) in &self.stages {
            let p = |k: usize| params[k].clone().expect("parameter");
            y = match stage {
                Stage::Swish => acon_c(&y, &one(), &zero(), &one()),
                Stage::A => acon_c(&y, &one(), &zero(), &p(0)),
                // AconB is AconC with p1 = 1, p2 = p.
                Stage::B => acon_c(&y, &one(), &p(0), &p(1)),
                Stage::C => acon_c(&y, &p(0), &p(1), &p(2)),
                Stage::Meta | Stage::MetaBn => {
                    let bn = |first: usize| {
                        (*stage == Stage::MetaBn)
                            .then(|| [p(first), p(first + 1), p(first + 2), p(first + 3)])
                    };
                    let beta = meta_beta(&y, &p(2), &p(3), &p(4), &p(5), bn(6), bn(10));
                    acon_c(&y, &p(0), &p(1), &beta)
                }
            };
        }
        y
    }
}

fn one() -> Array {
    Array::scalar(1.0)
}

fn zero() -> Array {
    Array::scalar(0.0)
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn zip(a: &Array, b: &Array, f: impl Fn(f64, f64) -> f64) -> Array {
    a.zip(b, f).expect("shapes broadcast")
}

/// `Y = (p1 − p2)·X·σ(β·(p1 − p2)·X) + p2·X`
pub fn acon_c(x: &Array, p1: &Array, p2: &Array, beta: &Array) -> Array {
    let d = zip(&zip(p1, p2, |a, b| a - b), x, |p, x| p * x);
    let gate = zip(beta, &d, |b, d| sigmoid(b * d));
    zip(
        &zip(&d, &gate, |d, s| d * s),
        &zip(p2, x, |p, x| p * x),
        |a, b| a + b,
    )
}

/// Meta-ACON's switching factor on `X = [N, C, D1, …, Dk]`:
///
/// ```text
/// m = mean of X over D1..Dk                      [N, C]
/// h = BN1(W1·m + B1),  g = BN2(W2·h + B2)        (1×1 convs as matrix products)
/// β = σ(g)                                       [N, C, 1, …, 1]
/// BN(z) = scale·(z − mean)/sqrt(var + ε) + bias
/// ```
fn meta_beta(
    x: &Array,
    w1: &Array,
    b1: &Array,
    w2: &Array,
    b2: &Array,
    bn1: Option<[Array; 4]>,
    bn2: Option<[Array; 4]>,
) -> Array {
    let (n, c) = (x.dims[0], x.dims[1]);
    let spatial: usize = x.dims[2..].iter().product();
    let m: Vec<f64> = (0..n * c)
        .map(|nc| x.data[nc * spatial..(nc + 1) * spatial].iter().sum::<f64>() / spatial as f64)
        .collect();
    let h = conv_bn(&m, n, w1, b1, bn1.as_ref());
    let g = conv_bn(&h, n, w2, b2, bn2.as_ref());
    let mut dims = vec![n, c];
    dims.extend(std::iter::repeat_n(1, x.dims.len() - 2));
    Array {
        dims,
        data: g.into_iter().map(sigmoid).collect(),
    }
}

/// `BN(W·z + B)` for each of the `n` rows of `z`.
fn conv_bn(z: &[f64], n: usize, w: &Array, b: &Array, bn: Option<&[Array; 4]>) -> Vec<f64> {
    let (out, inp) = (w.dims[0], w.dims[1]);
    let mut result = Vec::with_capacity(n * out);
    for row in z.chunks(inp).take(n) {
        for o in 0..out {
            let mut v = b.data[o] + (0..inp).map(|i| w.data[o * inp + i] * row[i]).sum::<f64>();
            if let Some([scale, bias, mean, var]) = bn {
                v = scale.data[o] * (v - mean.data[o]) / (var.data[o] + EPSILON as f64).sqrt()
                    + bias.data[o];
            }
            result.push(v);
        }
    }
    result
}

// ---- small builders -----------------------------------------------------------

pub fn graph_attr(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Graph as i32),
        g: Some(g),
        ..Default::default()
    }
}

pub fn bool_tensor(name: &str, value: bool) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        data_type: Some(DataType::Bool as i32),
        int32_data: vec![value as i32],
        ..Default::default()
    }
}

/// A float tensor value-info whose dims are numbers or symbols: `&["batch", "4"]`.
pub fn tensor_info(name: &str, ty: FloatType, dims: &[&str]) -> ValueInfoProto {
    typed_info(name, ty.onnx(), dims)
}

/// A tensor value-info of any element type.
pub fn typed_info(name: &str, ty: DataType, dims: &[&str]) -> ValueInfoProto {
    use tensor_shape_proto::dimension::Value;
    let dim = |d: &&str| tensor_shape_proto::Dimension {
        value: Some(match d.parse::<i64>() {
            Ok(v) => Value::DimValue(v),
            Err(_) => Value::DimParam(d.to_string()),
        }),
        denotation: None,
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(ty as i32),
                shape: Some(TensorShapeProto {
                    dim: dims.iter().map(dim).collect(),
                }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

// ---- comparing ----------------------------------------------------------------

/// Asserts `actual` is within the `close` tolerance of `expected` for `ty`.
pub fn assert_close(actual: &[f64], expected: &[f64], ty: FloatType, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: element count");
    let (atol, rtol) = Tolerance::Close.bounds(ty);
    let mean_abs = expected.iter().map(|v| v.abs()).sum::<f64>() / expected.len() as f64;
    assert!(
        mean_abs > 100.0 * atol,
        "{what}: expected values too small to test: {mean_abs}"
    );
    let c = compare(actual, expected, ty, atol, rtol);
    assert!(c.passed, "{what}: not within `close` for {ty:?}: {c:#?}");
}

/// Runs a converted model in tract, whatever its float type: a double model
/// spells σ in ops tract runs in f64 (issue #15).
pub fn run(path: &Path, inputs: &[TensorProto]) -> Vec<Vec<f64>> {
    common::run_in_tract(path, inputs)
}

/// Converts `fixture` with the real binary (plus `args`), then checks that
/// only default-domain ops remain and that tract gives PyTorch's outputs for
/// every test data set.
pub fn fixture_matches_pytorch(name: &str, args: &[&str]) {
    let fixture = common::fixture(name);
    let dir = common::tempdir();
    let out = dir.path().join("converted.onnx");
    let model = fixture.model_path();
    let mut argv = vec![
        "convert",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    argv.extend(args);
    common::assert_exit(&common::acon(&argv), 0);
    assert_only_default_domain(&out);
    for set in fixture.data_sets() {
        let (inputs, outputs) = common::test_data(&set);
        let actual = run(&out, &inputs);
        for (k, (a, e)) in actual.iter().zip(&outputs).enumerate() {
            let what = format!("{name} {} output {k}", set.display());
            assert_close(a, &common::floats(e), fixture.float_type(), &what);
        }
    }
}

/// No function, no node outside the default domain, no import but it.
pub fn assert_only_default_domain(path: &Path) {
    let m = common::load(path);
    assert!(
        m.functions.is_empty(),
        "functions left: {:?}",
        m.functions.len()
    );
    for node in common::all_nodes(m.graph.as_ref().unwrap()) {
        assert!(
            acon_onnx::passes::is_default_domain(node.domain()),
            "node `{}` is {}::{}",
            node.name(),
            node.domain(),
            node.op_type()
        );
    }
    let imports: Vec<&str> = m.opset_import.iter().map(|o| o.domain()).collect();
    assert!(
        imports
            .iter()
            .all(|d| acon_onnx::passes::is_default_domain(d)),
        "imports {imports:?}"
    );
}

// ---- scoping ------------------------------------------------------------------

/// Every value a graph reads is defined before in its scope or an enclosing
/// one, and no name a subgraph defines shadows a name of an enclosing scope.
pub fn assert_scoping(graph: &GraphProto) {
    check_scope(graph, &HashSet::new(), graph.name());
}

fn check_scope(graph: &GraphProto, outer: &HashSet<String>, path: &str) {
    let mut visible = outer.clone();
    let define = |name: &str, visible: &mut HashSet<String>| {
        if name.is_empty() {
            return;
        }
        assert!(
            !outer.contains(name),
            "{path}: `{name}` shadows an outer name"
        );
        assert!(
            visible.insert(name.to_owned()),
            "{path}: `{name}` is defined twice"
        );
    };
    for name in graph
        .input
        .iter()
        .map(|v| v.name())
        .chain(graph.initializer.iter().map(|t| t.name()))
    {
        define(name, &mut visible);
    }
    for node in &graph.node {
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            assert!(
                visible.contains(input),
                "{path}: node `{}` reads `{input}`, not in scope",
                node.name()
            );
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                check_scope(
                    g,
                    &visible,
                    &format!("{path}/{}:{}", node.name(), attr.name()),
                );
            }
        }
        for output in &node.output {
            define(output, &mut visible);
        }
    }
}

// ---- evaluating converted graphs in f64 ----------------------------------------

/// The values of a graph scope: float tensors in f64, integer tensors apart.
#[derive(Clone, Default)]
pub struct Values {
    pub floats: HashMap<String, Array>,
    pub ints: HashMap<String, Vec<i64>>,
}

impl Values {
    fn add_tensor(&mut self, t: &TensorProto) {
        match acon_onnx::model::tensor::read_floats(t) {
            Ok(a) => {
                self.floats.insert(t.name().to_owned(), a);
            }
            Err(_) if t.data_type() == DataType::Int64 as i32 => {
                let ints = match &t.raw_data {
                    Some(raw) => raw
                        .chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                    None => t.int64_data.clone(),
                };
                self.ints.insert(t.name().to_owned(), ints);
            }
            Err(_) => {}
        }
    }
}

/// Evaluates `graph` in f64 on the values of its enclosing scope, for what
/// tract cannot run (`Loop`). It knows the ops the
/// decomposition emits — Sigmoid, Mul, Add, Sub, ReduceMean over the
/// trailing axes, 1×1 Conv on `[N, C, 1, …]` — plus Identity, float
/// Constant, and Loop with a trip count and loop-carried values only.
pub fn evaluate(graph: &GraphProto, outer: &Values) -> Values {
    let mut v = outer.clone();
    for t in &graph.initializer {
        v.add_tensor(t);
    }
    for node in &graph.node {
        let input = |k: usize| -> &Array {
            let name = &node.input[k];
            v.floats
                .get(name)
                .unwrap_or_else(|| panic!("node `{}`: no float value `{name}`", node.name()))
        };
        let result = match node.op_type() {
            "Sigmoid" => input(0).map(sigmoid),
            // A loop's condition is copied along; booleans are not evaluated.
            "Identity" if !v.floats.contains_key(&node.input[0]) => continue,
            "Identity" => input(0).clone(),
            "Mul" => zip(input(0), input(1), |a, b| a * b),
            "Add" => zip(input(0), input(1), |a, b| a + b),
            "Sub" => zip(input(0), input(1), |a, b| a - b),
            "ReduceMean" => {
                let axes = match node.input.get(1) {
                    Some(name) => v.ints[name].clone(),
                    None => node
                        .attribute
                        .iter()
                        .find(|a| a.name() == "axes")
                        .unwrap()
                        .ints
                        .clone(),
                };
                mean_over_trailing(input(0), &axes)
            }
            "Conv" => {
                let bias = node.input.get(2).map(|_| input(2));
                conv_1x1(input(0), input(1), bias)
            }
            "Constant" => {
                let mut scope = Values::default();
                scope.add_tensor(node.attribute[0].t.as_ref().unwrap());
                scope.floats.into_values().next().expect("a float Constant")
            }
            "Loop" => {
                let carried = loop_(node, &v);
                for (name, value) in node.output.iter().zip(carried) {
                    v.floats.insert(name.clone(), value);
                }
                continue;
            }
            other => panic!("evaluate: op {other} (node `{}`) is not known", node.name()),
        };
        v.floats.insert(node.output[0].clone(), result);
    }
    v
}

/// ONNX `Loop(M, cond, v…)` with body `(i, cond, v…) -> (cond, v…)`, run M times.
fn loop_(node: &NodeProto, v: &Values) -> Vec<Array> {
    let trips = v.ints[&node.input[0]][0];
    let body = node
        .attribute
        .iter()
        .find(|a| a.name() == "body")
        .unwrap()
        .g
        .as_ref()
        .unwrap();
    let mut carried: Vec<Array> = node.input[2..]
        .iter()
        .map(|n| v.floats[n].clone())
        .collect();
    for _ in 0..trips {
        let mut scope = v.clone();
        for (info, value) in body.input[2..].iter().zip(&carried) {
            scope.floats.insert(info.name().to_owned(), value.clone());
        }
        let out = evaluate(body, &scope);
        carried = body.output[1..]
            .iter()
            .map(|o| out.floats[o.name()].clone())
            .collect();
    }
    carried
}

/// The mean over `axes`, which must be the trailing ones, keeping them.
fn mean_over_trailing(x: &Array, axes: &[i64]) -> Array {
    let first = x.dims.len() - axes.len();
    assert_eq!(
        axes,
        (first as i64..x.dims.len() as i64).collect::<Vec<_>>()
    );
    let block: usize = x.dims[first..].iter().product();
    let mut dims = x.dims.clone();
    dims[first..].iter_mut().for_each(|d| *d = 1);
    Array {
        dims,
        data: x
            .data
            .chunks(block)
            .map(|c| c.iter().sum::<f64>() / block as f64)
            .collect(),
    }
}

/// `y[n, o] = Σ_i w[o, i]·x[n, i] + b[o]` on `x = [N, I, 1, …]`.
fn conv_1x1(x: &Array, w: &Array, b: Option<&Array>) -> Array {
    assert!(x.dims[2..].iter().all(|&d| d == 1), "Conv on {:?}", x.dims);
    let (n, inp, out) = (x.dims[0], x.dims[1], w.dims[0]);
    let mut data = Vec::with_capacity(n * out);
    for row in x.data.chunks(inp) {
        for o in 0..out {
            let bias = b.map_or(0.0, |b| b.data[o]);
            data.push(bias + (0..inp).map(|i| w.data[o * inp + i] * row[i]).sum::<f64>());
        }
    }
    let mut dims = x.dims.clone();
    dims[1] = out;
    Array { dims, data }
}

/// Evaluates the converted model at `path` on `inputs`; its outputs in order.
pub fn evaluate_model(path: &Path, inputs: &[TensorProto]) -> Vec<Vec<f64>> {
    let graph = common::load(path).graph.unwrap();
    let mut scope = Values::default();
    for t in inputs {
        scope.add_tensor(t);
    }
    let values = evaluate(&graph, &scope);
    graph
        .output
        .iter()
        .map(|o| values.floats[o.name()].data.clone())
        .collect()
}

/// Like `common::run_in_tract`, but keeps the input facts the model declares:
/// tract cannot unify a symbolic `value_info` dim with a concrete input fact.
pub fn run_in_tract_declared(path: &Path, inputs: &[TensorProto]) -> Vec<Vec<f64>> {
    use acon_onnx::tract::tensor::{tensor_from_proto, tensor_to_f64};
    use tract_onnx::prelude::*;
    let plan = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .unwrap_or_else(|e| panic!("tract prepares {}: {e:?}", path.display()));
    let tensors: TVec<TValue> = inputs
        .iter()
        .map(|t| tensor_from_proto(t).unwrap().into_tvalue())
        .collect();
    let outputs = plan
        .run(tensors)
        .unwrap_or_else(|e| panic!("tract runs {}: {e:?}", path.display()));
    outputs.iter().map(|t| tensor_to_f64(t).unwrap()).collect()
}
