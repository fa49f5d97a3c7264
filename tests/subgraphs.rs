//! Issue #3, subgraphs: ACON nodes inside `If` and `Loop` bodies, nested
//! ones included, are decomposed like top-level ones. The constants they
//! need are in scope where they are used, outer names are read, never
//! shadowed. tract runs `If`; the `Loop` model is checked by structure and by
//! evaluating the converted graph in the test (tract has no `Loop`).

mod common;
mod reference;

use std::path::{Path, PathBuf};

use acon_onnx::model::tensor::{FloatType, float_tensor, int64_tensor};
use acon_onnx::proto::{DataType, GraphProto, ModelProto, NodeProto, TensorProto};
use common::{load, node, write_and_convert};
use reference::{
    Chain, EVERY_STAGE, Stage, assert_close, assert_only_default_domain, assert_scoping,
    bool_tensor, evaluate_model, graph_attr, tensor_info, typed_info,
};

const F32: FloatType = FloatType::F32;
const X: [&str; 4] = ["2", "4", "5", "3"];

/// `If(cond)` writing `output` from the two branches.
fn if_node(
    name: &str,
    cond: &str,
    then: GraphProto,
    otherwise: GraphProto,
    output: &str,
) -> NodeProto {
    let mut n = node(name, "If", &[cond], &[output]);
    n.attribute = vec![
        graph_attr("then_branch", then),
        graph_attr("else_branch", otherwise),
    ];
    n
}

/// A branch running `chain` on `x` (read from an enclosing scope) to `out`;
/// its parameters live in the branch itself when `local`, else they are
/// returned for an enclosing graph.
fn branch(chain: &Chain, name: &str, out: &str, local: bool) -> (GraphProto, Vec<TensorProto>) {
    let built = chain.build(&format!("{name}/"), "x", out);
    let mut g = GraphProto {
        name: Some(name.into()),
        node: built.nodes,
        output: vec![tensor_info(out, F32, &X)],
        ..Default::default()
    };
    if local {
        g.initializer = built.initializers;
        (g, vec![])
    } else {
        (g, built.initializers)
    }
}

fn convert(dir: &Path, m: &ModelProto) -> PathBuf {
    let output = write_and_convert(dir, m);
    assert_only_default_domain(&output);
    assert_scoping(load(&output).graph.as_ref().unwrap());
    output
}

#[test]
fn if_acon_fixture_matches_pytorch_for_both_branches() {
    reference::fixture_matches_pytorch("if_acon", &[]);
    let dir = common::tempdir();
    let out = convert(dir.path(), &load(&common::fixture("if_acon").model_path()));
    assert_eq!(
        load(&out).graph.unwrap().node.len(),
        1,
        "one If, rewritten inside"
    );
}

#[test]
fn nested_if_branches_convert_and_run() {
    // if c1 { if c2 { AconC (parameters in the inner branch) }
    //         else  { MetaAconC with BN (parameters in the main graph) } }
    // else  { AconA, AconB (parameters in the outer else branch) }
    let chains = [
        Chain::new(&[Stage::C], 4, 2, F32, 21),
        Chain::new(&[Stage::MetaBn], 4, 2, F32, 22),
        Chain::new(&[Stage::A, Stage::B], 4, 2, F32, 23),
    ];
    for opset in [17, 18] {
        let (inner_then, _) = branch(&chains[0], "inner_then", "y_tt", true);
        let (inner_else, top_params) = branch(&chains[1], "inner_else", "y_tf", false);
        let (outer_else, _) = branch(&chains[2], "outer_else", "y_f", true);
        let outer_then = GraphProto {
            name: Some("outer_then".into()),
            node: vec![if_node("inner_if", "c2", inner_then, inner_else, "y_t")],
            output: vec![tensor_info("y_t", F32, &X)],
            ..Default::default()
        };
        let graph = GraphProto {
            name: Some("nested".into()),
            node: vec![if_node("outer_if", "c1", outer_then, outer_else, "y")],
            initializer: top_params,
            input: vec![
                tensor_info("x", F32, &X),
                typed_info("c1", DataType::Bool, &[]),
                typed_info("c2", DataType::Bool, &[]),
            ],
            output: vec![tensor_info("y", F32, &X)],
            ..Default::default()
        };
        let dir = common::tempdir();
        let out = convert(dir.path(), &common::model(graph, opset));
        let x = chains[0].input(&[2, 4, 5, 3], 24);
        for (c1, c2, chain) in [(true, true, 0), (true, false, 1), (false, true, 2)] {
            let inputs = [
                float_tensor("x", &x, F32),
                bool_tensor("c1", c1),
                bool_tensor("c2", c2),
            ];
            let y = common::run_in_tract(&out, &inputs);
            let what = format!("opset {opset}, c1 {c1}, c2 {c2}");
            assert_close(&y[0], &chains[chain].reference(&x).data, F32, &what);
        }
    }
}

