//! The rank of a value, where the graph records no shape for it: the
//! TorchScript exporter writes no `value_info` for intermediate values.
//!
//! Ranks follow from the ops that make the value, without running anything:
//! a `Conv` has its weight's rank; ops that keep their input's shape
//! (activations, BatchNorm, pooling, `Identity`, `Cast`, …) have its rank; a
//! broadcasting binary op has the larger rank of its inputs, when both are
//! known. Anything else is unknown, and a caller that needs the rank then
//! does without the match. Answers are remembered, so a residual network's
//! many paths are each walked once.

use crate::model::hash::Map;
use std::cell::RefCell;

use crate::graph::index::GraphIndex;

/// How far back a rank is looked for.
const MAX_DEPTH: usize = 64;

/// Ops whose output has the rank of their first input.
const SAME_RANK: &[&str] = &[
    "Abs",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Celu",
    "Clip",
    "Dropout",
    "Elu",
    "Erf",
    "Exp",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Gelu",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNormalization",
    "LRN",
    "LeakyRelu",
    "LogSoftmax",
    "MaxPool",
    "Mish",
    "Neg",
    "Relu",
    "Selu",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Sqrt",
    "Tanh",
    "Transpose",
];

/// Broadcasting ops: the larger rank of the inputs.
const BROADCAST: &[&str] = &[
    "Add", "Div", "Max", "Min", "Mul", "PRelu", "Pow", "Sub", "Sum",
];

/// Ranks of the values of one graph, from recorded shapes and the ops.
pub struct Ranks<'a, 'g> {
    ix: &'a GraphIndex<'g>,
    recorded: &'a dyn Fn(&str) -> Option<usize>,
    memo: RefCell<Map<String, Option<usize>>>,
}

impl<'a, 'g> Ranks<'a, 'g> {
    /// `recorded` gives the rank the graph records for a value, if any.
    pub fn new(ix: &'a GraphIndex<'g>, recorded: &'a dyn Fn(&str) -> Option<usize>) -> Self {
        Ranks {
            ix,
            recorded,
            memo: RefCell::new(Map::default()),
        }
    }

    pub fn rank(&self, value: &str) -> Option<usize> {
        self.rank_at(value, MAX_DEPTH)
    }

    fn rank_at(&self, value: &str, depth: usize) -> Option<usize> {
        if let Some(r) = (self.recorded)(value) {
            return Some(r);
        }
        if let Some(c) = self.ix.constant(value) {
            return Some(c.tensor.dims.len());
        }
        if depth == 0 {
            return None;
        }
        if let Some(&r) = self.memo.borrow().get(value) {
            return r;
        }
        let r = self.infer(value, depth);
        self.memo.borrow_mut().insert(value.to_owned(), r);
        r
    }

    fn infer(&self, value: &str, depth: usize) -> Option<usize> {
        let node = self.ix.node(self.ix.producer(value)?);
        if node.output.first().map(String::as_str) != Some(value) {
            return None;
        }
        let op = node.op_type();
        let input = |i: usize| node.input.get(i).filter(|n| !n.is_empty());
        if !crate::model::opsets::is_default_domain(node.domain()) {
            return None;
        }
        if op == "Conv" || op == "ConvTranspose" {
            return self
                .rank_at(input(1)?, depth - 1)
                .or_else(|| self.rank_at(input(0)?, depth - 1));
        }
        if SAME_RANK.contains(&op) {
            return self.rank_at(input(0)?, depth - 1);
        }
        if BROADCAST.contains(&op) {
            let ranks: Option<Vec<usize>> = node
                .input
                .iter()
                .filter(|n| !n.is_empty())
                .map(|n| self.rank_at(n, depth - 1))
                .collect();
            return ranks?.into_iter().max();
        }
        if op == "Concat" {
            return node
                .input
                .iter()
                .filter(|n| !n.is_empty())
                .find_map(|n| self.rank_at(n, depth - 1));
        }
        None
    }
}
