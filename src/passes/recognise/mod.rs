//! `recognise-acon`: finds ACON activations written as standard ops, as
//! PyTorch's default (dynamo) exporter and its TorchScript exporter write
//! them, and rewrites each proved block (see [`matcher`] for the patterns
//! and the proof) into one of two targets:
//!
//! - [`Target::Standard`], in `convert`: the arrangement custom ops are
//!   decomposed into ([`crate::passes::arrange`]), so a plain export costs
//!   what a converted custom-op model does. The block's constants are reused
//!   where the model stores them.
//! - [`Target::Acon`], in `convert --to acon` and before tract runs a model
//!   on the native kernels: one `acon`-domain node per block, in the spec's
//!   input order, BatchNorm folded.
//!
//! In run order, per graph, innermost subgraph first: index the graph, find
//! the blocks, put each block's replacement where its output node stood (so
//! the node list stays topologically sorted: the block reads only `x` and
//! constants, all defined before its first node), drop the value infos of
//! the values that went, and, once the whole model is done, the constants
//! nobody reads any more.

mod block;
mod matcher;

use crate::model::hash::{Map, Set};

use crate::error::Error;
use crate::graph::{GraphIndex, for_each_graph_mut};
use crate::model::check::node_label;
use crate::model::names::NameTable;
use crate::model::opsets::default_opset;
use crate::ops::{AconKind, DEFAULT_ACON_DOMAIN};
use crate::passes::emit::Emitter;
use crate::passes::unused::drop_unused_constants;
use crate::passes::{Pass, PassContext, RecognisedBlock};
use crate::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};

pub use block::Block;

/// What recognised blocks become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The standard-op arrangement of `convert`.
    Standard,
    /// One `acon`-domain custom-op node each.
    Acon,
}

pub struct RecogniseAcon {
    pub target: Target,
}

pub const NAME: &str = "recognise-acon";

impl Pass for RecogniseAcon {
    fn name(&self) -> &'static str {
        NAME
    }

    fn run(&self, model: &mut ModelProto, cx: &mut PassContext) -> Result<bool, Error> {
        let Some(opset) = default_opset(model) else {
            return Ok(false);
        };
        let mut names = NameTable::for_model(model);
        let mut removed_inputs: Set<String> = Set::default();
        let Some(graph) = model.graph.as_mut() else {
            return Ok(false);
        };
        let mut rewriter = Rewriter {
            target: self.target,
            names: &mut names,
            opset,
            removed_inputs: &mut removed_inputs,
            found: vec![],
            nodes_added: 0,
        };
        for_each_graph_mut(graph, None, &mut |g, scope| {
            let blocks = matcher::find_blocks(&GraphIndex::new(g, scope));
            rewriter.rewrite(g, blocks)
        })?;
        let Rewriter {
            found, nodes_added, ..
        } = rewriter;
        let changed = found.iter().any(|b| b.rewritten);
        cx.report.recognised.extend(found);
        if !changed {
            return Ok(false);
        }
        if self.target == Target::Acon
            && !model
                .opset_import
                .iter()
                .any(|o| o.domain() == DEFAULT_ACON_DOMAIN)
        {
            model.opset_import.push(OperatorSetIdProto {
                domain: Some(DEFAULT_ACON_DOMAIN.to_owned()),
                version: Some(1),
            });
        }
        drop_unused_constants(model, &removed_inputs);
        cx.report.nodes_added += nodes_added;
        Ok(true)
    }
}

struct Rewriter<'a> {
    target: Target,
    names: &'a mut NameTable,
    opset: i64,
    removed_inputs: &'a mut Set<String>,
    found: Vec<RecognisedBlock>,
    nodes_added: usize,
}

