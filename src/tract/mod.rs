//! Running models with tract: tensors between ONNX and tract, native ACON
//! kernels, `verify`, `run` and `bench`. Built only with the `tract` feature.
//!
//! `engine` hands a model to tract: functions inlined, ACON nodes routed to
//! the native kernels of `kernels` (or refused, for converted models).
//! `inputs` builds the input samples from files, test data or a seed, and
//! `npy` reads and writes NumPy files. `verify`, `run` and `bench` are the
//! three commands on top; `error` types what they refuse in their options.

pub mod bench;
pub mod engine;
pub mod error;
pub mod inputs;
pub mod kernels;
pub mod local;
pub mod npy;
pub mod regions;
pub mod run;
pub mod tensor;
pub mod verify;

pub use bench::{BenchOptions, BenchReport, bench};
pub use engine::{Kernels, TractModel};
pub use error::OptionError;
pub use inputs::InputOptions;
pub use run::{RunOptions, RunReport, run};
pub use verify::{VerifyOptions, VerifyReport, verify};
