//! `acon-onnx zoo` and `inspect --flops` end to end (issue 5): every small
//! network of the seed table (the 41–42M multiply-add rows and ResNet-18)
//! is written by the real binary, converted, verified against its ACON
//! original, run in plain tract, and its parameter count is held to the
//! paper's. The big networks are counted by `zoo-table` (docs/seed-table.md),
//! not built here.

mod common;

use std::path::{Path, PathBuf};

use acon_onnx::zoo::table::{PAPER, PaperRow, matches};
use acon_onnx::zoo::{Arch, Rng};
use common::*;

/// The small rows of the table: (arch, width).
const SMALL: [(&str, &str); 4] = [
    ("mobilenet_v1", "0.25"),
    ("mobilenet_v2", "0.17"),
    ("shufflenet_v2", "0.5"),
    ("resnet18", "1"),
];

fn zoo(dir: &Path, arch: &str, width: &str, act: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(format!("{arch}_{width}_{act}.onnx"));
    let path_str = path.to_str().unwrap();
    let mut args = vec!["zoo", arch, "--width", width, "--act", act, "-o", path_str];
    args.extend(extra);
    let out = acon(&args);
    assert_exit(&out, 0);
    path
}

fn flops_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["inspect", "--flops", "--json", path.to_str().unwrap()];
    args.extend(extra);
    let out = acon(&args);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("inspect JSON");
    v["flops"].clone()
}

fn random_input(seed: u64) -> acon_onnx::proto::TensorProto {
    let mut rng = Rng::new(seed);
    let n = 3 * 224 * 224;
    let mut t = f32_init("input", &[1, 3, 224, 224], rng.normal_vec(n, 0.0, 1.0));
    t.name = Some("input".into());
    t
}

fn paper_row(arch: &str, width: &str) -> PaperRow {
    let width: f64 = width.parse().unwrap();
    *PAPER
        .iter()
        .find(|r| r.arch.name() == arch && r.width == width)
        .unwrap_or_else(|| panic!("no paper row for {arch} {width}"))
}

/// Writes `arch` with ReLU and Meta-ACON, converts both, verifies the
/// Meta-ACON conversion against its original, runs both conversions in
/// plain tract and checks their parameter counts against the table.
fn build_convert_verify_run(arch: &str, width: &str) {
    let dir = tempdir();
    let row = paper_row(arch, width);
    for (act, paper_params) in [("relu", row.relu_params), ("meta-acon", row.meta_params)] {
        let original = zoo(dir.path(), arch, width, act, &["--seed", "5"]);
        let converted = dir.path().join(format!("{arch}_{act}.converted.onnx"));
        assert_exit(
            &acon(&[
                "convert",
                original.to_str().unwrap(),
                "-o",
                converted.to_str().unwrap(),
            ]),
            0,
        );
        let standard = load(&converted);
        let nodes = all_nodes(standard.graph.as_ref().unwrap());
        assert!(
            nodes.iter().all(|n| n.domain().is_empty()),
            "{arch} {act}: ACON ops left after convert"
        );
        if act == "meta-acon" {
            let out = acon(&[
                "verify",
                original.to_str().unwrap(),
                converted.to_str().unwrap(),
            ]);
            assert_exit(&out, 0);
        }
        let outputs = run_in_tract(&converted, &[random_input(11)]);
        assert_eq!(outputs.len(), 1);
        assert_eq!(outputs[0].len(), 1000, "{arch} {act}: output is [1, 1000]");
        assert!(
            outputs[0].iter().all(|v| v.is_finite()),
            "{arch} {act}: non-finite logits"
        );
        assert!(
            outputs[0].iter().any(|&v| v != outputs[0][0]),
            "{arch} {act}: constant logits"
        );

        // The declared and the inferred output shape agree, and the count
        // matches the paper's.
        let flops = flops_json(&original, &[]);
        assert_eq!(flops["outputs"][0]["shape"], serde_json::json!([1, 1000]));
        assert_eq!(flops["not_counted"], serde_json::json!([]));
        let params = flops["parameters"].as_u64().unwrap() as f64 / 1e6;
        assert!(
            matches(paper_params, params, 0.1),
            "{arch} {width} {act}: {params:.3}M parameters, paper {paper_params}M"
        );
    }
}

#[test]
fn mobilenet_v1_025_converts_verifies_and_runs() {
    build_convert_verify_run(SMALL[0].0, SMALL[0].1);
}

#[test]
fn mobilenet_v2_017_converts_verifies_and_runs() {
    build_convert_verify_run(SMALL[1].0, SMALL[1].1);
}

#[test]
fn shufflenet_v2_05_converts_verifies_and_runs() {
    build_convert_verify_run(SMALL[2].0, SMALL[2].1);
}

#[test]
fn resnet18_converts_verifies_and_runs() {
    build_convert_verify_run(SMALL[3].0, SMALL[3].1);
}

