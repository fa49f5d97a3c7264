//! Issue #4, `acon-onnx run` and `bench`: every fixture, whatever its form,
//! runs on CPU (custom ops on the native kernels, functions inlined,
//! standard models as they are) and reproduces PyTorch's outputs from its
//! test data within the `close` tolerance; outputs are written as `.npy` or
//! `.npz`; `bench` times one model or two side by side.

mod common;

use std::path::Path;

use acon_onnx::compare::{Tolerance, compare};
use acon_onnx::tract::npy::{read_npy, read_npz};
use acon_onnx::tract::tensor::{float_type, tensor_from_proto, tensor_to_f64};
use common::{Fixture, acon, assert_exit, fixture, manifest, stderr, stdout, tempdir};

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn domain_args(f: &Fixture) -> Vec<String> {
    match f.acon_domain.as_deref() {
        Some(d) if d != "acon" => vec!["--acon-domain".into(), d.into()],
        _ => vec![],
    }
}

fn run(args: &[String]) -> std::process::Output {
    let mut all = vec!["run".to_owned()];
    all.extend(args.iter().cloned());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    acon(&refs)
}

#[test]
fn run_reproduces_pytorch_on_every_fixture() {
    let dir = tempdir();
    let mut failures = vec![];
    let mut compared = 0;
    for f in manifest() {
        for (k, set) in f.data_sets().iter().enumerate() {
            let out_path = dir.path().join(format!("{}_{k}.npz", f.name));
            let mut args = vec![
                path_str(&f.model_path()),
                "--data".into(),
                path_str(set),
                "-o".into(),
                path_str(&out_path),
            ];
            args.extend(domain_args(&f));
            let out = run(&args);
            if out.status.code() != Some(0) {
                failures.push(format!("{} set {k}: {}", f.name, stderr(&out)));
                continue;
            }
            let got = read_npz(&out_path).expect("outputs written");
            let (_, expected) = common::test_data(set);
            assert_eq!(got.len(), expected.len(), "{}", f.name);
            for ((name, actual), want) in got.iter().zip(&expected) {
                let want = tensor_from_proto(want).unwrap();
                assert_eq!(actual.shape(), want.shape(), "{} {name}", f.name);
                assert_eq!(actual.datum_type(), want.datum_type(), "{} {name}", f.name);
                let ty = float_type(want.datum_type()).expect("float outputs");
                let (atol, rtol) = Tolerance::Close.bounds(ty);
                let c = compare(
                    &tensor_to_f64(actual).unwrap(),
                    &tensor_to_f64(&want).unwrap(),
                    ty,
                    atol,
                    rtol,
                );
                if !c.passed {
                    failures.push(format!("{} set {k} output {name}: {c:?}", f.name));
                }
                compared += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= manifest().len(),
        "only {compared} outputs compared"
    );
}

#[test]
fn run_prints_each_outputs_shape_type_and_statistics() {
    let f = fixture("meta_acon_c_bn_op17");
    let out = run(&[path_str(&f.model_path())]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("1 ACON node on native kernels"), "{text}");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("y "))
        .expect("a line for y");
    for part in ["float", "[2, 24, 6, 6]", "min ", "max ", "mean ", "std "] {
        assert!(line.contains(part), "{line}");
    }
}

#[test]
fn run_takes_every_form_and_symbolic_dims() {
    // Functions are inlined, standard models run as they are, and a
    // symbolic batch takes --dim.
    for (name, extra) in [
        ("fn_small_cnn_op17", vec![]),
        ("meta_acon_c_traced_op18", vec![]),
        ("plain_cnn_op17", vec![]),
        ("small_cnn_extdata", vec![]),
        ("acon_c_f16", vec![]),
        (
            "meta_acon_c_dynbatch",
            vec!["--dim".to_owned(), "batch=4".to_owned()],
        ),
    ] {
        let f = fixture(name);
        let mut args = vec![path_str(&f.model_path())];
        args.extend(extra.clone());
        let out = run(&args);
        assert_exit(&out, 0);
        if name == "meta_acon_c_dynbatch" {
            assert!(stdout(&out).contains("[4, 8, 5, 7]"), "{}", stdout(&out));
        }
    }
}

#[test]
fn run_writes_one_npy_per_output_into_a_folder() {
    let f = fixture("fn_meta_acon_c_op17");
    let dir = tempdir();
    let outdir = dir.path().join("outputs");
    let set = &f.data_sets()[0];
    let out = run(&[
        path_str(&f.model_path()),
        "--data".into(),
        path_str(set),
        "-o".into(),
        path_str(&outdir),
    ]);
    assert_exit(&out, 0);
    // The exporter named this graph output `38`.
    let (_, expected) = common::test_data(set);
    let name = expected[0].name().to_owned();
    let got = read_npy(&outdir.join(format!("{name}.npy"))).expect("one .npy per output");
    assert_eq!(got.shape(), &[2, 16, 5, 7]);
    // -o takes one sample only.
    let two = fixture("if_acon");
    let out = run(&[
        path_str(&two.model_path()),
        "--data".into(),
        path_str(&two.dir()),
        "-o".into(),
        path_str(&outdir),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("one sample"), "{}", stderr(&out));
}

#[test]
fn run_refuses_an_acon_node_it_does_not_know() {
    // Without --acon-domain, com.example::AconC is a foreign op tract lacks;
    // the message says so and suggests the flag.
    let f = fixture("acon_c_other_domain");
    let out = run(&[path_str(&f.model_path())]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("com.example::AconC") && err.contains("--acon-domain com.example"),
        "{err}"
    );
}

#[test]
fn the_library_says_what_is_wrong_and_the_command_line_which_flag_issue_11() {
    let dir = tempdir();
    // `-o` naming a file that is not a folder nor an .npz.
    let f = fixture("acon_c_op17");
    let not_a_folder = dir.path().join("outputs.txt");
    std::fs::write(&not_a_folder, "").unwrap();
    let out = run(&[
        path_str(&f.model_path()),
        "-o".into(),
        path_str(&not_a_folder),
    ]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "-o `{}` exists and is not a folder",
            not_a_folder.display()
        )),
        "{err}"
    );
    let options = acon_onnx::tract::RunOptions {
        output: Some(not_a_folder.clone()),
        ..Default::default()
    };
    let lib = acon_onnx::tract::run(&f.model_path(), &options).unwrap_err();
    assert!(
        matches!(lib, acon_onnx::tract::Error::OutputNotFolder { .. }),
        "{lib}"
    );
    assert!(lib.to_string().starts_with('`'), "no flag: {lib}");

    // `--input FILE.npy` without a name, for a model of two inputs.
    let graph = acon_onnx::proto::GraphProto {
        name: Some("add".into()),
        node: vec![common::node("add", "Add", &["x", "y"], &["z"])],
        input: vec![
            common::value_info("x", 1, &[2]),
            common::value_info("y", 1, &[2]),
        ],
        output: vec![common::value_info("z", 1, &[2])],
        ..Default::default()
    };
    let two = dir.path().join("two_inputs.onnx");
    common::write_model(&two, &common::model(graph, 17));
    let x = dir.path().join("x.npy");
    let t = acon_onnx::tract::prelude::Tensor::from_shape(&[2], &[1f32, 2.]).unwrap();
    acon_onnx::tract::npy::write_npy(&x, &t).unwrap();
    let out = run(&[path_str(&two), "--input".into(), path_str(&x)]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("names no input, and the model has 2 (inputs: x, y)")
            && err.contains(&format!("give --input NAME={}", x.display())),
        "{err}"
    );
}

