//! Bringing default-domain nodes written for one opset into the form another
//! opset expects, for function bodies inlined into a model that imports a
//! different version of the default domain. In run order over the body (and
//! its subgraphs): note the integer constants it defines, move each changed
//! list between attribute and input, then drop the `Constant` nodes that only
//! fed a list now held in an attribute. A change of form not converted here
//! is refused with the op and both versions named.

use crate::model::hash::{Map, Set};

use crate::error::Error;
use crate::model::build::attr_ints;
use crate::model::check::node_label;
use crate::model::names::NameTable;
use crate::model::opsets::is_default_domain;
use crate::model::tensor::{int64_tensor, read_ints};
use crate::proto::{AttributeProto, AttributeType, NodeProto};

/// Ops whose `axes` moved from an attribute to input 1, and the opset where
/// it moved (ReduceSum, Squeeze and Unsqueeze at 13, the other reductions at 18).
const AXES_MOVED: [(&str, i64); 12] = [
    ("ReduceSum", 13),
    ("Squeeze", 13),
    ("Unsqueeze", 13),
    ("ReduceMean", 18),
    ("ReduceMax", 18),
    ("ReduceMin", 18),
    ("ReduceProd", 18),
    ("ReduceL1", 18),
    ("ReduceL2", 18),
    ("ReduceLogSum", 18),
    ("ReduceLogSumExp", 18),
    ("ReduceSumSquare", 18),
];

/// Split's `split` sizes moved from an attribute to input 1 at opset 13; its
/// `num_outputs` attribute appeared at 18, and from 18 a Split without sizes
/// must name it.
const SPLIT_MOVED: i64 = 13;
const SPLIT_NUM_OUTPUTS: i64 = 18;

/// Changes of form not converted: a node of one of these ops is refused when
/// the two opsets lie on either side of the version.
const NOT_CONVERTED: [(&str, i64); 7] = [
    ("Slice", 10),
    ("TopK", 10),
    ("Clip", 11),
    ("Pad", 11),
    ("Resize", 11),
    ("Dropout", 12),
    ("GroupNormalization", 21),
];

/// Rewrites `nodes`, written for default-domain opset `from`, for opset `to`.
/// `outer` gives the integer constants of the caller's scope. Fresh names
/// (for new `Constant` nodes) come from `names`; `keep` are values the
/// caller reads, never dropped.
pub fn adapt(
    nodes: Vec<NodeProto>,
    from: i64,
    to: i64,
    names: &mut NameTable,
    outer: &dyn Fn(&str) -> Option<Vec<i64>>,
    keep: &Set<String>,
) -> Result<Vec<NodeProto>, Error> {
    let mut adapter = Adapter {
        from,
        to,
        names,
        outer,
        known: Map::default(),
        consumed: Set::default(),
    };
    adapter.note_constants(&nodes);
    let mut nodes = adapter.nodes(nodes)?;
    let consumed = std::mem::take(&mut adapter.consumed);
    let mut read = keep.clone();
    collect_reads(&nodes, &mut read);
    drop_constants(&mut nodes, &|name| {
        consumed.contains(name) && !read.contains(name)
    });
    Ok(nodes)
}

struct Adapter<'a> {
    from: i64,
    to: i64,
    names: &'a mut NameTable,
    outer: &'a dyn Fn(&str) -> Option<Vec<i64>>,
    /// Integer constants the body defines, at any depth (its names are unique).
    known: Map<String, Vec<i64>>,
    /// Constants now copied into attributes.
    consumed: Set<String>,
}

