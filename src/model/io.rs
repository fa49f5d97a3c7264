//! Loading and atomically saving models.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, buf::UninitSlice};
use prost::Message;

use crate::error::Error;
use crate::proto::ModelProto;

/// Reads and decodes a model. Weights stay slices of the file's buffer.
pub fn load(path: &Path) -> Result<ModelProto, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "cannot read", e))?;
    if meta.is_dir() {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "is a directory, not an ONNX file".into(),
        });
    }
    let data = std::fs::read(path).map_err(|e| Error::io(path, "cannot read", e))?;
    load_bytes(path, Bytes::from(data))
}

/// Decodes a model already in memory; `path` is only used in messages.
pub fn load_bytes(path: &Path, data: Bytes) -> Result<ModelProto, Error> {
    if data.is_empty() {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "the file is empty".into(),
        });
    }
    let model = ModelProto::decode(data).map_err(|e| Error::Load {
        path: path.to_owned(),
        reason: format!("not a valid ONNX protobuf: {e}"),
    })?;
    if model.graph.is_none() {
        return Err(Error::Load {
            path: path.to_owned(),
            reason: "the model has no graph".into(),
        });
    }
    Ok(model)
}

/// How `save` treats an existing destination.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveOptions {
    /// Replace an existing file at the destination.
    pub overwrite: bool,
}

/// Writes `model` to `path` atomically: a temporary file in the destination's
/// directory, then a rename. On any failure the temporary file is removed and
/// the destination is untouched.
pub fn save(model: &ModelProto, path: &Path, options: SaveOptions) -> Result<(), Error> {
    if !options.overwrite && path.exists() {
        return Err(Error::Save {
            path: path.to_owned(),
            reason: "the file exists (use --force to replace it)".into(),
        });
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(Error::Save {
            path: path.to_owned(),
            reason: format!("the directory `{}` does not exist", dir.display()),
        });
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".acon-onnx-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(path, "cannot create a temporary file beside", e))?;
    write_streaming(model, tmp.as_file_mut()).map_err(|e| Error::io(path, "cannot write", e))?;
    let persisted = if options.overwrite {
        tmp.persist(path).map(|_| ())
    } else {
        // Refuses to replace a file that appeared since the check above.
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted.map_err(|e| Error::io(path, "cannot move the written model to", e.error))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Encodes with prost straight into `file` through a fixed buffer.
fn write_streaming(model: &ModelProto, file: &mut File) -> io::Result<()> {
    let mut sink = StreamingSink::new(file);
    model.encode_raw(&mut sink);
    sink.finish()
}

/// A `BufMut` that forwards to a writer through a fixed buffer, so encoding a
/// large model needs no buffer the size of the model. Large slices (weights)
/// bypass the buffer. The first I/O error is kept and later writes dropped.
struct StreamingSink<'w, W: Write> {
    out: &'w mut W,
    buf: Vec<u8>,
    error: Option<io::Error>,
}

const SINK_CAPACITY: usize = 1 << 20;

impl<'w, W: Write> StreamingSink<'w, W> {
    fn new(out: &'w mut W) -> Self {
        StreamingSink {
            out,
            buf: Vec::with_capacity(SINK_CAPACITY),
            error: None,
        }
    }

    fn write_direct(&mut self, data: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(data)
        {
            self.error = Some(e);
        }
    }

    fn flush_buf(&mut self) {
        if !self.buf.is_empty() {
            if self.error.is_none()
                && let Err(e) = self.out.write_all(&self.buf)
            {
                self.error = Some(e);
            }
            self.buf.clear();
        }
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush_buf();
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

// SAFETY: `chunk_mut` hands out exactly the vector's spare capacity, and
// `advance_mut` only extends the length over bytes the caller initialised
// there, as the trait requires of it.
unsafe impl<W: Write> BufMut for StreamingSink<'_, W> {
    fn remaining_mut(&self) -> usize {
        usize::MAX - self.buf.len()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        let len = self.buf.len() + cnt;
        assert!(len <= self.buf.capacity(), "advance_mut past the chunk");
        // SAFETY: the caller initialised `cnt` bytes of the spare capacity.
        unsafe { self.buf.set_len(len) };
        if self.buf.len() == self.buf.capacity() {
            self.flush_buf();
        }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        if self.buf.len() == self.buf.capacity() {
            self.flush_buf();
        }
        UninitSlice::uninit(self.buf.spare_capacity_mut())
    }

    fn put_slice(&mut self, src: &[u8]) {
        if src.len() <= self.buf.capacity() - self.buf.len() {
            self.buf.extend_from_slice(src);
        } else {
            self.flush_buf();
            if src.len() >= SINK_CAPACITY {
                self.write_direct(src);
            } else {
                self.buf.extend_from_slice(src);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{GraphProto, TensorProto};

    #[test]
    fn streaming_encoding_matches_prost() {
        let big = Bytes::from(vec![7u8; 3 * SINK_CAPACITY + 5]);
        let tensor = |name: &str, raw: Bytes| TensorProto {
            name: Some(name.into()),
            raw_data: Some(raw),
            dims: vec![raw_len(&big)],
            data_type: Some(2),
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: Some(8),
            producer_name: Some("test".into()),
            graph: Some(GraphProto {
                initializer: vec![
                    tensor("a", Bytes::from_static(&[1, 2, 3])),
                    tensor("b", big.clone()),
                    tensor("c", Bytes::from_static(&[4])),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut streamed = Vec::new();
        write_streaming_to(&model, &mut streamed).unwrap();
        assert_eq!(streamed, model.encode_to_vec());
    }

    fn raw_len(b: &Bytes) -> i64 {
        b.len() as i64
    }

    fn write_streaming_to(model: &ModelProto, out: &mut Vec<u8>) -> io::Result<()> {
        let mut sink = StreamingSink::new(out);
        model.encode_raw(&mut sink);
        sink.finish()
    }
}
