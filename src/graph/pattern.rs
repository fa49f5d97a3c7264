//! One-step matchers over a [`GraphIndex`]: each returns `None` when the
//! graph is not of the asked shape, so a rule reads as a chain of `?`.
//!
//! Commutative ops (`Mul`, `Add`) are matched as unordered pairs: a rule
//! tries its operands in both orders with [`either`], never by generating
//! every permutation of a whole pattern.

use crate::graph::index::GraphIndex;
use crate::model::facts::Dim;
use crate::proto::NodeProto;

/// The node writing `value`, when it is a default-domain `op_type` with one
/// output and no attribute beyond `allowed_attributes`.
pub fn producer_op<'g>(
    ix: &GraphIndex<'g>,
    value: &str,
    op_type: &str,
    allowed_attributes: &[&str],
) -> Option<(usize, &'g NodeProto)> {
    let i = ix.producer(value)?;
    let node = ix.node(i);
    let single_output = matches!(node.output.as_slice(), [o] if o == value);
    let attributes_ok = node
        .attribute
        .iter()
        .all(|a| allowed_attributes.contains(&a.name()));
    (node.op_type() == op_type
        && crate::model::opsets::is_default_domain(node.domain())
        && single_output
        && attributes_ok)
        .then_some((i, node))
}

/// The two inputs of a binary node.
pub fn binary_inputs(node: &NodeProto) -> Option<(&str, &str)> {
    match node.input.as_slice() {
        [a, b] if !a.is_empty() && !b.is_empty() => Some((a, b)),
        _ => None,
    }
}

/// `f(a, b)`, else `f(b, a)`: the operands of a commutative op in either order.
pub fn either<'a, T>(
    a: &'a str,
    b: &'a str,
    f: impl Fn(&'a str, &'a str) -> Option<T>,
) -> Option<T> {
    f(a, b).or_else(|| f(b, a))
}

/// True when a parameter of shape `dims` broadcast against a value of rank
/// `rank` is a scalar or per-channel: every dim is 1 except, possibly, the
/// one aligned with axis 1, and the parameter does not raise the rank.
/// `channels`, when known, is the size it must have there.
pub fn per_channel(dims: &[usize], rank: usize, channels: Option<usize>) -> bool {
    if dims.len() > rank {
        return false;
    }
    let pad = rank - dims.len();
    dims.iter()
        .enumerate()
        .all(|(i, &d)| d == 1 || (pad + i == 1 && channels.is_none_or(|c| c == d)))
}

/// The known size of dim `axis` of `shape`.
pub fn known_dim(shape: &[Dim], axis: usize) -> Option<usize> {
    match shape.get(axis)? {
        Dim::Known(v) => usize::try_from(*v).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_channel_accepts_scalars_and_channel_vectors_only() {
        assert!(per_channel(&[], 4, Some(8)));
        assert!(per_channel(&[1], 4, Some(8)));
        assert!(per_channel(&[1, 8, 1, 1], 4, Some(8)));
        assert!(per_channel(&[8, 1, 1], 4, Some(8)));
        assert!(per_channel(&[1, 8, 1, 1], 4, None));
        // Another channel count, a spatial axis, a rank above X's.
        assert!(!per_channel(&[1, 4, 1, 1], 4, Some(8)));
        assert!(!per_channel(&[1, 1, 1, 5], 4, Some(8)));
        assert!(!per_channel(&[1, 1, 8, 1, 1], 4, Some(8)));
        // [8] against rank 4 lies on the last axis, not the channels.
        assert!(!per_channel(&[8], 4, Some(8)));
        // Rank 2 ([N, C]): [C] is per channel.
        assert!(per_channel(&[8], 2, Some(8)));
    }
}
