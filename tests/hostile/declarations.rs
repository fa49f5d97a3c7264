//! Declarations that only running a model trusts: huge declared dims.

use crate::common::*;
use crate::corpus::*;
use crate::verbs::*;

#[test]
fn huge_declared_input_dims_are_refused_before_random_data_is_made() {
    // A valid model: the converter and `inspect` need not allocate for X,
    // but `verify`, `run` and `bench` make random data of X's declared shape.
    let dir = tempdir();
    let input = dir.path().join("huge_x.onnx");
    let huge = with_graph(|g| {
        g.input[0] = value_info("x", 1, &[1 << 40, 4, 3, 3]);
        g.output[0] = value_info("y", 1, &[1 << 40, 4, 3, 3]);
    });
    write_model(&input, &huge);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut failures = vec![];
    for verb in verbs() {
        let Some(args) = verb_args(&verb, &input, &out_dir) else {
            continue;
        };
        let o = run_binary(&args);
        let what = format!("huge X through `{verb}`");
        if verb == "convert" || verb == "inspect" {
            if o.status.code() != Some(0) {
                failures.push(format!("{what}: {:?}\n{}", o.status, stderr(&o)));
            }
        } else if let Some(problems) =
            refusal_problems(&what, &o, &["huge_x.onnx".into(), "`x`".into()])
        {
            failures.push(problems);
        }
        if verb == "verify" {
            let _ = complete_verify_reports(&out_dir);
        }
        let _ = std::fs::remove_file(out_dir.join("out.onnx"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn flops_of_huge_declared_dims_do_not_panic() {
    // 2^80 elements in X: a count past u64 must saturate or be refused,
    // never panic.
    let dir = tempdir();
    let input = dir.path().join("huge_flops.onnx");
    let huge = with_graph(|g| {
        let dims = [1 << 40, 1 << 20, 1 << 10, 1 << 10];
        g.input[0] = value_info("x", 1, &dims);
        g.output[0] = value_info("y", 1, &dims);
        set_init(g, f32_init("p1", &[1], vec![1.0]));
        set_init(g, f32_init("p2", &[1], vec![0.5]));
    });
    write_model(&input, &huge);
    let o = run_binary(&[
        "inspect".into(),
        "--flops".into(),
        "--json".into(),
        input.into(),
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 2)) && !stderr(&o).contains("panicked"),
        "{:?}\n{}",
        o.status,
        stderr(&o)
    );
    if o.status.success() {
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
        assert!(v["flops"].is_object(), "{v}");
    }
}
