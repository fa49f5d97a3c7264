//! Where each external tensor of a loaded model was, and the layout that
//! puts it back there on save, so that converting keeps external data as it
//! came: a tensor read from `model.onnx.data` at some offset is written to
//! a data file of the same relative location, in the same offset order;
//! a tensor that was embedded stays embedded.
//!
//! A tensor is known by its bytes: loading makes `raw_data` a slice of the
//! mapped data file, and the passes move tensors without copying their
//! bytes, so a tensor still holding the slice it was loaded with is the one
//! that was there (tensors the conversion made hold new bytes, and are
//! embedded). The table keeps each slice alive, so no new allocation can
//! take its address.
//!
//! Offsets: in each file the kept tensors go in their original order, each
//! at its original offset when the tensors before it end at or before it,
//! else at the next aligned offset (`external::aligned_offset`). A model the
//! conversion did not change is thus written back byte for byte; a dropped
//! tensor leaves its gap, zero-filled.

use std::collections::HashMap;

use bytes::Bytes;

use crate::model::external::{Kind, Layout, aligned_offset, for_each_tensor, point_to_file};
use crate::proto::ModelProto;

/// Where one tensor's bytes were: its `location` entry as written, and its
/// offset in that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub location: String,
    pub offset: u64,
}

/// The origins of a loaded model's external tensors, by the address and
/// length of their bytes.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    by_bytes: HashMap<(usize, usize), (Bytes, Origin)>,
}

impl PartialEq for Origins {
    fn eq(&self, other: &Origins) -> bool {
        self.by_bytes.len() == other.by_bytes.len()
            && self
                .by_bytes
                .iter()
                .all(|(k, (_, o))| other.by_bytes.get(k).is_some_and(|(_, p)| p == o))
    }
}

impl Eq for Origins {}

fn key(data: &Bytes) -> (usize, usize) {
    (data.as_ptr() as usize, data.len())
}

impl Origins {
    /// Notes that `data` was read from `origin`. Empty tensors are not
    /// noted: they have no bytes to tell them apart, and are embedded.
    pub fn record(&mut self, data: &Bytes, origin: Origin) {
        if !data.is_empty() {
            self.by_bytes.insert(key(data), (data.clone(), origin));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_bytes.is_empty()
    }

    /// The source locations, each once, sorted.
    pub fn locations(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .by_bytes
            .values()
            .map(|(_, o)| o.location.clone())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    fn get(&self, data: &Bytes) -> Option<&Origin> {
        self.by_bytes.get(&key(data)).map(|(_, o)| o)
    }
}

/// One data file to write: its location relative to the model, and what
/// goes where in it.
#[derive(Debug, Clone)]
pub struct DataFile {
    pub location: String,
    pub layout: Layout,
}

/// Puts back in external files every tensor of `model` that still holds the
/// bytes it was loaded with, each in the file `rename` gives for its source
/// location (a location of the output's directory), and rewrites their
/// entries. Returns the files, in the order of `Origins::locations`; the
/// bytes are shared, not copied.
pub fn restore(
    model: &mut ModelProto,
    origins: &Origins,
    rename: &HashMap<String, String>,
) -> Vec<DataFile> {
    // First pass: which tensors go back, to which file, in visit order.
    let mut placed: Vec<(usize, u64, u64)> = vec![]; // (file, source offset, len)
    let locations = origins.locations();
    let file_of: HashMap<&str, usize> = locations
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let _ = for_each_tensor(model, &mut |t, _kind: Kind| {
        if let Some(origin) = t.raw_data.as_ref().and_then(|d| origins.get(d)) {
            let len = t.raw_data.as_ref().map_or(0, |d| d.len() as u64);
            placed.push((file_of[origin.location.as_str()], origin.offset, len));
        }
        Ok(())
    });
    // Offsets, file by file, in source offset order.
    let mut order: Vec<usize> = (0..placed.len()).collect();
    order.sort_by_key(|&i| (placed[i].0, placed[i].1, i));
    let mut ends = vec![0u64; locations.len()];
    let mut offsets = vec![0u64; placed.len()];
    for &i in &order {
        let (file, source, len) = placed[i];
        let end = ends[file];
        let offset = if source >= end {
            source
        } else {
            aligned_offset(end, len)
        };
        offsets[i] = offset;
        ends[file] = offset + len;
    }
    // Second pass, same visit order: move the bytes, write the entries.
    let mut files: Vec<DataFile> = locations
        .iter()
        .map(|l| DataFile {
            location: rename.get(l).cloned().unwrap_or_else(|| l.clone()),
            layout: Layout::default(),
        })
        .collect();
    let mut next = 0;
    let _ = for_each_tensor(model, &mut |t, _kind: Kind| {
        let Some(data) = t.raw_data.as_ref().filter(|d| origins.get(d).is_some()) else {
            return Ok(());
        };
        let (file, _, len) = placed[next];
        let offset = offsets[next];
        next += 1;
        let target = &mut files[file];
        target.layout.tensors.push((offset, data.clone()));
        target.layout.len = target.layout.len.max(offset + len);
        point_to_file(t, &target.location, offset, len);
        Ok(())
    });
    for f in &mut files {
        // The writer takes the tensors in increasing offset order.
        f.layout.tensors.sort_by_key(|(offset, _)| *offset);
    }
    files.retain(|f| !f.layout.tensors.is_empty());
    files
}
