//! The corpus: broken and hostile models generated here, each with the
//! fragments its refusal must name.

use std::path::PathBuf;

use acon_onnx::proto::{
    AttributeProto, AttributeType, FunctionProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto,
};
use bytes::Bytes;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};

use crate::common::*;

/// What an entry puts where the verb expects a model.
pub enum Input {
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

pub struct Entry {
    pub name: String,
    pub input: Input,
    /// Fragments the error message must contain, besides the file's name.
    pub expect: Vec<String>,
}

pub fn entry(name: &str, input: Input, expect: &[&str]) -> Entry {
    Entry {
        name: name.to_owned(),
        input,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn model_entry(name: &str, model: &ModelProto, expect: &[&str]) -> Entry {
    entry(name, Input::Bytes(model.encode_to_vec()), expect)
}

/// A small, valid model: `y = AconC(x, p1, p2)` with X `[1, 4, 3, 3]`.
pub fn acon_c_model() -> ModelProto {
    model(acon_c_graph(), 17)
}

pub fn acon_c_graph() -> GraphProto {
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

pub fn with_graph(edit: impl FnOnce(&mut GraphProto)) -> ModelProto {
    let mut m = acon_c_model();
    edit(m.graph.as_mut().unwrap());
    m
}

/// Replaces initializer `name`.
pub fn set_init(g: &mut GraphProto, t: TensorProto) {
    let slot = g
        .initializer
        .iter_mut()
        .find(|i| i.name() == t.name())
        .expect("initializer");
    *slot = t;
}

/// `p1` as float `[1, 4, 1, 1]` with other dims or raw bytes.
pub fn p1_with(dims: &[i64], raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some("p1".into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

// Protobuf wire bytes, written with prost's own encoding helpers.

pub fn key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    encode_key(tag, wire_type, out);
}

pub fn varint_field(tag: u32, value: u64) -> Vec<u8> {
    let mut out = vec![];
    key(tag, WireType::Varint, &mut out);
    encode_varint(value, &mut out);
    out
}

pub fn bytes_field(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    key(tag, WireType::LengthDelimited, &mut out);
    encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A length-delimited field that declares `declared` bytes and holds `payload`.
pub fn lying_field(tag: u32, declared: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    key(tag, WireType::LengthDelimited, &mut out);
    encode_varint(declared, &mut out);
    out.extend_from_slice(payload);
    out
}

pub const MODEL_GRAPH: u32 = 7;
pub const GRAPH_INITIALIZER: u32 = 5;
pub const TENSOR_DIMS: u32 = 1;
pub const TENSOR_DATA_TYPE: u32 = 2;
pub const TENSOR_NAME: u32 = 8;
pub const TENSOR_RAW_DATA: u32 = 9;

/// A valid model's bytes followed by a second `graph` field (protobuf merges
/// it into the first) whose initializer is `tensor`'s bytes.
pub fn valid_then_graph_tensor(tensor: Vec<u8>) -> Vec<u8> {
    let mut out = acon_c_model().encode_to_vec();
    let graph = bytes_field(GRAPH_INITIALIZER, &tensor);
    out.extend(bytes_field(MODEL_GRAPH, &graph));
    out
}

/// Deterministic pseudo-random bytes (the crate's generator), so a failure
/// replays.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = acon_onnx::rng::Rng::new(seed);
    (0..len).map(|_| (rng.next_u64() >> 56) as u8).collect()
}

/// `If` nodes nested `depth` deep, an AconC in the innermost then-branch.
/// Each else-branch is a single Identity, so the model grows linearly.
pub fn nested_ifs(depth: usize) -> ModelProto {
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

pub fn function(domain: &str, name: &str, nodes: Vec<NodeProto>) -> FunctionProto {
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

pub fn call(name: &str, domain: &str, op_type: &str, input: &str, output: &str) -> NodeProto {
    NodeProto {
        domain: Some(domain.into()),
        ..node(name, op_type, &[input], &[output])
    }
}

pub fn with_functions(functions: Vec<FunctionProto>, graph_node: NodeProto) -> ModelProto {
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

pub fn corpus() -> Vec<Entry> {
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
pub const RANDOM_SEED: u64 = 0x5eed_ac0e;