#[test]
fn swish_and_acon_c_models_convert_and_verify() {
    let dir = tempdir();
    for act in ["swish", "acon-c"] {
        let original = zoo(dir.path(), "mobilenet_v1", "0.25", act, &[]);
        let model = load(&original);
        let op = if act == "swish" { "AconA" } else { "AconC" };
        let acon_nodes = all_nodes(model.graph.as_ref().unwrap())
            .into_iter()
            .filter(|n| n.domain() == "acon" && n.op_type() == op)
            .count();
        assert_eq!(acon_nodes, 27, "{act}: one per activation");
        assert_exit(&acon(&["verify", original.to_str().unwrap()]), 0);
    }
}

/// `--act relu` and `--act meta-acon` of one seed share every weight but
/// the activations' own: benchmarks compare like with like.
#[test]
fn relu_and_meta_acon_models_share_their_weights() {
    let dir = tempdir();
    let relu = load(&zoo(dir.path(), "resnet18", "1", "relu", &["--seed", "9"]));
    let meta = load(&zoo(
        dir.path(),
        "resnet18",
        "1",
        "meta-acon",
        &["--seed", "9"],
    ));
    let meta_graph = meta.graph.as_ref().unwrap();
    let by_name: std::collections::HashMap<&str, &acon_onnx::proto::TensorProto> = meta_graph
        .initializer
        .iter()
        .map(|t| (t.name(), t))
        .collect();
    let relu_graph = relu.graph.as_ref().unwrap();
    for t in &relu_graph.initializer {
        let other = by_name
            .get(t.name())
            .unwrap_or_else(|| panic!("`{}` missing from the Meta-ACON model", t.name()));
        assert_eq!(t.raw_data, other.raw_data, "`{}` differs", t.name());
        assert_eq!(t.dims, other.dims);
    }
    // What the Meta-ACON model adds are the MetaAconC nodes' parameters.
    let acon_inputs: std::collections::HashSet<&str> = meta_graph
        .node
        .iter()
        .filter(|n| n.op_type() == "MetaAconC")
        .flat_map(|n| n.input.iter().skip(1).map(String::as_str))
        .collect();
    let extra = meta_graph.initializer.len() - relu_graph.initializer.len();
    assert_eq!(extra, acon_inputs.len());
    assert_eq!(extra, 16 * 14, "16 MetaAconC nodes with 14 parameters each");
}

#[test]
fn a_seed_reproduces_its_model_and_another_seed_does_not() {
    let dir = tempdir();
    let a = zoo(
        dir.path(),
        "shufflenet_v2",
        "0.5",
        "meta-acon",
        &["--seed", "1"],
    );
    let a_bytes = std::fs::read(&a).unwrap();
    std::fs::remove_file(&a).unwrap();
    let again = zoo(
        dir.path(),
        "shufflenet_v2",
        "0.5",
        "meta-acon",
        &["--seed", "1"],
    );
    assert!(
        std::fs::read(&again).unwrap() == a_bytes,
        "same seed, same bytes"
    );
    let b = zoo(
        dir.path(),
        "shufflenet_v2",
        "0.5",
        "meta-acon",
        &["--seed", "2", "--force"],
    );
    assert!(std::fs::read(&b).unwrap() != a_bytes);
}

