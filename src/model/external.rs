//! External tensor data: tensors whose bytes live in a file beside the model
//! (`data_location: EXTERNAL` plus `external_data` entries), read on load and
//! written on save.
//!
//! Reading ([`resolve`]), for every tensor of the model marked external:
//! 1. parse its entries; only `location`, `offset`, `length` and `checksum`
//!    are known, any other key is refused (`checksum` is accepted and not
//!    verified, as the onnx package does);
//! 2. check the location with the rules the onnx package enforces since 1.21:
//!    relative, non-empty, no `..` after lexical normalisation; no symbolic
//!    link from the model's directory down to the file; a regular file with
//!    one hard link, inside the model's directory, and not the model itself;
//! 3. memory-map the file, once per file however many tensors it holds;
//! 4. bounds-check `offset` and `length` against the file size, and `length`
//!    against dims × element size;
//! 5. make `raw_data` a zero-copy slice of the map and clear the tensor's
//!    external fields, so the passes see an ordinary tensor.
//!
//! The maps are read-only and live as long as a tensor slices them: a
//! multi-GB model is never copied into memory, and input files are never
//! written. The one thing a map cannot defend against is another process
//! truncating a data file while we read it (the kernel then raises SIGBUS),
//! the same contract as every memory-mapping ONNX runtime.
//!
//! Writing ([`externalize`], [`write_data`]): initializers (of the main graph
//! and its subgraphs, as `onnx.save_model` does) whose `raw_data` holds at
//! least a threshold of bytes move to one data file, in model order. Each
//! starts at a multiple of [`ALIGN`] bytes; one of [`LARGE_TENSOR`] bytes or
//! more starts at a multiple of [`LARGE_ALIGN`], the allocation granularity
//! of every common OS (4 KiB, 16 KiB and 64 KiB pages), so a runtime can map
//! it in place. That is onnx-ir's rule; the padding costs at most 1/16 of a
//! large tensor, and the gaps stay under the 64 KiB the onnx package allows.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};

use bytes::{BufMut, Bytes};

use crate::error::Error;
use crate::model::mapped;
use crate::model::origins::{Origin, Origins};
use crate::model::sink::{Destination, StreamingSink};
use crate::model::tensor::{element_bits, element_count, type_name};
use crate::proto::{
    AttributeProto, GraphProto, ModelProto, StringStringEntryProto, TensorProto,
    tensor_proto::DataLocation,
};

/// The `external_data` keys a tensor may use.
pub const KNOWN_KEYS: [&str; 4] = ["location", "offset", "length", "checksum"];

/// Every tensor's data starts at a multiple of this many bytes.
pub const ALIGN: u64 = 64;
/// Tensors of at least [`LARGE_TENSOR`] bytes start at a multiple of this.
pub const LARGE_ALIGN: u64 = 64 * 1024;
/// The size from which a tensor gets [`LARGE_ALIGN`].
pub const LARGE_TENSOR: u64 = 1024 * 1024;

/// The external files a loaded model's tensors were read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalSources {
    /// Canonical paths, each once, in the order tensors first used them.
    pub files: Vec<PathBuf>,
    /// How many tensors were read from them.
    pub tensors: usize,
    /// How many bytes those tensors hold.
    pub bytes: u64,
    /// Where each tensor's bytes were, so a save can put them back.
    pub origins: Origins,
}

impl ExternalSources {
    /// True when the model had no external data.
    pub fn is_empty(&self) -> bool {
        self.tensors == 0
    }
}

// ---- reading ------------------------------------------------------------------

/// Loads the data of every external tensor of `model`, which was read from
/// `model_path`, as described in the module documentation. On error the
/// model may be partly resolved and should be dropped.
pub fn resolve(model: &mut ModelProto, model_path: &Path) -> Result<ExternalSources, Error> {
    let mut resolver: Option<Resolver> = None;
    let mut sources = ExternalSources::default();
    for_each_tensor(model, &mut |t, _| {
        if t.data_location() != DataLocation::External {
            return Ok(());
        }
        // Set up lazily: models without external data cost nothing.
        let r = match &mut resolver {
            Some(r) => r,
            None => resolver.insert(Resolver::new(model_path)?),
        };
        let (data, file, offset) = r.tensor_data(t)?;
        if !sources.files.contains(&file) {
            sources.files.push(file);
        }
        let location = r.entries(t)?.location.to_owned();
        sources.origins.record(&data, Origin { location, offset });
        sources.tensors += 1;
        sources.bytes += data.len() as u64;
        t.raw_data = Some(data);
        t.external_data.clear();
        t.data_location = None;
        Ok(())
    })?;
    Ok(sources)
}