impl Rewriter<'_> {
    fn rewrite(&mut self, graph: &mut GraphProto, blocks: Vec<Block>) -> Result<(), Error> {
        if blocks.is_empty() {
            return Ok(());
        }
        let mut replacements: Map<usize, Vec<NodeProto>> = Map::default();
        let mut removed: Set<usize> = Set::default();
        let mut gone_values: Set<String> = Set::default();
        for block in blocks {
            let Some(&last) = block.nodes.last() else {
                continue;
            };
            let out_node = &graph.node[last];
            let base = node_label(out_node).to_owned();
            let module = module_of(out_node);
            // ACON-A's pattern, x·σ(β·x), is already the arrangement: a
            // rewrite would only rename it, and converting a converted model
            // must change nothing.
            if self.target == Target::Standard && block.kind() == AconKind::A {
                self.found.push(RecognisedBlock {
                    op_type: AconKind::A.op_type(),
                    node: base,
                    output: block.output.clone(),
                    module,
                    graph: graph.name().to_owned(),
                    rewritten: false,
                });
                continue;
            }
            let metadata = out_node.metadata_props.clone();
            let acon_name = match self.target {
                Target::Acon => Some(self.names.fresh(&format!("{base}.acon"))),
                Target::Standard => None,
            };
            let mut em = Emitter::new(&base, self.names, block.dtype, self.opset);
            match &acon_name {
                None => block.emit_standard(&mut em)?,
                Some(name) => {
                    let node = block.emit_acon(&mut em, DEFAULT_ACON_DOMAIN, name)?;
                    em.nodes.push(node);
                }
            }
            let Emitter {
                mut nodes,
                initializers,
                ..
            } = em;
            // The node writing the block's output stands for the one it
            // replaces, and keeps its metadata (the module it came from).
            if let Some(last) = nodes.last_mut() {
                last.metadata_props = metadata;
            }
            for &i in &block.nodes {
                let node = &graph.node[i];
                self.removed_inputs.extend(node.input.iter().cloned());
                gone_values.extend(node.output.iter().filter(|o| **o != block.output).cloned());
                removed.insert(i);
            }
            self.found.push(RecognisedBlock {
                op_type: block.kind().op_type(),
                node: base,
                output: block.output.clone(),
                module,
                graph: graph.name().to_owned(),
                rewritten: true,
            });
            self.nodes_added += nodes.len();
            graph.initializer.extend(initializers);
            replacements.insert(last, nodes);
        }
        let old = std::mem::take(&mut graph.node);
        graph.node.reserve(old.len());
        for (i, node) in old.into_iter().enumerate() {
            if let Some(new) = replacements.remove(&i) {
                graph.node.extend(new);
            } else if !removed.contains(&i) {
                graph.node.push(node);
            }
        }
        graph.value_info.retain(|v| !gone_values.contains(v.name()));
        Ok(())
    }
}

/// The PyTorch module a node came from, as the dynamo exporter records it
/// in `metadata_props["namespace"]`, each scope named by its full path
/// (`": Net/act1: MetaAconC/add: aten.add.Tensor"` reads `act1
/// (MetaAconC)`, `": Net/stage2: Sequential/stage2.0: Unit/…"` reads
/// `stage2.0 (Unit)`; `": MetaAconC/add: …"`, the
/// exported model itself, reads `MetaAconC`). Only ever used to name
/// what was found: anyone can write metadata.
pub fn module_of(node: &NodeProto) -> Option<String> {
    let namespace = node
        .metadata_props
        .iter()
        .find(|p| p.key() == "namespace")?
        .value();
    let mut scopes: Vec<(&str, &str)> = namespace
        .split('/')
        .filter_map(|s| s.split_once(": "))
        .map(|(n, c)| (n.trim(), c.trim()))
        .collect();
    // The last scope is the aten op itself; the one before it, the module,
    // named by its full path (`stage2.0.branch1.4`).
    scopes.pop()?;
    let (path, class) = *scopes.last()?;
    let class = class.rsplit('.').next().unwrap_or(class);
    if path.is_empty() {
        // The exported model is the module itself.
        return Some(class.to_owned());
    }
    Some(format!("{path} ({class})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::StringStringEntryProto;

    fn from(namespace: &str) -> Option<String> {
        module_of(&NodeProto {
            metadata_props: vec![StringStringEntryProto {
                key: Some("namespace".into()),
                value: Some(namespace.into()),
            }],
            ..Default::default()
        })
    }

    #[test]
    fn the_module_is_named_by_its_own_scope() {
        assert_eq!(
            from(": Net/act1: MetaAconC/add: aten.add.Tensor").as_deref(),
            Some("act1 (MetaAconC)")
        );
        // Each scope holds its full path already (dynamo, torch 2.15).
        assert_eq!(
            from(
                ": __main__.Net/stage2: torch.nn.modules.container.Sequential/stage2.0: \
                 __main__.Unit/stage2.0.branch1: torch.nn.modules.container.Sequential/\
                 stage2.0.branch1.4: acon.MetaAconC/add: aten.add.Tensor"
            )
            .as_deref(),
            Some("stage2.0.branch1.4 (MetaAconC)")
        );
        assert_eq!(
            from(": MetaAconC/add: aten.add.Tensor").as_deref(),
            Some("MetaAconC")
        );
        assert_eq!(from("no scopes"), None);
    }
}
