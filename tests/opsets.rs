//! Issue #3, opsets, float types and shapes: a model with every ACON op
//! (AconA with and without beta, AconB, AconC, MetaAconC with and without
//! BatchNorm) converts at each default-domain opset from 13 to 21 into
//! standard ops in that opset's form, and tract's result matches the spec's
//! formulas evaluated in f64. Symbolic dims survive conversion; double and
//! float16 models convert and run; bfloat16 MetaAconC needs opset 22.
//!
//! Of the emitted ops only ReduceMean changed form in 13..=21 (axes attribute
//! before 18, input from 18); Sigmoid, Mul, Add, Sub (13/14) and Conv (11)
//! take the same inputs and attributes throughout.

mod common;
mod reference;

use std::path::{Path, PathBuf};

use acon_onnx::model::tensor::{FloatType, float_tensor};
use acon_onnx::proto::{GraphProto, ModelProto, NodeProto};
use common::{
    STANDARD_EMITTED, acon, all_nodes, assert_exit, load, model, stderr, write_and_convert,
    write_model,
};
use reference::{Chain, EVERY_STAGE, Stage, assert_close, tensor_info};

const X_DIMS: [usize; 4] = [2, 4, 5, 3];

/// A model running `chain` on input `x` of `dims` to output `y`.
fn chain_model(chain: &Chain, opset: i64, dims: &[&str]) -> ModelProto {
    let built = chain.build("", "x", "y");
    let graph = GraphProto {
        name: Some("chain".into()),
        node: built.nodes,
        initializer: built.initializers,
        input: vec![tensor_info("x", chain.ty, dims)],
        output: vec![tensor_info("y", chain.ty, dims)],
        value_info: built
            .intermediates
            .iter()
            .map(|v| tensor_info(v, chain.ty, dims))
            .collect(),
        ..Default::default()
    };
    model(graph, opset)
}

/// Writes `m`, converts it with the real binary, returns the output's path.
fn convert(dir: &Path, m: &ModelProto) -> PathBuf {
    write_and_convert(dir, m)
}

fn ints(node: &NodeProto, attr: &str) -> Option<Vec<i64>> {
    node.attribute
        .iter()
        .find(|a| a.name() == attr)
        .map(|a| a.ints.clone())
}

/// Only standard ops, only the default-domain import, and ReduceMean over
/// the spatial axes in the form `opset` expects.
fn assert_standard(m: &ModelProto, opset: i64) {
    let imports: Vec<(&str, i64)> = m
        .opset_import
        .iter()
        .map(|o| (o.domain(), o.version()))
        .collect();
    assert_eq!(imports, [("", opset)], "opset {opset}");
    let graph = m.graph.as_ref().unwrap();
    let spatial: Vec<i64> = (2..X_DIMS.len() as i64).collect();
    let mut reduce_means = 0;
    for node in all_nodes(graph) {
        assert!(
            node.domain().is_empty() && STANDARD_EMITTED.contains(&node.op_type()),
            "opset {opset}: node `{}` is {}::{}",
            node.name(),
            node.domain(),
            node.op_type()
        );
        if node.op_type() != "ReduceMean" {
            continue;
        }
        reduce_means += 1;
        if opset >= 18 {
            assert_eq!(ints(&node, "axes"), None, "opset {opset}: axes attribute");
            let axes = graph
                .initializer
                .iter()
                .find(|t| node.input.get(1) == t.name.as_ref())
                .unwrap_or_else(|| panic!("opset {opset}: axes input of {:?}", node.input));
            assert_eq!(axes.raw_data.as_ref().unwrap().len(), 8 * spatial.len());
        } else {
            assert_eq!(node.input.len(), 1, "opset {opset}: {:?}", node.input);
            assert_eq!(ints(&node, "axes"), Some(spatial.clone()), "opset {opset}");
        }
    }
    assert_eq!(
        reduce_means, 2,
        "opset {opset}: one ReduceMean per MetaAconC"
    );
}

#[test]
fn every_acon_op_converts_at_opsets_13_to_21() {
    let chain = Chain::new(&EVERY_STAGE, X_DIMS[1], 2, FloatType::F32, 3);
    let x = chain.input(&X_DIMS, 4);
    let expected = chain.reference(&x);
    for opset in 13..=21 {
        let dir = common::tempdir();
        let out = convert(
            dir.path(),
            &chain_model(&chain, opset, &["2", "4", "5", "3"]),
        );
        assert_standard(&load(&out), opset);
        let y = common::run_in_tract(&out, &[float_tensor("x", &x, FloatType::F32)]);
        assert_close(
            &y[0],
            &expected.data,
            FloatType::F32,
            &format!("opset {opset}"),
        );
    }
}