/// What identifies a file whatever path reaches it.
#[cfg(unix)]
type FileId = (u64, u64);
#[cfg(not(unix))]
type FileId = PathBuf;

#[cfg(unix)]
fn file_id(meta: &Metadata, _path: &Path) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &Metadata, path: &Path) -> FileId {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

#[cfg(unix)]
fn hard_links(meta: &Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
fn hard_links(_meta: &Metadata) -> u64 {
    1
}

/// One mapped data file; cloning shares the map.
#[derive(Clone)]
struct Mapped {
    data: Bytes,
    canonical: PathBuf,
}

struct Resolver {
    model_path: PathBuf,
    /// The canonical directory of the model file, where locations start.
    dir: PathBuf,
    model_id: Option<FileId>,
    maps: HashMap<FileId, Mapped>,
}

/// A tensor's parsed `external_data` entries.
struct Entries<'t> {
    location: &'t str,
    offset: Option<u64>,
    length: Option<u64>,
}

impl Resolver {
    fn new(model_path: &Path) -> Result<Resolver, Error> {
        let dir = match model_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = dir.canonicalize().map_err(|e| Error::Load {
            path: model_path.to_owned(),
            reason: format!("cannot resolve the model's directory for its external data: {e}"),
        })?;
        let model_id = std::fs::metadata(model_path)
            .ok()
            .map(|m| file_id(&m, model_path));
        Ok(Resolver {
            model_path: model_path.to_owned(),
            dir,
            model_id,
            maps: HashMap::new(),
        })
    }

    /// The refusal of tensor `t`'s external data at `location`.
    fn refuse(&self, t: &TensorProto, location: &str, problem: impl std::fmt::Display) -> Error {
        let reason = if location.is_empty() {
            format!("tensor `{}`: external data {problem}", t.name())
        } else {
            format!(
                "tensor `{}`: external data `{location}` {problem}",
                t.name()
            )
        };
        Error::Load {
            path: self.model_path.clone(),
            reason,
        }
    }

    /// The bytes of external tensor `t`, the canonical path of its file and
    /// the offset in it.
    fn tensor_data(&mut self, t: &TensorProto) -> Result<(Bytes, PathBuf, u64), Error> {
        let entries = self.entries(t)?;
        let location = entries.location;
        let expected = expected_len(t).map_err(|p| self.refuse(t, location, p))?;
        let relative = normalise(location).map_err(|p| self.refuse(t, location, p))?;
        let (path, meta) = self.check_path(t, location, &relative)?;
        let id = file_id(&meta, &path);
        let mapped = match self.maps.get(&id) {
            Some(m) => m.clone(),
            None => {
                let m = self.map(t, location, &path, &meta)?;
                self.maps.insert(id, m.clone());
                m
            }
        };
        let size = mapped.data.len() as u64;
        let offset = entries.offset.unwrap_or(0);
        if offset > size {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "has offset {offset}, past the end of `{}` ({size} bytes)",
                    path.display()
                ),
            ));
        }
        let length = entries.length.unwrap_or(size - offset);
        if length > size - offset {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "has offset {offset} and length {length}, past the end of `{}` ({size} bytes)",
                    path.display()
                ),
            ));
        }
        if length != expected {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "has length {length}, expected {expected} for dims {:?} of {}",
                    t.dims,
                    type_name(t.data_type())
                ),
            ));
        }
        // Both fit in the mapped length, itself a usize.
        let (start, end) = (offset as usize, (offset + length) as usize);
        Ok((mapped.data.slice(start..end), mapped.canonical, offset))
    }

    fn entries<'t>(&self, t: &'t TensorProto) -> Result<Entries<'t>, Error> {
        let mut location = None;
        let mut offset = None;
        let mut length = None;
        let mut seen: Vec<&str> = vec![];
        let shown = |t: &'t TensorProto| {
            t.external_data
                .iter()
                .find(|e| e.key() == "location")
                .map(|e| e.value())
                .unwrap_or("")
        };
        for e in &t.external_data {
            let key = e.key();
            if !KNOWN_KEYS.contains(&key) {
                return Err(self.refuse(
                    t,
                    shown(t),
                    format!(
                        "has unknown key `{}` (known: {})",
                        key.escape_debug(),
                        KNOWN_KEYS.join(", ")
                    ),
                ));
            }
            if seen.contains(&key) {
                return Err(self.refuse(t, shown(t), format!("gives key `{key}` twice")));
            }
            seen.push(key);
            let number = |value: &str| {
                value.parse::<u64>().map_err(|_| {
                    self.refuse(
                        t,
                        shown(t),
                        format!(
                            "has {key} `{}`, expected a non-negative integer",
                            value.escape_debug()
                        ),
                    )
                })
            };
            match key {
                "location" => location = Some(e.value()),
                "offset" => offset = Some(number(e.value())?),
                "length" => length = Some(number(e.value())?),
                _ => {} // checksum: an unverified SHA-1, as in onnx.
            }
        }
        let location = location.ok_or_else(|| {
            self.refuse(
                t,
                "",
                "has no `location` key (the tensor is marked EXTERNAL)",
            )
        })?;
        Ok(Entries {
            location,
            offset,
            length,
        })
    }

    /// Walks from the model's directory down to the file, refusing symbolic
    /// links, non-directories on the way, a missing file, anything but a
    /// regular file with one link, and the model itself.
    fn check_path(
        &self,
        t: &TensorProto,
        location: &str,
        relative: &[&str],
    ) -> Result<(PathBuf, Metadata), Error> {
        let lstat = |path: &Path| {
            let m = std::fs::symlink_metadata(path).map_err(|e| {
                let problem = if e.kind() == io::ErrorKind::NotFound {
                    format!("names `{}`, which does not exist", path.display())
                } else {
                    format!("names `{}`, which cannot be read: {e}", path.display())
                };
                self.refuse(t, location, problem)
            })?;
            if m.file_type().is_symlink() {
                return Err(self.refuse(
                    t,
                    location,
                    format!(
                        "goes through `{}`, a symbolic link; external data must be a plain \
                         file inside the model's directory",
                        path.display()
                    ),
                ));
            }
            Ok(m)
        };
        let Some((file_name, dirs)) = relative.split_last() else {
            return Err(self.refuse(t, location, "names no file"));
        };
        let mut path = self.dir.clone();
        for d in dirs {
            path.push(d);
            if !lstat(&path)?.is_dir() {
                return Err(self.refuse(
                    t,
                    location,
                    format!(
                        "goes through `{}`, which is not a directory",
                        path.display()
                    ),
                ));
            }
        }
        path.push(file_name);
        let meta = lstat(&path)?;
        if meta.is_dir() {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "names `{}`, a directory, not a regular file",
                    path.display()
                ),
            ));
        }
        if !meta.is_file() {
            return Err(self.refuse(
                t,
                location,
                format!("names `{}`, which is not a regular file", path.display()),
            ));
        }
        let links = hard_links(&meta);
        if links != 1 {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "names `{}`, which has {links} hard links; a data file must have exactly one",
                    path.display()
                ),
            ));
        }
        if self.model_id.as_ref() == Some(&file_id(&meta, &path)) {
            return Err(self.refuse(
                t,
                location,
                format!("names `{}`, the model file itself", path.display()),
            ));
        }
        Ok((path, meta))
    }

    /// Opens and maps the file `check_path` approved, making sure it is still
    /// the same file.
    fn map(
        &self,
        t: &TensorProto,
        location: &str,
        path: &Path,
        checked: &Metadata,
    ) -> Result<Mapped, Error> {
        let fail = |what: &str, e: io::Error| {
            self.refuse(
                t,
                location,
                format!("names `{}`: {what}: {e}", path.display()),
            )
        };
        let file = File::open(path).map_err(|e| fail("cannot open it", e))?;
        let meta = file.metadata().map_err(|e| fail("cannot read it", e))?;
        if file_id(&meta, path) != file_id(checked, path) || !meta.is_file() {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "names `{}`, which changed while being checked",
                    path.display()
                ),
            ));
        }
        let canonical = path
            .canonicalize()
            .map_err(|e| fail("cannot resolve it", e))?;
        if !canonical.starts_with(&self.dir) {
            return Err(self.refuse(
                t,
                location,
                format!(
                    "resolves to `{}`, outside the model's directory `{}`",
                    canonical.display(),
                    self.dir.display()
                ),
            ));
        }
        let data = if meta.len() == 0 {
            Bytes::new()
        } else {
            // Registered, so that saving copies its slices from the file.
            mapped::map_file(file).map_err(|e| fail("cannot map it", e))?
        };
        Ok(Mapped { data, canonical })
    }
}

