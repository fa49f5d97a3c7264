//! A small f64 evaluator of converted graphs, for what tract cannot run
//! (`Loop`, `double` Sigmoid).

use std::collections::HashMap;
use std::path::Path;

use acon_onnx::model::tensor::Array;
use acon_onnx::proto::{DataType, GraphProto, NodeProto, TensorProto};

use super::formulas::{sigmoid, zip};
use crate::common;

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
