//! Building the standard-op replacement of one node. Values are either
//! constants, folded at conversion time in `f64`, or names of tensors the
//! graph computes; an operation on two constants is folded, anything else
//! becomes a node. New nodes and initializers are named after the node they
//! replace (`act3.sigmoid`, `act3.p`), made unique against the whole model.

use crate::error::Error;
use crate::model::build::{attr_int, attr_ints};
use crate::model::names::NameTable;
use crate::model::tensor::{Array, FloatType, float_tensor, int64_tensor};
use crate::proto::{AttributeProto, NodeProto, TensorProto};

/// A value of the decomposition.
#[derive(Debug, Clone)]
pub enum Value {
    /// A constant computed here; stored as a new initializer when a node needs it.
    Const(Array),
    /// A constant the model already stores under `name`; reused as it is.
    Stored { name: String, array: Array },
    /// A tensor the graph computes.
    Tensor(String),
}

impl Value {
    /// The value, when it is known at conversion time.
    pub fn constant(&self) -> Option<&Array> {
        match self {
            Value::Const(a) | Value::Stored { array: a, .. } => Some(a),
            Value::Tensor(_) => None,
        }
    }

    /// True for a constant whose every element is `v`. An empty constant is
    /// not: it would empty what it broadcasts with, so it cannot be dropped
    /// as a multiplication by one or an addition of zero.
    pub fn is_all(&self, v: f64) -> bool {
        self.constant()
            .is_some_and(|a| !a.is_empty() && a.data.iter().all(|&x| x == v))
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Binary {
    Add,
    Sub,
    Mul,
}

impl Binary {
    fn op_type(self) -> &'static str {
        match self {
            Binary::Add => "Add",
            Binary::Sub => "Sub",
            Binary::Mul => "Mul",
        }
    }

    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
        }
    }
}

/// Collects the nodes and initializers that replace one node.
pub struct Emitter<'a> {
    base: String,
    names: &'a mut NameTable,
    pub dtype: FloatType,
    pub opset: i64,
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
}

impl<'a> Emitter<'a> {
    pub fn new(base: &str, names: &'a mut NameTable, dtype: FloatType, opset: i64) -> Self {
        Emitter {
            base: base.to_owned(),
            names,
            dtype,
            opset,
            nodes: vec![],
            initializers: vec![],
        }
    }

    fn fresh(&mut self, suffix: &str) -> String {
        self.names.fresh(&format!("{}.{suffix}", self.base))
    }

    /// The tensor name of `v`, storing a constant as a new initializer.
    pub fn tensor(&mut self, v: Value, suffix: &str) -> String {
        match v {
            Value::Tensor(name) | Value::Stored { name, .. } => name,
            Value::Const(array) => {
                let name = self.fresh(suffix);
                self.initializers
                    .push(float_tensor(&name, &array, self.dtype));
                name
            }
        }
    }

    /// A node writing a new value named `{base}.{suffix}`.
    pub fn node(
        &mut self,
        op_type: &str,
        inputs: Vec<String>,
        suffix: &str,
        attributes: Vec<AttributeProto>,
    ) -> Value {
        let name = self.fresh(suffix);
        self.push_node(op_type, inputs, name.clone(), name.clone(), attributes);
        Value::Tensor(name)
    }

    /// A node writing `output`, an existing name (the replaced node's output).
    pub fn node_into(&mut self, op_type: &str, inputs: Vec<String>, suffix: &str, output: &str) {
        let name = self.fresh(suffix);
        self.push_node(op_type, inputs, name, output.to_owned(), vec![]);
    }