/// The byte length dims × element size gives (sub-byte types packed, as
/// ONNX stores them); an error for a type without a fixed size or bad dims.
fn expected_len(t: &TensorProto) -> Result<u64, String> {
    let Some(bits) = element_bits(t.data_type()) else {
        return Err(format!(
            "is of type {}, which has no fixed element size and cannot be stored externally",
            type_name(t.data_type())
        ));
    };
    let count = element_count(&t.dims).ok_or_else(|| format!("has invalid dims {:?}", t.dims))?;
    let bits = count
        .checked_mul(bits)
        .ok_or_else(|| format!("has dims {:?}, too many elements", t.dims))?;
    Ok(bits.div_ceil(8))
}

/// The parts of `location` after lexical normalisation (`.` dropped, `a/..`
/// folded), or why it is refused: empty, absolute, or leaving the directory.
pub fn normalise(location: &str) -> Result<Vec<&str>, String> {
    if location.is_empty() {
        return Err("has an empty location".into());
    }
    if location.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    let mut parts: Vec<&str> = vec![];
    for c in Path::new(location).components() {
        match c {
            Component::Prefix(_) | Component::RootDir => {
                return Err(
                    "is an absolute path; it must be relative to the model's directory".into(),
                );
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err("leaves the model's directory (`..`)".into());
                }
            }
            Component::Normal(p) => match p.to_str() {
                Some(p) => parts.push(p),
                None => return Err("is not valid UTF-8".into()),
            },
        }
    }
    if parts.is_empty() {
        return Err("names the model's directory itself, not a file".into());
    }
    Ok(parts)
}

