//! Crashes found by `fuzz/run.sh`: one test per crash, named after its
//! artifact (`fuzz/artifacts/<target>/crash-<sha1>`), with the input rebuilt
//! here as a model: what the fuzzer's bytes decode to, not the bytes
//! themselves.

use std::path::Path;

use acon_onnx::proto::TensorProto;
use bytes::Bytes;
use prost::Message;

use crate::common::*;
use crate::corpus::*;
use crate::verbs::*;

/// crash-499b5db8ac1e2b9ad5eb1b242a453f5517bb5505 (target `convert`): the
/// fuzzer turned p1's raw data into packed dims, giving an empty parameter
/// (one dim 0) whose other dims are huge. Folding `p1 − p2` computed strides
/// as the product of those dims and overflowed (a panic where overflow is
/// checked, as in fuzz and debug builds). An empty tensor is valid ONNX: it
/// converts, to the same bytes twice.
#[test]
fn fuzz_crash_499b5db8_empty_parameter_with_huge_dims() {
    let m = with_graph(|g| {
        g.input[0] = acon_onnx::proto::ValueInfoProto {
            name: Some("x".into()),
            ..Default::default()
        };
        g.output[0].r#type = None;
        set_init(
            g,
            TensorProto {
                name: Some("p1".into()),
                dims: vec![0, 1 << 40, 1 << 40],
                data_type: Some(1),
                ..Default::default()
            },
        );
        set_init(g, f32_init("p2", &[1], vec![0.5]));
    });
    let options = acon_onnx::ConvertOptions {
        check_each_pass: true,
        ..Default::default()
    };
    let bytes = Bytes::from(m.encode_to_vec());
    let path = Path::new("crash-499b5db8.onnx");
    let mut once = acon_onnx::model::load_bytes(path, bytes.clone()).unwrap();
    acon_onnx::convert(&mut once, &options).unwrap();
    let mut twice = acon_onnx::model::load_bytes(path, bytes).unwrap();
    acon_onnx::convert(&mut twice, &options).unwrap();
    assert_eq!(once.encode_to_vec(), twice.encode_to_vec());

    let dir = tempdir();
    let input = dir.path().join("crash-499b5db8.onnx");
    write_model(&input, &m);
    let out = dir.path().join("out.onnx");
    let o = run_binary(&[
        "convert".into(),
        input.into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert_exit(&o, 0);
    let p = load(&out)
        .graph
        .unwrap()
        .initializer
        .into_iter()
        .find(|t| t.dims == [0, 1 << 40, 1 << 40])
        .expect("the folded, empty P");
    assert!(p.raw_data.is_none_or(|r| r.is_empty()));
}
