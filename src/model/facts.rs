//! What a graph scope knows about each value: its element type, its shape
//! (dims may be symbols or unknown) and, for constants, the tensor itself.
//!
//! Facts come from the graph's inputs, outputs, `value_info`, initializers and
//! `Constant` nodes; a subgraph's scope starts from its parent's, and its own
//! names shadow the outer ones, as ONNX scoping says. Where the graph leaves
//! a shape out, [`Facts::infer_shapes`] infers it through the nodes.

use crate::model::hash::Map;
use std::fmt;

use crate::model::shapes::Shapes;
use crate::ops::AconKind;
use crate::proto::{GraphProto, NodeProto, TensorProto, TypeProto, ValueInfoProto, type_proto};

/// One dimension of a shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Known(i64),
    Symbol(String),
    Unknown,
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(v) => write!(f, "{v}"),
            Dim::Symbol(s) => write!(f, "{s}"),
            Dim::Unknown => write!(f, "?"),
        }
    }
}

/// Formats a shape as `[1, C, 8, ?]`.
pub fn shape_string(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(Dim::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// What is known about one value.
#[derive(Debug, Clone, Default)]
pub struct ValueFact {
    pub elem_type: Option<i32>,
    pub shape: Option<Vec<Dim>>,
    pub constant: Option<TensorProto>,
}

/// The facts of one scope, outer scopes included.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    values: Map<String, ValueFact>,
    /// Why inference could not tell a value's shape (see `infer_shapes`).
    why_unknown: Map<String, String>,
}

impl Facts {
    /// The facts visible inside `graph`, given its enclosing scope's.
    pub fn for_graph(graph: &GraphProto, outer: Option<&Facts>) -> Facts {
        let mut facts = outer.cloned().unwrap_or_default();
        facts.values.reserve(
            graph.input.len()
                + graph.value_info.len()
                + graph.output.len()
                + graph.initializer.len(),
        );
        for vi in &graph.input {
            // A graph input shadows an outer value of the same name.
            facts.values.insert(vi.name().to_owned(), fact_of(vi));
        }
        for vi in graph.value_info.iter().chain(&graph.output) {
            let fact = fact_of(vi);
            let entry = facts.values.entry(vi.name().to_owned()).or_default();
            entry.elem_type = entry.elem_type.or(fact.elem_type);
            if entry.shape.is_none() {
                entry.shape = fact.shape;
            }
        }
        for t in &graph.initializer {
            facts.values.insert(t.name().to_owned(), fact_of_tensor(t));
        }
        for node in &graph.node {
            if node.op_type() == "Constant"
                && node.domain().is_empty()
                && let [output] = node.output.as_slice()
                && let Some(t) = node
                    .attribute
                    .iter()
                    .find(|a| a.name() == "value")
                    .and_then(|a| a.t.as_ref())
            {
                facts.values.insert(output.clone(), fact_of_tensor(t));
            }
        }
        facts
    }

    /// Completes the shapes the graph does not record by inference through
    /// its nodes in order (`model::shapes`), `acon` telling which nodes are
    /// ACON ops. A shape the graph records always wins over an inferred
    /// one; a value inference cannot tell keeps the reason.
    pub fn infer_shapes(
        &mut self,
        graph: &GraphProto,
        acon: impl Fn(&NodeProto) -> Option<AconKind>,
    ) {
        let mut shapes = Shapes::default();
        for (name, fact) in &self.values {
            match (&fact.constant, &fact.shape) {
                (Some(t), _) => shapes.add_tensor(name, t),
                (None, Some(dims)) => shapes.set_shape(name, dims.clone()),
                (None, None) => {}
            }
        }
        for node in &graph.node {
            if shapes.infer(node, acon(node)).is_err() {
                for out in &node.output {
                    if let Some(why) = shapes.why_unknown(out) {
                        self.why_unknown.insert(out.clone(), why.to_owned());
                    }
                }
            }
            for out in &node.output {
                match self.values.get(out).and_then(|f| f.shape.clone()) {
                    Some(recorded) => shapes.set_shape(out, recorded),
                    None => {
                        if let Some(inferred) = shapes.shape(out) {
                            self.values.entry(out.clone()).or_default().shape =
                                Some(inferred.clone());
                        }
                    }
                }
            }
        }
    }

    /// Why the shape of `name` is unknown, when inference was tried.
    pub fn why_unknown(&self, name: &str) -> Option<&str> {
        self.why_unknown.get(name).map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&ValueFact> {
        self.values.get(name)
    }

    pub fn constant(&self, name: &str) -> Option<&TensorProto> {
        self.values.get(name)?.constant.as_ref()
    }
}

fn fact_of_tensor(t: &TensorProto) -> ValueFact {
    ValueFact {
        elem_type: Some(t.data_type()),
        shape: Some(t.dims.iter().map(|&d| Dim::Known(d)).collect()),
        constant: Some(t.clone()),
    }
}

fn fact_of(vi: &ValueInfoProto) -> ValueFact {
    match vi.r#type.as_ref().and_then(tensor_type) {
        Some(tensor) => ValueFact {
            elem_type: tensor.elem_type.filter(|&t| t != 0),
            shape: tensor.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(type_proto_dim::Value::DimValue(v)) => Dim::Known(*v),
                        Some(type_proto_dim::Value::DimParam(p)) if !p.is_empty() => {
                            Dim::Symbol(p.clone())
                        }
                        _ => Dim::Unknown,
                    })
                    .collect()
            }),
            constant: None,
        },
        None => ValueFact::default(),
    }
}

use crate::proto::tensor_shape_proto::dimension as type_proto_dim;

/// The tensor part of a type, if it is a tensor type.
pub fn tensor_type(ty: &TypeProto) -> Option<&type_proto::Tensor> {
    match &ty.value {
        Some(type_proto::Value::TensorType(t)) => Some(t),
        _ => None,
    }
}

/// The shape of a value-info, for display.
pub fn value_info_shape(vi: &ValueInfoProto) -> Option<Vec<Dim>> {
    fact_of(vi).shape
}
