//! A model computing in f64: the same graph, with every float value
//! widened to double, for evaluations whose rounding error is negligible
//! next to the model's own: a region's local proof in
//! [`crate::tract::local`], and `benches/rounding.rs`, which measures where
//! verify's end-to-end differences come from.
//!
//! What changes, in every graph and subgraph:
//!
//! - float initializers, `Constant` values and `ConstantOfShape` fills are
//!   stored as double (`value_float(s)` become a double `value`);
//! - the float inputs, outputs and `value_info` are declared double;
//! - a `Cast` to `float` casts to double; one to a half type rounds as it
//!   did, and its result is cast to double after it;
//! - `Sigmoid` is spelt `σ(z) = 1 / (1 + exp(−z))`, which tract runs in f64
//!   (it has no f64 `Sigmoid`);
//! - `Gemm` is spelt `α·op(A)·op(B) + β·C` with `Transpose`, `MatMul`, `Mul`
//!   and `Add` (tract's `Gemm` keeps α and β in f32).
//!
//! Integer and bool values are left as they are, and so is everything else.

use tract_onnx::prelude::*;

use crate::graph::for_each_graph_edit;
use crate::model::check::node_label;
use crate::model::names::NameTable;
use crate::model::opsets::{default_opset, is_default_domain};
use crate::model::tensor::{Array, FloatType, float_tensor, read_floats};
use crate::passes::emit::{Binary, Emitter, Value};
use crate::proto::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, TensorProto, attribute_proto,
    type_proto,
};

/// `model` computing in f64, or `None` when it already does (nothing would
/// be gained) or holds a float value that cannot be read.
pub fn to_f64(model: &ModelProto) -> Option<ModelProto> {
    let mut m = model.clone();
    let mut names = NameTable::for_model(model);
    let opset = default_opset(model).unwrap_or(17);
    let g = m.graph.as_mut()?;
    let mut already_double = false;
    let mut unreadable = false;
    for_each_graph_edit(g, &mut |g| {
        for t in &mut g.initializer {
            match widen_tensor(t) {
                Ok(()) => {}
                Err(Narrow::AlreadyDouble) => already_double = true,
                Err(Narrow::Unreadable) => unreadable = true,
            }
        }
        for vi in g
            .input
            .iter_mut()
            .chain(g.output.iter_mut())
            .chain(g.value_info.iter_mut())
        {
            if let Some(type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|t| t.value.as_mut())
                && FloatType::from_onnx(t.elem_type()).is_some()
            {
                t.elem_type = Some(DataType::Double as i32);
            }
        }
        if widen_nodes(g, &mut names, opset).is_err() {
            unreadable = true;
        }
    });
    if already_double || unreadable {
        return None;
    }
    Some(m)
}

/// `t` cast to f64 when it holds floats; other tensors as they are.
pub fn widen_input(t: &Tensor) -> Tensor {
    if t.datum_type().is_float()
        && t.datum_type() != f64::datum_type()
        && let Ok(wide) = t.cast_to::<f64>()
    {
        return wide.into_owned();
    }
    t.clone()
}

enum Narrow {
    AlreadyDouble,
    Unreadable,
}

fn widen_tensor(t: &mut TensorProto) -> Result<(), Narrow> {
    match FloatType::from_onnx(t.data_type()) {
        Some(FloatType::F64) => Err(Narrow::AlreadyDouble),
        Some(_) => {
            let a = read_floats(t).map_err(|_| Narrow::Unreadable)?;
            *t = float_tensor(t.name(), &a, FloatType::F64);
            Ok(())
        }
        None => Ok(()),
    }
}

