//! Reading a graph as a graph: who produces and who consumes each value,
//! which values are constants, and small matching helpers for the passes
//! that look for patterns of standard ops.
//!
//! - [`Scope`]: the constants and local names of one graph, chained to its
//!   enclosing graph's so that a subgraph sees outer names as ONNX scoping
//!   says (its own names shadow them).
//! - [`GraphIndex`]: producers and consumers of every value of one graph,
//!   where a node whose subgraphs read an outer value counts as a consumer
//!   of it, and the graph outputs.
//! - [`pattern`]: one-step matchers on top of the index (the producer of a
//!   value if it is a given op, the operands of a commutative op in either
//!   order, per-channel broadcast checks).
//! - [`rank`]: ranks of values the graph records no shape for.
//! - [`walk`]: the one walk over a graph and its subgraphs, innermost first.

pub mod index;
pub mod pattern;
pub mod rank;
pub mod scope;
pub mod walk;

pub use index::GraphIndex;
pub use scope::{Constant, Scope};
pub use walk::{
    any_graph, for_each_graph, for_each_graph_edit, for_each_graph_mut, for_each_graph_scoped,
    visit_graphs_scoped,
};
