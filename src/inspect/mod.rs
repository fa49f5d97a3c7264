//! `inspect`: what a model holds, as a readable summary or as JSON. IR
//! version and producer, opset imports, the graph's inputs and outputs with
//! their shapes (symbolic dims by name), an op histogram by domain, the ACON
//! nodes and functions found, and the parameter count and bytes. With
//! [`Inspection::with_flops`], also parameters and multiply-adds by op type
//! ([`flops`]: the counts, per node, from the shapes of
//! [`crate::model::shapes`]).

use crate::model::hash::Set;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub mod flops;

use crate::model::check::node_label;
use crate::model::facts::{Dim, tensor_type, value_info_shape};
use crate::model::tensor::{element_bits, element_count, type_name};
use crate::ops::{self, LocalFunctions, NodeClass};
use crate::passes::{ConvertOptions, Pipeline, RecognisedBlock, is_swish, swish_alpha};
use crate::proto::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
use flops::FlopsReport;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub file: String,
    pub ir_version: i64,
    pub producer_name: String,
    pub producer_version: String,
    pub opset_import: Vec<Opset>,
    pub inputs: Vec<ValueSummary>,
    pub outputs: Vec<ValueSummary>,
    /// Node counts by domain and op type, subgraphs included (function bodies
    /// are counted under `functions`).
    pub ops: Vec<OpCount>,
    pub node_count: usize,
    pub acon_nodes: Vec<AconNodeSummary>,
    /// Blocks of standard ops that compute an ACON activation (what
    /// PyTorch's default exporter writes), found by `recognise-acon`.
    pub recognised: Vec<RecognisedBlock>,
    pub functions: Vec<FunctionSummary>,
    pub parameters: ParameterSummary,
    /// What a runtime would get wrong (today: tract's Swish ignoring alpha).
    pub warnings: Vec<String>,
    /// Present when asked for (`inspect --flops`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops: Option<FlopsReport>,
}

#[derive(Debug, Serialize)]
pub struct Opset {
    pub domain: String,
    pub version: i64,
}

