//! Small builders for the proto values that the passes, the zoo, the
//! benchmarks and the tests write: typed attributes and tensor value infos.

use crate::model::facts::Dim;
use crate::proto::{
    AttributeProto, AttributeType, TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto,
    type_proto,
};

pub fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

pub fn attr_float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..Default::default()
    }
}

/// A tensor value info of `elem_type` (an ONNX `DataType`) and shape `dims`;
/// an unknown dim is written without a value, as ONNX allows.
pub fn tensor_value_info(name: &str, elem_type: i32, dims: &[Dim]) -> ValueInfoProto {
    use tensor_shape_proto::dimension::Value;
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: match d {
                Dim::Known(v) => Some(Value::DimValue(*v)),
                Dim::Symbol(s) => Some(Value::DimParam(s.clone())),
                Dim::Unknown => None,
            },
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem_type),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}
