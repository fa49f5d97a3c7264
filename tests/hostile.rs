//! Broken and hostile models (issue 6). A corpus generated here, never
//! hand-edited bytes, goes through every verb of the real binary that takes
//! a model; each entry must be refused cleanly:
//!
//! - exit 2 (never 101, 134 or 139), and no `panicked` or internal failure
//!   on stderr;
//! - a message naming the file and, where there is one, the node, tensor or
//!   input at fault;
//! - no output file and no stray temporary file (`verify` alone writes its
//!   `--report` and `--junit` files on failure, complete and recording the
//!   error, as CI needs them);
//! - the input's bytes unchanged (compared by hash).
//!
//! Every run is capped at 4 GiB of address space, so a size taken on trust
//! ends in a failed allocation (exit 134, a failure here) rather than in the
//! machine's memory. `HOSTILE_SHOW=1 cargo test --release --test hostile --
//! --nocapture` prints every message, to review their wording.
//!
//! Then the file-system trouble a `convert` can meet, function calls that
//! nest or multiply, the determinism and idempotence of conversion across
//! every fixture. Crashes found by `fuzz/run.sh` become tests at the end,
//! one each, named after the crash.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acon_onnx::proto::{
    AttributeProto, AttributeType, FunctionProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto,
};
use bytes::Bytes;
use common::*;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};

// ---- the corpus -----------------------------------------------------------

/// What an entry puts where the verb expects a model.
enum Input {
    /// A file with these bytes.
    Bytes(Vec<u8>),
    /// A directory where the file should be.
    Directory,
    /// Nothing at all.
    Missing,
    /// A symbolic link to itself.
    SymlinkLoop,
    /// An existing path outside the test's directory (a device).
    Path(PathBuf),
}

struct Entry {
    name: String,
    input: Input,
    /// Fragments the error message must contain, besides the file's name.
    expect: Vec<String>,
}