#[derive(Debug, Serialize)]
pub struct ValueSummary {
    pub name: String,
    pub dtype: String,
    /// Dims as numbers, symbol names, or `?`; absent when unknown.
    pub shape: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct OpCount {
    pub domain: String,
    pub op_type: String,
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct AconNodeSummary {
    pub name: String,
    pub domain: String,
    pub op_type: String,
    /// `custom-op` (an ACON domain), `function` (a model-local function) or
    /// `unclaimed` (an ACON op name in a domain not named as ACON).
    pub form: String,
    pub inputs: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FunctionSummary {
    pub domain: String,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub nodes: usize,
    pub called: usize,
}

#[derive(Debug, Serialize)]
pub struct ParameterSummary {
    pub tensors: usize,
    pub count: u64,
    pub bytes: u64,
}

/// Summarises `model`; `file` is only recorded.
pub fn inspect(model: &ModelProto, file: &str, options: &ConvertOptions) -> Inspection {
    let empty = GraphProto::default();
    let graph = model.graph.as_ref().unwrap_or(&empty);
    let initializers: Set<&str> = graph.initializer.iter().map(|t| t.name()).collect();
    let functions = LocalFunctions::of(model);

    let mut histogram: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut acon_nodes = vec![];
    let mut calls: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut warnings = vec![];
    let mut parameters = ParameterSummary {
        tensors: 0,
        count: 0,
        bytes: 0,
    };
    crate::graph::for_each_graph(graph, &mut |g| {
        for t in &g.initializer {
            let count = element_count(&t.dims).unwrap_or(0);
            parameters.tensors += 1;
            // Declared dims are untrusted: saturate rather than overflow.
            parameters.count = parameters.count.saturating_add(count);
            let bits = count.saturating_mul(element_bits(t.data_type()).unwrap_or(0));
            parameters.bytes = parameters.bytes.saturating_add(bits.div_ceil(8));
        }
        for node in &g.node {
            let domain = display_domain(node.domain());
            *histogram
                .entry((domain, node.op_type().to_owned()))
                .or_default() += 1;
            if let Some(w) = swish_warning(node) {
                warnings.push(w);
            }
            let class = ops::classify(node, &functions, options);
            if class == NodeClass::Function {
                *calls
                    .entry((node.domain().to_owned(), node.op_type().to_owned()))
                    .or_default() += 1;
            }
            if let Some(form) = acon_form(node, class) {
                acon_nodes.push(AconNodeSummary {
                    name: node.name().to_owned(),
                    domain: node.domain().to_owned(),
                    op_type: node.op_type().to_owned(),
                    form: form.to_owned(),
                    inputs: node.input.clone(),
                });
            }
        }
    });

    Inspection {
        file: file.to_owned(),
        ir_version: model.ir_version(),
        producer_name: model.producer_name().to_owned(),
        producer_version: model.producer_version().to_owned(),
        opset_import: model
            .opset_import
            .iter()
            .map(|o| Opset {
                domain: display_domain(o.domain()),
                version: o.version(),
            })
            .collect(),
        inputs: graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name()))
            .map(value_summary)
            .collect(),
        outputs: graph.output.iter().map(value_summary).collect(),
        node_count: histogram.values().sum(),
        ops: histogram
            .into_iter()
            .map(|((domain, op_type), count)| OpCount {
                domain,
                op_type,
                count,
            })
            .collect(),
        acon_nodes,
        recognised: recognised_blocks(model, options),
        functions: model
            .functions
            .iter()
            .map(|f| FunctionSummary {
                domain: f.domain().to_owned(),
                name: f.name().to_owned(),
                inputs: f.input.clone(),
                outputs: f.output.clone(),
                nodes: f.node.len(),
                called: calls
                    .get(&(f.domain().to_owned(), f.name().to_owned()))
                    .copied()
                    .unwrap_or(0),
            })
            .collect(),
        parameters,
        warnings,
        flops: None,
    }
}

/// What `recognise-acon` finds in the model as it is (function bodies are
/// listed as functions, not searched).
fn recognised_blocks(model: &ModelProto, options: &ConvertOptions) -> Vec<RecognisedBlock> {
    let mut copy = model.clone();
    let mut options = options.clone();
    options.check_each_pass = false;
    Pipeline::recognise()
        .run(&mut copy, &options)
        .map(|r| r.recognised)
        .unwrap_or_default()
}

fn acon_form(node: &NodeProto, class: NodeClass) -> Option<&'static str> {
    match class {
        NodeClass::CustomOp(_) => Some("custom-op"),
        NodeClass::Function => class.acon_kind(node).map(|_| "function"),
        NodeClass::Foreign(_) => Some("unclaimed"),
        NodeClass::Standard => None,
    }
}

/// tract 0.23.9 maps `Swish` to SiLU: right for alpha 1 only.
fn swish_warning(node: &NodeProto) -> Option<String> {
    if !is_swish(node) {
        return None;
    }
    let alpha = match swish_alpha(node) {
        Ok(1.0) => return None,
        Ok(a) => a.to_string(),
        Err(_) => "not a float".to_owned(),
    };
    Some(format!(
        "node `{}` (ai.onnx::Swish) has alpha = {alpha}: tract 0.23.9 computes Swish as \
         x·σ(x), ignoring alpha; `convert` rewrites it as ACON-A, and `run`, `bench` and \
         `verify` compute it on the native kernels",
        node_label(node)
    ))
}

fn display_domain(domain: &str) -> String {
    if domain.is_empty() {
        "ai.onnx".to_owned()
    } else {
        domain.to_owned()
    }
}

fn value_summary(vi: &ValueInfoProto) -> ValueSummary {
    let dtype = vi
        .r#type
        .as_ref()
        .and_then(tensor_type)
        .map(|t| type_name(t.elem_type()))
        .unwrap_or_else(|| "non-tensor".to_owned());
    ValueSummary {
        name: vi.name().to_owned(),
        dtype,
        shape: value_info_shape(vi).map(|dims| dims.iter().map(Dim::to_string).collect()),
    }
}