// ---- writing ------------------------------------------------------------------

/// Where each externalised tensor's bytes go in the data file.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The tensors' data at their offsets, in increasing offset order.
    pub tensors: Vec<(u64, Bytes)>,
    /// The file's length.
    pub len: u64,
}

/// The offset a tensor of `len` bytes gets in a file of `end` bytes so far.
pub fn aligned_offset(end: u64, len: u64) -> u64 {
    let align = if len >= LARGE_TENSOR {
        LARGE_ALIGN
    } else {
        ALIGN
    };
    end.div_ceil(align) * align
}

/// Moves to the data file at `location` every initializer of `model` (main
/// graph and subgraphs) whose `raw_data` holds at least `threshold` bytes,
/// never an empty one, rewriting its entries; returns the file's layout. The
/// bytes are shared with the tensors, not copied.
/// Makes `t` an external tensor: its bytes are `len` bytes at `offset` of
/// the data file `location`, no longer in `raw_data`.
pub fn point_to_file(t: &mut TensorProto, location: &str, offset: u64, len: u64) {
    t.raw_data = None;
    t.data_location = Some(DataLocation::External as i32);
    t.external_data = [
        ("location", location.to_owned()),
        ("offset", offset.to_string()),
        ("length", len.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| StringStringEntryProto {
        key: Some(k.to_owned()),
        value: Some(v),
    })
    .collect();
}

pub fn externalize(model: &mut ModelProto, location: &str, threshold: u64) -> Layout {
    let mut layout = Layout::default();
    let Some(graph) = model.graph.as_mut() else {
        return layout;
    };
    let _ = graph_tensors(graph, &mut |t, kind| {
        let Some(raw) = t.raw_data.as_ref() else {
            return Ok(());
        };
        let len = raw.len() as u64;
        if kind != Kind::Initializer || len == 0 || len < threshold {
            return Ok(());
        }
        let offset = aligned_offset(layout.len, len);
        layout.tensors.push((offset, raw.clone()));
        layout.len = offset + len;
        point_to_file(t, location, offset, len);
        Ok(())
    });
    layout
}

/// Writes the data file `layout` describes, zero-filling the gaps, through a
/// [`StreamingSink`]: tensors that are slices of a mapped input are copied
/// from their file, never faulted in through the mapping.
pub fn write_data<W: Destination>(layout: &Layout, out: &mut W) -> io::Result<()> {
    const ZEROS: [u8; 4096] = [0; 4096];
    let mut sink = StreamingSink::new(out);
    let mut end = 0u64;
    for (offset, data) in &layout.tensors {
        let mut gap = offset - end;
        while gap > 0 {
            let n = gap.min(ZEROS.len() as u64) as usize;
            sink.put_slice(&ZEROS[..n]);
            gap -= n as u64;
        }
        sink.put_slice(data);
        end = offset + data.len() as u64;
    }
    sink.finish().map(|_| ())
}

// ---- walking every tensor -----------------------------------------------------

/// Where a tensor sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An initializer of the main graph or of a subgraph.
    Initializer,
    /// An attribute value, a sparse tensor's part, or a training graph's.
    Other,
}

type Visit<'f> = dyn FnMut(&mut TensorProto, Kind) -> Result<(), Error> + 'f;

