//! Small builders for the proto values the tests write by hand: graph
//! attributes, bool tensors and value infos with symbolic dims.

use acon_onnx::model::tensor::FloatType;
use acon_onnx::proto::{
    AttributeProto, AttributeType, DataType, GraphProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, tensor_shape_proto, type_proto,
};

pub fn graph_attr(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Graph as i32),
        g: Some(g),
        ..Default::default()
    }
}

pub fn bool_tensor(name: &str, value: bool) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        data_type: Some(DataType::Bool as i32),
        int32_data: vec![value as i32],
        ..Default::default()
    }
}

/// A float tensor value-info whose dims are numbers or symbols: `&["batch", "4"]`.
pub fn tensor_info(name: &str, ty: FloatType, dims: &[&str]) -> ValueInfoProto {
    typed_info(name, ty.onnx(), dims)
}

/// A tensor value-info of any element type.
pub fn typed_info(name: &str, ty: DataType, dims: &[&str]) -> ValueInfoProto {
    use tensor_shape_proto::dimension::Value;
    let dim = |d: &&str| tensor_shape_proto::Dimension {
        value: Some(match d.parse::<i64>() {
            Ok(v) => Value::DimValue(v),
            Err(_) => Value::DimParam(d.to_string()),
        }),
        denotation: None,
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(ty as i32),
                shape: Some(TensorShapeProto {
                    dim: dims.iter().map(dim).collect(),
                }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}
