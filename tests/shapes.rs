//! Issue #15, shapes by inference: a MetaAconC whose W1, W2 are given as
//! `[R, C]` needs X's rank. Exporters often leave X's shape out of
//! value_info (after a custom op whose symbolic gives no type, like an AconC
//! feeding a MetaAconC); it is inferred through the standard and ACON ops
//! before it, and only a rank nothing can give is refused, saying what was
//! tried.

mod common;
mod reference;

use acon_onnx::model::tensor::{FloatType, float_tensor};
use acon_onnx::proto::{GraphProto, ModelProto, TypeProto, ValueInfoProto, type_proto};
use common::{acon, assert_exit, node, stderr, write_model};
use reference::{Chain, Stage, assert_close, tensor_info};

const F32: FloatType = FloatType::F32;
const DIMS: [&str; 4] = ["2", "4", "5", "3"];

/// A float tensor value with no shape at all.
fn shapeless(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(1),
                shape: None,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `y = MetaAconC(AconC(Relu(x)))`, the MetaAconC's W1 and W2 stored as
/// `[R, C]`, no value_info for the values between; `x` declared with
/// `x_info`.
fn model(chain: &Chain, x_info: ValueInfoProto) -> ModelProto {
    let built = chain.build("", "r", "y");
    let mut initializer = built.initializers;
    for t in &mut initializer {
        if t.name() == "act1.p3" || t.name() == "act1.p5" {
            t.dims.truncate(2);
        }
    }
    let graph = GraphProto {
        name: Some("exported".into()),
        node: [node("relu", "Relu", &["x"], &["r"])]
            .into_iter()
            .chain(built.nodes)
            .collect(),
        initializer,
        input: vec![x_info],
        output: vec![shapeless("y")],
        ..Default::default()
    };
    common::model(graph, 17)
}

#[test]
fn the_rank_of_x_is_inferred_through_standard_and_acon_ops() {
    let chain = Chain::new(&[Stage::C, Stage::Meta], 4, 2, F32, 15);
    let m = model(&chain, tensor_info("x", F32, &DIMS));
    let dir = common::tempdir();
    let input = dir.path().join("model.onnx");
    write_model(&input, &m);
    let input_s = input.to_str().unwrap();
    assert_exit(&acon(&["inspect", input_s]), 0);
    assert_exit(&acon(&["verify", input_s, "--samples", "2"]), 0);
    let out = common::write_and_convert(dir.path(), &m);
    let x = chain.input(&[2, 4, 5, 3], 16);
    let relu = acon_onnx::model::tensor::Array {
        dims: x.dims.clone(),
        data: x.data.iter().map(|&v| v.max(0.0)).collect(),
    };
    let y = common::run_in_tract(&out, &[float_tensor("x", &x, F32)]);
    assert_close(&y[0], &chain.reference(&relu).data, F32, "converted");
}

#[test]
fn a_rank_nothing_gives_is_refused_saying_what_was_tried() {
    let chain = Chain::new(&[Stage::C, Stage::Meta], 4, 2, F32, 15);
    let dir = common::tempdir();
    let input = dir.path().join("model.onnx");
    write_model(&input, &model(&chain, shapeless("x")));
    let out = dir.path().join("out.onnx");
    for args in [
        vec![
            "convert",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        vec!["inspect", input.to_str().unwrap()],
    ] {
        let o = acon(&args);
        assert_exit(&o, 2);
        let err = stderr(&o);
        assert!(
            err.contains("node `act1` (acon::MetaAconC)")
                && err.contains("the rank of input 0 `v0` is unknown")
                && err.contains("shape inference through the graph stopped")
                && err.contains("node `act0` (AconC) cannot tell it")
                && err.contains("record X's shape in value_info"),
            "{args:?}: {err}"
        );
    }
    assert!(!out.exists());
}
