//! `acon-onnx convert` end to end: the committed PyTorch fixtures convert to
//! standard ops only and match PyTorch's outputs in tract; models without
//! ACON ops round-trip byte for byte; invalid ACON nodes are refused with
//! exit 2, a message naming node and input, and no file written.

mod common;

use std::collections::BTreeSet;

use acon_onnx::compare::{Tolerance, compare};
use acon_onnx::model::tensor::FloatType;
use acon_onnx::proto::{AttributeProto, AttributeType, GraphProto, ModelProto};
use common::*;

/// Fixtures in custom-op form in the default `acon` domain, embedded data.
fn custom_op_fixtures() -> Vec<Fixture> {
    manifest()
        .into_iter()
        .filter(|f| f.form == "custom-op" && f.acon_domain.as_deref() == Some("acon"))
        .filter(|f| !f.external_data)
        .collect()
}

fn standard_ops_only(original: &ModelProto, converted: &ModelProto) -> Result<(), String> {
    let before: BTreeSet<String> = all_nodes(original.graph.as_ref().unwrap())
        .iter()
        .filter(|n| n.domain().is_empty())
        .map(|n| n.op_type().to_owned())
        .collect();
    for n in all_nodes(converted.graph.as_ref().unwrap()) {
        if !n.domain().is_empty() {
            return Err(format!("node `{}` is in domain `{}`", n.name(), n.domain()));
        }
        if !before.contains(n.op_type()) && !STANDARD_EMITTED.contains(&n.op_type()) {
            return Err(format!(
                "node `{}` has unexpected op {}",
                n.name(),
                n.op_type()
            ));
        }
    }
    if converted.opset_import.iter().any(|o| o.domain() == "acon") {
        return Err("the acon opset import is still there".into());
    }
    Ok(())
}

#[test]
fn pytorch_custom_op_fixtures_convert_to_standard_ops_matching_pytorch() {
    let dir = tempdir();
    let fixtures = custom_op_fixtures();
    assert!(
        fixtures.len() >= 15,
        "manifest lists {} fixtures",
        fixtures.len()
    );
    for f in fixtures {
        let out = dir.path().join(format!("{}.onnx", f.name));
        let o = convert_to(&f.model_path(), &out, &[]);
        assert_exit(&o, 0);
        assert!(stdout(&o).contains("rewrote"), "{}", stdout(&o));

        let original = load(&f.model_path());
        let converted = load(&out);
        standard_ops_only(&original, &converted).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(
            acon_onnx::model::opsets::default_opset(&converted),
            Some(f.opset),
            "{}: the default opset is kept",
            f.name
        );

        let (atol, rtol) = Tolerance::Close.bounds(f.float_type());
        for set in f.data_sets() {
            let (inputs, expected) = test_data(&set);
            let actual = run_in_tract(&out, &inputs);
            for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
                let c = compare(a, &floats(e), f.float_type(), atol, rtol);
                assert!(
                    c.passed,
                    "{} {}: output {k} differs from PyTorch: max abs {:.3e}, worst {:?} vs {:?}",
                    f.name,
                    set.display(),
                    c.max_abs_error,
                    c.worst_actual,
                    c.worst_expected
                );
            }
        }
    }
}

#[test]
fn reduce_mean_takes_axes_by_attribute_before_opset_18_and_by_input_from_18() {
    let dir = tempdir();
    for (name, opset) in [("meta_acon_c_bn_op17", 17), ("meta_acon_c_bn_op18", 18)] {
        let out = dir.path().join("m.onnx");
        assert_exit(
            &convert_to(&fixture(name).model_path(), &out, &["--force"]),
            0,
        );
        let m = load(&out);
        let g = m.graph.as_ref().unwrap();
        let rm = g
            .node
            .iter()
            .find(|n| n.op_type() == "ReduceMean")
            .expect("ReduceMean");
        let has_attr = rm.attribute.iter().any(|a| a.name() == "axes");
        if opset < 18 {
            assert!(has_attr && rm.input.len() == 1, "{name}: {rm:?}");
        } else {
            assert!(!has_attr && rm.input.len() == 2, "{name}: {rm:?}");
            let axes = g
                .initializer
                .iter()
                .find(|t| t.name() == rm.input[1])
                .expect("axes");
            assert_eq!(axes.dims, vec![2]);
        }
    }
}