    fn push_node(
        &mut self,
        op_type: &str,
        input: Vec<String>,
        name: String,
        output: String,
        attribute: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            input,
            output: vec![output],
            name: Some(name),
            op_type: Some(op_type.to_owned()),
            attribute,
            ..Default::default()
        });
    }

    /// `a op b`, folded when both are constants.
    pub fn binary(&mut self, op: Binary, a: Value, b: Value, suffix: &str) -> Result<Value, Error> {
        if let (Some(x), Some(y)) = (a.constant(), b.constant()) {
            let folded = x.zip(y, |p, q| op.apply(p, q)).ok_or_else(|| {
                Error::Unsupported(format!(
                    "{}: cannot fold {} of shapes {:?} and {:?}: they do not broadcast \
                     or the result is too large",
                    self.base,
                    op.op_type(),
                    x.dims,
                    y.dims
                ))
            })?;
            return Ok(Value::Const(folded));
        }
        let a = self.tensor(a, &format!("{suffix}_a"));
        let b = self.tensor(b, &format!("{suffix}_b"));
        Ok(self.node(op.op_type(), vec![a, b], suffix, vec![]))
    }

    /// `a op b` written to `output`.
    pub fn binary_into(&mut self, op: Binary, a: Value, b: Value, suffix: &str, output: &str) {
        let a = self.tensor(a, &format!("{suffix}_a"));
        let b = self.tensor(b, &format!("{suffix}_b"));
        self.node_into(op.op_type(), vec![a, b], suffix, output);
    }

    /// `σ(z)` spelt `Reciprocal(Add(Exp(Neg(z)), 1))` in the emitter's type,
    /// written to `output`: what [`Emitter::sigmoid`] emits in `double`,
    /// and how the f64 evaluations of `tract::widen` spell a `Sigmoid`.
    pub fn spelt_sigmoid_into(&mut self, z: &str, suffix: &str, output: &str) {
        let denominator = self.sigmoid_denominator(z, suffix);
        self.node_into("Reciprocal", vec![denominator], suffix, output);
    }

    /// `Add(Exp(Neg(z)), 1)`, the denominator of σ spelt out.
    fn sigmoid_denominator(&mut self, z: &str, suffix: &str) -> String {
        let step = |em: &mut Self, op: &str, inputs: Vec<String>, part: &str| {
            let name = em.fresh(&format!("{suffix}_{part}"));
            em.push_node(op, inputs, name.clone(), name.clone(), vec![]);
            name
        };
        let neg = step(self, "Neg", vec![z.to_owned()], "neg");
        let exp = step(self, "Exp", vec![neg], "exp");
        let one = self.tensor(Value::Const(Array::scalar(1.0)), &format!("{suffix}_one"));
        step(self, "Add", vec![exp, one], "denominator")
    }

    /// `σ(v)`, folded for a constant.
    ///
    /// ```text
    /// σ(z) = 1 / (1 + exp(−z))      double: Reciprocal(Add(Exp(Neg(z)), 1))
    /// ```
    ///
    /// In `double` models σ is spelt out: tract 0.23.9 has no f64 `Sigmoid`,
    /// while Neg, Exp, Add and Reciprocal run in f64 on it and on every
    /// runtime. exp(−z) overflows to +∞ for z < −709, where 1/(1+∞) = 0 is
    /// σ's value in f64 anyway.
    pub fn sigmoid(&mut self, v: Value, suffix: &str) -> Value {
        match v.constant() {
            Some(a) => Value::Const(a.map(|z| 1.0 / (1.0 + (-z).exp()))),
            None if self.dtype == FloatType::F64 => {
                let z = self.tensor(v, suffix);
                let denominator = self.sigmoid_denominator(&z, suffix);
                self.node("Reciprocal", vec![denominator], suffix, vec![])
            }
            None => {
                let name = self.tensor(v, suffix);
                self.node("Sigmoid", vec![name], suffix, vec![])
            }
        }
    }

    /// The mean over `axes`, keeping them. ReduceMean takes its axes as an
    /// attribute before opset 18 and as a constant second input from 18 on.
    pub fn reduce_mean(&mut self, x: &str, axes: &[i64], suffix: &str) -> Value {
        let keepdims = attr_int("keepdims", 1);
        if self.opset >= 18 {
            let axes_name = self.fresh(&format!("{suffix}_axes"));
            self.initializers.push(int64_tensor(&axes_name, axes));
            self.node(
                "ReduceMean",
                vec![x.to_owned(), axes_name],
                suffix,
                vec![keepdims],
            )
        } else {
            self.node(
                "ReduceMean",
                vec![x.to_owned()],
                suffix,
                vec![attr_ints("axes", axes), keepdims],
            )
        }
    }

    /// A 1×1 convolution with weights `[out, in, 1, …]` and an optional bias.
    pub fn conv(&mut self, x: Value, weight: Value, bias: Option<Value>, suffix: &str) -> Value {
        let x = self.tensor(x, &format!("{suffix}_x"));
        let mut inputs = vec![x, self.tensor(weight, &format!("{suffix}.weight"))];
        if let Some(b) = bias {
            inputs.push(self.tensor(b, &format!("{suffix}.bias")));
        }
        self.node("Conv", inputs, suffix, vec![])
    }
}