#[test]
fn symbolic_dims_survive_and_meta_acon_runs_on_unknown_spatial_dims() {
    let chain = Chain::new(&EVERY_STAGE, 4, 2, FloatType::F32, 5);
    let original = chain_model(&chain, 17, &["batch", "4", "height", "width"]);
    let dir = common::tempdir();
    let out = convert(dir.path(), &original);
    let converted = load(&out);
    let (before, after) = (original.graph.unwrap(), converted.graph.unwrap());
    assert_eq!(before.input, after.input);
    assert_eq!(before.output, after.output);
    for info in &before.value_info {
        assert!(
            after.value_info.contains(info),
            "value_info `{}`",
            info.name()
        );
    }
    let x = chain.input(&[3, 4, 6, 2], 6);
    let y = reference::run_in_tract_declared(&out, &[float_tensor("x", &x, FloatType::F32)]);
    assert_close(
        &y[0],
        &chain.reference(&x).data,
        FloatType::F32,
        "batch 3, 6×2",
    );
}

/// tract runs the float16 and (since issue #15, with σ spelt out) the double
/// conversions.
#[test]
fn double_and_float16_models_convert_and_run() {
    for ty in [FloatType::F64, FloatType::F16] {
        for opset in [17, 18] {
            let chain = Chain::new(&[Stage::C, Stage::MetaBn], 4, 2, ty, 8);
            let dir = common::tempdir();
            let out = convert(
                dir.path(),
                &chain_model(&chain, opset, &["2", "4", "5", "3"]),
            );
            let converted = load(&out);
            for t in &converted.graph.as_ref().unwrap().initializer {
                if t.data_type() != acon_onnx::proto::DataType::Int64 as i32 {
                    assert_eq!(t.data_type(), ty.onnx() as i32, "{ty:?}: `{}`", t.name());
                }
            }
            let x = chain.input(&X_DIMS, 9);
            let y = reference::run(&out, &[float_tensor("x", &x, ty)]);
            let what = format!("{ty:?} at opset {opset}");
            assert_close(&y[0], &chain.reference(&x).data, ty, &what);
        }
    }
}

