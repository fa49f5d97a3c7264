//! `recognise-acon` on real PyTorch exports (issue 12): ACON written as
//! standard ops by the dynamo exporter (optimized or not) and by the
//! TorchScript exporter, from the paper's official classes, YOLOv5's and
//! the formulas (`fixtures/plain/`, made by `fixtures/gen/make_plain_fixtures.py`).
//!
//! For every fixture: `inspect` finds exactly the ACON modules the PyTorch
//! model has, by op; `convert` rewrites them into the standard arrangement
//! and the result reproduces PyTorch's outputs; `--to acon` writes them as
//! custom ops that convert back; `run` puts them on the native kernels; and
//! `verify` checks the kernels, with the parameters read from the blocks,
//! against the export's own ops. Near misses are left byte for byte.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

#[derive(Debug, Clone, serde::Deserialize)]
struct Plain {
    name: String,
    model: String,
    exporter: String,
    source: String,
    acon_modules: BTreeMap<String, usize>,
    /// ACON custom-op nodes the export already holds.
    #[serde(default)]
    acon_nodes: BTreeMap<String, usize>,
    external_data: bool,
}

impl Plain {
    fn path(&self) -> PathBuf {
        fixtures().join("plain").join(&self.model)
    }

    fn data(&self) -> PathBuf {
        self.path().parent().unwrap().join("test_data_set_0")
    }

