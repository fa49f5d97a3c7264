//! Checking what a converted model computes: the named `close` tolerance,
//! running it (in tract, or with the f64 evaluator for `double`), PyTorch's
//! outputs of the fixtures, and that only default-domain ops remain.

use std::path::Path;

use acon_onnx::compare::{Tolerance, compare};
use acon_onnx::model::tensor::FloatType;
use acon_onnx::proto::TensorProto;

use crate::common;

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
            acon_onnx::model::opsets::is_default_domain(node.domain()),
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
            .all(|d| acon_onnx::model::opsets::is_default_domain(d)),
        "imports {imports:?}"
    );
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