#[test]
fn constants_are_folded_and_batchnorm_disappears_into_the_convs() {
    let dir = tempdir();
    let f = fixture("meta_acon_c_bn_op17");
    let out = dir.path().join("m.onnx");
    assert_exit(&convert_to(&f.model_path(), &out, &[]), 0);
    let original = load(&f.model_path());
    let m = load(&out);
    let g = m.graph.as_ref().unwrap();
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type()).collect();
    // mean, fc1, fc2, σ(g) = β, β·P, x·βP, σ, ·P, +p2, ·x
    assert_eq!(
        ops,
        [
            "ReduceMean",
            "Conv",
            "Conv",
            "Sigmoid",
            "Mul",
            "Mul",
            "Sigmoid",
            "Mul",
            "Add",
            "Mul"
        ]
    );
    // 15 inputs became: W1', B1', W2', B2', P and p2.
    assert_eq!(original.graph.as_ref().unwrap().initializer.len(), 14);
    assert_eq!(
        g.initializer.len(),
        6,
        "{:?}",
        g.initializer.iter().map(|t| t.name()).collect::<Vec<_>>()
    );
    // New names derive from the replaced node; the last node writes its output.
    let acon = &original.graph.as_ref().unwrap().node[0];
    assert!(g.node.iter().all(|n| n.name().starts_with(acon.name())));
    assert_eq!(g.node.last().unwrap().output, acon.output);
}

#[test]
fn computed_parameters_become_ops_instead_of_folded_constants() {
    let dir = tempdir();
    let f = fixture("acon_c_dynbeta_op17");
    let out = dir.path().join("m.onnx");
    assert_exit(&convert_to(&f.model_path(), &out, &[]), 0);
    let m = load(&out);
    let g = m.graph.as_ref().unwrap();
    let beta_p = g
        .node
        .iter()
        .find(|n| n.name().ends_with(".beta_p"))
        .expect("β·P is computed in the graph");
    assert_eq!(beta_p.op_type(), "Mul");
}

#[test]
fn models_without_acon_ops_round_trip_byte_for_byte() {
    let dir = tempdir();
    for f in manifest()
        .into_iter()
        // A `standard` export holds ACON as standard ops, which
        // `recognise-acon` rewrites (tests/recognise.rs): not in this set.
        .filter(|f| f.form == "no-acon")
    {
        let out = dir.path().join(format!("{}.onnx", f.name));
        let o = convert_to(&f.model_path(), &out, &[]);
        assert_exit(&o, 0);
        assert!(stdout(&o).contains("no ACON nodes"), "{}", stdout(&o));
        let before = std::fs::read(f.model_path()).unwrap();
        let after = std::fs::read(&out).unwrap();
        assert!(
            before == after,
            "{}: the round trip changed the file",
            f.name
        );
    }
}