    fn expected(&self) -> BTreeMap<String, usize> {
        self.acon_modules
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    fn near_miss(&self) -> bool {
        self.source == "near-miss"
    }

    /// Blocks of standard ops in the graph itself (not in function bodies,
    /// which `inspect` lists as functions).
    fn has_blocks(&self) -> bool {
        !self.expected().is_empty() && !self.exporter.ends_with("functions")
    }

    /// tract 0.23.9 has no `SplitToSequence`, which the unoptimized dynamo
    /// export of `torch.chunk` writes.
    fn tract_runs(&self) -> bool {
        let m = load(&self.path());
        !all_nodes(m.graph.as_ref().unwrap())
            .iter()
            .any(|n| n.op_type() == "SplitToSequence")
    }
}

fn plain_fixtures() -> Vec<Plain> {
    let text = std::fs::read_to_string(fixtures().join("plain/manifest.json")).unwrap();
    let all: Vec<Plain> = serde_json::from_str(&text).unwrap();
    all.into_iter().filter(|f| f.path().exists()).collect()
}

fn recognised_by_op(path: &Path) -> BTreeMap<String, usize> {
    let o = acon(&["inspect", "--json", path.to_str().unwrap()]);
    assert_exit(&o, 0);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut by_op = BTreeMap::new();
    for b in j["recognised"].as_array().unwrap() {
        *by_op
            .entry(b["op_type"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    by_op
}

fn op_histogram(path: &Path) -> BTreeMap<String, usize> {
    let m = load(path);
    let mut h = BTreeMap::new();
    for n in all_nodes(m.graph.as_ref().unwrap()) {
        *h.entry(format!("{}::{}", n.domain(), n.op_type()))
            .or_default() += 1;
    }
    h
}

#[test]
fn every_acon_module_of_every_export_is_recognised_and_nothing_else() {
    let fixtures = plain_fixtures();
    assert!(fixtures.len() >= 60, "{} plain fixtures", fixtures.len());
    for exporter in ["dynamo", "dynamo-noopt", "torchscript"] {
        assert!(
            fixtures.iter().any(|f| f.exporter == exporter),
            "no {exporter} fixture"
        );
    }
    let mut failures = vec![];
    for f in fixtures
        .iter()
        .filter(|f| !f.exporter.ends_with("functions"))
    {
        let got = recognised_by_op(&f.path());
        if got != f.expected() {
            failures.push(format!("{}: want {:?}, got {got:?}", f.name, f.expected()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn converted_exports_hold_the_standard_arrangement_and_match_pytorch() {
    let dir = tempdir();
    for f in plain_fixtures().iter().filter(|f| f.has_blocks()) {
        // One folder each: external data keeps its file name.
        let sub = dir.path().join(&f.name);
        std::fs::create_dir(&sub).unwrap();
        let out = sub.join(format!("{}.onnx", f.name));
        let o = convert_to(&f.path(), &out, &[]);
        assert_exit(&o, 0);
        let modules: usize = f.expected().values().sum();
        assert!(
            stdout(&o).contains(&format!("recognised {modules} ACON block")),
            "{}: {}",
            f.name,
            stdout(&o)
        );
        // Converting again changes nothing: the arrangement is final.
        let again_dir = sub.join("again");
        std::fs::create_dir(&again_dir).unwrap();
        let again = again_dir.join(format!("{}.onnx", f.name));
        let o = convert_to(&out, &again, &[]);
        assert_exit(&o, 0);
        let nodes = |p: &Path| load(p).graph.unwrap().node;
        assert!(
            nodes(&out) == nodes(&again),
            "{}: converting the conversion changed it: {}",
            f.name,
            stdout(&o)
        );
        if !f.external_data {
            // (With external data the data file's name is in the model.)
            assert!(std::fs::read(&out).unwrap() == std::fs::read(&again).unwrap());
        }
        // The emitted arrangement has one Sigmoid per block and per β, where
        // PyTorch's has the same; no BatchNormalization stays in a block.
        let before = op_histogram(&f.path());
        let after = op_histogram(&out);
        let sigmoids = |h: &BTreeMap<String, usize>| h.get("::Sigmoid").copied().unwrap_or(0);
        assert_eq!(sigmoids(&before), sigmoids(&after), "{}", f.name);
        assert!(
            after.get("::Mul").copied().unwrap_or(0) <= before.get("::Mul").copied().unwrap_or(0),
            "{}: {before:?} -> {after:?}",
            f.name
        );
        if !f.tract_runs() {
            continue;
        }
        // The converted file reproduces PyTorch's outputs (and ORIGINAL's).
        let o = acon(&[
            "verify",
            f.path().to_str().unwrap(),
            out.to_str().unwrap(),
            "--data",
            f.data().to_str().unwrap(),
        ]);
        assert_exit(&o, 0);
        assert!(
            stdout(&o).contains("converted ~ expected"),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn near_misses_are_left_byte_for_byte() {
    let dir = tempdir();
    let misses: Vec<Plain> = plain_fixtures()
        .into_iter()
        .filter(|f| f.near_miss())
        .collect();
    assert!(misses.len() >= 6, "{} near misses", misses.len());
    for f in misses {
        assert!(!f.external_data);
        let out = dir.path().join(format!("{}.onnx", f.name));
        let o = convert_to(&f.path(), &out, &[]);
        assert_exit(&o, 0);
        assert!(
            !stdout(&o).contains("recognised"),
            "{}: {}",
            f.name,
            stdout(&o)
        );
        assert!(
            std::fs::read(f.path()).unwrap() == std::fs::read(&out).unwrap(),
            "{}: the near miss was changed",
            f.name
        );
    }
}

#[test]
fn to_acon_writes_custom_ops_that_convert_back_to_pytorchs_outputs() {
    let dir = tempdir();
    for f in plain_fixtures()
        .iter()
        .filter(|f| !f.near_miss() && f.tract_runs())
    {
        let sub = dir.path().join(&f.name);
        std::fs::create_dir_all(sub.join("std")).unwrap();
        let acon_file = sub.join(format!("{}.acon.onnx", f.name));
        assert_exit(&convert_to(&f.path(), &acon_file, &["--to", "acon"]), 0);
        let h = op_histogram(&acon_file);
        let mut want = f.expected();
        for (op, n) in &f.acon_nodes {
            *want.entry(op.clone()).or_default() += n;
        }
        for (op, n) in want {
            assert_eq!(h.get(&format!("acon::{op}")), Some(&n), "{}: {h:?}", f.name);
        }
        assert!(!h.contains_key("::BatchNormalization") || f.expected().is_empty());
        // Custom ops in the spec's input order: the checker of `inspect`
        // accepts them, and converting gives standard ops again.
        assert_exit(&acon(&["inspect", acon_file.to_str().unwrap()]), 0);
        let back = sub.join("std").join(format!("{}.std.onnx", f.name));
        let o = convert_to(&acon_file, &back, &[]);
        assert_exit(&o, 0);
        assert!(
            !op_histogram(&back).keys().any(|k| k.starts_with("acon::")),
            "{}",
            f.name
        );
        // The custom ops on the reference kernels reproduce PyTorch.
        let o = acon(&[
            "verify",
            acon_file.to_str().unwrap(),
            back.to_str().unwrap(),
            "--data",
            f.data().to_str().unwrap(),
        ]);
        assert_exit(&o, 0);
    }
}

#[test]
fn verify_checks_the_parameters_read_from_each_block_against_the_export() {
    for f in plain_fixtures()
        .iter()
        .filter(|f| f.has_blocks() && f.tract_runs())
    {
        let o = acon(&[
            "verify",
            f.path().to_str().unwrap(),
            "--data",
            f.data().to_str().unwrap(),
        ]);
        assert_exit(&o, 0);
        let out = stdout(&o);
        let modules: usize = f.expected().values().sum();
        assert!(
            out.contains(&format!("{modules} of them recognised in standard ops")),
            "{}: {out}",
            f.name
        );
        assert!(out.contains("original ~ exported"), "{}: {out}", f.name);
    }
}

#[test]
fn run_puts_recognised_blocks_on_the_native_kernels() {
    for name in [
        "small_cnn_official_dynamo_op20",
        "small_cnn_yolov5_ts_op13",
        "shuffle_block_official_dynamo_op18",
    ] {
        let f = plain_fixtures()
            .into_iter()
            .find(|f| f.name == name)
            .unwrap();
        let o = acon(&[
            "run",
            f.path().to_str().unwrap(),
            "--data",
            f.data().to_str().unwrap(),
        ]);
        assert_exit(&o, 0);
        let modules: usize = f.expected().values().sum();
        assert!(
            stdout(&o).contains(&format!(
                "({modules} ACON nodes on native kernels, {modules} of them recognised"
            )),
            "{name}: {}",
            stdout(&o)
        );
    }
}

#[test]
fn skip_pass_leaves_the_blocks_as_they_were() {
    let dir = tempdir();
    let f = plain_fixtures()
        .into_iter()
        .find(|f| f.name == "small_cnn_official_dynamo_op18")
        .unwrap();
    let out = dir.path().join("kept.onnx");
    let o = convert_to(&f.path(), &out, &["--skip-pass", "recognise-acon"]);
    assert_exit(&o, 0);
    assert!(std::fs::read(f.path()).unwrap() == std::fs::read(&out).unwrap());
}

#[test]
fn a_block_whose_sigmoid_became_relu_is_not_recognised() {
    let dir = tempdir();
    let f = plain_fixtures()
        .into_iter()
        .find(|f| f.name == "acon_c_official_dynamo_op18")
        .unwrap();
    let mut m = load(&f.path());
    let g = m.graph.as_mut().unwrap();
    let sig = g
        .node
        .iter_mut()
        .rfind(|n| n.op_type() == "Sigmoid")
        .unwrap();
    sig.op_type = Some("Relu".into());
    let broken = dir.path().join("broken.onnx");
    write_model(&broken, &m);
    assert!(recognised_by_op(&broken).is_empty());
}
