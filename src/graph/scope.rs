//! The names one graph defines and the constants among them, chained to the
//! enclosing graph's scope.
//!
//! A value is a constant when it is an initializer that no graph input
//! overrides, the output of a `Constant` node, or the output of an
//! `Identity`, a `Reshape` or a binary `Add`/`Sub`/`Mul`/`Div` of constants
//! (small ones: see [`MAX_FOLDED_CONSTANT`]). A name the graph defines otherwise (a graph
//! input, a node output) shadows an outer constant of the same name, as
//! ONNX's scoping rules say; a name it does not define is looked up in the
//! enclosing scope.

use crate::model::hash::{Map, Set};

use crate::model::tensor::{Array, FloatType, float_tensor, read_floats};

/// The largest operand a binary op on constants is folded for: ACON's
/// parameters are per-channel, and weights are never folded here.
const MAX_FOLDED_CONSTANT: usize = 1 << 16;
use crate::proto::{AttributeType, DataType, GraphProto, NodeProto, TensorProto};

/// A constant value: the name a node may read it by, and its tensor.
#[derive(Debug, Clone)]
pub struct Constant {
    /// The stored name: the initializer or `Constant` output itself, never
    /// an `Identity` of it, so that a rewrite reading it keeps nothing alive.
    pub name: String,
    pub tensor: TensorProto,
}

impl Constant {
    /// Its value as floats; `None` for a tensor of another type or one that
    /// cannot be read.
    pub fn floats(&self) -> Option<Array> {
        read_floats(&self.tensor).ok()
    }