#[test]
fn a_handmade_model_keeps_every_field_it_does_not_rewrite() {
    // Metadata, doc strings, value_info, unknown-domain nodes and functions
    // all survive; only the ACON node changes.
    let dir = tempdir();
    let mut m = model(
        GraphProto {
            name: Some("g".into()),
            doc_string: Some("graph doc".into()),
            node: vec![
                node("relu", "Relu", &["x"], &["r"]),
                acon_node("act", "AconA", &["r", "beta"], &["a"]),
                NodeProtoExt::with_domain(node("custom", "Foo", &["a"], &["y"]), "vendor"),
            ],
            initializer: vec![f32_init("beta", &[1, 2, 1, 1], vec![0.5, 2.0])],
            input: vec![value_info("x", 1, &[1, 2, 3, 3])],
            output: vec![value_info("y", 1, &[1, 2, 3, 3])],
            value_info: vec![value_info("r", 1, &[1, 2, 3, 3])],
            ..Default::default()
        },
        13,
    );
    m.doc_string = Some("model doc".into());
    m.model_version = Some(7);
    m.metadata_props
        .push(acon_onnx::proto::StringStringEntryProto {
            key: Some("author".into()),
            value: Some("tests".into()),
        });
    m.opset_import.push(acon_onnx::proto::OperatorSetIdProto {
        domain: Some("vendor".into()),
        version: Some(3),
    });
    let input = dir.path().join("in.onnx");
    write_model(&input, &m);
    let out = dir.path().join("out.onnx");
    assert_exit(&convert_to(&input, &out, &[]), 0);
    let c = load(&out);
    assert_eq!(c.doc_string, m.doc_string);
    assert_eq!(c.model_version, m.model_version);
    assert_eq!(c.metadata_props, m.metadata_props);
    assert_eq!(c.producer_name, m.producer_name);
    let domains: Vec<&str> = c.opset_import.iter().map(|o| o.domain()).collect();
    assert_eq!(domains, ["", "vendor"]);
    let (g, og) = (c.graph.as_ref().unwrap(), m.graph.as_ref().unwrap());
    assert_eq!((g.name(), g.doc_string()), (og.name(), og.doc_string()));
    assert_eq!(g.input, og.input);
    assert_eq!(g.output, og.output);
    assert_eq!(g.value_info, og.value_info);
    assert_eq!(g.node.first(), og.node.first());
    assert_eq!(g.node.last(), og.node.last());
}

/// `NodeProto` with a domain, for the builder above.
trait NodeProtoExt {
    fn with_domain(self, domain: &str) -> Self;
}

impl NodeProtoExt for acon_onnx::proto::NodeProto {
    fn with_domain(mut self, domain: &str) -> Self {
        self.domain = Some(domain.into());
        self
    }
}

#[test]
fn a_model_without_a_default_opset_gets_one() {
    let dir = tempdir();
    let mut m = model(
        GraphProto {
            node: vec![acon_node("act", "AconA", &["x"], &["y"])],
            input: vec![value_info("x", 1, &[1, 2])],
            output: vec![value_info("y", 1, &[1, 2])],
            ..Default::default()
        },
        13,
    );
    m.opset_import.retain(|o| o.domain() == "acon");
    let input = dir.path().join("in.onnx");
    write_model(&input, &m);
    let out = dir.path().join("out.onnx");
    assert_exit(&convert_to(&input, &out, &[]), 0);
    let c = load(&out);
    assert_eq!(acon_onnx::model::opsets::default_opset(&c), Some(17));
    assert_eq!(c.opset_import.len(), 1);
}

#[test]
fn new_names_collide_with_nothing() {
    // The model already uses the names the decomposition would pick first.
    let dir = tempdir();
    let g = GraphProto {
        node: vec![
            node("act.sigmoid", "Relu", &["x"], &["act.p"]),
            acon_node("act", "AconC", &["act.p", "p1", "p2"], &["y"]),
        ],
        initializer: vec![
            f32_init("p1", &[1, 2, 1, 1], vec![1.0, 2.0]),
            f32_init("p2", &[1, 2, 1, 1], vec![0.5, 0.25]),
        ],
        input: vec![value_info("x", 1, &[1, 2, 2, 2])],
        output: vec![value_info("y", 1, &[1, 2, 2, 2])],
        ..Default::default()
    };
    let input = dir.path().join("in.onnx");
    write_model(&input, &model(g, 17));
    let out = dir.path().join("out.onnx");
    assert_exit(&convert_to(&input, &out, &[]), 0);
    let c = load(&out);
    let g = c.graph.as_ref().unwrap();
    let mut seen = BTreeSet::new();
    for n in &g.node {
        assert!(
            seen.insert(n.name().to_owned()),
            "node name {} repeats",
            n.name()
        );
        for o in &n.output {
            assert!(seen.insert(o.clone()) || o == n.name(), "value {o} repeats");
        }
    }
    for t in &g.initializer {
        assert!(
            !g.node
                .iter()
                .any(|n| n.output.contains(&t.name().to_owned()))
        );
    }
}

// ---- invalid ACON nodes -----------------------------------------------------

struct Invalid {
    what: &'static str,
    graph: GraphProto,
    /// Fragments the error message must contain.
    expect: &'static [&'static str],
}

