//! Helpers shared by the end-to-end tests: the real binary, temporary
//! directories, the fixture manifest, test data, small graph builders and a
//! tract runner for converted models.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acon_onnx::model::facts::Dim;
use acon_onnx::model::tensor::{Array, FloatType, float_tensor, read_floats};
use acon_onnx::proto::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, ValueInfoProto,
};
use prost::Message;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

/// Runs the real `acon-onnx` binary.
pub fn acon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acon-onnx"))
        .args(args)
        .output()
        .expect("run acon-onnx")
}

/// `acon-onnx convert INPUT -o OUTPUT EXTRA…`.
pub fn convert_to(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    acon(&args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts an exit code, printing both streams when it differs.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// One fixture of `fixtures/manifest.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fixture {
    pub name: String,
    pub model: String,
    pub form: String,
    pub opset: i64,
    pub acon_domain: Option<String>,
    pub acon_ops: Vec<String>,
    pub dtype: String,
    #[serde(default)]
    pub dims: std::collections::BTreeMap<String, i64>,
    pub test_data_sets: usize,
    #[serde(default)]
    pub external_data: bool,
    pub description: String,
}

impl Fixture {
    pub fn model_path(&self) -> PathBuf {
        fixtures().join(&self.model)
    }

    pub fn dir(&self) -> PathBuf {
        fixtures().join(&self.name)
    }

    pub fn data_sets(&self) -> Vec<PathBuf> {
        (0..self.test_data_sets)
            .map(|i| self.dir().join(format!("test_data_set_{i}")))
            .collect()
    }

    pub fn float_type(&self) -> FloatType {
        match self.dtype.as_str() {
            "float" => FloatType::F32,
            "double" => FloatType::F64,
            "float16" => FloatType::F16,
            "bfloat16" => FloatType::BF16,
            other => panic!("fixture {}: unknown dtype {other}", self.name),
        }
    }
}

pub fn manifest() -> Vec<Fixture> {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest parses")
}

pub fn fixture(name: &str) -> Fixture {
    manifest()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

pub fn read_tensor(path: &Path) -> TensorProto {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    TensorProto::decode(bytes.as_slice()).expect("TensorProto")
}

/// `input_K.pb` and `output_K.pb` of a test data set, in order.
pub fn test_data(dir: &Path) -> (Vec<TensorProto>, Vec<TensorProto>) {
    let read_all = |prefix: &str| {
        let mut out = vec![];
        for k in 0.. {
            let p = dir.join(format!("{prefix}_{k}.pb"));
            if !p.exists() {
                break;
            }
            out.push(read_tensor(&p));
        }
        out
    };
    (read_all("input"), read_all("output"))
}

pub fn load(path: &Path) -> ModelProto {
    acon_onnx::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn write_model(path: &Path, model: &ModelProto) {
    std::fs::write(path, model.encode_to_vec()).expect("write model");
}

/// Writes `m` to `dir/in.onnx` and converts it to `dir/out.onnx` (replacing
/// an earlier one), asserting success; returns the output's path.
pub fn write_and_convert(dir: &Path, m: &ModelProto) -> PathBuf {
    let (input, output) = (dir.join("in.onnx"), dir.join("out.onnx"));
    write_model(&input, m);
    assert_exit(&convert_to(&input, &output, &["--force"]), 0);
    output
}

/// Every node of every graph, subgraphs included.
pub fn all_nodes(graph: &GraphProto) -> Vec<NodeProto> {
    let mut out = vec![];
    for n in &graph.node {
        out.push(n.clone());
        for a in &n.attribute {
            for g in a.g.iter().chain(&a.graphs) {
                out.extend(all_nodes(g));
            }
        }
    }
    out
}

/// The ops a converted model may contain besides those the original had
/// (Neg, Exp and Reciprocal spell σ in double models).
pub const STANDARD_EMITTED: [&str; 9] = [
    "Sigmoid",
    "Mul",
    "Sub",
    "Add",
    "ReduceMean",
    "Conv",
    "Neg",
    "Exp",
    "Reciprocal",
];

// ---- small graph builders -------------------------------------------------

pub fn node(name: &str, op_type: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        name: Some(name.into()),
        op_type: Some(op_type.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn acon_node(name: &str, op_type: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        domain: Some("acon".into()),
        ..node(name, op_type, inputs, outputs)
    }
}

pub fn value_info(name: &str, elem_type: i32, dims: &[i64]) -> ValueInfoProto {
    let dims: Vec<Dim> = dims.iter().map(|&d| Dim::Known(d)).collect();
    acon_onnx::model::build::tensor_value_info(name, elem_type, &dims)
}

pub fn f32_init(name: &str, dims: &[usize], data: Vec<f64>) -> TensorProto {
    float_tensor(
        name,
        &Array {
            dims: dims.to_vec(),
            data,
        },
        FloatType::F32,
    )
}

/// A model importing `("", opset)` and `("acon", 1)`.
pub fn model(graph: GraphProto, opset: i64) -> ModelProto {
    ModelProto {
        ir_version: Some(8),
        producer_name: Some("acon-onnx tests".into()),
        opset_import: vec![
            OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(opset),
            },
            OperatorSetIdProto {
                domain: Some("acon".into()),
                version: Some(1),
            },
        ],
        graph: Some(graph),
        ..Default::default()
    }
}

pub fn floats(t: &TensorProto) -> Vec<f64> {
    read_floats(t).expect("float tensor").data
}

// ---- running converted models in tract ------------------------------------

/// Runs a standard-op model on plain tract with the given inputs.
pub fn run_in_tract(path: &Path, inputs: &[TensorProto]) -> Vec<Vec<f64>> {
    use acon_onnx::tract::tensor::{tensor_from_proto, tensor_to_f64};
    use tract_onnx::prelude::*;
    let mut m = tract_onnx::onnx()
        .model_for_path(path)
        .unwrap_or_else(|e| panic!("tract loads {}: {e:?}", path.display()));
    let tensors: Vec<Tensor> = inputs
        .iter()
        .map(|t| tensor_from_proto(t).unwrap())
        .collect();
    for (i, t) in tensors.iter().enumerate() {
        m.set_input_fact(i, InferenceFact::dt_shape(t.datum_type(), t.shape()))
            .unwrap();
    }
    let plan = m
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .unwrap_or_else(|e| panic!("tract prepares {}: {e:?}", path.display()));
    let outputs = plan
        .run(tensors.into_iter().map(|t| t.into_tvalue()).collect())
        .unwrap_or_else(|e| panic!("tract runs {}: {e:?}", path.display()));
    outputs.iter().map(|t| tensor_to_f64(t).unwrap()).collect()
}

/// The float initializer `name` of `g`, every value times `factor` (a
/// mutation for verify to catch).
pub fn scale_initializer(g: &mut GraphProto, name: &str, factor: f64) {
    let t = g
        .initializer
        .iter_mut()
        .find(|t| t.name() == name)
        .unwrap_or_else(|| panic!("no initializer {name}"));
    let a = read_floats(t).unwrap().map(|v| v * factor);
    *t = float_tensor(name, &a, FloatType::F32);
}
