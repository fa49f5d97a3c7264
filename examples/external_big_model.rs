//! Writes a model of more than 2 GiB with its weights in an external data
//! file, for `benches/external_2gib.sh` (never committed: it is generated).
//!
//! The graph is an MLP of `LAYERS` blocks `h = AconC(h · W_i, p1_i, p2_i,
//! beta_i)` of width 8192: each `W_i` holds 8192² floats (256 MiB) in
//! `model.onnx.data`, written tensor by tensor through a small buffer so the
//! generator itself stays small; the ACON parameters are embedded.
//!
//! Usage: cargo run --release --example external_big_model -- DIR [LAYERS]
//! (default 9 layers: 2.25 GiB of weights).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use acon_onnx::model::external::aligned_offset;
use acon_onnx::model::tensor::{Array, FloatType, float_tensor};
use acon_onnx::proto::tensor_proto::DataLocation;
use acon_onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};
use acon_onnx::rng::Rng;
use prost::Message;

const WIDTH: usize = 8192;
const DATA_FILE: &str = "model.onnx.data";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: external_big_model DIR [LAYERS]")?,
    );
    let layers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(9);
    std::fs::create_dir_all(&dir)?;

    let mut data = BufWriter::with_capacity(1 << 20, File::create(dir.join(DATA_FILE))?);
    let mut end = 0u64;
    let mut initializers = vec![];
    let mut nodes = vec![];
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let scale = 1.0 / (WIDTH as f64).sqrt();
    let mut chunk = Vec::with_capacity(WIDTH * 4);
    for i in 0..layers {
        // W_i, row by row, values uniform in ±1/√width.
        let len = (WIDTH * WIDTH * 4) as u64;
        let offset = aligned_offset(end, len);
        data.write_all(&vec![0u8; (offset - end) as usize])?;
        for _ in 0..WIDTH {
            chunk.clear();
            for _ in 0..WIDTH {
                let w = rng.uniform(-scale, scale) as f32;
                chunk.extend_from_slice(&w.to_le_bytes());
            }
            data.write_all(&chunk)?;
        }
        end = offset + len;
        initializers.push(TensorProto {
            name: Some(format!("w{i}")),
            dims: vec![WIDTH as i64, WIDTH as i64],
            data_type: Some(FloatType::F32.onnx() as i32),
            data_location: Some(DataLocation::External as i32),
            external_data: [
                ("location", DATA_FILE.to_owned()),
                ("offset", offset.to_string()),
                ("length", len.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v),
            })
            .collect(),
            ..Default::default()
        });
        for (name, value) in [("p1", 1.2), ("p2", 0.1), ("beta", 1.5)] {
            let values = Array {
                dims: vec![1, WIDTH],
                data: vec![value; WIDTH],
            };
            initializers.push(float_tensor(
                &format!("{name}_{i}"),
                &values,
                FloatType::F32,
            ));
        }
        let input = if i == 0 {
            "x".to_owned()
        } else {
            format!("h{i}")
        };
        let output = if i + 1 == layers {
            "y".to_owned()
        } else {
            format!("h{}", i + 1)
        };
        nodes.push(node(
            &format!("mm{i}"),
            "",
            "MatMul",
            &[&input, &format!("w{i}")],
            &format!("m{i}"),
        ));
        nodes.push(node(
            &format!("acon{i}"),
            "acon",
            "AconC",
            &[
                &format!("m{i}"),
                &format!("p1_{i}"),
                &format!("p2_{i}"),
                &format!("beta_{i}"),
            ],
            &output,
        ));
    }
    data.flush()?;

    let model = ModelProto {
        ir_version: Some(8),
        producer_name: Some("acon-onnx external_big_model".into()),
        opset_import: vec![opset("", 17), opset("acon", 1)],
        graph: Some(GraphProto {
            name: Some("big_mlp".into()),
            node: nodes,
            initializer: initializers,
            input: vec![value_info("x")],
            output: vec![value_info("y")],
            ..Default::default()
        }),
        ..Default::default()
    };
    std::fs::write(dir.join("model.onnx"), model.encode_to_vec())?;
    println!(
        "{}: {layers} layers, {end} bytes of external weights",
        dir.display()
    );
    Ok(())
}

fn node(name: &str, domain: &str, op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        name: Some(name.into()),
        domain: Some(domain.into()),
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn opset(domain: &str, version: i64) -> OperatorSetIdProto {
    OperatorSetIdProto {
        domain: Some(domain.into()),
        version: Some(version),
    }
}

fn value_info(name: &str) -> ValueInfoProto {
    let dim = |d: i64| tensor_shape_proto::Dimension {
        value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
        denotation: None,
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(FloatType::F32.onnx() as i32),
                shape: Some(TensorShapeProto {
                    dim: vec![dim(1), dim(WIDTH as i64)],
                }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}