fn meta_graph(edit: impl FnOnce(&mut GraphProto)) -> GraphProto {
    // X [1, 4, 3, 3], R = 2.
    let mut g = GraphProto {
        node: vec![acon_node(
            "meta",
            "MetaAconC",
            &["x", "p1", "p2", "w1", "b1", "w2", "b2"],
            &["y"],
        )],
        initializer: vec![
            f32_init("p1", &[1, 4, 1, 1], vec![1.0; 4]),
            f32_init("p2", &[1, 4, 1, 1], vec![0.5; 4]),
            f32_init("w1", &[2, 4, 1, 1], vec![0.1; 8]),
            f32_init("b1", &[2], vec![0.0; 2]),
            f32_init("w2", &[4, 2, 1, 1], vec![0.1; 8]),
            f32_init("b2", &[4], vec![0.0; 4]),
        ],
        input: vec![value_info("x", 1, &[1, 4, 3, 3])],
        output: vec![value_info("y", 1, &[1, 4, 3, 3])],
        ..Default::default()
    };
    edit(&mut g);
    g
}

fn replace_init(g: &mut GraphProto, t: acon_onnx::proto::TensorProto) {
    let slot = g
        .initializer
        .iter_mut()
        .find(|i| i.name() == t.name())
        .unwrap();
    *slot = t;
}

fn acon_c_graph(inputs: &[&str], p1_dims: &[usize]) -> GraphProto {
    let n: usize = p1_dims.iter().product();
    GraphProto {
        node: vec![acon_node("act", "AconC", inputs, &["y"])],
        initializer: vec![
            f32_init("p1", p1_dims, vec![1.0; n]),
            f32_init("p2", &[1, 4, 1, 1], vec![0.5; 4]),
        ],
        input: vec![value_info("x", 1, &[1, 4, 3, 3])],
        output: vec![value_info("y", 1, &[1, 4, 3, 3])],
        ..Default::default()
    }
}

