//! Broken and hostile models (issue 6). A corpus generated here, never
//! hand-edited bytes, goes through every verb of the real binary that takes
//! a model; each entry must be refused cleanly:
//!
//! - exit 2 (never 101, 134 or 139), and no `panicked` or internal failure
//!   on stderr;
//! - a message naming the file and, where there is one, the node, tensor or
//!   input at fault;
//! - no output file and no stray temporary file (`verify` alone writes its
//!   `--report` and `--junit` files on failure, complete and recording the
//!   error, as CI needs them);
//! - the input's bytes unchanged (compared by hash).
//!
//! Every run is capped at 4 GiB of address space, so a size taken on trust
//! ends in a failed allocation (exit 134, a failure here) rather than in the
//! machine's memory. `HOSTILE_SHOW=1 cargo test --release --test hostile --
//! --nocapture` prints every message, to review their wording.
//!
//! Then the file-system trouble a `convert` can meet, function calls that
//! nest or multiply, the determinism and idempotence of conversion across
//! every fixture. Crashes found by `fuzz/run.sh` become tests in
//! `fuzz_crashes`, one each, named after the crash.

//!
//! One module per part: `corpus` and `verbs` (the corpus through every
//! verb), `files`, `determinism`, `declarations`, `functions` and
//! `fuzz_crashes`.

#[path = "../common/mod.rs"]
mod common;

mod corpus;
mod declarations;
mod determinism;
mod files;
mod functions;
mod fuzz_crashes;
mod verbs;