fn widen_nodes(g: &mut GraphProto, names: &mut NameTable, opset: i64) -> Result<(), Narrow> {
    let double = DataType::Double as i64;
    let mut nodes = Vec::with_capacity(g.node.len());
    for mut node in std::mem::take(&mut g.node) {
        let standard = is_default_domain(node.domain());
        let spelt = match node.op_type() {
            "Sigmoid" if standard && node.input.len() == 1 && node.output.len() == 1 => {
                let mut em = Emitter::new(node_label(&node), names, FloatType::F64, opset);
                em.spelt_sigmoid_into(&node.input[0], "sigmoid", &node.output[0]);
                Some(em)
            }
            "Gemm" if standard && (2..=3).contains(&node.input.len()) && node.output.len() == 1 => {
                let mut em = Emitter::new(node_label(&node), names, FloatType::F64, opset);
                gemm_in_f64(&node, &mut em).map_err(|_| Narrow::Unreadable)?;
                Some(em)
            }
            _ => None,
        };
        if let Some(em) = spelt {
            nodes.extend(em.nodes);
            g.initializer.extend(em.initializers);
            continue;
        }
        match node.op_type() {
            "Cast" if standard => {
                let to = node
                    .attribute
                    .iter()
                    .find(|a| a.name() == "to")
                    .map(|a| a.i());
                match to.and_then(|t| FloatType::from_onnx(t as i32)) {
                    Some(FloatType::F32) => {
                        for a in node.attribute.iter_mut().filter(|a| a.name() == "to") {
                            a.i = Some(double);
                        }
                    }
                    // A cast to half precision rounds on purpose: it stays,
                    // and its result is widened after it.
                    Some(FloatType::F16 | FloatType::BF16) if node.output.len() == 1 => {
                        let y = std::mem::take(&mut node.output[0]);
                        node.output[0] = format!("{y}.narrow");
                        let widen = NodeProto {
                            op_type: Some("Cast".into()),
                            name: node.name.as_ref().map(|n| format!("{n}.widen")),
                            input: vec![node.output[0].clone()],
                            output: vec![y],
                            attribute: vec![crate::model::build::attr_int("to", double)],
                            ..Default::default()
                        };
                        nodes.push(node);
                        nodes.push(widen);
                        continue;
                    }
                    _ => {}
                }
            }
            "Constant" | "ConstantOfShape" if standard => {
                for a in &mut node.attribute {
                    widen_attribute(a)?;
                }
            }
            _ => {}
        }
        nodes.push(node);
    }
    g.node = nodes;
    Ok(())
}

/// A `Constant`'s or `ConstantOfShape`'s value attribute in f64.
fn widen_attribute(a: &mut AttributeProto) -> Result<(), Narrow> {
    use attribute_proto::AttributeType;
    let scalar = match a.name() {
        "value" => {
            if let Some(t) = a.t.as_mut() {
                widen_tensor(t)?;
            }
            return Ok(());
        }
        "value_float" => Array::scalar(a.f() as f64),
        "value_floats" => Array {
            dims: vec![a.floats.len()],
            data: a.floats.iter().map(|&v| v as f64).collect(),
        },
        _ => return Ok(()),
    };
    *a = AttributeProto {
        name: Some("value".into()),
        r#type: Some(AttributeType::Tensor as i32),
        t: Some(float_tensor("", &scalar, FloatType::F64)),
        ..Default::default()
    };
    Ok(())
}