fn invalid_cases() -> Vec<Invalid> {
    let bn = |g: &mut GraphProto, names: &[&str]| {
        for n in names {
            g.initializer.push(f32_init(n, &[2], vec![1.0; 2]));
            g.node[0].input.push(n.to_string());
        }
    };
    vec![
        Invalid {
            what: "too few inputs",
            graph: acon_c_graph(&["x", "p1"], &[1, 4, 1, 1]),
            expect: &["node `act` (acon::AconC)", "has 2 inputs, expected 3 or 4"],
        },
        Invalid {
            what: "a required input given as empty",
            graph: acon_c_graph(&["x", "", "p2"], &[1, 4, 1, 1]),
            expect: &["node `act`", "input 1 `p1` is required but missing"],
        },
        Invalid {
            what: "a parameter that does not broadcast to X",
            graph: acon_c_graph(&["x", "p1", "p2"], &[1, 5, 1, 1]),
            expect: &[
                "input 1 `p1` has shape [1, 5, 1, 1]",
                "broadcasts to X's [1, 4, 3, 3]",
            ],
        },
        Invalid {
            what: "a non-float parameter",
            graph: {
                let mut g = acon_c_graph(&["x", "p1", "p2"], &[1, 4, 1, 1]);
                g.initializer[0] = acon_onnx::model::tensor::int64_tensor("p1", &[1, 2, 3, 4]);
                g
            },
            expect: &[
                "input 1 `p1` has type int64",
                "expected float, float16, bfloat16 or double",
            ],
        },
        Invalid {
            what: "mixed float types",
            graph: {
                let mut g = acon_c_graph(&["x", "p1", "p2"], &[1, 4, 1, 1]);
                g.initializer[1] = acon_onnx::model::tensor::float_tensor(
                    "p2",
                    &acon_onnx::model::tensor::Array {
                        dims: vec![1, 4, 1, 1],
                        data: vec![0.5; 4],
                    },
                    FloatType::F64,
                );
                g
            },
            expect: &[
                "input 2 `p2` has type double",
                "expected float like input 0 `x`",
            ],
        },
        Invalid {
            what: "an unknown op type in the acon domain",
            graph: {
                let mut g = acon_c_graph(&["x", "p1", "p2"], &[1, 4, 1, 1]);
                g.node[0].op_type = Some("AconD".into());
                g
            },
            expect: &["node `act` (acon::AconD)", "unknown op type"],
        },
        Invalid {
            what: "an attribute the op does not take",
            graph: {
                let mut g = acon_c_graph(&["x", "p1", "p2"], &[1, 4, 1, 1]);
                g.node[0].attribute.push(AttributeProto {
                    name: Some("alpha".into()),
                    r#type: Some(AttributeType::Float as i32),
                    f: Some(1.0),
                    ..Default::default()
                });
                g
            },
            expect: &["attribute `alpha` is not an attribute of AconC"],
        },
        Invalid {
            what: "two outputs",
            graph: {
                let mut g = acon_c_graph(&["x", "p1", "p2"], &[1, 4, 1, 1]);
                g.node[0].output.push("z".into());
                g
            },
            expect: &["has 2 outputs, expected exactly 1"],
        },
        Invalid {
            what: "W1 whose C disagrees with X",
            graph: meta_graph(|g| replace_init(g, f32_init("w1", &[2, 3, 1, 1], vec![0.1; 6]))),
            expect: &[
                "node `meta` (acon::MetaAconC)",
                "input 3 `w1` has shape [2, 3, 1, 1]",
                "expected [2, 4, 1, 1]",
            ],
        },
        Invalid {
            what: "W2 whose R disagrees with W1",
            graph: meta_graph(|g| replace_init(g, f32_init("w2", &[4, 3, 1, 1], vec![0.1; 12]))),
            expect: &[
                "input 5 `w2` has shape [4, 3, 1, 1]",
                "expected [4, 2, 1, 1]",
            ],
        },
        Invalid {
            what: "a bias of the wrong length",
            graph: meta_graph(|g| replace_init(g, f32_init("b2", &[3], vec![0.0; 3]))),
            expect: &["input 6 `b2` has shape [3]", "expected [4] (B2)"],
        },
        Invalid {
            what: "a partial BatchNorm group",
            graph: meta_graph(|g| bn(g, &["s1", "t1"])),
            expect: &["the first BatchNorm group is partial: inputs [7, 8] are given"],
        },
        Invalid {
            what: "a BatchNorm parameter of the wrong length",
            graph: meta_graph(|g| {
                bn(g, &["s1", "t1", "m1", "v1"]);
                replace_init(g, f32_init("v1", &[3], vec![1.0; 3]));
            }),
            expect: &["input 10 `v1` has shape [3]", "expected [2] (bn1_var)"],
        },
        Invalid {
            what: "too many inputs",
            graph: meta_graph(|g| {
                bn(g, &["s1", "t1", "m1", "v1"]);
                bn(g, &["s2", "t2", "m2", "v2", "extra"]);
            }),
            expect: &["has 16 inputs, expected 6 to 15"],
        },
        Invalid {
            what: "a rank-2 X",
            graph: meta_graph(|g| g.input[0] = value_info("x", 1, &[1, 4])),
            expect: &["input 0 `x` has rank 2", "expected rank 3 or more"],
        },
    ]
}

#[test]
fn every_invalid_node_is_refused_with_exit_2_and_no_output() {
    let dir = tempdir();
    for case in invalid_cases() {
        let input = dir.path().join("bad.onnx");
        write_model(&input, &model(case.graph, 17));
        let before = std::fs::read(&input).unwrap();
        let out = dir.path().join("out.onnx");
        let o = convert_to(&input, &out, &[]);
        assert_exit(&o, 2);
        let err = stderr(&o);
        assert!(
            err.contains("bad.onnx"),
            "{}: the message names the file: {err}",
            case.what
        );
        for fragment in case.expect {
            assert!(
                err.contains(fragment),
                "{}: `{fragment}` not in: {err}",
                case.what
            );
        }
        assert!(!out.exists(), "{}: an output was written", case.what);
        assert_eq!(
            std::fs::read(&input).unwrap(),
            before,
            "{}: input changed",
            case.what
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            leftovers.len(),
            1,
            "{}: stray files {leftovers:?}",
            case.what
        );
    }
}