#[test]
fn standard_models_have_only_standard_ops_and_the_same_multiply_adds() {
    let dir = tempdir();
    let custom = zoo(dir.path(), "shufflenet_v2", "0.5", "meta-acon", &[]);
    let standard = dir.path().join("standard.onnx");
    let out = acon(&[
        "zoo",
        "shufflenet_v2",
        "--width",
        "0.5",
        "--act",
        "meta-acon",
        "--standard",
        "-o",
        standard.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let model = load(&standard);
    assert!(model.opset_import.iter().all(|o| o.domain() != "acon"));
    for n in all_nodes(model.graph.as_ref().unwrap()) {
        assert!(n.domain().is_empty(), "{} in {}", n.op_type(), n.domain());
    }
    let a = flops_json(&custom, &[]);
    let b = flops_json(&standard, &[]);
    assert_eq!(a["multiply_adds"], b["multiply_adds"]);
    assert!(b["not_counted"].as_array().unwrap().is_empty());
}

#[test]
fn symbolic_batch_is_set_with_dim() {
    let dir = tempdir();
    let path = zoo(
        dir.path(),
        "mobilenet_v1",
        "0.25",
        "meta-acon",
        &["--batch", "batch"],
    );
    let one = flops_json(&path, &[]);
    assert_eq!(one["dims"][0]["name"], "batch");
    assert_eq!(one["dims"][0]["assumed"], true);
    let four = flops_json(&path, &["--dim", "batch=4"]);
    assert_eq!(four["dims"][0]["assumed"], false);
    assert_eq!(
        four["multiply_adds"].as_u64().unwrap(),
        4 * one["multiply_adds"].as_u64().unwrap()
    );
    assert_eq!(four["outputs"][0]["shape"], serde_json::json!([4, 1000]));
    let text = stdout(&acon(&["inspect", "--flops", path.to_str().unwrap()]));
    assert!(text.contains("dim batch = 1 (assumed"), "{text}");
    // The flag is the command line's word (#11).
    assert!(text.contains("(assumed; set it with --dim)"), "{text}");
}

/// The count works on models PyTorch exported, not only on ours.
#[test]
fn flops_of_the_pytorch_fixtures() {
    for f in manifest() {
        let mut extra: Vec<String> = vec![];
        for (name, value) in &f.dims {
            extra.push("--dim".into());
            extra.push(format!("{name}={value}"));
        }
        // Function-form fixtures name their function's domain here; only
        // custom-op domains are ACON domains.
        if let Some(d) = f.acon_domain.as_ref().filter(|_| f.form == "custom-op") {
            extra.push("--acon-domain".into());
            extra.push(d.clone());
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let flops = flops_json(&f.model_path(), &extra);
        let outputs = flops["outputs"].as_array().unwrap();
        if f.name == "if_acon" {
            assert_eq!(flops["not_counted"][0]["op_type"], "If");
            continue;
        }
        assert!(
            flops["not_counted"].as_array().unwrap().is_empty(),
            "{}: {}",
            f.name,
            flops["not_counted"]
        );
        assert!(
            outputs.iter().all(|o| !o["shape"].is_null()),
            "{}: output shapes",
            f.name
        );
    }
    // Hand counts from fixtures/gen/make_fixtures.py, x [2, 3, 8, 8].
    // PlainCNN: conv 3→8 3×3 at 8×8, conv 8→16 3×3 stride 2 to 4×4, 2×2
    // max pool, Linear 16→5.
    let plain = flops_json(&fixture("plain_cnn_op17").model_path(), &[]);
    assert_eq!(
        op_count(&plain, "matrix_ops", "Conv"),
        2 * (8 * 64 * 27 + 16 * 16 * 72)
    );
    assert_eq!(op_count(&plain, "matrix_ops", "Gemm"), 2 * 16 * 5);
    assert_eq!(op_count(&plain, "pooling", "MaxPool"), 2 * 16 * 4 * 4);
    // SmallCNN: convs 3→8, 8→12 at 8×8, 12→16 stride 2, 16→16 at 4×4;
    // MetaAconC(16) with R = 16; parameters include the ACON ones (AconA β
    // 8, AconB p, β 24, AconC p1, p2, β 48, MetaAconC 640).
    let small = flops_json(&fixture("small_cnn_op17").model_path(), &[]);
    assert_eq!(
        op_count(&small, "matrix_ops", "Conv"),
        2 * (8 * 64 * 27 + 12 * 64 * 72 + 16 * 16 * 108 + 16 * 16 * 144)
    );
    assert_eq!(op_count(&small, "matrix_ops", "MetaAconC"), 2 * 2 * 16 * 16);
    let conv_params = 8 * 28 + 12 * 73 + 16 * 109 + 16 * 145;
    assert_eq!(
        small["parameters"].as_u64().unwrap(),
        conv_params + 170 + 8 + 24 + 48 + 640
    );
    assert_eq!(small["statistics"].as_u64().unwrap(), 2 * 16 + 2 * 16);
}

fn op_count(flops: &serde_json::Value, table: &str, op: &str) -> u64 {
    flops[table]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op_type"] == op)
        .unwrap_or_else(|| panic!("no {op} in {table}: {flops}"))["count"]
        .as_u64()
        .unwrap()
}

#[test]
fn inspect_without_flops_prints_no_flops() {
    let path = fixture("small_cnn_op17").model_path();
    let out = acon(&["inspect", path.to_str().unwrap()]);
    assert_exit(&out, 0);
    assert!(!stdout(&out).contains("FLOPs"));
    let json = acon(&["inspect", "--json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert!(v.get("flops").is_none());
}

#[test]
fn zoo_refuses_bad_options_and_existing_files() {
    let dir = tempdir();
    let path = dir.path().join("m.onnx");
    let p = path.to_str().unwrap();
    let out = acon(&["zoo", "shufflenet_v2", "--width", "0.7", "-o", p]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("0.5, 1.0, 1.5 and 2.0"),
        "{}",
        stderr(&out)
    );
    assert_exit(
        &acon(&["zoo", "resnet18", "--resolution", "100", "-o", p]),
        2,
    );
    assert!(!path.exists());
    assert_exit(
        &acon(&["zoo", "mobilenet_v1", "--width", "0.25", "-o", p]),
        0,
    );
    let out = acon(&["zoo", "mobilenet_v1", "--width", "0.25", "-o", p]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
}

/// docs/seed-table.md is what `zoo-table` prints today. Builds the big
/// networks in memory (a few seconds), so it is not part of the default run.
#[test]
#[ignore]
fn seed_table_doc_is_current() {
    let out = acon(&["zoo-table"]);
    assert_exit(&out, 0);
    let doc = std::fs::read_to_string(repo().join("docs/seed-table.md")).unwrap();
    assert!(
        doc == stdout(&out),
        "docs/seed-table.md is stale: rerun `cargo run --release -- zoo-table > docs/seed-table.md`"
    );
}

#[test]
fn every_arch_has_a_name_the_cli_takes() {
    for arch in Arch::ALL {
        let out = acon(&["zoo", arch.name(), "--help"]);
        assert_exit(&out, 0);
    }
}