impl Inspection {
    /// Adds the FLOPs and parameter count of `model` (the model this
    /// inspection was made from), with the symbolic dims of `dims` set.
    pub fn with_flops(
        mut self,
        model: &ModelProto,
        dims: &BTreeMap<String, usize>,
        options: &ConvertOptions,
    ) -> Inspection {
        self.flops = Some(flops::count(model, dims, options));
        self
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        self.to_text_with_hint(None)
    }

    /// [`Inspection::to_text`], with `assumed_hint` on the line of each
    /// symbolic dim the FLOPs count assumed to be 1
    /// ([`FlopsReport::to_text_with_hint`]).
    pub fn to_text_with_hint(&self, assumed_hint: Option<&str>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{}", self.file);
        let producer = format!("{} {}", self.producer_name, self.producer_version);
        let _ = writeln!(
            s,
            "  ir_version  {}, producer {}",
            self.ir_version,
            producer.trim()
        );
        let opsets: Vec<String> = self
            .opset_import
            .iter()
            .map(|o| format!("{} {}", o.domain, o.version))
            .collect();
        let _ = writeln!(s, "  opsets      {}", opsets.join(", "));
        for (label, values) in [("inputs ", &self.inputs), ("outputs", &self.outputs)] {
            for (i, v) in values.iter().enumerate() {
                let shape = v
                    .shape
                    .as_ref()
                    .map(|d| format!("[{}]", d.join(", ")))
                    .unwrap_or_else(|| "(shape unknown)".into());
                let head = if i == 0 { label } else { "       " };
                let _ = writeln!(s, "  {head}     {} {} {shape}", v.name, v.dtype);
            }
        }
        let _ = writeln!(s, "  nodes       {}", self.node_count);
        let mut by_domain: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for op in &self.ops {
            by_domain
                .entry(&op.domain)
                .or_default()
                .push(format!("{} {}", op.op_type, op.count));
        }
        for (domain, ops) in by_domain {
            let _ = writeln!(s, "    {domain}: {}", ops.join(", "));
        }
        let _ = writeln!(s, "  ACON nodes  {}", self.acon_nodes.len());
        for n in &self.acon_nodes {
            let _ = writeln!(
                s,
                "    {} {}::{} ({}) inputs {}",
                if n.name.is_empty() {
                    "<unnamed>"
                } else {
                    &n.name
                },
                n.domain,
                n.op_type,
                n.form,
                n.inputs.join(", ")
            );
        }
        if !self.recognised.is_empty() {
            let _ = writeln!(
                s,
                "  recognised  {} ACON block{} in standard ops",
                self.recognised.len(),
                if self.recognised.len() == 1 { "" } else { "s" }
            );
            for b in &self.recognised {
                let _ = writeln!(
                    s,
                    "    {} writing `{}` (node `{}`{}){}",
                    b.op_type,
                    b.output,
                    b.node,
                    if b.graph.is_empty() {
                        String::new()
                    } else {
                        format!(" in graph `{}`", b.graph)
                    },
                    b.module
                        .as_ref()
                        .map(|m| format!(" from {m}"))
                        .unwrap_or_default()
                );
            }
        }
        let _ = writeln!(s, "  functions   {}", self.functions.len());
        for f in &self.functions {
            let _ = writeln!(
                s,
                "    {}::{}({}) -> {}: {} nodes, called {} times",
                f.domain,
                f.name,
                f.inputs.join(", "),
                f.outputs.join(", "),
                f.nodes,
                f.called
            );
        }
        let _ = writeln!(
            s,
            "  parameters  {} in {} tensors, {} bytes",
            self.parameters.count, self.parameters.tensors, self.parameters.bytes
        );
        if let Some(f) = &self.flops {
            s.push_str(&f.to_text_with_hint(assumed_hint));
        }
        s
    }
}
