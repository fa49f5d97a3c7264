//! What the tests of issue #3 check converted models against: a chain of
//! ACON nodes built in Rust with its result computed in f64 straight from the
//! formulas of `docs/acon-ops.md`, and PyTorch's outputs of the
//! fixtures, both compared under the named `close` tolerance of the model's
//! float type; a scope check (everything read is in scope, nothing shadows);
//! and a small f64 evaluator of converted graphs for what tract cannot run
//! (`Loop`, `double` Sigmoid).
//!
//! One file per job: `chain` (the chains and their expected results),
//! `formulas` (the spec in f64), `builders`, `outputs` (tolerances, running,
//! the fixtures' PyTorch outputs), `scoping` and `evaluate`.
#![allow(dead_code)]

mod builders;
mod chain;
mod evaluate;
mod formulas;
mod outputs;
mod scoping;

// Each test file uses a different part.
#[allow(unused_imports)]
pub use builders::*;
#[allow(unused_imports)]
pub use chain::*;
#[allow(unused_imports)]
pub use evaluate::*;
#[allow(unused_imports)]
pub use formulas::*;
#[allow(unused_imports)]
pub use outputs::*;
#[allow(unused_imports)]
pub use scoping::*;
