//! Issue #15, ONNX `Swish` (opset 24): it is ACON-A with a scalar β = alpha,
//! and tract 0.23.9 maps it to SiLU, ignoring alpha. `convert` rewrites it
//! (never emitting Swish, alpha 1 included) into standard ops that compute
//! x·σ(alpha·x); `run`, `verify` and `bench` compute it with the native
//! kernels; `inspect` warns where tract's own Swish would be wrong.

mod common;
mod reference;

use acon_onnx::model::tensor::{Array, FloatType, float_tensor};
use acon_onnx::proto::{AttributeProto, AttributeType, GraphProto, ModelProto, OperatorSetIdProto};
use acon_onnx::tract::npy::read_npz;
use acon_onnx::tract::tensor::tensor_to_f64;
use common::{acon, all_nodes, assert_exit, load, node, stderr, write_model};
use reference::{Rng, assert_close, sigmoid, tensor_info};

const F32: FloatType = FloatType::F32;
const DIMS: [&str; 4] = ["1", "4", "3", "3"];

/// `y = Swish(Swish(x; alpha = 2))` (the second with the default alpha),
/// importing only the default domain at opset 24.
fn swish_model() -> ModelProto {
    let mut first = node("s1", "Swish", &["x"], &["h"]);
    first.attribute.push(AttributeProto {
        name: Some("alpha".into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(2.0),
        ..Default::default()
    });
    let graph = GraphProto {
        name: Some("swish".into()),
        node: vec![first, node("s2", "Swish", &["h"], &["y"])],
        input: vec![tensor_info("x", F32, &DIMS)],
        output: vec![tensor_info("y", F32, &DIMS)],
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(10),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(24),
        }],
        graph: Some(graph),
        ..Default::default()
    }
}

/// The formula in f64: x·σ(2x), then h·σ(h).
fn expected(x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|&v| v * sigmoid(2.0 * v))
        .map(|h| h * sigmoid(h))
        .collect()
}

fn input() -> Array {
    let mut rng = Rng::new(15);
    Array {
        dims: vec![1, 4, 3, 3],
        data: (0..36).map(|_| rng.uniform(-4.0, 4.0)).collect(),
    }
}

#[test]
fn convert_writes_standard_ops_computing_swish_with_its_alpha() {
    let dir = common::tempdir();
    let out = common::write_and_convert(dir.path(), &swish_model());
    let m = load(&out);
    let ops: Vec<String> = all_nodes(m.graph.as_ref().unwrap())
        .iter()
        .map(|n| n.op_type().to_owned())
        .collect();
    assert!(!ops.iter().any(|o| o == "Swish"), "{ops:?}");
    assert_eq!(ops, ["Mul", "Sigmoid", "Mul", "Sigmoid", "Mul"]);
    assert!(m.opset_import.iter().all(|o| o.domain().is_empty()));
    let x = input();
    let y = common::run_in_tract(&out, &[float_tensor("x", &x, F32)]);
    assert_close(&y[0], &expected(&x.data), F32, "converted Swish");
}

#[test]
fn run_verify_and_bench_compute_swish_on_the_native_kernels() {
    let dir = common::tempdir();
    let model = dir.path().join("swish.onnx");
    write_model(&model, &swish_model());
    let x = input();
    let x_npy = dir.path().join("x.npy");
    acon_onnx::tract::npy::write_npy(
        &x_npy,
        &acon_onnx::tract::tensor::tensor_from_proto(&float_tensor("x", &x, F32)).unwrap(),
    )
    .unwrap();
    let outputs = dir.path().join("y.npz");
    let input_arg = format!("x={}", x_npy.display());
    let o = acon(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        &input_arg,
        "-o",
        outputs.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let got = read_npz(&outputs).unwrap();
    assert_close(
        &tensor_to_f64(&got[0].1).unwrap(),
        &expected(&x.data),
        F32,
        "run on the original",
    );
    assert_exit(
        &acon(&["verify", model.to_str().unwrap(), "--samples", "3"]),
        0,
    );
    assert_exit(
        &acon(&[
            "bench",
            model.to_str().unwrap(),
            "--runs",
            "2",
            "--warmup",
            "0",
        ]),
        0,
    );
    // As the CONVERTED side, plain tract would compute it wrongly: refused.
    let m = model.to_str().unwrap();
    let o = acon(&["verify", m, m]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("node `s1` (ai.onnx::Swish) has alpha = 2") && err.contains("ignoring alpha"),
        "{err}"
    );
}

#[test]
fn inspect_warns_where_tract_computes_swish_wrongly() {
    let dir = common::tempdir();
    let model = dir.path().join("swish.onnx");
    write_model(&model, &swish_model());
    let o = acon(&["inspect", model.to_str().unwrap()]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(
        err.contains("warning: node `s1` (ai.onnx::Swish) has alpha = 2")
            && err.contains("ignoring alpha"),
        "{err}"
    );
    assert!(!err.contains("`s2`"), "alpha 1 is computed right: {err}");
    let o = acon(&["inspect", model.to_str().unwrap(), "--json"]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&common::stdout(&o)).unwrap();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
}
