//! Running models with tract: tensors between ONNX and tract, native ACON
//! kernels, `verify`, `run`, `bench` and the NNEF export. Built only with
//! the `tract` feature.
//!
//! An app starts at [`load`], which returns tract's own model
//! types; [`prelude`] is tract's, of the version the kernels are built for.
//!
//! `engine` hands a model to tract: functions inlined, ACON nodes routed to
//! the native kernels of `kernels` (or refused, for converted models).
//! `inputs` builds the input samples from files, test data or a seed, and
//! `npy` reads and writes NumPy files. `verify`, `run` and `bench` are the
//! three commands on top; `error` is the typed error they all return.
//! `nnef` writes a converted model as tract's NNEF archive, checked by
//! reloading it.

pub mod bench;
pub mod engine;
pub mod error;
pub mod inputs;
pub mod kernels;
pub mod load;
pub mod local;
pub mod nnef;
pub mod npy;
pub mod regions;
pub mod run;
pub mod tensor;
pub mod verify;
pub mod widen;

pub use bench::{BenchOptions, BenchReport, bench};
pub use engine::{Kernels, TractModel};
pub use error::{Error, InputError, OptionError, Result};
pub use inputs::InputOptions;
pub use load::{load, load_nnef, load_with};
pub use nnef::{NnefError, NnefOptions, NnefReport};
pub use run::{RunOptions, RunReport, run};
pub use verify::{VerifyOptions, VerifyReport, verify};

/// tract's prelude (tract-onnx's, over tract-core), so that an app uses the
/// tract these kernels were built against: `use acon_onnx::tract::prelude::*`.
pub mod prelude {
    pub use tract_onnx::prelude::*;
}

/// tract-nnef itself, for apps that load NNEF archives.
pub use tract_nnef;