/// `Y = Gemm(A, B, C)` as `Y = α·op(A)·op(B) + β·C`, where `op` transposes
/// when `transA` / `transB` say so; the factors are left out when 1.
fn gemm_in_f64(node: &NodeProto, em: &mut Emitter) -> Result<(), crate::Error> {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name() == name);
    let factor = |name: &str| attr(name).map_or(1.0, |a| a.f() as f64);
    let transposed = |name: &str| attr(name).is_some_and(|a| a.i() != 0);
    let perm = || vec![crate::model::build::attr_ints("perm", &[1, 0])];
    let y = &node.output[0];
    let mut a = Value::Tensor(node.input[0].clone());
    if transposed("transA") {
        let name = em.tensor(a, "a");
        a = em.node("Transpose", vec![name], "a_t", perm());
    }
    let mut b = Value::Tensor(node.input[1].clone());
    if transposed("transB") {
        let name = em.tensor(b, "b");
        b = em.node("Transpose", vec![name], "b_t", perm());
    }
    let (a, b) = (em.tensor(a, "a"), em.tensor(b, "b"));
    let c = node.input.get(2).filter(|c| !c.is_empty());
    let alpha = factor("alpha");
    if alpha == 1.0 && c.is_none() {
        em.node_into("MatMul", vec![a, b], "matmul", y);
        return Ok(());
    }
    let mut ab = em.node("MatMul", vec![a, b], "matmul", vec![]);
    if alpha != 1.0 {
        let k = Value::Const(Array::scalar(alpha));
        match c {
            None => {
                em.binary_into(Binary::Mul, ab, k, "alpha", y);
                return Ok(());
            }
            Some(_) => ab = em.binary(Binary::Mul, ab, k, "alpha")?,
        }
    }
    let mut c = Value::Tensor(c.cloned().unwrap_or_default());
    if factor("beta") != 1.0 {
        c = em.binary(
            Binary::Mul,
            c,
            Value::Const(Array::scalar(factor("beta"))),
            "beta",
        )?;
    }
    em.binary_into(Binary::Add, ab, c, "sum", y);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::build::{attr_float, attr_int, tensor_value_info};
    use crate::proto::GraphProto;

    fn step(op: &str, input: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            input: input.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        }
    }

    fn model(weight: FloatType) -> ModelProto {
        let float = DataType::Float as i32;
        ModelProto {
            graph: Some(GraphProto {
                input: vec![tensor_value_info("x", float, &[])],
                output: vec![tensor_value_info("y", float, &[])],
                initializer: vec![float_tensor("w", &Array::scalar(0.5), weight)],
                node: vec![
                    step("Constant", &[], "c", vec![attr_float("value_float", 0.25)]),
                    step("Mul", &["x", "w"], "a", vec![]),
                    step("Add", &["a", "c"], "b", vec![]),
                    step("Cast", &["b"], "d", vec![attr_int("to", float as i64)]),
                    step("Sigmoid", &["d"], "y", vec![]),
                ],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn every_float_becomes_double_and_sigmoid_is_spelt_with_exp() {
        let wide = to_f64(&model(FloatType::F32)).unwrap();
        let g = wide.graph.unwrap();
        let double = DataType::Double as i32;
        assert!(g.initializer.iter().all(|t| t.data_type() == double));
        let elem = |vi: &crate::proto::ValueInfoProto| match vi
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
        {
            Some(type_proto::Value::TensorType(t)) => t.elem_type(),
            _ => 0,
        };
        assert_eq!(elem(&g.input[0]), double);
        assert_eq!(elem(&g.output[0]), double);
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(
            ops,
            [
                "Constant",
                "Mul",
                "Add",
                "Cast",
                "Neg",
                "Exp",
                "Add",
                "Reciprocal"
            ]
        );
        assert_eq!(g.node[0].attribute[0].name(), "value");
        assert_eq!(
            g.node[0].attribute[0].t.as_ref().unwrap().data_type(),
            double
        );
        assert_eq!(g.node[3].attribute[0].i(), double as i64);
        assert_eq!(g.node.last().unwrap().output[0], "y");
    }

    #[test]
    fn a_cast_to_half_still_rounds_and_is_widened_after() {
        let mut m = model(FloatType::F32);
        let g = m.graph.as_mut().unwrap();
        g.node[3].attribute[0].i = Some(DataType::Float16 as i64);
        let g = to_f64(&m).unwrap().graph.unwrap();
        let (narrow, widen) = (&g.node[3], &g.node[4]);
        assert_eq!(narrow.op_type(), "Cast");
        assert_eq!(narrow.attribute[0].i(), DataType::Float16 as i64);
        assert_eq!(widen.op_type(), "Cast");
        assert_eq!(widen.input, narrow.output);
        assert_eq!(widen.output, ["d"]);
        assert_eq!(widen.attribute[0].i(), DataType::Double as i64);
    }

    #[test]
    fn a_model_in_double_already_gains_nothing() {
        assert!(to_f64(&model(FloatType::F64)).is_none());
    }
}
