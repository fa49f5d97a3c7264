//! The ONNX IR types, generated at build time from `proto/onnx.proto` by
//! prost-build (see `build.rs`). proto2 fields are `Option`s, so a field a
//! producer wrote is written back even when it holds its default value.

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));

pub use attribute_proto::AttributeType;
pub use tensor_proto::DataType;

impl NodeProto {
    /// The node's subgraphs: every graph-valued attribute (`If` branches,
    /// `Loop` and `Scan` bodies), in attribute order.
    pub fn subgraphs(&self) -> impl Iterator<Item = &GraphProto> {
        self.attribute
            .iter()
            .flat_map(|a| a.g.iter().chain(&a.graphs))
    }

    /// [`NodeProto::subgraphs`], for editing.
    pub fn subgraphs_mut(&mut self) -> impl Iterator<Item = &mut GraphProto> {
        self.attribute
            .iter_mut()
            .flat_map(|a| a.g.iter_mut().chain(a.graphs.iter_mut()))
    }
}