fn entry(name: &str, input: Input, expect: &[&str]) -> Entry {
    Entry {
        name: name.to_owned(),
        input,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

fn model_entry(name: &str, model: &ModelProto, expect: &[&str]) -> Entry {
    entry(name, Input::Bytes(model.encode_to_vec()), expect)
}

/// A small, valid model: `y = AconC(x, p1, p2)` with X `[1, 4, 3, 3]`.
fn acon_c_model() -> ModelProto {
    model(acon_c_graph(), 17)
}

fn acon_c_graph() -> GraphProto {
    GraphProto {
        name: Some("g".into()),
        node: vec![acon_node("act", "AconC", &["x", "p1", "p2"], &["y"])],
        initializer: vec![
            f32_init("p1", &[1, 4, 1, 1], vec![1.0; 4]),
            f32_init("p2", &[1, 4, 1, 1], vec![0.5; 4]),
        ],
        input: vec![value_info("x", 1, &[1, 4, 3, 3])],
        output: vec![value_info("y", 1, &[1, 4, 3, 3])],
        ..Default::default()
    }
}

fn with_graph(edit: impl FnOnce(&mut GraphProto)) -> ModelProto {
    let mut m = acon_c_model();
    edit(m.graph.as_mut().unwrap());
    m
}

/// Replaces initializer `name`.
fn set_init(g: &mut GraphProto, t: TensorProto) {
    let slot = g
        .initializer
        .iter_mut()
        .find(|i| i.name() == t.name())
        .expect("initializer");
    *slot = t;
}

/// `p1` as float `[1, 4, 1, 1]` with other dims or raw bytes.
fn p1_with(dims: &[i64], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some("p1".into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

// Protobuf wire bytes, written with prost's own encoding helpers.

fn key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    encode_key(tag, wire_type, out);
}

fn varint_field(tag: u32, value: u64) -> Vec<u8> {
    let mut out = vec![];
    key(tag, WireType::Varint, &mut out);
    encode_varint(value, &mut out);
    out
}

fn bytes_field(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    key(tag, WireType::LengthDelimited, &mut out);
    encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A length-delimited field that declares `declared` bytes and holds `payload`.
fn lying_field(tag: u32, declared: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    key(tag, WireType::LengthDelimited, &mut out);
    encode_varint(declared, &mut out);
    out.extend_from_slice(payload);
    out
}

const MODEL_GRAPH: u32 = 7;
const GRAPH_INITIALIZER: u32 = 5;
const TENSOR_DIMS: u32 = 1;
const TENSOR_DATA_TYPE: u32 = 2;
const TENSOR_NAME: u32 = 8;
const TENSOR_RAW_DATA: u32 = 9;

/// A valid model's bytes followed by a second `graph` field (protobuf merges
/// it into the first) whose initializer is `tensor`'s bytes.
fn valid_then_graph_tensor(tensor: Vec<u8>) -> Vec<u8> {
    let mut out = acon_c_model().encode_to_vec();
    let graph = bytes_field(GRAPH_INITIALIZER, &tensor);
    out.extend(bytes_field(MODEL_GRAPH, &graph));
    out
}

/// Deterministic pseudo-random bytes (the crate's generator), so a failure
/// replays.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = acon_onnx::rng::Rng::new(seed);
    (0..len).map(|_| (rng.next_u64() >> 56) as u8).collect()
}

/// `If` nodes nested `depth` deep, an AconC in the innermost then-branch.
/// Each else-branch is a single Identity, so the model grows linearly.
fn nested_ifs(depth: usize) -> ModelProto {
    let branch = |name: &str, g: GraphProto| AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Graph as i32),
        g: Some(g),
        ..Default::default()
    };
    let mut inner = GraphProto {
        name: Some(format!("level{depth}")),
        node: vec![acon_node("act", "AconC", &["x", "p1", "p2"], &["y0"])],
        output: vec![value_info("y0", 1, &[1, 4, 3, 3])],
        ..Default::default()
    };
    for level in (0..depth).rev() {
        let out = format!("y{}", depth - level);
        let identity = GraphProto {
            name: Some(format!("else{level}")),
            node: vec![node(
                &format!("id{level}"),
                "Identity",
                &["x"],
                &[&format!("e{level}")],
            )],
            output: vec![value_info(&format!("e{level}"), 1, &[1, 4, 3, 3])],
            ..Default::default()
        };
        let mut node = node(&format!("if{level}"), "If", &["cond"], &[&out]);
        node.attribute = vec![
            branch("then_branch", inner),
            branch("else_branch", identity),
        ];
        inner = GraphProto {
            name: Some(format!("level{level}")),
            node: vec![node],
            output: vec![value_info(&out, 1, &[1, 4, 3, 3])],
            ..Default::default()
        };
    }
    let mut g = acon_c_graph();
    g.node = inner.node;
    g.input.push(value_info("cond", 9, &[]));
    g.output = vec![value_info(&format!("y{depth}"), 1, &[1, 4, 3, 3])];
    model(g, 17)
}

fn function(domain: &str, name: &str, nodes: Vec<NodeProto>) -> FunctionProto {
    FunctionProto {
        domain: Some(domain.into()),
        name: Some(name.into()),
        input: vec!["X".into()],
        output: vec!["Y".into()],
        node: nodes,
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        ..Default::default()
    }
}

fn call(name: &str, domain: &str, op_type: &str, input: &str, output: &str) -> NodeProto {
    NodeProto {
        domain: Some(domain.into()),
        ..node(name, op_type, &[input], &[output])
    }
}

fn with_functions(functions: Vec<FunctionProto>, graph_node: NodeProto) -> ModelProto {
    let mut m = with_graph(|g| {
        g.node = vec![graph_node];
        g.initializer.clear();
    });
    m.opset_import.push(OperatorSetIdProto {
        domain: Some("local".into()),
        version: Some(1),
    });
    m.functions = functions;
    m
}

fn corpus() -> Vec<Entry> {
    let fixture_bytes =
        std::fs::read(fixture("small_cnn_op17").model_path()).expect("small_cnn_op17");
    let len = fixture_bytes.len();
    let mut entries = vec![
        // -- not a model
        entry("empty", Input::Bytes(vec![]), &["empty"]),
        entry("directory", Input::Directory, &["directory"]),
        entry("missing", Input::Missing, &[]),
        entry("symlink_loop", Input::SymlinkLoop, &[]),
        entry("random", Input::Bytes(random_bytes(4096, RANDOM_SEED)), &[]),
        entry(
            "onnx_text_format",
            Input::Bytes(
                b"<ir_version: 8, opset_import: [\"\" : 17, \"acon\" : 1]>\n\
                  g (float[1,4,3,3] x) => (float[1,4,3,3] y) {\n\
                  \x20   y = acon.AconC(x, p1, p2)\n}\n"
                    .to_vec(),
            ),
            &[],
        ),
        entry(
            "protobuf_text_format",
            Input::Bytes(
                b"ir_version: 8\nopset_import { domain: \"\" version: 17 }\n\
                  graph { name: \"g\" node { op_type: \"Relu\" input: \"x\" output: \"y\" } }\n"
                    .to_vec(),
            ),
            &[],
        ),
    ];
    for cut in [1, 2, 7, len / 3, len / 2, 2 * len / 3, len - 1] {
        entries.push(entry(
            &format!("truncated_at_{cut}_of_{len}"),
            Input::Bytes(fixture_bytes[..cut].to_vec()),
            &[],
        ));
    }

    // -- protobuf abuse
    entries.extend([
        entry(
            "wire_type_graph_as_varint",
            Input::Bytes([varint_field(1, 8), varint_field(MODEL_GRAPH, 5)].concat()),
            &[],
        ),
        entry(
            "wire_type_ir_version_as_bytes",
            Input::Bytes(bytes_field(1, b"eight")),
            &[],
        ),
        entry(
            "wire_type_data_type_as_bytes",
            Input::Bytes(valid_then_graph_tensor(
                [
                    bytes_field(TENSOR_NAME, b"w"),
                    bytes_field(TENSOR_DATA_TYPE, b"f"),
                ]
                .concat(),
            )),
            &[],
        ),
        entry(
            "length_past_the_end_top_level",
            Input::Bytes(
                [
                    acon_c_model().encode_to_vec(),
                    lying_field(MODEL_GRAPH, 1 << 20, b"0123456789abcdef"),
                ]
                .concat(),
            ),
            &[],
        ),
        entry(
            "length_past_the_end_raw_data",
            Input::Bytes(valid_then_graph_tensor(
                [
                    bytes_field(TENSOR_NAME, b"w"),
                    lying_field(TENSOR_RAW_DATA, 1 << 30, b"abcd"),
                ]
                .concat(),
            )),
            &[],
        ),
        entry(
            "length_of_2_pow_63",
            Input::Bytes(lying_field(MODEL_GRAPH, 1 << 63, b"x")),
            &[],
        ),
        entry(
            "packed_dims_declaring_2_pow_40_bytes",
            Input::Bytes(valid_then_graph_tensor(
                [
                    bytes_field(TENSOR_NAME, b"w"),
                    lying_field(TENSOR_DIMS, 1 << 40, &[1, 2, 3]),
                ]
                .concat(),
            )),
            &[],
        ),
        entry(
            "varint_of_eleven_bytes",
            Input::Bytes([vec![0x08], vec![0xff; 10], vec![0x01]].concat()),
            &[],
        ),
        model_entry("if_inside_if_200_deep", &nested_ifs(200), &[]),
        model_entry(
            "huge_dims_on_p1",
            &with_graph(|g| set_init(g, p1_with(&[1 << 40, 1 << 40, 1, 1], vec![0; 4]))),
            &["`p1`", "invalid dims"],
        ),
        model_entry(
            "dims_of_2_pow_62_elements_on_p1",
            &with_graph(|g| set_init(g, p1_with(&[1 << 31, 1 << 31], vec![0; 4]))),
            &["`p1`", "raw_data holds 4 bytes"],
        ),
        model_entry(
            "negative_dim_on_p1",
            &with_graph(|g| set_init(g, p1_with(&[1, -4, 1, 1], vec![0; 16]))),
            &["`p1`", "invalid dims"],
        ),
        model_entry(
            "raw_data_shorter_than_dims_on_p1",
            &with_graph(|g| set_init(g, p1_with(&[1, 4, 1, 1], vec![0; 12]))),
            &["`p1`", "raw_data holds 12 bytes, expected 16"],
        ),
        model_entry(
            "raw_data_longer_than_dims_on_p1",
            &with_graph(|g| set_init(g, p1_with(&[1, 4, 1, 1], vec![0; 20]))),
            &["`p1`", "raw_data holds 20 bytes, expected 16"],
        ),
        model_entry(
            "float_data_count_off_on_p2",
            &with_graph(|g| {
                set_init(
                    g,
                    TensorProto {
                        name: Some("p2".into()),
                        dims: vec![1, 4, 1, 1],
                        data_type: Some(1),
                        float_data: vec![0.5; 3],
                        ..Default::default()
                    },
                )
            }),
            &["`p2`", "holds 3 values, expected 4"],
        ),
    ]);

    // -- broken graphs
    entries.extend([
        model_entry(
            "cycle",
            &with_graph(|g| {
                g.node = vec![
                    node("relu", "Relu", &["y"], &["t"]),
                    acon_node("act", "AconC", &["t", "p1", "p2"], &["y"]),
                ];
            }),
            &["node `relu`", "`y` is not defined before it is used"],
        ),
        model_entry(
            "dangling_input",
            &with_graph(|g| g.node[0].input[0] = "ghost".into()),
            &["node `act`", "input 0 `ghost` is not defined"],
        ),
        model_entry(
            "two_nodes_write_one_name",
            &with_graph(|g| {
                g.node.insert(0, node("first", "Relu", &["x"], &["t"]));
                g.node.insert(1, node("second", "Sigmoid", &["x"], &["t"]));
            }),
            &["value `t` is written by node `second`"],
        ),
        model_entry(
            "graph_output_nobody_produces",
            &with_graph(|g| g.output.push(value_info("orphan", 1, &[1]))),
            &["graph output `orphan` is produced by no node"],
        ),
        model_entry(
            "initializer_shadows_input_with_another_shape",
            &with_graph(|g| {
                g.input.push(value_info("p1", 1, &[1, 4, 1, 1]));
                set_init(g, f32_init("p1", &[4], vec![1.0; 4]));
            }),
            &[
                "initializer `p1`",
                "[4]",
                "graph input `p1`",
                "[1, 4, 1, 1]",
            ],
        ),
        model_entry(
            "initializer_shadows_input_with_another_type",
            &with_graph(|g| {
                g.input.push(value_info("p1", 11, &[1, 4, 1, 1]));
            }),
            &["initializer `p1`", "float", "graph input `p1`", "double"],
        ),
        model_entry(
            "function_calls_itself",
            &with_functions(
                vec![function(
                    "local",
                    "Act",
                    vec![call("again", "local", "Act", "X", "Y")],
                )],
                call("act", "local", "Act", "x", "y"),
            ),
            &["`local::Act`", "calls itself"],
        ),
        model_entry(
            "functions_call_each_other",
            &with_functions(
                vec![
                    function("local", "Ping", vec![call("p", "local", "Pong", "X", "Y")]),
                    function("local", "Pong", vec![call("q", "local", "Ping", "X", "Y")]),
                ],
                call("act", "local", "Ping", "x", "y"),
            ),
            &["calls itself"],
        ),
    ]);

    // -- invalid ACON nodes the convert tests do not cover, through every verb
    entries.extend([
        model_entry(
            "x_of_integer_type",
            &with_graph(|g| g.input[0] = value_info("x", 6, &[1, 4, 3, 3])),
            &["node `act` (acon::AconC)", "input 0 `x` has type int32"],
        ),
        model_entry(
            "beta_that_does_not_broadcast",
            &with_graph(|g| {
                g.node[0].input.push("beta".into());
                g.initializer
                    .push(f32_init("beta", &[1, 3, 1, 1], vec![1.0; 3]));
            }),
            &["node `act`", "input 3 `beta` has shape [1, 3, 1, 1]"],
        ),
        model_entry(
            "acon_a_with_three_inputs",
            &with_graph(|g| {
                g.node[0].op_type = Some("AconA".into());
            }),
            &["node `act` (acon::AconA)", "has 3 inputs, expected 1 or 2"],
        ),
        model_entry(
            "invalid_node_inside_an_if_branch",
            &{
                let mut m = nested_ifs(2);
                let g = m.graph.as_mut().unwrap();
                let inner = g.node[0].attribute[0].g.as_mut().unwrap().node[0].attribute[0]
                    .g
                    .as_mut()
                    .unwrap();
                inner.node[0].input.truncate(2);
                m
            },
            &["node `act` (acon::AconC)", "has 2 inputs, expected 3 or 4"],
        ),
        model_entry(
            "negative_epsilon",
            &{
                let mut g = acon_c_graph();
                g.node = vec![acon_node(
                    "meta",
                    "MetaAconC",
                    &["x", "p1", "p2", "w1", "", "w2"],
                    &["y"],
                )];
                g.node[0].attribute.push(AttributeProto {
                    name: Some("epsilon".into()),
                    r#type: Some(AttributeType::Float as i32),
                    f: Some(-1.0),
                    ..Default::default()
                });
                g.initializer.extend([
                    f32_init("w1", &[2, 4, 1, 1], vec![0.1; 8]),
                    f32_init("w2", &[4, 2, 1, 1], vec![0.1; 8]),
                ]);
                model(g, 17)
            },
            &["node `meta` (acon::MetaAconC)", "attribute `epsilon` is -1"],
        ),
    ]);
    entries
}

/// The seed of the random-bytes entry, fixed so a failure replays.
const RANDOM_SEED: u64 = 0x5eed_ac0e;

// ---- running an entry through the verbs -----------------------------------

/// The subcommands the binary has now, from `--help`.
fn verbs() -> Vec<String> {
    let help = stdout(&acon(&["--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .map(str::to_owned)
        .collect()
}

/// The arguments that make `verb` read `input` (and write into `out_dir`);
/// `None` for a verb that takes no model.
fn verb_args(verb: &str, input: &Path, out_dir: &Path) -> Option<Vec<OsString>> {
    let mut args: Vec<OsString> = vec![verb.into(), input.into()];
    match verb {
        "convert" => args.extend(["-o".into(), out_dir.join("out.onnx").into()]),
        "inspect" => {}
        // Every file a verb can write goes to `out_dir`, which must stay empty.
        "verify" => args.extend(
            [
                "--report".into(),
                out_dir.join("report.json").into(),
                "--junit".into(),
                out_dir.join("junit.xml").into(),
            ]
            .into_iter()
            .collect::<Vec<OsString>>(),
        ),
        "run" => args.extend(["-o".into(), out_dir.join("outputs.npz").into()]),
        "bench" => args.extend(["--runs", "1", "--warmup", "0"].map(OsString::from)),
        // `zoo` writes a model of its own; it reads none.
        _ => return None,
    }
    Some(args)
}

/// Runs the binary with its address space capped at 4 GiB, so an
/// allocation sized by a hostile declaration fails fast instead of taking
/// the machine's memory.
fn run_binary(args: &[OsString]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_acon-onnx"))
        .args(args)
        .output()
        .expect("run acon-onnx")
}

/// FNV-1a, enough to tell whether a file changed.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every file under `dir` (recursively) with the hash of its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let ft = std::fs::symlink_metadata(&p).expect("metadata").file_type();
            if ft.is_dir() {
                out.insert(p.clone(), 0);
                stack.push(p);
            } else if ft.is_file() {
                out.insert(p.clone(), hash(&std::fs::read(&p).expect("read")));
            } else {
                out.insert(p, 1);
            }
        }
    }
    out
}

/// The promises one run of the binary that must fail broke, if any.
fn refusal_problems(what: &str, o: &Output, names: &[String]) -> Option<String> {
    let err = stderr(o);
    let mut broken = vec![];
    if o.status.code() != Some(2) {
        broken.push(format!("exit status {:?}, expected 2", o.status));
    }
    if err.contains("panicked") || err.contains("internal failure") {
        broken.push("a panic".to_owned());
    }
    // clap exits 2 too: make sure the refusal is ours, not a usage error.
    if !err.contains("error: ") || err.contains("Usage:") {
        broken.push("no error line of ours".to_owned());
    }
    for fragment in names {
        if !err.contains(fragment.as_str()) {
            broken.push(format!("`{fragment}` not named"));
        }
    }
    (!broken.is_empty()).then(|| {
        format!(
            "{what}: {}\n--- stdout\n{}--- stderr\n{err}",
            broken.join("; "),
            stdout(o)
        )
    })
}

fn assert_refused(what: &str, o: &Output, names: &[String]) {
    if let Some(problems) = refusal_problems(what, o, names) {
        panic!("{problems}");
    }
}

/// `verify` writes its JSON and JUnit reports even when it fails (CI reads
/// them): they must be complete and record the error. Removes them.
fn complete_verify_reports(out_dir: &Path) -> Result<(), String> {
    let (json, junit) = (out_dir.join("report.json"), out_dir.join("junit.xml"));
    if json.exists() {
        let text = std::fs::read_to_string(&json).map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("report.json: {e}"))?;
        if v["error"].as_str().is_none_or(str::is_empty) || v["equivalent"] != false {
            return Err(format!("report.json records no error: {text}"));
        }
        std::fs::remove_file(&json).unwrap();
    }
    if junit.exists() {
        let text = std::fs::read_to_string(&junit).map_err(|e| e.to_string())?;
        if !text.trim_end().ends_with("</testsuites>") || !text.contains("<error") {
            return Err(format!(
                "junit.xml is incomplete or records no error: {text}"
            ));
        }
        std::fs::remove_file(&junit).unwrap();
    }
    Ok(())
}

