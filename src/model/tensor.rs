//! Tensor contents as numbers. Constant folding reads parameters into `f64`
//! arrays, computes in `f64`, and stores the result back in the model's float
//! type (`float`, `float16`, `bfloat16` or `double`), little-endian in
//! `raw_data` as the ONNX spec lays it out. Integer tensors (axes, shapes)
//! are read as `i64` by `read_ints`.

use bytes::Bytes;
use half::{bf16, f16};

use crate::error::Error;
use crate::proto::{DataType, TensorProto, tensor_proto::DataLocation};

/// The float types the ACON ops accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloatType {
    F16,
    BF16,
    F32,
    F64,
}

impl FloatType {
    pub fn from_onnx(data_type: i32) -> Option<FloatType> {
        match DataType::try_from(data_type).ok()? {
            DataType::Float16 => Some(FloatType::F16),
            DataType::Bfloat16 => Some(FloatType::BF16),
            DataType::Float => Some(FloatType::F32),
            DataType::Double => Some(FloatType::F64),
            _ => None,
        }
    }

    pub fn onnx(self) -> DataType {
        match self {
            FloatType::F16 => DataType::Float16,
            FloatType::BF16 => DataType::Bfloat16,
            FloatType::F32 => DataType::Float,
            FloatType::F64 => DataType::Double,
        }
    }

    pub fn size(self) -> usize {
        match self {
            FloatType::F16 | FloatType::BF16 => 2,
            FloatType::F32 => 4,
            FloatType::F64 => 8,
        }
    }

    /// Rounds `value` to this type, as storing it would.
    pub fn round(self, value: f64) -> f64 {
        match self {
            FloatType::F16 => f16::from_f64(value).to_f64(),
            FloatType::BF16 => bf16::from_f64(value).to_f64(),
            FloatType::F32 => value as f32 as f64,
            FloatType::F64 => value,
        }
    }
}

/// The name ONNX gives a data type (`float`, `int64`, …), for messages.
pub fn type_name(data_type: i32) -> String {
    match DataType::try_from(data_type) {
        Ok(DataType::Undefined) => "undefined".into(),
        Ok(DataType::Float) => "float".into(),
        Ok(DataType::Double) => "double".into(),
        Ok(DataType::Float16) => "float16".into(),
        Ok(DataType::Bfloat16) => "bfloat16".into(),
        Ok(other) => other.as_str_name().to_ascii_lowercase(),
        Err(_) => format!("unknown type {data_type}"),
    }
}

/// Bits per element of a data type, where it has a fixed size.
pub fn element_bits(data_type: i32) -> Option<u64> {
    use DataType::*;
    Some(match DataType::try_from(data_type).ok()? {
        Bool | Uint8 | Int8 | Float8e4m3fn | Float8e4m3fnuz | Float8e5m2 | Float8e5m2fnuz
        | Float8e8m0 => 8,
        Uint16 | Int16 | Float16 | Bfloat16 => 16,
        Float | Int32 | Uint32 => 32,
        Double | Int64 | Uint64 | Complex64 => 64,
        Complex128 => 128,
        Uint4 | Int4 | Float4e2m1 => 4,
        Uint2 | Int2 => 2,
        String | Undefined => return None,
    })
}