#[test]
fn bfloat16_converts_and_meta_acon_asks_for_opset_22() {
    // tract has no bfloat16, so these are checked by structure only.
    let dir = common::tempdir();
    let acon_c = Chain::new(&[Stage::C], 4, 2, FloatType::BF16, 10);
    let out = convert(dir.path(), &chain_model(&acon_c, 17, &["2", "4", "5", "3"]));
    assert_standard_types(&load(&out), FloatType::BF16);

    let meta = Chain::new(&[Stage::MetaBn], 4, 2, FloatType::BF16, 11);
    let out = convert(dir.path(), &chain_model(&meta, 22, &["2", "4", "5", "3"]));
    assert_standard_types(&load(&out), FloatType::BF16);

    let input = dir.path().join("bf16_21.onnx");
    write_model(&input, &chain_model(&meta, 21, &["2", "4", "5", "3"]));
    let o = acon(&["convert", input.to_str().unwrap(), "-o", "/dev/null/never"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("act0") && err.contains("bfloat16") && err.contains("opset 22"),
        "{err}"
    );
}

fn assert_standard_types(m: &ModelProto, ty: FloatType) {
    let graph = m.graph.as_ref().unwrap();
    assert!(all_nodes(graph).iter().all(|n| n.domain().is_empty()));
    for t in &graph.initializer {
        if t.data_type() != acon_onnx::proto::DataType::Int64 as i32 {
            assert_eq!(t.data_type(), ty.onnx() as i32, "`{}`", t.name());
        }
    }
}

#[test]
fn fixtures_dynamic_batch_double_and_float16_match_pytorch() {
    for name in ["meta_acon_c_dynbatch", "acon_c_double", "acon_c_f16"] {
        reference::fixture_matches_pytorch(name, &[]);
    }
    let converted_dims = {
        let dir = common::tempdir();
        let fixture = common::fixture("meta_acon_c_dynbatch");
        let out = convert(dir.path(), &load(&fixture.model_path()));
        load(&out).graph.unwrap().input[0].clone()
    };
    let original = load(&common::fixture("meta_acon_c_dynbatch").model_path());
    assert_eq!(converted_dims, original.graph.unwrap().input[0]);
}

/// Issue #15: an ACON domain imported at a version the spec does not define
/// (it defines 1 only) is refused by every verb that reads ACON nodes,
/// naming the import and the versions known; `--acon-domain` domains too.
#[test]
fn acon_op_set_versions_other_than_1_are_refused() {
    let chain = Chain::new(&[Stage::C], 4, 2, FloatType::F32, 3);
    let dir = common::tempdir();
    let cases = [("acon", 2, None), ("vendor", 3, Some("vendor"))];
    for (domain, version, extra) in cases {
        let mut m = chain_model(&chain, 17, &["2", "4", "5", "3"]);
        if let Some(d) = extra {
            for n in &mut m.graph.as_mut().unwrap().node {
                n.domain = Some(d.into());
            }
            m.opset_import.push(acon_onnx::proto::OperatorSetIdProto {
                domain: Some(d.into()),
                version: Some(version),
            });
        } else {
            m.opset_import[1].version = Some(version);
        }
        let input = dir.path().join(format!("{domain}.onnx"));
        write_model(&input, &m);
        let input = input.to_str().unwrap();
        let out = dir.path().join("out.onnx");
        let mut domain_args = vec![];
        if let Some(d) = extra {
            domain_args = vec!["--acon-domain", d];
        }
        for verb in [
            vec!["convert", input, "-o", out.to_str().unwrap()],
            vec!["inspect", input],
            vec!["run", input],
            vec!["verify", input],
            vec!["bench", input, "--runs", "1", "--warmup", "0"],
        ] {
            let mut args = verb.clone();
            args.extend(&domain_args);
            let o = acon(&args);
            assert_exit(&o, 2);
            let err = stderr(&o);
            assert!(
                err.contains(&format!("`{domain}` at version {version}"))
                    && err.contains("only version 1"),
                "{verb:?}: {err}"
            );
        }
        assert!(!out.exists(), "nothing is written");
    }
    // Version 1 is read as it always was.
    let ok = dir.path().join("ok.onnx");
    write_model(&ok, &chain_model(&chain, 17, &["2", "4", "5", "3"]));
    assert_exit(&acon(&["inspect", ok.to_str().unwrap()]), 0);
}

/// Issue #15: tract 0.23.9 has no f64 Sigmoid, so a double conversion spells
/// σ as `Reciprocal(Add(Exp(Neg(z)), 1))`, which tract runs in f64. It
/// matches `x·σ(x)` evaluated here in relative terms down to z = −40, where
/// σ is 4e−18 (Close's absolute bound would accept anything there, so only
/// its relative bound is used), and saturates to 0 and x where exp overflows.
#[test]
fn double_models_spell_sigmoid_in_ops_tract_runs() {
    use acon_onnx::compare::{Tolerance, compare};
    let ty = FloatType::F64;
    let xs = [
        -745.0, -710.0, -40.0, -20.0, -1.5, 0.0, 0.25, 20.0, 40.0, 710.0,
    ];
    let graph = GraphProto {
        node: vec![common::acon_node("act", "AconA", &["x"], &["y"])],
        input: vec![tensor_info("x", ty, &["1", "10"])],
        output: vec![tensor_info("y", ty, &["1", "10"])],
        ..Default::default()
    };
    let dir = common::tempdir();
    let out = write_and_convert(dir.path(), &model(graph, 17));
    let ops: Vec<String> = all_nodes(load(&out).graph.as_ref().unwrap())
        .iter()
        .map(|n| n.op_type().to_owned())
        .collect();
    assert_eq!(ops, ["Neg", "Exp", "Add", "Reciprocal", "Mul"]);
    let x = acon_onnx::model::tensor::Array {
        dims: vec![1, 10],
        data: xs.to_vec(),
    };
    let y = reference::run(&out, &[float_tensor("x", &x, ty)]);
    let expected: Vec<f64> = xs.iter().map(|&v| v * reference::sigmoid(v)).collect();
    let (_, rtol) = Tolerance::Close.bounds(ty);
    let c = compare(&y[0], &expected, ty, 0.0, rtol);
    assert!(c.passed, "{c:#?}\n{:?}\n{expected:?}", y[0]);
}
