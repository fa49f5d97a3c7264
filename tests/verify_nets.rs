//! `verify` at its default settings on whole networks exported from
//! PyTorch (`fixtures/nets/`, made by `fixtures/gen/make_net_fixtures.py`):
//! no false alarm over several seeds and on the PyTorch test data, in every
//! export form; and a conversion made by another tool, which verify cannot
//! align, still passes on its calibrated outputs while its mutations fail.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use acon_onnx::proto::ModelProto;
use common::*;

#[derive(serde::Deserialize)]
struct Net {
    name: String,
    model: String,
    acon_nodes: HashMap<String, usize>,
    #[serde(default)]
    meta_acon_c_modules: usize,
}

fn nets() -> Vec<Net> {
    let path = fixtures().join("nets/manifest.json");
    let text = std::fs::read_to_string(&path).expect("fixtures/nets/manifest.json");
    serde_json::from_str(&text).expect("manifest parses")
}

fn net_dir(net: &Net) -> PathBuf {
    fixtures()
        .join("nets")
        .join(Path::new(&net.model).parent().unwrap())
}

/// The number of ACON activations of `net`, however it was exported.
fn activations(net: &Net) -> usize {
    net.acon_nodes
        .values()
        .sum::<usize>()
        .max(net.meta_acon_c_modules)
}

#[test]
fn every_net_export_is_equivalent_over_several_seeds_and_its_test_data() {
    let nets = nets();
    assert!(nets.len() >= 3, "fixtures/nets has {} models", nets.len());
    for net in &nets {
        let model = fixtures().join("nets").join(&net.model);
        let model = model.to_str().unwrap();
        let data = net_dir(net).join("test_data_set_0");
        let proved = format!("{0} of {0} regions proved", activations(net));
        let mut runs: Vec<Vec<String>> = (0..4)
            .map(|s| vec!["--seed".to_owned(), s.to_string()])
            .collect();
        runs.push(vec!["--data".into(), data.to_str().unwrap().into()]);
        for extra in runs {
            let mut args = vec!["verify", model];
            args.extend(extra.iter().map(String::as_str));
            let o = acon(&args);
            let out = stdout(&o);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{} {extra:?}:\n{out}\n{}",
                net.name,
                stderr(&o)
            );
            assert!(out.contains(&proved), "{} {extra:?}: {out}", net.name);
        }
        // The README's CI recipe: convert to a file, verify the two files on
        // the exporter's test data, with a JUnit report.
        let dir = tempdir();
        let converted = dir.path().join("model.std.onnx");
        assert_exit(&convert_to(Path::new(model), &converted, &[]), 0);
        let junit = dir.path().join("verify.xml");
        let o = acon(&[
            "verify",
            model,
            converted.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", net.name, stdout(&o));
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains("failures=\"0\""), "{}: {xml}", net.name);
    }
}

/// Every value of the main graph but its inputs and outputs renamed, as a
/// converter other than ours might: verify can no longer align a region.
fn renamed(m: &ModelProto) -> ModelProto {
    let mut m = m.clone();
    let g = m.graph.as_mut().unwrap();
    let keep: Vec<String> = g
        .input
        .iter()
        .chain(&g.output)
        .map(|v| v.name().to_owned())
        .collect();
    let mut names: HashMap<String, String> = HashMap::new();
    let mut rename = |name: &mut String| {
        if name.is_empty() || keep.contains(name) {
            return;
        }
        let next = format!("elsewhere_{}", names.len());
        *name = names.entry(name.clone()).or_insert(next).clone();
    };
    for t in &mut g.initializer {
        let mut n = t.name().to_owned();
        rename(&mut n);
        t.name = Some(n);
    }
    for node in &mut g.node {
        node.input.iter_mut().for_each(&mut rename);
        node.output.iter_mut().for_each(&mut rename);
    }
    g.value_info.clear();
    m
}

/// The converted dynamo export of the first ShuffleNet, renamed.
fn converted_elsewhere(dir: &Path) -> (PathBuf, ModelProto) {
    let original = fixtures().join("nets/shufflenet_official_dynamo/model.onnx");
    let out = dir.join("converted.onnx");
    assert_exit(&convert_to(&original, &out, &[]), 0);
    (original, renamed(&load(&out)))
}

fn verify_against(dir: &Path, original: &Path, m: &ModelProto, what: &str) -> std::process::Output {
    let path = dir.join(format!("{what}.onnx"));
    write_model(&path, m);
    acon(&[
        "verify",
        original.to_str().unwrap(),
        path.to_str().unwrap(),
        "--samples",
        "2",
    ])
}

#[test]
fn a_conversion_verify_cannot_align_passes_on_its_calibrated_outputs() {
    let dir = tempdir();
    let (original, m) = converted_elsewhere(dir.path());
    let o = verify_against(dir.path(), &original, &m, "renamed");
    let out = stdout(&o);
    assert_exit(&o, 0);
    assert!(out.contains("only the outputs are compared"), "{out}");
    assert!(out.contains("equivalent: 4 of 4 checks passed"), "{out}");
}

#[test]
fn mutations_of_a_conversion_verify_cannot_align_are_caught() {
    let dir = tempdir();
    let (original, m) = converted_elsewhere(dir.path());
    let g = m.graph.as_ref().unwrap();
    let mut mutants: Vec<(String, ModelProto)> = vec![];
    // Each tenth Sigmoid made a Relu.
    for (k, i) in (0..g.node.len())
        .filter(|&i| g.node[i].op_type() == "Sigmoid")
        .enumerate()
        .filter(|(k, _)| k % 10 == 0)
    {
        let mut mutant = m.clone();
        mutant.graph.as_mut().unwrap().node[i].op_type = Some("Relu".into());
        mutants.push((format!("sigmoid{k}_relu"), mutant));
    }
    // The first convolution's weight, the stem's, outside every region,
    // scaled by 1 %.
    let stem = g.node.iter().find(|n| n.op_type() == "Conv").unwrap();
    let weight = stem.input[1].clone();
    let mut mutant = m.clone();
    scale_initializer(mutant.graph.as_mut().unwrap(), &weight, 1.01);
    mutants.push(("stem_weight_1pc".into(), mutant));
    // A removed node: the last Sigmoid's input passed straight on.
    let mut mutant = m.clone();
    let mg = mutant.graph.as_mut().unwrap();
    let last = mg
        .node
        .iter()
        .rposition(|n| n.op_type() == "Sigmoid")
        .unwrap();
    mg.node[last].op_type = Some("Identity".into());
    mutants.push(("sigmoid_removed".into(), mutant));
    assert!(mutants.len() >= 4);
    for (what, mutant) in mutants {
        let o = verify_against(dir.path(), &original, &mutant, &what);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{what}:\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
    }
}