/// The number of elements `dims` describe; `None` for a negative dim or an
/// overflow. A zero dim makes the tensor empty however large the others are
/// (`[2^40, 2^40, 0]` holds nothing), whatever its position.
pub fn element_count(dims: &[i64]) -> Option<u64> {
    let dims: Vec<u64> = dims
        .iter()
        .map(|&d| u64::try_from(d).ok())
        .collect::<Option<_>>()?;
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

/// [`element_count`] of an array's dims; `None` on overflow.
fn array_len(dims: &[usize]) -> Option<usize> {
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The largest constant folding may create. Folded ACON parameters are
/// per-channel; a broadcast that would build more than this (say `[N, 1]`
/// against `[1, N]` in a hostile model) is refused instead of allocated.
pub const MAX_FOLDED_ELEMENTS: usize = 1 << 24;

/// A dense float array in `f64`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub dims: Vec<usize>,
    pub data: Vec<f64>,
}

impl Array {
    pub fn scalar(value: f64) -> Array {
        Array {
            dims: vec![],
            data: vec![value],
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same data under other dims with the same element count.
    pub fn reshaped(mut self, dims: Vec<usize>) -> Array {
        debug_assert_eq!(array_len(&dims), Some(self.data.len()));
        self.dims = dims;
        self
    }

    /// `f(a, b)` element-wise under ONNX multidirectional broadcasting;
    /// `None` when the shapes do not broadcast or the result would pass
    /// [`MAX_FOLDED_ELEMENTS`].
    pub fn zip(&self, other: &Array, f: impl Fn(f64, f64) -> f64) -> Option<Array> {
        let dims = broadcast_shape(&self.dims, &other.dims)?;
        let count = array_len(&dims).filter(|&c| c <= MAX_FOLDED_ELEMENTS)?;
        let a_strides = broadcast_strides(&self.dims, &dims);
        let b_strides = broadcast_strides(&other.dims, &dims);
        let mut data = Vec::with_capacity(count);
        // An odometer over the output, moving both flat indices with it.
        let mut coords = vec![0usize; dims.len()];
        let (mut ia, mut ib) = (0usize, 0usize);
        for _ in 0..count {
            data.push(f(self.data[ia], other.data[ib]));
            for axis in (0..dims.len()).rev() {
                coords[axis] += 1;
                ia += a_strides[axis];
                ib += b_strides[axis];
                if coords[axis] < dims[axis] {
                    break;
                }
                ia -= a_strides[axis] * dims[axis];
                ib -= b_strides[axis] * dims[axis];
                coords[axis] = 0;
            }
        }
        Some(Array { dims, data })
    }

    pub fn map(&self, f: impl Fn(f64) -> f64) -> Array {
        Array {
            dims: self.dims.clone(),
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }
}

/// The shape two shapes broadcast to under ONNX (numpy) rules.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        let pad = rank - s.len();
        if i < pad { 1 } else { s[i - pad] }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Per-axis strides into an array of `dims` read as if broadcast to `out`
/// (0 along broadcast axes).
fn broadcast_strides(dims: &[usize], out: &[usize]) -> Vec<usize> {
    let pad = out.len() - dims.len();
    let mut strides = vec![0usize; out.len()];
    let mut stride = 1usize;
    for i in (0..dims.len()).rev() {
        strides[pad + i] = if dims[i] == 1 { 0 } else { stride };
        // Saturates only for an empty array (a zero dim beside huge ones,
        // fuzz crash 499b5db8), whose strides are never used.
        stride = stride.saturating_mul(dims[i]);
    }
    strides
}

/// Reads a float tensor (any of the four ACON types) as `f64`.
pub fn read_floats(t: &TensorProto) -> Result<Array, Error> {
    let name = t.name();
    if t.data_location() == DataLocation::External {
        return Err(Error::tensor(
            name,
            "its data is external and was not loaded",
        ));
    }
    let ty = FloatType::from_onnx(t.data_type()).ok_or_else(|| {
        Error::tensor(
            name,
            format!(
                "has type {}, expected a float type",
                type_name(t.data_type())
            ),
        )
    })?;
    let count = element_count(&t.dims)
        .and_then(|c| usize::try_from(c).ok())
        .ok_or_else(|| Error::tensor(name, format!("has invalid dims {:?}", t.dims)))?;
    let data = if let Some(raw) = &t.raw_data {
        let expected = count.checked_mul(ty.size());
        if expected != Some(raw.len()) {
            // A declared size past usize has no byte count to print.
            let expected = match expected {
                Some(bytes) => format!("{bytes} ({count} × {})", ty.size()),
                None => format!("{count} × {} (more than can be addressed)", ty.size()),
            };
            return Err(Error::tensor(
                name,
                format!("raw_data holds {} bytes, expected {expected}", raw.len()),
            ));
        }
        decode_raw(raw, ty)
    } else {
        let data: Vec<f64> = match ty {
            FloatType::F32 => t.float_data.iter().map(|&v| v as f64).collect(),
            FloatType::F64 => t.double_data.clone(),
            // float16 and bfloat16 keep their bit patterns in int32_data.
            FloatType::F16 => t
                .int32_data
                .iter()
                .map(|&v| f16::from_bits(v as u16).to_f64())
                .collect(),
            FloatType::BF16 => t
                .int32_data
                .iter()
                .map(|&v| bf16::from_bits(v as u16).to_f64())
                .collect(),
        };
        if data.len() != count {
            return Err(Error::tensor(
                name,
                format!("holds {} values, expected {count}", data.len()),
            ));
        }
        data
    };
    Ok(Array {
        dims: t.dims.iter().map(|&d| d as usize).collect(),
        data,
    })
}

fn decode_raw(raw: &[u8], ty: FloatType) -> Vec<f64> {
    match ty {
        FloatType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        FloatType::F64 => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        FloatType::F16 => raw
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        FloatType::BF16 => raw
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
    }
}

/// The values of an int64 or int32 tensor stored in the model, raw or
/// typed (axes, shapes, pads); `None` for any other type.
pub fn read_ints(t: &TensorProto) -> Option<Vec<i64>> {
    let raw = t.raw_data.as_deref();
    match DataType::try_from(t.data_type()).ok()? {
        DataType::Int64 => Some(match raw {
            Some(r) => r
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
            None => t.int64_data.clone(),
        }),
        DataType::Int32 => Some(match raw {
            Some(r) => r
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
                .collect(),
            None => t.int32_data.iter().map(|&v| v as i64).collect(),
        }),
        _ => None,
    }
}

/// Stores `array` as a tensor of type `ty` (rounding to nearest).
pub fn float_tensor(name: &str, array: &Array, ty: FloatType) -> TensorProto {
    let mut raw = Vec::with_capacity(array.len() * ty.size());
    for &v in &array.data {
        match ty {
            FloatType::F32 => raw.extend_from_slice(&(v as f32).to_le_bytes()),
            FloatType::F64 => raw.extend_from_slice(&v.to_le_bytes()),
            FloatType::F16 => raw.extend_from_slice(&f16::from_f64(v).to_le_bytes()),
            FloatType::BF16 => raw.extend_from_slice(&bf16::from_f64(v).to_le_bytes()),
        }
    }
    TensorProto {
        name: Some(name.to_owned()),
        dims: array.dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(ty.onnx() as i32),
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

/// A 1-D int64 tensor, as ReduceMean-18 takes its axes.
pub fn int64_tensor(name: &str, values: &[i64]) -> TensorProto {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    TensorProto {
        name: Some(name.to_owned()),
        dims: vec![values.len() as i64],
        data_type: Some(DataType::Int64 as i32),
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[1, 4, 1, 1], &[1]), Some(vec![1, 4, 1, 1]));
        assert_eq!(broadcast_shape(&[2, 1], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[4], &[3]), None);
        let a = Array {
            dims: vec![2, 1],
            data: vec![10.0, 20.0],
        };
        let b = Array {
            dims: vec![3],
            data: vec![1.0, 2.0, 3.0],
        };
        let c = a.zip(&b, |x, y| x + y).unwrap();
        assert_eq!(c.dims, vec![2, 3]);
        assert_eq!(c.data, vec![11.0, 12.0, 13.0, 21.0, 22.0, 23.0]);
    }

    #[test]
    fn float_types_round_trip() {
        let a = Array {
            dims: vec![3],
            data: vec![0.5, -1.25, 3.0],
        };
        for ty in [
            FloatType::F16,
            FloatType::BF16,
            FloatType::F32,
            FloatType::F64,
        ] {
            let t = float_tensor("t", &a, ty);
            assert_eq!(read_floats(&t).unwrap(), a, "{ty:?}");
        }
    }

    #[test]
    fn a_zero_dim_empties_a_tensor_wherever_it_stands() {
        assert_eq!(element_count(&[1 << 40, 1 << 40, 0]), Some(0));
        assert_eq!(element_count(&[0, 1 << 40, 1 << 40]), Some(0));
        assert_eq!(element_count(&[1 << 40, 1 << 40, 1 << 40]), None);
        assert_eq!(element_count(&[0, -1]), None);
        // Fuzz crash 499b5db8: folding an empty parameter whose other dims
        // overflow a stride.
        let empty = Array {
            dims: vec![0, 1 << 40, 1 << 40],
            data: vec![],
        };
        let folded = empty.zip(&Array::scalar(1.0), |a, b| a - b).unwrap();
        assert!(folded.is_empty());
        assert_eq!(folded.dims, empty.dims);
    }

    #[test]
    fn short_raw_data_is_refused() {
        let mut t = float_tensor("w", &Array::scalar(1.0), FloatType::F32);
        t.dims = vec![2];
        let err = read_floats(&t).unwrap_err().to_string();
        assert!(err.contains("raw_data holds 4 bytes, expected 8"), "{err}");
    }
}
