//! Issue #14, the examples an app copies: `classify` loads an ACON model in
//! any form with `acon_onnx::tract::load` and ranks PyTorch's classes as
//! PyTorch does; `classify_nnef` loads the `convert --to nnef` archive with
//! tract-nnef alone and ranks the same classes. The examples' own code is
//! compiled in here, so this checks what they print.

// Both examples compile in their shared `common/top5.rs`, as they do alone.
#![allow(clippy::duplicate_mod)]

mod common;

#[allow(dead_code)]
#[path = "../examples/classify.rs"]
mod classify;
#[allow(dead_code)]
#[path = "../examples/classify_nnef.rs"]
mod classify_nnef;

use acon_onnx::tract::tensor::{tensor_from_proto, tensor_to_f64};
use common::{assert_exit, convert_to, fixtures, tempdir};

/// PyTorch's top-5 classes of each row of `output_0.pb`.
fn pytorch_top5(set: &std::path::Path) -> Vec<Vec<usize>> {
    let (_, expected) = common::test_data(set);
    let scores = tensor_to_f64(&tensor_from_proto(&expected[0]).unwrap()).unwrap();
    scores
        .chunks(10)
        .map(|row| {
            let mut ix: Vec<usize> = (0..row.len()).collect();
            ix.sort_by(|a, b| row[*b].total_cmp(&row[*a]));
            ix.truncate(5);
            ix
        })
        .collect()
}

fn classes(ranked: &[Vec<(usize, f32)>]) -> Vec<Vec<usize>> {
    ranked
        .iter()
        .map(|r| r.iter().map(|c| c.0).collect())
        .collect()
}

#[test]
fn classify_ranks_as_pytorch_in_every_form() {
    for model in [
        "small_cnn_op17",                   // custom ops
        "fn_small_cnn_op17",                // model-local functions
        "plain/small_cnn_official_ts_op17", // PyTorch's own export
    ] {
        let dir = fixtures().join(model);
        let set = dir.join("test_data_set_0");
        let ranked = classify::classify(&dir.join("model.onnx"), Some(&set.join("input_0.pb")))
            .unwrap_or_else(|e| panic!("{model}: {e:#}"));
        assert_eq!(classes(&ranked), pytorch_top5(&set), "{model}");
    }
}

#[test]
fn classify_nnef_ranks_the_archive_as_classify_ranks_the_model() {
    let dir = tempdir();
    let model = fixtures().join("small_cnn_op17/model.onnx");
    let archive = dir.path().join("small_cnn.nnef.tgz");
    assert_exit(&convert_to(&model, &archive, &["--to", "nnef"]), 0);
    let onnx = classify::classify(&model, None).unwrap();
    let nnef = classify_nnef::classify(&archive).unwrap();
    assert_eq!(classes(&nnef), classes(&onnx));
    // Decomposed ops against the fused kernel: close, not bit-identical.
    for (a, b) in onnx.iter().flatten().zip(nnef.iter().flatten()) {
        assert!(
            (a.1 - b.1).abs() <= 1e-4 * a.1.abs().max(1.0),
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn classify_refuses_a_symbolic_input_without_data() {
    let model = fixtures().join("meta_acon_c_dynbatch/model.onnx");
    let err = classify::classify(&model, None).unwrap_err();
    assert!(format!("{err:#}").contains("symbolic"), "{err:#}");
}
