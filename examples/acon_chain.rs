//! Writes the models of `benches/scale.sh` (generated, never committed), so
//! that generating them stays out of the timed part.
//!
//! - `acon N`: a chain of N `acon::AconC` nodes on x `[1, 8, 4, 4]`, each
//!   with its own p1, p2 and β of shape `[1, 8, 1, 1]`, with no value_info
//!   (as exporters write custom ops);
//! - `plain N`: a chain of N `Relu` nodes on the same x, no ACON op.
//!
//! Usage: cargo run --release --example acon_chain -- acon|plain N OUT.onnx

use std::path::PathBuf;

use acon_onnx::model::build::tensor_value_info;
use acon_onnx::model::facts::Dim;
use acon_onnx::model::tensor::{Array, FloatType, float_tensor};
use acon_onnx::proto::{DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto};
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: acon_chain acon|plain N OUT.onnx";
    let mut args = std::env::args().skip(1);
    let kind = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let acon = match kind.as_str() {
        "acon" => true,
        "plain" => false,
        _ => return Err(usage.into()),
    };
    let dims = [1, 8, 4, 4].map(Dim::Known);
    let value = |i: usize| {
        if i == 0 {
            "x".to_owned()
        } else if i == n {
            "y".to_owned()
        } else {
            format!("h{i}")
        }
    };
    let param = |name: String, v: f64| {
        let a = Array {
            dims: vec![1, 8, 1, 1],
            data: (0..8).map(|c| v + c as f64 / 16.0).collect(),
        };
        float_tensor(&name, &a, FloatType::F32)
    };
    let mut nodes = Vec::with_capacity(n);
    let mut initializer = vec![];
    for i in 0..n {
        let name = format!("act{i}");
        let (op, domain, inputs) = if acon {
            let p = [".p1", ".p2", ".beta"].map(|s| format!("{name}{s}"));
            initializer.push(param(p[0].clone(), 1.0));
            initializer.push(param(p[1].clone(), 0.25));
            initializer.push(param(p[2].clone(), 1.5));
            let [p1, p2, beta] = p;
            ("AconC", "acon", vec![value(i), p1, p2, beta])
        } else {
            ("Relu", "", vec![value(i)])
        };
        nodes.push(NodeProto {
            name: Some(name),
            op_type: Some(op.into()),
            domain: Some(domain.into()),
            input: inputs,
            output: vec![value(i + 1)],
            ..Default::default()
        });
    }
    let float = DataType::Float as i32;
    let model = ModelProto {
        ir_version: Some(8),
        producer_name: Some("acon_chain example".into()),
        opset_import: vec![
            OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            },
            OperatorSetIdProto {
                domain: Some("acon".into()),
                version: Some(1),
            },
        ],
        graph: Some(GraphProto {
            name: Some(format!("{kind}_{n}")),
            node: nodes,
            initializer,
            input: vec![tensor_value_info("x", float, &dims)],
            output: vec![tensor_value_info("y", float, &dims)],
            ..Default::default()
        }),
        ..Default::default()
    };
    std::fs::write(&out, model.encode_to_vec())?;
    Ok(())
}