impl Adapter<'_> {
    fn note_constants(&mut self, nodes: &[NodeProto]) {
        for node in nodes {
            if let (Some(values), [out]) = (constant_ints(node), node.output.as_slice()) {
                self.known.insert(out.clone(), values);
            }
            for g in node.subgraphs() {
                for t in &g.initializer {
                    if let Some(values) = read_ints(t) {
                        self.known.insert(t.name().to_owned(), values);
                    }
                }
                self.note_constants(&g.node);
            }
        }
    }

    fn nodes(&mut self, nodes: Vec<NodeProto>) -> Result<Vec<NodeProto>, Error> {
        let mut out = Vec::with_capacity(nodes.len());
        for mut node in nodes {
            for g in node.subgraphs_mut() {
                g.node = self.nodes(std::mem::take(&mut g.node))?;
            }
            if is_default_domain(node.domain()) {
                self.node(&mut node, &mut out)?;
            }
            out.push(node);
        }
        Ok(out)
    }

    fn node(&mut self, node: &mut NodeProto, out: &mut Vec<NodeProto>) -> Result<(), Error> {
        let op = node.op_type().to_owned();
        if let Some(&(_, since)) = AXES_MOVED.iter().find(|(o, _)| *o == op) {
            let had_axes = self.move_list(node, "axes", since, out)?;
            if self.crosses_down(since) {
                // Reduce*'s `noop_with_empty_axes` came with the axes input.
                if let Some(pos) = node
                    .attribute
                    .iter()
                    .position(|a| a.name() == "noop_with_empty_axes")
                {
                    if node.attribute[pos].i() != 0 && !had_axes {
                        return Err(self.refuse(node, since, "it asks for no reduction at all"));
                    }
                    node.attribute.remove(pos);
                }
            }
        } else if op == "Split" {
            let has_sizes = self.move_list(node, "split", SPLIT_MOVED, out)?;
            let num_outputs = node
                .attribute
                .iter()
                .position(|a| a.name() == "num_outputs");
            if self.crosses_up(SPLIT_NUM_OUTPUTS) && !has_sizes && num_outputs.is_none() {
                let count = node.output.len() as i64;
                node.attribute.push(AttributeProto {
                    name: Some("num_outputs".into()),
                    r#type: Some(AttributeType::Int as i32),
                    i: Some(count),
                    ..Default::default()
                });
            }
            if self.crosses_down(SPLIT_NUM_OUTPUTS) && num_outputs.is_some() {
                // `num_outputs` allows a smaller last part; older Splits do not.
                return Err(self.refuse(
                    node,
                    SPLIT_NUM_OUTPUTS,
                    "its `num_outputs` has no equivalent before opset 18",
                ));
            }
        } else if let Some(&(_, since)) = NOT_CONVERTED.iter().find(|(o, _)| *o == op)
            && (self.crosses_up(since) || self.crosses_down(since))
        {
            return Err(self.refuse(node, since, "this change is not converted"));
        }
        Ok(())
    }

    fn crosses_up(&self, since: i64) -> bool {
        self.from < since && since <= self.to
    }

    fn crosses_down(&self, since: i64) -> bool {
        self.to < since && since <= self.from
    }

    /// Moves the integer list `attr` between an attribute (before opset
    /// `since`) and input 1 (from `since` on). Returns whether the node has
    /// the list at all.
    fn move_list(
        &mut self,
        node: &mut NodeProto,
        attr: &str,
        since: i64,
        out: &mut Vec<NodeProto>,
    ) -> Result<bool, Error> {
        if self.crosses_up(since) {
            let Some(pos) = node.attribute.iter().position(|a| a.name() == attr) else {
                return Ok(false);
            };
            let values = node.attribute.remove(pos).ints;
            let name = self.names.fresh(&format!("{}/{attr}", node_label(node)));
            out.push(constant_node(&name, &values));
            node.input.truncate(1);
            node.input.push(name);
            Ok(true)
        } else if self.crosses_down(since) {
            let Some(input) = node.input.get(1).filter(|n| !n.is_empty()).cloned() else {
                node.input.truncate(1);
                return Ok(false);
            };
            let values = self
                .known
                .get(&input)
                .cloned()
                .or_else(|| (self.outer)(&input))
                .ok_or_else(|| {
                    self.refuse(
                        node,
                        since,
                        &format!("its `{attr}` input `{input}` is not a constant"),
                    )
                })?;
            node.attribute.push(attr_ints(attr, &values));
            node.input.truncate(1);
            self.consumed.insert(input);
            Ok(true)
        } else {
            Ok(node.attribute.iter().any(|a| a.name() == attr)
                || node.input.get(1).is_some_and(|n| !n.is_empty()))
        }
    }

    fn refuse(&self, node: &NodeProto, since: i64, why: &str) -> Error {
        Error::Unsupported(format!(
            "node `{}` ({}) changed form at opset {since}; the function body is written \
             for opset {} and the model imports {}: {why}",
            node_label(node),
            node.op_type(),
            self.from,
            self.to
        ))
    }
}

/// `Constant() -> name` holding `values` as a 1-D int64 tensor.
fn constant_node(name: &str, values: &[i64]) -> NodeProto {
    NodeProto {
        output: vec![name.to_owned()],
        name: Some(name.to_owned()),
        op_type: Some("Constant".into()),
        attribute: vec![AttributeProto {
            name: Some("value".into()),
            r#type: Some(AttributeType::Tensor as i32),
            t: Some(int64_tensor(name, values)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The integers a default-domain `Constant` node holds, if it holds integers.
pub fn constant_ints(node: &NodeProto) -> Option<Vec<i64>> {
    if node.op_type() != "Constant" || !is_default_domain(node.domain()) {
        return None;
    }
    let attr = node.attribute.first()?;
    match attr.name() {
        "value" => read_ints(attr.t.as_ref()?),
        "value_ints" => Some(attr.ints.clone()),
        "value_int" => Some(vec![attr.i()]),
        _ => None,
    }
}

fn collect_reads(nodes: &[NodeProto], read: &mut Set<String>) {
    for node in nodes {
        read.extend(node.input.iter().cloned());
        for g in node.subgraphs() {
            read.extend(g.output.iter().map(|o| o.name().to_owned()));
            collect_reads(&g.node, read);
        }
    }
}

fn drop_constants(nodes: &mut Vec<NodeProto>, dead: &dyn Fn(&str) -> bool) {
    nodes.retain(|n| !(constant_ints(n).is_some() && n.output.iter().all(|o| dead(o))));
    for g in nodes.iter_mut().flat_map(|n| n.subgraphs_mut()) {
        drop_constants(&mut g.node, dead);
    }
}