// ---- the command line -----------------------------------------------------

#[test]
fn output_defaults_to_a_sibling_and_is_never_overwritten_without_force() {
    let dir = tempdir();
    let input = dir.path().join("net.onnx");
    std::fs::copy(fixture("acon_c_op17").model_path(), &input).unwrap();
    let o = acon(&["convert", input.to_str().unwrap()]);
    assert_exit(&o, 0);
    let default_out = dir.path().join("net.converted.onnx");
    assert!(default_out.exists());

    let o = acon(&["convert", input.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("exists (use --force"), "{}", stderr(&o));

    assert_exit(&acon(&["convert", input.to_str().unwrap(), "--force"]), 0);
}

#[test]
fn the_input_is_never_the_output() {
    let dir = tempdir();
    let input = dir.path().join("net.onnx");
    std::fs::copy(fixture("acon_c_op17").model_path(), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let o = convert_to(&input, &input, &["--force"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("would replace the input"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn missing_and_non_model_inputs_exit_2_with_the_file_named() {
    let dir = tempdir();
    let missing = dir.path().join("nope.onnx");
    let o = convert_to(&missing, &dir.path().join("o.onnx"), &[]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("nope.onnx"), "{}", stderr(&o));

    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"this is not a protobuf \xff\xff\xff").unwrap();
    let o = convert_to(&garbage, &dir.path().join("o.onnx"), &[]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("garbage.onnx"), "{}", stderr(&o));
    assert!(!dir.path().join("o.onnx").exists());
}

#[test]
fn conversion_is_deterministic_and_idempotent() {
    let dir = tempdir();
    let f = fixture("small_cnn_op17");
    let (a, b, c) = (
        dir.path().join("a.onnx"),
        dir.path().join("b.onnx"),
        dir.path().join("c.onnx"),
    );
    assert_exit(&convert_to(&f.model_path(), &a, &[]), 0);
    assert_exit(&convert_to(&f.model_path(), &b, &[]), 0);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_exit(&convert_to(&a, &c, &[]), 0);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
}

#[test]
fn the_summary_line_counts_rewritten_and_added_nodes() {
    let dir = tempdir();
    let out = dir.path().join("o.onnx");
    let o = convert_to(&fixture("small_cnn_op17").model_path(), &out, &[]);
    assert_exit(&o, 0);
    let line = stdout(&o);
    assert!(
        line.contains("rewrote 4 ACON nodes (AconA 1, AconB 1, AconC 1, MetaAconC 1)"),
        "{line}"
    );
    let original = load(&fixture("small_cnn_op17").model_path())
        .graph
        .unwrap()
        .node
        .len();
    let converted = load(&out).graph.unwrap().node.len();
    assert!(
        line.contains(&format!("added {} nodes", converted - original + 4)),
        "{line}"
    );
}

#[test]
fn inspect_reports_opsets_shapes_acon_nodes_and_parameters() {
    let f = fixture("meta_acon_c_dynbatch");
    let o = acon(&["inspect", f.model_path().to_str().unwrap(), "--json"]);
    assert_exit(&o, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["inputs"][0]["shape"][0], "batch",
        "symbolic dims by name: {v}"
    );
    assert!(
        v["opset_import"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["domain"] == "acon")
    );
    assert_eq!(v["acon_nodes"][0]["op_type"], "MetaAconC");
    assert_eq!(v["acon_nodes"][0]["form"], "custom-op");
    let params = &v["parameters"];
    let expected: u64 = load(&f.model_path())
        .graph
        .unwrap()
        .initializer
        .iter()
        .map(|t| t.dims.iter().product::<i64>() as u64)
        .sum();
    assert_eq!(params["count"], expected);
    assert_eq!(params["bytes"], expected * 4);

    let text = acon(&["inspect", f.model_path().to_str().unwrap()]);
    assert_exit(&text, 0);
    assert!(
        stdout(&text).contains("acon::MetaAconC (custom-op)"),
        "{}",
        stdout(&text)
    );
}