/// `y = Loop(3 times, v ← chain(v), v₀ = x)`, the chain's parameters in the
/// main graph. The main graph also defines `lp/act4.mean`, the name the
/// decomposition would give the body's first ReduceMean, as a trap for
/// shadowing.
fn loop_model(chain: &Chain, opset: i64) -> ModelProto {
    let built = chain.build("lp/", "v_in", "v_out");
    let body = GraphProto {
        name: Some("body".into()),
        node: [node("lp/cond", "Identity", &["cond_in"], &["cond_out"])]
            .into_iter()
            .chain(built.nodes)
            .collect(),
        input: vec![
            typed_info("iter", DataType::Int64, &[]),
            typed_info("cond_in", DataType::Bool, &[]),
            tensor_info("v_in", F32, &X),
        ],
        output: vec![
            typed_info("cond_out", DataType::Bool, &[]),
            tensor_info("v_out", F32, &X),
        ],
        ..Default::default()
    };
    let mut lp = node("loop", "Loop", &["trips", "cond", "x"], &["y"]);
    lp.attribute.push(graph_attr("body", body));
    let mut initializer = built.initializers;
    initializer.push(int64_tensor("trips", &[3]));
    initializer.last_mut().unwrap().dims.clear();
    initializer.push(bool_tensor("cond", true));
    let graph = GraphProto {
        name: Some("looped".into()),
        node: vec![node("trap", "Identity", &["x"], &["lp/act4.mean"]), lp],
        initializer,
        input: vec![tensor_info("x", F32, &X)],
        output: vec![
            tensor_info("y", F32, &X),
            tensor_info("lp/act4.mean", F32, &X),
        ],
        ..Default::default()
    };
    common::model(graph, opset)
}

#[test]
fn loop_body_converts_in_scope_and_evaluates_to_the_formulas() {
    let chain = Chain::new(&EVERY_STAGE, 4, 2, F32, 31);
    let x = chain.input(&[2, 4, 5, 3], 32);
    let expected = (0..3).fold(x.clone(), |v, _| chain.reference(&v));
    for opset in [17, 18] {
        let dir = common::tempdir();
        let out = convert(dir.path(), &loop_model(&chain, opset));
        let converted = load(&out);
        let graph = converted.graph.as_ref().unwrap();
        let body = graph.node[1].attribute[0].g.as_ref().unwrap();
        let mean = body
            .node
            .iter()
            .find(|n| n.op_type() == "ReduceMean")
            .unwrap();
        assert_ne!(
            mean.output[0], "lp/act4.mean",
            "opset {opset}: shadows the trap"
        );
        if opset >= 18 {
            let axes = &mean.input[1];
            assert!(
                body.initializer.iter().any(|t| t.name() == axes),
                "axes in the body"
            );
        }
        let y = evaluate_model(&out, &[float_tensor("x", &x, F32)]);
        assert_close(&y[0], &expected.data, F32, &format!("opset {opset}"));
    }
}

/// Issue #15: tract has no `Loop` (upstream #277). `run` says so, naming
/// the node, instead of a generic tract failure; `convert` still rewrites
/// the body; `verify` proves the regions of the body locally and checks the
/// structure, says that the outputs could not be compared, and passes.
#[test]
fn verify_and_run_name_the_loop_tract_cannot_run() {
    let chain = Chain::new(&[Stage::C], 4, 2, F32, 5);
    let dir = common::tempdir();
    let input = dir.path().join("loop.onnx");
    common::write_model(&input, &loop_model(&chain, 17));
    let converted = write_and_convert(dir.path(), &loop_model(&chain, 17));
    let names_the_loop = |text: &str| {
        text.contains("node `loop` (ai.onnx::Loop)")
            && text.contains("tract has no Loop")
            && text.contains("#277")
    };
    // With no region to prove (`--outputs-only`), nothing decides: an error.
    for args in [
        vec!["run", input.to_str().unwrap()],
        vec!["run", converted.to_str().unwrap()],
        vec!["verify", input.to_str().unwrap(), "--outputs-only"],
    ] {
        let o = common::acon(&args);
        common::assert_exit(&o, 2);
        let err = common::stderr(&o);
        assert!(names_the_loop(&err), "{args:?}: {err}");
    }
    for args in [
        vec!["verify", input.to_str().unwrap()],
        vec![
            "verify",
            input.to_str().unwrap(),
            converted.to_str().unwrap(),
        ],
    ] {
        let o = common::acon(&args);
        common::assert_exit(&o, 0);
        let out = common::stdout(&o);
        assert!(names_the_loop(&out), "{args:?}: {out}");
        assert!(
            out.contains(
                "equivalent: outputs not compared, 1 of 1 regions proved, the rest identical"
            ),
            "{args:?}: {out}"
        );
    }
}

/// The body's regions are proved on stress inputs, with no run of the
/// Loop: a mutation there is caught and names the node.
#[test]
fn a_mutation_in_a_loop_body_is_caught_without_running_the_loop() {
    let chain = Chain::new(&[Stage::C], 4, 2, F32, 5);
    let dir = common::tempdir();
    let input = dir.path().join("loop.onnx");
    common::write_model(&input, &loop_model(&chain, 17));
    let converted = write_and_convert(dir.path(), &loop_model(&chain, 17));
    let mut mutant = load(&converted);
    let lp = &mut mutant.graph.as_mut().unwrap().node[1];
    let body = lp.attribute[0].g.as_mut().unwrap();
    let sigmoid = body
        .node
        .iter_mut()
        .find(|n| n.op_type() == "Sigmoid")
        .expect("the converted body has a Sigmoid");
    sigmoid.op_type = Some("Relu".into());
    let path = dir.path().join("mutant.onnx");
    common::write_model(&path, &mutant);
    let o = common::acon(&["verify", input.to_str().unwrap(), path.to_str().unwrap()]);
    common::assert_exit(&o, 1);
    let out = common::stdout(&o);
    assert!(out.contains("FAIL: look at node"), "{out}");
    assert!(out.contains("outputs not compared"), "{out}");
}
