//! Running models with tract: tensors between ONNX and tract, native ACON
//! kernels, `verify`, `run` and `bench`. Built only with the `tract` feature.

pub mod tensor;