/// Calls `f` on every tensor of `model`: initializers and sparse
/// initializers, node attributes (nested subgraphs included), functions'
/// nodes and default attributes, and training graphs.
pub fn for_each_tensor(model: &mut ModelProto, f: &mut Visit<'_>) -> Result<(), Error> {
    if let Some(g) = model.graph.as_mut() {
        graph_tensors(g, f)?;
    }
    for func in &mut model.functions {
        for n in &mut func.node {
            for a in &mut n.attribute {
                attribute_tensors(a, f)?;
            }
        }
        for a in &mut func.attribute_proto {
            attribute_tensors(a, f)?;
        }
    }
    for info in &mut model.training_info {
        for g in info
            .initialization
            .iter_mut()
            .chain(info.algorithm.iter_mut())
        {
            graph_tensors(g, &mut |t, _| f(t, Kind::Other))?;
        }
    }
    Ok(())
}

fn graph_tensors(g: &mut GraphProto, f: &mut Visit<'_>) -> Result<(), Error> {
    for t in &mut g.initializer {
        f(t, Kind::Initializer)?;
    }
    for s in &mut g.sparse_initializer {
        for t in s.values.iter_mut().chain(s.indices.iter_mut()) {
            f(t, Kind::Other)?;
        }
    }
    for n in &mut g.node {
        for a in &mut n.attribute {
            attribute_tensors(a, f)?;
        }
    }
    Ok(())
}

fn attribute_tensors(a: &mut AttributeProto, f: &mut Visit<'_>) -> Result<(), Error> {
    for t in a.t.iter_mut().chain(a.tensors.iter_mut()) {
        f(t, Kind::Other)?;
    }
    for s in a
        .sparse_tensor
        .iter_mut()
        .chain(a.sparse_tensors.iter_mut())
    {
        for t in s.values.iter_mut().chain(s.indices.iter_mut()) {
            f(t, Kind::Other)?;
        }
    }
    for g in a.g.iter_mut().chain(a.graphs.iter_mut()) {
        graph_tensors(g, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_normalise_like_onnx() {
        assert_eq!(normalise("w.bin").unwrap(), ["w.bin"]);
        assert_eq!(normalise("./a/../w.bin").unwrap(), ["w.bin"]);
        assert_eq!(normalise("a//b").unwrap(), ["a", "b"]);
        for bad in [
            "",
            "/w.bin",
            "../w.bin",
            "a/../../w.bin",
            ".",
            "a/..",
            "w\0",
        ] {
            assert!(normalise(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn offsets_are_aligned() {
        assert_eq!(aligned_offset(0, 10), 0);
        assert_eq!(aligned_offset(1, 10), 64);
        assert_eq!(aligned_offset(64, 10), 64);
        assert_eq!(aligned_offset(65, LARGE_TENSOR), LARGE_ALIGN);
        assert_eq!(
            aligned_offset(LARGE_ALIGN + 1, LARGE_TENSOR),
            2 * LARGE_ALIGN
        );
    }

    #[test]
    fn layout_round_trips_through_write_data() {
        let tensor = |name: &str, len: usize| TensorProto {
            name: Some(name.into()),
            dims: vec![len as i64],
            data_type: Some(2), // uint8
            raw_data: Some(Bytes::from(vec![name.as_bytes()[0]; len])),
            ..Default::default()
        };
        let mut model = ModelProto {
            graph: Some(GraphProto {
                initializer: vec![tensor("a", 100), tensor("b", 3), tensor("c", 70)],
                ..Default::default()
            }),
            ..Default::default()
        };
        let layout = externalize(&mut model, "w.data", 50);
        let offsets: Vec<u64> = layout.tensors.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [0, 128]);
        assert_eq!(layout.len, 198);
        let mut file = vec![];
        write_data(&layout, &mut file).unwrap();
        assert_eq!(file.len(), 198);
        assert!(file[..100].iter().all(|&b| b == b'a'));
        assert!(file[100..128].iter().all(|&b| b == 0));
        assert!(file[128..].iter().all(|&b| b == b'c'));
        let init = &model.graph.as_ref().unwrap().initializer;
        assert_eq!(init[0].data_location(), DataLocation::External);
        assert!(init[0].raw_data.is_none());
        assert_eq!(init[1].raw_data.as_ref().map(|r| r.len()), Some(3));
        let entries: Vec<(&str, &str)> = init[2]
            .external_data
            .iter()
            .map(|e| (e.key(), e.value()))
            .collect();
        assert_eq!(
            entries,
            [("location", "w.data"), ("offset", "128"), ("length", "70")]
        );
    }
}
