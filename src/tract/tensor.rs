//! Tensors between ONNX `TensorProto` (test data, `--data DIR`) and tract.

use tract_onnx::prelude::*;

use crate::error::Error;
use crate::model::tensor::{FloatType, element_count, read_floats, type_name};
use crate::proto::{DataType, TensorProto};

/// A tract tensor holding the contents of `t` (float types, bool and the
/// integer types test data uses).
pub fn tensor_from_proto(t: &TensorProto) -> Result<Tensor, Error> {
    let name = t.name();
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::tensor(name, format!("has invalid dims {:?}", t.dims)))?;
    let count = element_count(&t.dims)
        .ok_or_else(|| Error::tensor(name, format!("has invalid dims {:?}", t.dims)))?
        as usize;
    let tract_err = |e: TractError| Error::tensor(name, format!("{e}"));
    if let Some(ty) = FloatType::from_onnx(t.data_type()) {
        let values = read_floats(t)?.data;
        let tensor = match ty {
            FloatType::F32 => {
                let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
                Tensor::from_shape(&shape, &v)
            }
            FloatType::F64 => Tensor::from_shape(&shape, &values),
            FloatType::F16 => {
                let v: Vec<f16> = values.iter().map(|&x| f16::from_f64(x)).collect();
                Tensor::from_shape(&shape, &v)
            }
            FloatType::BF16 => {
                return Err(Error::tensor(
                    name,
                    "bfloat16 tensors are not supported by tract",
                ));
            }
        };
        return tensor.map_err(tract_err);
    }
    let raw = t.raw_data.as_deref();
    let check_len = |got: usize| {
        if got == count {
            Ok(())
        } else {
            Err(Error::tensor(
                name,
                format!("holds {got} values, expected {count}"),
            ))
        }
    };
    match DataType::try_from(t.data_type()) {
        Ok(DataType::Bool) => {
            let v: Vec<bool> = match raw {
                Some(r) => r.iter().map(|&b| b != 0).collect(),
                None => t.int32_data.iter().map(|&b| b != 0).collect(),
            };
            check_len(v.len())?;
            Tensor::from_shape(&shape, &v).map_err(tract_err)
        }
        Ok(DataType::Int64) => {
            let v: Vec<i64> = match raw {
                Some(r) => r
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
                None => t.int64_data.clone(),
            };
            check_len(v.len())?;
            Tensor::from_shape(&shape, &v).map_err(tract_err)
        }
        Ok(DataType::Int32) => {
            let v: Vec<i32> = match raw {
                Some(r) => r
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect(),
                None => t.int32_data.clone(),
            };
            check_len(v.len())?;
            Tensor::from_shape(&shape, &v).map_err(tract_err)
        }
        _ => Err(Error::tensor(
            name,
            format!(
                "has type {}, which test data may not use",
                type_name(t.data_type())
            ),
        )),
    }
}

/// The values of a float (or integer) tract tensor as `f64`.
pub fn tensor_to_f64(t: &Tensor) -> Result<Vec<f64>, Error> {
    let cast = t.cast_to::<f64>().map_err(|e| {
        Error::Unsupported(format!(
            "cannot read a {:?} tensor as numbers: {e}",
            t.datum_type()
        ))
    })?;
    let view = cast
        .to_plain_array_view::<f64>()
        .map_err(|e| Error::Unsupported(format!("{e}")))?;
    Ok(view.iter().copied().collect())
}

/// The ACON float type of a tract type, if it is one tract has.
pub fn float_type(dt: DatumType) -> Option<FloatType> {
    match dt {
        DatumType::F16 => Some(FloatType::F16),
        DatumType::F32 => Some(FloatType::F32),
        DatumType::F64 => Some(FloatType::F64),
        _ => None,
    }
}

/// The ONNX name of a tract type (`float`, `float16`, `int64`, …), for
/// messages and reports.
pub fn datum_name(dt: DatumType) -> String {
    match dt {
        DatumType::F16 => "float16".into(),
        DatumType::F32 => "float".into(),
        DatumType::F64 => "double".into(),
        DatumType::Bool => "bool".into(),
        DatumType::I8 => "int8".into(),
        DatumType::I16 => "int16".into(),
        DatumType::I32 => "int32".into(),
        DatumType::I64 => "int64".into(),
        DatumType::U8 => "uint8".into(),
        DatumType::U16 => "uint16".into(),
        DatumType::U32 => "uint32".into(),
        DatumType::U64 => "uint64".into(),
        other => format!("{other:?}"),
    }
}