// ---- bench --------------------------------------------------------------------

#[test]
fn bench_times_one_model_and_two_side_by_side() {
    let f = fixture("small_cnn_op17");
    let out = acon(&[
        "bench",
        &path_str(&f.model_path()),
        "--runs",
        "3",
        "--warmup",
        "1",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("median") && text.contains("p10") && text.contains("p90"),
        "{text}"
    );
    assert!(text.contains("runs/s"), "{text}");

    let dir = tempdir();
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
    let out = acon(&[
        "bench",
        &path_str(&f.model_path()),
        "--vs",
        &path_str(&converted),
        "--runs",
        "4",
        "--warmup",
        "1",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("ratio") && text.contains("median"), "{text}");
    assert_exit(
        &acon(&["bench", &path_str(&f.model_path()), "--runs", "0"]),
        2,
    );
}

/// Issue #12 (benchmark): `bench --plain --vs-native` times one plain
/// export against itself, on plain tract (MODEL) and with its recognised
/// block on the native kernel (OTHER), in one process; without `--plain`
/// or `--vs` the flag is refused.
#[test]
fn bench_times_a_plain_export_against_its_native_run() {
    let model =
        path_str(&common::fixtures().join("plain/meta_acon_c_official_dynamo_op20/model.onnx"));
    let out = acon(&[
        "bench",
        &model,
        "--plain",
        "--vs",
        &model,
        "--vs-native",
        "--runs",
        "3",
        "--warmup",
        "1",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains(" min ")).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        !rows[0].contains("native"),
        "MODEL runs on plain tract: {text}"
    );
    assert!(
        rows[1].contains("(1 ACON node native)"),
        "OTHER runs natively: {text}"
    );
    assert!(
        text.contains("ratio") && text.contains("per round"),
        "{text}"
    );
    assert_exit(&acon(&["bench", &model, "--vs", &model, "--vs-native"]), 2);
    assert_exit(&acon(&["bench", &model, "--plain", "--vs-native"]), 2);
}

/// Issue #15: `run` runs a converted double model on plain tract (σ is
/// spelt in ops tract has in f64) and reproduces PyTorch's outputs.
#[test]
fn run_reproduces_pytorch_on_the_converted_double_fixture() {
    let dir = tempdir();
    let f = fixture("acon_c_double");
    let converted = dir.path().join("converted.onnx");
    let o = acon(&[
        "convert",
        &path_str(&f.model_path()),
        "-o",
        &path_str(&converted),
    ]);
    assert_exit(&o, 0);
    for (k, set) in f.data_sets().iter().enumerate() {
        let out_path = dir.path().join(format!("out_{k}.npz"));
        let out = run(&[
            path_str(&converted),
            "--data".into(),
            path_str(set),
            "-o".into(),
            path_str(&out_path),
        ]);
        assert_exit(&out, 0);
        let got = read_npz(&out_path).expect("outputs written");
        let (_, expected) = common::test_data(set);
        for ((name, actual), want) in got.iter().zip(&expected) {
            let want = tensor_from_proto(want).unwrap();
            assert_eq!(actual.datum_type(), want.datum_type(), "{name}");
            let (atol, rtol) = Tolerance::Close.bounds(acon_onnx::model::tensor::FloatType::F64);
            let c = compare(
                &tensor_to_f64(actual).unwrap(),
                &tensor_to_f64(&want).unwrap(),
                acon_onnx::model::tensor::FloatType::F64,
                atol,
                rtol,
            );
            assert!(c.passed, "set {k} output {name}: {c:?}");
        }
    }
}
