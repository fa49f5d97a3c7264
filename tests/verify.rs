//! Issue #4, `acon-onnx verify`: every committed fixture tract can run is
//! equivalent to its conversion at the default tolerance, over several seeds
//! and on its PyTorch test data; deliberately broken conversions exit 1; a
//! custom node left in CONVERTED exits 2 with a clear message; the JSON and
//! JUnit reports are written and parse.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use acon_onnx::ConvertOptions;
use acon_onnx::model::tensor::{float_tensor, read_floats};
use acon_onnx::proto::ModelProto;
use common::{
    Fixture, acon, assert_exit, fixture, load, manifest, stderr, stdout, tempdir, write_model,
};

/// Every fixture: since issue #15 the double one runs on plain tract too
/// (σ is emitted as `Reciprocal(1 + Exp(−z))` in double models).
fn runnable() -> Vec<Fixture> {
    manifest()
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// `--acon-domain D` for fixtures whose ACON domain is not `acon`.
fn domain_args(f: &Fixture) -> Vec<String> {
    match f.acon_domain.as_deref() {
        Some(d) if d != "acon" => vec!["--acon-domain".into(), d.into()],
        _ => vec![],
    }
}

fn options(f: &Fixture) -> ConvertOptions {
    ConvertOptions::with_domains(f.acon_domain.clone().filter(|d| d != "acon"))
}

fn verify(args: &[String]) -> Output {
    let mut all = vec!["verify".to_owned()];
    all.extend(args.iter().cloned());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    acon(&refs)
}

/// Runs every case, then fails once listing every case that went wrong.
fn expect_all(cases: Vec<(String, Vec<String>, i32)>) {
    let mut failures = vec![];
    for (what, args, code) in cases {
        let out = verify(&args);
        if out.status.code() != Some(code) || stderr(&out).contains("panicked") {
            failures.push(format!(
                "{what}: expected exit {code}, got {:?}\n{}{}",
                out.status.code(),
                stdout(&out),
                stderr(&out)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_is_equivalent_to_its_conversion_over_several_seeds() {
    let mut cases = vec![];
    for f in runnable() {
        for seed in ["0", "1", "7"] {
            let mut args = vec![path_str(&f.model_path()), "--seed".into(), seed.into()];
            args.extend(["--samples".into(), "3".into()]);
            args.extend(domain_args(&f));
            cases.push((format!("{} seed {seed}", f.name), args, 0));
        }
    }
    expect_all(cases);
}

#[test]
fn every_fixture_is_equivalent_on_its_pytorch_test_data() {
    let mut cases = vec![];
    for f in runnable() {
        // The fixture folder holds test_data_set_*: each one is a sample,
        // and its output_K.pb are checked too.
        let mut args = vec![
            path_str(&f.model_path()),
            "--data".into(),
            path_str(&f.dir()),
        ];
        args.extend(domain_args(&f));
        cases.push((f.name.clone(), args, 0));
    }
    expect_all(cases);
    let f = fixture("meta_acon_c_bn_op17");
    let out = verify(&[
        path_str(&f.model_path()),
        "--data".into(),
        path_str(&f.data_sets()[0]),
    ]);
    assert_exit(&out, 0);
    let table = stdout(&out);
    for check in [
        "converted ~ original",
        "original ~ expected",
        "converted ~ expected",
    ] {
        assert!(table.contains(check), "{table}");
    }
}

#[test]
fn a_saved_conversion_verifies_like_the_in_memory_one() {
    let dir = tempdir();
    let mut cases = vec![];
    for name in [
        "small_cnn_op17",
        "fn_small_cnn_op17",
        "meta_acon_c_dynbatch",
        "if_acon",
    ] {
        let f = fixture(name);
        let converted = dir.path().join(format!("{name}.onnx"));
        let out = acon(&[
            "convert",
            &path_str(&f.model_path()),
            "-o",
            &path_str(&converted),
        ]);
        assert_exit(&out, 0);
        let args = vec![
            path_str(&f.model_path()),
            path_str(&converted),
            "--samples".into(),
            "2".into(),
        ];
        cases.push((name.to_owned(), args, 0));
    }
    expect_all(cases);
}

#[test]
fn a_converted_model_tract_cannot_run_is_an_error_not_a_verdict() {
    // A conversion whose Sigmoid became an op tract has no builder for.
    let dir = tempdir();
    let f = fixture("acon_c_op17");
    let converted = dir.path().join("converted.onnx");
    assert_exit(
        &acon(&[
            "convert",
            &path_str(&f.model_path()),
            "-o",
            &path_str(&converted),
        ]),
        0,
    );
    let mut m = load(&converted);
    for n in &mut m.graph.as_mut().unwrap().node {
        if n.op_type() == "Sigmoid" {
            n.op_type = Some("Frobnicate".into());
        }
    }
    write_model(&converted, &m);
    let out = verify(&[path_str(&f.model_path()), path_str(&converted)]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("Frobnicate") && err.contains("CONVERTED"),
        "{err}"
    );
}

// ---- mutations: every one must exit 1 ----------------------------------------
//
// AconC is symmetric in p1 and p2 (the smooth maximum is: swapping them gives
// the identical function), so "p1 and p2 swapped" is no fault and cannot be
// detected. The mutations below change the function: a Sigmoid turned into
// a Relu, one parameter scaled by 1%, a Mul turned into an Add, and p2
// replaced by p1.

const MUTATED: [&str; 4] = [
    "acon_c_op17",
    "acon_b_op17",
    "meta_acon_c_bn_op17",
    "small_cnn_op17",
];

fn converted(f: &Fixture) -> ModelProto {
    let mut m = load(&f.model_path());
    acon_onnx::convert(&mut m, &options(f)).expect("fixture converts");
    m
}

/// `verify ORIGINAL MUTANT` for each mutant, all expected to exit 1.
fn expect_caught(f: &Fixture, mutants: Vec<(String, ModelProto)>) {
    assert!(!mutants.is_empty(), "{}: no mutant was made", f.name);
    let dir = tempdir();
    let mut cases = vec![];
    for (i, (what, m)) in mutants.into_iter().enumerate() {
        let path = dir.path().join(format!("mutant{i}.onnx"));
        write_model(&path, &m);
        let mut args = vec![path_str(&f.model_path()), path_str(&path)];
        args.extend(["--samples".into(), "2".into()]);
        args.extend(domain_args(f));
        cases.push((format!("{}: {what}", f.name), args, 1));
    }
    // Keep the directory alive while the binary reads it.
    expect_all(cases);
    drop(dir);
}

/// One mutant per node of `op_type`, that node's op type set to `to`.
fn retyped(m: &ModelProto, op_type: &str, to: &str) -> Vec<(String, ModelProto)> {
    let graph = m.graph.as_ref().unwrap();
    (0..graph.node.len())
        .filter(|&i| graph.node[i].op_type() == op_type)
        .map(|i| {
            let mut mutant = m.clone();
            let node = &mut mutant.graph.as_mut().unwrap().node[i];
            let what = format!("{op_type} `{}` turned into {to}", node.name());
            node.op_type = Some(to.into());
            (what, mutant)
        })
        .collect()
}

#[test]
fn a_sigmoid_turned_into_a_relu_is_caught() {
    for name in MUTATED {
        let f = fixture(name);
        expect_caught(&f, retyped(&converted(&f), "Sigmoid", "Relu"));
    }
}

#[test]
fn a_mul_turned_into_an_add_is_caught() {
    for name in MUTATED {
        let f = fixture(name);
        expect_caught(&f, retyped(&converted(&f), "Mul", "Add"));
    }
}

#[test]
fn one_parameter_scaled_by_one_percent_is_caught() {
    for name in MUTATED {
        let f = fixture(name);
        let m = converted(&f);
        let graph = m.graph.as_ref().unwrap();
        // The initializers the decomposition made or kept for the ACON ops:
        // those read by the emitted element-wise ops and the 1×1 convs of
        // Meta-ACON (the CNN's own convolutions are not ACON parameters).
        let acon_inputs: Vec<&str> = graph
            .node
            .iter()
            .filter(|n| matches!(n.op_type(), "Mul" | "Add" | "Sub"))
            .chain(
                graph
                    .node
                    .iter()
                    .filter(|n| n.op_type() == "Conv" && n.name().contains("Acon")),
            )
            .flat_map(|n| n.input.iter().map(String::as_str))
            .collect();
        let mutants: Vec<(String, ModelProto)> = (0..graph.initializer.len())
            .filter(|&i| acon_inputs.contains(&graph.initializer[i].name()))
            .filter_map(|i| {
                let t = &graph.initializer[i];
                let ty = acon_onnx::model::tensor::FloatType::from_onnx(t.data_type())?;
                let scaled = read_floats(t).ok()?.map(|v| v * 1.01);
                let mut mutant = m.clone();
                mutant.graph.as_mut().unwrap().initializer[i] = float_tensor(t.name(), &scaled, ty);
                Some((format!("parameter `{}` scaled by 1.01", t.name()), mutant))
            })
            .collect();
        expect_caught(&f, mutants);
    }
}

#[test]
fn p2_replaced_by_p1_is_caught() {
    // Made on the original node, then converted: the converted model is
    // what a converter that wired p1 in place of p2 would write.
    for name in MUTATED {
        let f = fixture(name);
        let mut m = load(&f.model_path());
        let mut changed = 0;
        for node in &mut m.graph.as_mut().unwrap().node {
            if matches!(node.op_type(), "AconC" | "MetaAconC") && node.domain() == "acon" {
                node.input[2] = node.input[1].clone();
                changed += 1;
            }
        }
        if changed == 0 {
            continue;
        }
        acon_onnx::convert(&mut m, &options(&f)).expect("mutant converts");
        expect_caught(&f, vec![("p2 replaced by p1".into(), m)]);
    }
}

#[test]
fn exact_tolerance_sees_what_close_forgives() {
    // The conversion reorders the arithmetic, so the outputs differ by a few
    // ULP: `exact` fails, and an explicit --atol/--rtol can pass it again.
    let f = fixture("acon_c_op17");
    let model = path_str(&f.model_path());
    assert_exit(
        &verify(&[model.clone(), "--tolerance".into(), "exact".into()]),
        1,
    );
    assert_exit(
        &verify(&[
            model.clone(),
            "--tolerance".into(),
            "exact".into(),
            "--atol".into(),
            "1e-3".into(),
        ]),
        0,
    );
    let bad = verify(&[model, "--tolerance".into(), "tight".into()]);
    assert_exit(&bad, 2);
}

// ---- a custom node left behind ------------------------------------------------

#[test]
fn a_custom_node_left_in_converted_fails_loudly() {
    let f = fixture("acon_c_op17");
    let model = path_str(&f.model_path());
    let out = verify(&[model.clone(), model]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("CONVERTED") && err.contains("/AconC") && err.contains("is an ACON custom op"),
        "{err}"
    );

    // A half-converted small CNN: its first ACON node put back.
    let f = fixture("small_cnn_op17");
    let original = load(&f.model_path());
    let mut half = converted(&f);
    let acon_node = original
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .find(|n| n.domain() == "acon")
        .unwrap()
        .clone();
    let dir = tempdir();
    let graph = half.graph.as_mut().unwrap();
    // Replace the nodes that now produce its output by the ACON node itself.
    let out_name = acon_node.output[0].clone();
    let at = graph
        .node
        .iter()
        .position(|n| n.output.contains(&out_name))
        .unwrap();
    graph.node[at] = acon_node;
    let og = original.graph.as_ref().unwrap();
    for t in &og.initializer {
        if !graph.initializer.iter().any(|g| g.name() == t.name()) {
            graph.initializer.push(t.clone());
        }
    }
    half.opset_import = original.opset_import.clone();
    let path = dir.path().join("half.onnx");
    write_model(&path, &half);
    let out = verify(&[path_str(&f.model_path()), path_str(&path)]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("is an ACON custom op"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_files_and_inputs_are_errors() {
    let f = fixture("acon_c_op17");
    let model = path_str(&f.model_path());
    let out = verify(&["no/such/model.onnx".into()]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("no/such/model.onnx"),
        "{}",
        stderr(&out)
    );
    let out = verify(&[model.clone(), "--input".into(), "nope=missing.npy".into()]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("missing.npy"), "{}", stderr(&out));
    let out = verify(&[model.clone(), "--range".into(), "z=-1,1".into()]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`z`"), "{}", stderr(&out));
    let out = verify(&[model, "--dim".into(), "batch=2".into()]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`batch`"), "{}", stderr(&out));
}

// ---- inputs from files and symbolic dims ---------------------------------------

#[test]
fn inputs_come_from_npy_and_npz_files() {
    use acon_onnx::tract::npy::{write_npy, write_npz};
    use acon_onnx::tract::tensor::tensor_from_proto;
    let f = fixture("if_acon");
    let (inputs, _) = common::test_data(&f.data_sets()[1]);
    let dir = tempdir();
    let x = tensor_from_proto(&inputs[0]).unwrap();
    let cond = tensor_from_proto(&inputs[1]).unwrap();
    let x_path = dir.path().join("x.npy");
    let cond_path = dir.path().join("cond.npy");
    write_npy(&x_path, &x).unwrap();
    write_npy(&cond_path, &cond).unwrap();
    let out = verify(&[
        path_str(&f.model_path()),
        "--input".into(),
        format!("x={}", path_str(&x_path)),
        "--input".into(),
        format!("cond={}", path_str(&cond_path)),
    ]);
    assert_exit(&out, 0);
    let npz = dir.path().join("all.npz");
    write_npz(&npz, &[("x".into(), x), ("cond".into(), cond)]).unwrap();
    let out = verify(&[path_str(&f.model_path()), "--input".into(), path_str(&npz)]);
    assert_exit(&out, 0);
    // Every input must be given once inputs come from files.
    let out = verify(&[
        path_str(&f.model_path()),
        "--input".into(),
        format!("x={}", path_str(&x_path)),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("input `cond`"), "{}", stderr(&out));
}

#[test]
fn symbolic_dims_take_their_dim_value() {
    let f = fixture("meta_acon_c_dynbatch");
    let dir = tempdir();
    let report = dir.path().join("r.json");
    let out = verify(&[
        path_str(&f.model_path()),
        "--dim".into(),
        "batch=5".into(),
        "--report".into(),
        path_str(&report),
    ]);
    assert_exit(&out, 0);
    let json = read_json(&report);
    assert_eq!(json["samples"][0]["inputs"][0]["shape"][0], 5);
    assert_eq!(json["outputs"][0]["checks"][0]["shape"][0], 5);
}

// ---- reports ----------------------------------------------------------------

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("report written");
    serde_json::from_str(&text).expect("report parses")
}

/// A small well-formedness check: tags nest and close, attributes are
/// quoted, entities are the five XML ones. Returns the element names in
/// document order.
fn xml_elements(text: &str) -> Vec<String> {
    let body = text
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .expect("XML declaration");
    let mut stack: Vec<String> = vec![];
    let mut names = vec![];
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
            let mut attrs = tag[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs.find("=\"").expect("attribute is name=\"value\"");
                let end = attrs[eq + 2..].find('"').expect("attribute value closes") + eq + 2;
                check_text(&attrs[eq + 2..end]);
                attrs = attrs[end + 1..].trim_start();
            }
            names.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed {stack:?}");
    names
}

fn check_text(s: &str) {
    assert!(!s.contains('<') && !s.contains('>'), "markup in text: {s}");
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        let end = rest[amp..].find(';').expect("entity ends") + amp;
        assert!(
            ["amp", "lt", "gt", "quot", "apos"].contains(&&rest[amp + 1..end]),
            "unknown entity in {s}"
        );
        rest = &rest[end + 1..];
    }
}

#[test]
fn json_and_junit_reports_are_written_and_parse() {
    let f = fixture("meta_acon_c_bn_op17");
    let dir = tempdir();
    let report = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let out = verify(&[
        path_str(&f.model_path()),
        "--data".into(),
        path_str(&f.dir()),
        "--report".into(),
        path_str(&report),
        "--junit".into(),
        path_str(&junit),
    ]);
    assert_exit(&out, 0);
    let json = read_json(&report);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["equivalent"], true);
    assert!(json["error"].is_null());
    assert_eq!(json["tolerance"]["level"], "close");
    assert_eq!(json["inputs"]["source"], "data");
    assert_eq!(json["native_nodes"], 1);
    let output = &json["outputs"][0];
    assert_eq!(output["name"], "y");
    assert_eq!(output["dtype"], "float");
    assert_eq!(output["checks"].as_array().unwrap().len(), 3);
    let check = &output["checks"][0];
    assert_eq!(check["actual"], "converted");
    assert_eq!(check["expected"], "original");
    let cmp = &check["comparison"];
    for field in [
        "max_abs_error",
        "max_rel_error",
        "mean_abs_error",
        "max_ulp",
        "worst_index",
        "worst_actual",
        "worst_expected",
        "beyond_tolerance",
        "nan_inf_mismatches",
        "min_passing_atol",
    ] {
        assert!(cmp[field].is_number(), "{field}: {cmp}");
    }
    assert_eq!(check["worst_coords"].as_array().unwrap().len(), 4);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let elements = xml_elements(&xml);
    // One test case per output, per region, and one for the structure.
    let regions = json["regions"].as_array().unwrap().len();
    assert!(regions >= 1);
    assert_eq!(
        elements.iter().filter(|e| *e == "testcase").count(),
        1 + regions + 1
    );
    assert!(!elements.contains(&"failure".to_owned()), "{xml}");

    // A mutant: exit 1, the failure is in both reports.
    let mut mutant = converted(&f);
    for n in &mut mutant.graph.as_mut().unwrap().node {
        if n.op_type() == "Sigmoid" {
            n.op_type = Some("Relu".into());
        }
    }
    let mutant_path = dir.path().join("mutant.onnx");
    write_model(&mutant_path, &mutant);
    let out = verify(&[
        path_str(&f.model_path()),
        path_str(&mutant_path),
        "--report".into(),
        path_str(&report),
        "--junit".into(),
        path_str(&junit),
    ]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("NOT EQUIVALENT"), "{}", stdout(&out));
    let json = read_json(&report);
    assert_eq!(json["equivalent"], false);
    assert_eq!(json["converted"], path_str(&mutant_path));
    let check = &json["outputs"][0]["checks"][0];
    assert_eq!(check["passed"], false);
    assert!(check["comparison"]["beyond_tolerance"].as_u64().unwrap() > 0);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml_elements(&xml).contains(&"failure".to_owned()), "{xml}");

    // An error: exit 2, and both reports say why.
    let out = verify(&[
        path_str(&f.model_path()),
        path_str(&f.model_path()),
        "--report".into(),
        path_str(&report),
        "--junit".into(),
        path_str(&junit),
    ]);
    assert_exit(&out, 2);
    let json = read_json(&report);
    assert!(json["error"].as_str().unwrap().contains("ACON custom op"));
    // The advice is the command line's, in the report as on stderr (#11).
    assert!(
        stderr(&out).contains("(run `acon-onnx convert` on it first)"),
        "{}",
        stderr(&out)
    );
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("(run `acon-onnx convert` on it first)"),
        "{}",
        json["error"]
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml_elements(&xml).contains(&"error".to_owned()), "{xml}");
    // Reports are written whole or not at all: no temporary file remains.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