    /// Its value as integers (for axes and shapes); `None` for other types.
    pub fn ints(&self) -> Option<Vec<i64>> {
        let t = &self.tensor;
        match DataType::try_from(t.data_type()).ok()? {
            DataType::Int64 => match &t.raw_data {
                Some(raw) if raw.len() % 8 == 0 => Some(
                    raw.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                Some(_) => None,
                None => Some(t.int64_data.clone()),
            },
            DataType::Int32 => match &t.raw_data {
                Some(raw) if raw.len() % 4 == 0 => Some(
                    raw.chunks_exact(4)
                        .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
                        .collect(),
                ),
                Some(_) => None,
                None => Some(t.int32_data.iter().map(|&v| v as i64).collect()),
            },
            _ => None,
        }
    }
}

/// The scope of one graph.
#[derive(Debug, Default)]
pub struct Scope<'p> {
    constants: Map<String, Constant>,
    /// Every name this graph defines (inputs, initializers, node outputs).
    defined: Set<String>,
    parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    /// The scope of `graph`, inside `parent` when it is a subgraph.
    pub fn for_graph(graph: &GraphProto, parent: Option<&'p Scope<'p>>) -> Scope<'p> {
        let mut scope = Scope {
            parent,
            ..Scope::default()
        };
        let inputs: Set<&str> = graph.input.iter().map(|i| i.name()).collect();
        scope.defined.extend(inputs.iter().map(|s| s.to_string()));
        for t in &graph.initializer {
            scope.defined.insert(t.name().to_owned());
            // An initializer that is also a graph input is only a default.
            if !inputs.contains(t.name()) {
                scope.constants.insert(
                    t.name().to_owned(),
                    Constant {
                        name: t.name().to_owned(),
                        tensor: t.clone(),
                    },
                );
            }
        }
        for node in &graph.node {
            scope
                .defined
                .extend(node.output.iter().filter(|o| !o.is_empty()).cloned());
            if let Some(c) = scope.constant_output(node) {
                scope.constants.insert(node.output[0].clone(), c);
            }
        }
        scope
    }

    /// The constant `node` (a `Constant`, or an `Identity` of a constant)
    /// produces, if it is one.
    fn constant_output(&self, node: &NodeProto) -> Option<Constant> {
        if !crate::model::opsets::is_default_domain(node.domain()) || node.output.len() != 1 {
            return None;
        }
        match node.op_type() {
            "Constant" => {
                let attr = node
                    .attribute
                    .first()
                    .filter(|_| node.attribute.len() == 1)?;
                let mut tensor = match (attr.name(), attr.r#type()) {
                    ("value", AttributeType::Tensor) => attr.t.clone()?,
                    ("value_float", AttributeType::Float) => TensorProto {
                        data_type: Some(DataType::Float as i32),
                        float_data: vec![attr.f?],
                        ..Default::default()
                    },
                    ("value_floats", AttributeType::Floats) => TensorProto {
                        dims: vec![attr.floats.len() as i64],
                        data_type: Some(DataType::Float as i32),
                        float_data: attr.floats.clone(),
                        ..Default::default()
                    },
                    ("value_int", AttributeType::Int) => TensorProto {
                        data_type: Some(DataType::Int64 as i32),
                        int64_data: vec![attr.i?],
                        ..Default::default()
                    },
                    ("value_ints", AttributeType::Ints) => TensorProto {
                        dims: vec![attr.ints.len() as i64],
                        data_type: Some(DataType::Int64 as i32),
                        int64_data: attr.ints.clone(),
                        ..Default::default()
                    },
                    _ => return None,
                };
                tensor.name = Some(node.output[0].clone());
                Some(Constant {
                    name: node.output[0].clone(),
                    tensor,
                })
            }
            "Identity" => {
                let [input] = node.input.as_slice() else {
                    return None;
                };
                self.constant(input)
            }
            "Reshape" => self.fold_reshape(node),
            "Cast" => self.fold_cast(node),
            "Add" | "Sub" | "Mul" | "Div" => self.fold_binary(node),
            _ => None,
        }
    }

    /// `Reshape` of a constant to a constant shape (exporters build ReduceMean
    /// axes this way). `0` copies the input's dim unless `allowzero`; one
    /// `-1` takes what is left.
    fn fold_reshape(&self, node: &NodeProto) -> Option<Constant> {
        let [data, shape] = node.input.as_slice() else {
            return None;
        };
        let data = self.constant(data)?;
        let shape = self.constant(shape)?.ints()?;
        let allow_zero = node
            .attribute
            .iter()
            .any(|a| a.name() == "allowzero" && a.i() != 0);
        let count: i64 = data.tensor.dims.iter().product();
        let mut dims: Vec<i64> = shape
            .iter()
            .enumerate()
            .map(|(i, &d)| match d {
                0 if !allow_zero => data.tensor.dims.get(i).copied().unwrap_or(-2),
                d => d,
            })
            .collect();
        let known: i64 = dims.iter().filter(|&&d| d >= 0).product();
        match dims.iter().filter(|&&d| d == -1).count() {
            0 => {}
            1 if known > 0 && count % known == 0 => {
                for d in dims.iter_mut().filter(|d| **d == -1) {
                    *d = count / known;
                }
            }
            _ => return None,
        }
        if dims.iter().any(|&d| d < 0) || dims.iter().product::<i64>() != count {
            return None;
        }
        let mut tensor = data.tensor;
        tensor.dims = dims;
        tensor.name = Some(node.output[0].clone());
        Some(Constant {
            name: node.output[0].clone(),
            tensor,
        })
    }

    /// `Cast` of a small constant to a float type (`1 − p` exported as
    /// `Sub(Cast(1), p)`). Integers are cast only where every value is exact
    /// in f64.
    fn fold_cast(&self, node: &NodeProto) -> Option<Constant> {
        let [input] = node.input.as_slice() else {
            return None;
        };
        let to = node
            .attribute
            .iter()
            .find(|a| a.name() == "to" && a.r#type() == AttributeType::Int)?
            .i();
        let ty = FloatType::from_onnx(i32::try_from(to).ok()?)?;
        let c = self.constant(input)?;
        let array = match c.floats() {
            Some(a) => a,
            None => {
                let ints = c.ints()?;
                if ints.iter().any(|v| v.unsigned_abs() > 1 << 53) {
                    return None;
                }
                Array {
                    dims: c.tensor.dims.iter().map(|&d| d as usize).collect(),
                    data: ints.iter().map(|&v| v as f64).collect(),
                }
            }
        };
        if array.len() > MAX_FOLDED_CONSTANT {
            return None;
        }
        let name = node.output[0].clone();
        Some(Constant {
            tensor: float_tensor(&name, &array, ty),
            name,
        })
    }

    /// A binary op on two small float constants of one type (`p1 − p2` in an
    /// export that did not fold it). Computed in f64 and rounded once to the
    /// type, which for `+ − × ÷` is the correctly rounded result the op
    /// itself gives: f64 has more than twice the precision of every ACON
    /// type, so rounding twice changes nothing.
    fn fold_binary(&self, node: &NodeProto) -> Option<Constant> {
        let [a, b] = node.input.as_slice() else {
            return None;
        };
        if !node.attribute.is_empty() {
            return None;
        }
        let (a, b) = (self.constant(a)?, self.constant(b)?);
        let ty = FloatType::from_onnx(a.tensor.data_type())?;
        if b.tensor.data_type() != a.tensor.data_type() {
            return None;
        }
        let (x, y) = (a.floats()?, b.floats()?);
        if x.len().max(y.len()) > MAX_FOLDED_CONSTANT {
            return None;
        }
        let f: fn(f64, f64) -> f64 = match node.op_type() {
            "Add" => |p, q| p + q,
            "Sub" => |p, q| p - q,
            "Mul" => |p, q| p * q,
            _ => |p, q| p / q,
        };
        let out = x.zip(&y, f)?;
        let name = node.output[0].clone();
        Some(Constant {
            tensor: float_tensor(&name, &out, ty),
            name,
        })
    }

    /// The constant `name` refers to here, if it is one.
    pub fn constant(&self, name: &str) -> Option<Constant> {
        if let Some(c) = self.constants.get(name) {
            return Some(c.clone());
        }
        if self.defined.contains(name) {
            return None;
        }
        self.parent?.constant(name)
    }

    /// True when this graph defines `name` itself.
    pub fn defines(&self, name: &str) -> bool {
        self.defined.contains(name)
    }
}