/// Runs `entry` through every verb; returns one line per failed promise.
fn check_entry(entry: &Entry, verbs: &[String]) -> Vec<String> {
    let mut failures = vec![];
    for verb in verbs {
        let dir = tempdir();
        let in_dir = dir.path().join("in");
        let out_dir = dir.path().join("out");
        std::fs::create_dir_all(&in_dir).unwrap();
        std::fs::create_dir_all(&out_dir).unwrap();
        let file_name = format!("{}.onnx", entry.name);
        let input = match &entry.input {
            Input::Bytes(b) => {
                let p = in_dir.join(&file_name);
                std::fs::write(&p, b).unwrap();
                p
            }
            Input::Directory => {
                let p = in_dir.join(&file_name);
                std::fs::create_dir(&p).unwrap();
                p
            }
            Input::Missing => in_dir.join(&file_name),
            Input::SymlinkLoop => {
                let p = in_dir.join(&file_name);
                std::os::unix::fs::symlink(&p, &p).unwrap();
                p
            }
            Input::Path(p) => p.clone(),
        };
        let Some(args) = verb_args(verb, &input, &out_dir) else {
            continue;
        };
        let before = snapshot(&in_dir);
        let o = run_binary(&args);
        let mut names = vec![input.file_name().unwrap().to_string_lossy().into_owned()];
        names.extend(entry.expect.iter().cloned());
        let what = format!("{} through `{verb}`", entry.name);
        if std::env::var_os("HOSTILE_SHOW").is_some() {
            // `HOSTILE_SHOW=1 cargo test --release --test hostile -- --nocapture`
            // prints every message, to review their wording.
            eprintln!("{what}: {}", stderr(&o).trim());
        }
        if let Some(problems) = refusal_problems(&what, &o, &names) {
            failures.push(problems);
            continue;
        }
        if verb == "verify"
            && let Err(why) = complete_verify_reports(&out_dir)
        {
            failures.push(format!("{what}: {why}"));
        }
        let written = snapshot(&out_dir);
        if !written.is_empty() {
            failures.push(format!("{what}: files written: {:?}", written.keys()));
        }
        let after = snapshot(&in_dir);
        if after != before {
            failures.push(format!(
                "{what}: the input's directory changed: {before:?} -> {after:?}"
            ));
        }
    }
    failures
}

