//! `prune-acon-opsets`: once no node of the model or of its functions uses an
//! ACON domain, its `opset_import` entry goes. Imports of other domains stay
//! as they were, used or not.

use crate::model::hash::Set;

use crate::passes::{Pass, PassContext};
use crate::proto::{GraphProto, ModelProto, NodeProto};

pub struct PruneAconOpsets;

impl Pass for PruneAconOpsets {
    fn name(&self) -> &'static str {
        "prune-acon-opsets"
    }

    fn run(&self, model: &mut ModelProto, cx: &mut PassContext) -> Result<bool, crate::Error> {
        let mut used = Set::default();
        if let Some(g) = &model.graph {
            graph_domains(g, &mut used);
        }
        for f in &model.functions {
            nodes_domains(&f.node, &mut used);
        }
        let before = model.opset_import.len();
        model
            .opset_import
            .retain(|o| !cx.options.is_acon_domain(o.domain()) || used.contains(o.domain()));
        let mut changed = model.opset_import.len() != before;
        for f in &mut model.functions {
            let mut in_function = Set::default();
            nodes_domains(&f.node, &mut in_function);
            let before = f.opset_import.len();
            f.opset_import.retain(|o| {
                !cx.options.is_acon_domain(o.domain()) || in_function.contains(o.domain())
            });
            changed |= f.opset_import.len() != before;
        }
        Ok(changed)
    }
}

fn graph_domains(graph: &GraphProto, used: &mut Set<String>) {
    nodes_domains(&graph.node, used);
}

fn nodes_domains(nodes: &[NodeProto], used: &mut Set<String>) {
    for node in nodes {
        used.insert(node.domain().to_owned());
        for g in node.subgraphs() {
            graph_domains(g, used);
        }
    }
}