fn assert_all_refused(entries: &[Entry]) {
    let verbs = verbs();
    assert!(verbs.iter().any(|v| v == "convert"), "verbs: {verbs:?}");
    let failures: Vec<String> = entries
        .iter()
        .flat_map(|e| check_entry(e, &verbs))
        .collect();
    assert!(
        failures.is_empty(),
        "{} broken promises:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_generated_corpus_is_refused_cleanly_by_every_verb() {
    assert_all_refused(&corpus());
}

#[test]
fn corpus_entries_are_not_accidentally_valid() {
    // The library agrees with the binary: nothing here loads and converts.
    for e in corpus() {
        let Input::Bytes(bytes) = &e.input else {
            continue;
        };
        let path = Path::new("corpus.onnx");
        let outcome = acon_onnx::model::load_bytes(path, Bytes::from(bytes.clone()))
            .and_then(|mut m| acon_onnx::convert(&mut m, &Default::default()));
        assert!(outcome.is_err(), "{} converts", e.name);
    }
}

// ---- file-system trouble --------------------------------------------------

/// Runs `convert IN -o OUT extra…` expecting a clean refusal: exit 2, the
/// fragments named, `watch` (directories) unchanged, the input unchanged.
fn convert_refused(what: &str, input: &Path, out: &Path, extra: &[&str], expect: &[&str]) {
    let watch: Vec<PathBuf> = [input.parent(), out.parent()]
        .into_iter()
        .flatten()
        .filter(|d| d.is_dir() && !d.starts_with("/proc") && !d.starts_with("/dev"))
        .map(Path::to_owned)
        .collect();
    let before: Vec<_> = watch.iter().map(|d| snapshot(d)).collect();
    let mut args: Vec<OsString> = vec!["convert".into(), input.into(), "-o".into(), out.into()];
    args.extend(extra.iter().map(OsString::from));
    let o = run_binary(&args);
    let names: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    assert_refused(what, &o, &names);
    let after: Vec<_> = watch.iter().map(|d| snapshot(d)).collect();
    assert_eq!(before, after, "{what}: files changed or were left behind");
}

/// A valid model to convert, copied into `dir/in/model.onnx`.
fn input_in(dir: &Path) -> PathBuf {
    let in_dir = dir.join("in");
    std::fs::create_dir_all(&in_dir).unwrap();
    let input = in_dir.join("model.onnx");
    std::fs::copy(fixture("small_cnn_op17").model_path(), &input).unwrap();
    input
}

#[test]
fn output_directory_missing_or_not_a_directory() {
    let dir = tempdir();
    let input = input_in(dir.path());
    convert_refused(
        "missing directory",
        &input,
        &dir.path().join("nowhere/out.onnx"),
        &[],
        &["model.onnx", "nowhere"],
    );
    // Running as root, permissions stop nothing; a regular file where the
    // directory should be, and /proc, are directories nobody can write to.
    let file = dir.path().join("file.txt");
    std::fs::write(&file, b"a file, not a directory").unwrap();
    convert_refused(
        "a file as the directory",
        &input,
        &file.join("out.onnx"),
        &[],
        &["model.onnx", "file.txt"],
    );
    let proc_out = Path::new("/proc/self/acon-onnx-hostile.onnx");
    convert_refused(
        "an unwritable directory (/proc)",
        &input,
        proc_out,
        &["--force"],
        &["model.onnx", "/proc/self"],
    );
    assert!(!proc_out.exists());
}

#[test]
fn output_is_never_the_input_however_it_is_spelled() {
    let dir = tempdir();
    let input = input_in(dir.path());
    convert_refused(
        "OUT == IN",
        &input,
        &input,
        &["--force"],
        &["model.onnx", "would replace the input"],
    );
    let spelled = dir.path().join("in/../in/./model.onnx");
    convert_refused(
        "OUT == IN through ..",
        &input,
        &spelled,
        &["--force"],
        &["would replace the input"],
    );
    let link = dir.path().join("link.onnx");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    convert_refused(
        "OUT a symlink to IN",
        &input,
        &link,
        &["--force"],
        &["would replace the input"],
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn an_existing_output_is_kept_without_force() {
    let dir = tempdir();
    let input = input_in(dir.path());
    let out = dir.path().join("out.onnx");
    std::fs::write(&out, b"keep me").unwrap();
    convert_refused(
        "OUT exists",
        &input,
        &out,
        &[],
        &["model.onnx", "out.onnx", "exists"],
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    // A device exists too: /dev/full is refused before anything is written.
    convert_refused(
        "OUT is /dev/full",
        &input,
        Path::new("/dev/full"),
        &[],
        &["exists"],
    );
}

#[test]
fn an_output_that_is_a_directory_is_not_replaced_even_with_force() {
    let dir = tempdir();
    let input = input_in(dir.path());
    let out = dir.path().join("out.onnx");
    std::fs::create_dir(&out).unwrap();
    convert_refused(
        "OUT is a directory",
        &input,
        &out,
        &["--force"],
        &["model.onnx", "out.onnx"],
    );
    assert!(out.is_dir());
}

/// A tmpfs of 16 KiB mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Result<SmallDisk, String> {
        let dir = tempdir();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "acon-onnx-full"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(SmallDisk { dir })
        } else {
            Err(stderr(&o))
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_leaves_nothing_behind() {
    let disk = match SmallDisk::mount() {
        Ok(d) => d,
        Err(why) => {
            eprintln!(
                "skipped: cannot mount a small tmpfs to fill ({})",
                why.trim()
            );
            return;
        }
    };
    let dir = tempdir();
    let input = input_in(dir.path());
    // The converted small CNN takes about 27 KB: it cannot fit in 16 KiB.
    convert_refused(
        "disk full",
        &input,
        &disk.dir.path().join("out.onnx"),
        &[],
        &["model.onnx", "out.onnx"],
    );
    assert!(snapshot(disk.dir.path()).is_empty());
}

#[test]
fn a_device_or_fifo_output_is_not_replaced_even_with_force() {
    // `convert -o /dev/null --force` run as root must not rename a file over
    // the device. Tried on nodes made in a temp dir, never on /dev itself.
    let dir = tempdir();
    let input = input_in(dir.path());
    let fifo = dir.path().join("fifo.onnx");
    let null = dir.path().join("null.onnx");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let have_device = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![fifo];
    if have_device {
        targets.push(null);
    } else {
        eprintln!("note: mknod failed; only the FIFO is tried");
    }
    for out in targets {
        convert_refused(
            "OUT is not a regular file",
            &input,
            &out,
            &["--force"],
            &["model.onnx", out.file_name().unwrap().to_str().unwrap()],
        );
        assert!(
            !std::fs::symlink_metadata(&out).unwrap().is_file(),
            "{} was replaced",
            out.display()
        );
    }
}

#[test]
fn an_endless_device_as_input_is_refused_without_reading_it_whole() {
    // /dev/zero never ends: reading it to the end would take all memory.
    assert_all_refused(&[entry(
        "dev_zero",
        Input::Path("/dev/zero".into()),
        &["not a regular file"],
    )]);
}

// ---- determinism ----------------------------------------------------------

/// The files of a directory by name, with their bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_fixture_converts_to_the_same_bytes_twice_and_reconverts_to_itself() {
    let mut failures = vec![];
    for f in manifest() {
        let dir = tempdir();
        let [a, b, c] = ["a", "b", "c"].map(|d| {
            let p = dir.path().join(d);
            std::fs::create_dir(&p).unwrap();
            p
        });
        // The same file name in each directory: an external data file is
        // named after its model, and its name is inside the model.
        let convert = |input: &Path, out_dir: &Path| {
            let o = acon(&[
                "convert",
                input.to_str().unwrap(),
                "-o",
                out_dir.join("out.onnx").to_str().unwrap(),
            ]);
            assert_exit(&o, 0);
        };
        convert(&f.model_path(), &a);
        convert(&f.model_path(), &b);
        convert(&a.join("out.onnx"), &c);
        let (ca, cb, cc) = (contents(&a), contents(&b), contents(&c));
        if ca != cb {
            failures.push(format!("{}: two conversions differ", f.name));
        }
        if ca != cc {
            failures.push(format!("{}: reconverting changed the model", f.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- declarations that only running a model trusts ------------------------

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

// ---- functions that multiply ----------------------------------------------

/// `F0` calls `F1` `fanout` times in sequence, `F1` calls `F2`, … down to a
/// `Relu`: inlining makes `fanout^depth` nodes, calls nest `depth` deep.
fn function_tower(depth: usize, fanout: usize) -> ModelProto {
    let mut functions = vec![];
    for level in 0..depth {
        let callee = format!("F{}", level + 1);
        let nodes = if level + 1 == depth {
            vec![node("leaf", "Relu", &["X"], &["Y"])]
        } else {
            (0..fanout)
                .map(|i| {
                    let input = if i == 0 {
                        "X".to_owned()
                    } else {
                        format!("t{i}")
                    };
                    let output = if i + 1 == fanout {
                        "Y".to_owned()
                    } else {
                        format!("t{}", i + 1)
                    };
                    call(&format!("c{i}"), "local", &callee, &input, &output)
                })
                .collect()
        };
        functions.push(function("local", &format!("F{level}"), nodes));
    }
    with_functions(functions, call("top", "local", "F0", "x", "y"))
}

#[test]
fn functions_that_multiply_when_inlined_are_refused() {
    assert_all_refused(&[
        model_entry(
            "function_calls_nested_5000_deep",
            &function_tower(5000, 1),
            &[
                "function calls nest more than 64 deep",
                "`local::F0` -> `local::F1` -> … -> `local::F64`",
            ],
        ),
        model_entry(
            "function_calls_doubling_40_times",
            &function_tower(40, 2),
            &[
                "inlining the function calls in `local::F",
                "past the limit of 4194304",
            ],
        ),
    ]);
}

// ---- fuzz crashes ---------------------------------------------------------
//
// One test per crash `fuzz/run.sh` finds, named after its artifact
// (`fuzz/artifacts/<target>/crash-<sha1>`), with the input rebuilt here as a
// model: what the fuzzer's bytes decode to, not the bytes themselves.

/// crash-499b5db8ac1e2b9ad5eb1b242a453f5517bb5505 (target `convert`): the
/// fuzzer turned p1's raw data into packed dims, giving an empty parameter
/// (one dim 0) whose other dims are huge. Folding `p1 − p2` computed strides
/// as the product of those dims and overflowed (a panic where overflow is
/// checked, as in fuzz and debug builds). An empty tensor is valid ONNX: it
/// converts, to the same bytes twice.
#[test]
fn fuzz_crash_499b5db8_empty_parameter_with_huge_dims() {
    let m = with_graph(|g| {
        g.input[0] = acon_onnx::proto::ValueInfoProto {
            name: Some("x".into()),
            ..Default::default()
        };
        g.output[0].r#type = None;
        set_init(
            g,
            TensorProto {
                name: Some("p1".into()),
                dims: vec![0, 1 << 40, 1 << 40],
                data_type: Some(1),
                ..Default::default()
            },
        );
        set_init(g, f32_init("p2", &[1], vec![0.5]));
    });
    let options = acon_onnx::ConvertOptions {
        check_each_pass: true,
        ..Default::default()
    };
    let bytes = Bytes::from(m.encode_to_vec());
    let path = Path::new("crash-499b5db8.onnx");
    let mut once = acon_onnx::model::load_bytes(path, bytes.clone()).unwrap();
    acon_onnx::convert(&mut once, &options).unwrap();
    let mut twice = acon_onnx::model::load_bytes(path, bytes).unwrap();
    acon_onnx::convert(&mut twice, &options).unwrap();
    assert_eq!(once.encode_to_vec(), twice.encode_to_vec());

    let dir = tempdir();
    let input = dir.path().join("crash-499b5db8.onnx");
    write_model(&input, &m);
    let out = dir.path().join("out.onnx");
    let o = run_binary(&[
        "convert".into(),
        input.into(),
        "-o".into(),
        out.clone().into(),
    ]);
    assert_exit(&o, 0);
    let p = load(&out)
        .graph
        .unwrap()
        .initializer
        .into_iter()
        .find(|t| t.dims == [0, 1 << 40, 1 << 40])
        .expect("the folded, empty P");
    assert!(p.raw_data.is_none_or(|r| r.is_empty()));
}
