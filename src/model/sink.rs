//! The writer prost encodes a model into when it is saved: a fixed buffer in
//! front of a file, so that no buffer the size of the model is ever built.
//!
//! Weights that are slices of a mapped input file are copied from that file,
//! never from the mapping (see `mapped`), by one of two routes chosen per
//! tensor from where its bytes sit in the input and where they go in the
//! output:
//!
//! - **offsets congruent modulo [`KERNEL_COPY_ALIGN`]**: a kernel copy,
//!   file to file (`copy_file_range`). This is the case of every tensor of a
//!   model written back unchanged, and the fastest route there is.
//! - **otherwise**: `pread` into the buffer, which is flushed as full,
//!   aligned writes. A rewrite that changes the nodes moves every later
//!   tensor by some bytes, and a kernel copy between offsets that disagree
//!   within a page cache folio costs a third more than one between offsets
//!   that agree, while reading through the buffer costs the same either way.
//!
//! `benches/copy_routes.py` times the routes on one file. On ext4 under
//! Linux 6.18, for the 103 MB ResNet-50 Meta-ACON model of
//! `benches/convert.sh`, one kernel copy took 27.4 ms at equal offsets,
//! 37.5 ms with the output shifted by 100 bytes (33.9 ms at 4 KiB, 27.2 ms
//! at 64 KiB), and the 1 MiB buffer 33.2–33.8 ms at either shift; with the
//! output reserved first (`fallocate`), 26.1, 36.2 and 31.1–31.8 ms. With the
//! page cache full and the kernel reclaiming, the two routes measured about
//! the same at a shift of 100 bytes.

use std::fs::File;
use std::io::{self, Write};

use bytes::{BufMut, buf::UninitSlice};

use crate::model::mapped::{self, Origin};

/// The buffer's size, and so the size of every write but the last.
pub const SINK_CAPACITY: usize = 1 << 20;

/// Input and output offsets of a tensor must agree modulo this for the
/// kernel copy to be the faster route (the page cache's large folios).
pub const KERNEL_COPY_ALIGN: u64 = 64 * 1024;

/// A destination that may be able to copy a slice of a file in the kernel.
pub trait Destination: Write {
    /// Appends `len` bytes of `origin` without reading them into memory, or
    /// returns `None` when this destination cannot.
    fn copy_in_kernel(&mut self, _origin: &Origin, _len: u64) -> Option<io::Result<()>> {
        None
    }
}

impl Destination for File {
    fn copy_in_kernel(&mut self, origin: &Origin, len: u64) -> Option<io::Result<()>> {
        Some(origin.copy_to(self, len))
    }
}

impl Destination for Vec<u8> {}

/// A `BufMut` that forwards to a writer through a fixed buffer. The first
/// I/O error is kept and later writes dropped; [`StreamingSink::finish`]
/// returns it.
pub struct StreamingSink<'w, W: Destination> {
    out: &'w mut W,
    buf: Box<[u8]>,
    /// Bytes of `buf` holding data not yet written.
    filled: usize,
    /// What has been handed to `out` so far.
    written: Written,
    error: Option<io::Error>,
}

/// What a sink wrote, and by which routes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes written: the destination's length, as it starts empty.
    pub bytes: u64,
    /// Slices of mapped files copied by the kernel.
    pub kernel_copies: usize,
    /// Slices of mapped files read into the buffer.
    pub buffered_copies: usize,
}

impl<'w, W: Destination> StreamingSink<'w, W> {
    /// A sink writing to `out`, which must be empty.
    pub fn new(out: &'w mut W) -> Self {
        StreamingSink {
            out,
            buf: vec![0; SINK_CAPACITY].into_boxed_slice(),
            filled: 0,
            written: Written::default(),
            error: None,
        }
    }

    /// Writes what is buffered and says what was written, or returns the
    /// first error met.
    pub fn finish(mut self) -> io::Result<Written> {
        self.flush_buf();
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush().map(|()| self.written),
        }
    }

    fn position(&self) -> u64 {
        self.written.bytes + self.filled as u64
    }

    fn record(&mut self, result: io::Result<()>, len: u64) {
        match result {
            Ok(()) => self.written.bytes += len,
            Err(e) => self.error = Some(e),
        }
    }

    fn write_direct(&mut self, data: &[u8]) {
        if self.error.is_none() {
            let result = self.out.write_all(data);
            self.record(result, data.len() as u64);
        }
    }

    fn flush_buf(&mut self) {
        if self.filled > 0 && self.error.is_none() {
            let result = self.out.write_all(&self.buf[..self.filled]);
            self.record(result, self.filled as u64);
        }
        self.filled = 0;
    }

    /// Appends `len` bytes of a mapped file, by the route the module doc
    /// describes.
    fn put_from_file(&mut self, origin: &Origin, len: usize) {
        if self.error.is_some() {
            return;
        }
        if self.position() % KERNEL_COPY_ALIGN == origin.offset % KERNEL_COPY_ALIGN {
            self.flush_buf();
            if self.error.is_some() {
                return;
            }
            if let Some(result) = self.out.copy_in_kernel(origin, len as u64) {
                self.record(result, len as u64);
                self.written.kernel_copies += 1;
                return;
            }
        }
        self.written.buffered_copies += 1;
        let mut done = 0;
        while done < len && self.error.is_none() {
            if self.filled == self.buf.len() {
                self.flush_buf();
            }
            let take = (self.buf.len() - self.filled).min(len - done);
            let target = &mut self.buf[self.filled..self.filled + take];
            match origin.read_into(done as u64, target) {
                Ok(()) => self.filled += take,
                Err(e) => self.error = Some(e),
            }
            done += take;
        }
    }
}

// SAFETY: `chunk_mut` hands out the unfilled part of the buffer, and
// `advance_mut` only moves `filled` within it, as the trait requires.
unsafe impl<W: Destination> BufMut for StreamingSink<'_, W> {
    fn remaining_mut(&self) -> usize {
        usize::MAX - self.filled
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        let filled = self.filled + cnt;
        assert!(filled <= self.buf.len(), "advance_mut past the chunk");
        self.filled = filled;
        if self.filled == self.buf.len() {
            self.flush_buf();
        }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        if self.filled == self.buf.len() {
            self.flush_buf();
        }
        UninitSlice::new(&mut self.buf[self.filled..])
    }

    // prost writes `bytes` fields through `put`, whose default copies chunk
    // by chunk into `chunk_mut`; hand each contiguous chunk to `put_slice`
    // instead, so that weights can come from their file.
    fn put<T: bytes::Buf>(&mut self, mut src: T)
    where
        Self: Sized,
    {
        while src.has_remaining() {
            let chunk = src.chunk();
            let n = chunk.len();
            self.put_slice(chunk);
            src.advance(n);
        }
    }

    fn put_slice(&mut self, src: &[u8]) {
        if src.len() >= mapped::FILE_COPY_MIN
            && let Some(origin) = mapped::locate(src)
        {
            self.put_from_file(&origin, src.len());
        } else if src.len() <= self.buf.len() - self.filled {
            self.buf[self.filled..self.filled + src.len()].copy_from_slice(src);
            self.filled += src.len();
        } else {
            self.flush_buf();
            if src.len() >= self.buf.len() {
                self.write_direct(src);
            } else {
                self.buf[..src.len()].copy_from_slice(src);
                self.filled = src.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use prost::Message;

    use super::*;
    use crate::proto::{GraphProto, ModelProto, TensorProto};

    fn tensor(name: &str, raw: Bytes) -> TensorProto {
        TensorProto {
            name: Some(name.into()),
            dims: vec![raw.len() as i64],
            raw_data: Some(raw),
            data_type: Some(2),
            ..Default::default()
        }
    }

    fn model_of(tensors: Vec<TensorProto>) -> ModelProto {
        ModelProto {
            ir_version: Some(8),
            producer_name: Some("test".into()),
            graph: Some(GraphProto {
                initializer: tensors,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn stream<W: Destination>(model: &ModelProto, out: &mut W) -> io::Result<Written> {
        let mut sink = StreamingSink::new(out);
        model.encode_raw(&mut sink);
        sink.finish()
    }

    #[test]
    fn streaming_encoding_matches_prost() {
        let big = Bytes::from(vec![7u8; 3 * SINK_CAPACITY + 5]);
        let model = model_of(vec![
            tensor("a", Bytes::from_static(&[1, 2, 3])),
            tensor("b", big),
            tensor("c", Bytes::from_static(&[4])),
        ]);
        let mut streamed = Vec::new();
        let written = stream(&model, &mut streamed).unwrap();
        assert_eq!(streamed, model.encode_to_vec());
        assert_eq!(written.bytes, streamed.len() as u64);
        assert_eq!(written.kernel_copies + written.buffered_copies, 0);
    }

    fn mapped_weights(dir: &std::path::Path, len: usize) -> Bytes {
        let src = dir.join("weights.bin");
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let content: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        std::fs::write(&src, &content).unwrap();
        mapped::map_file(File::open(&src).unwrap()).unwrap()
    }

    fn write_file(model: &ModelProto, path: &std::path::Path) -> Written {
        let mut out = File::create(path).unwrap();
        let written = stream(model, &mut out).unwrap();
        drop(out);
        let bytes = std::fs::read(path).unwrap();
        assert!(
            bytes == model.encode_to_vec(),
            "{} differs from prost's",
            path.display()
        );
        assert_eq!(written.bytes, bytes.len() as u64);
        written
    }

    /// A weight whose output offset agrees with its input offset modulo
    /// 64 KiB is copied by the kernel; one byte more of header before it, and
    /// it is read through the buffer. Both give prost's bytes.
    #[test]
    fn the_route_follows_the_alignment_of_the_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let align = KERNEL_COPY_ALIGN as usize;
        let mapped = mapped_weights(dir.path(), 4 * align);
        let weight = mapped.slice(align..3 * align);
        let with_head = |head: usize| {
            model_of(vec![
                tensor("head", Bytes::from(vec![9u8; head])),
                tensor("weight", weight.clone()),
            ])
        };
        // The weight is the last thing encoded, so it starts where the
        // encoding's length less its own lies.
        let start = |head: usize| with_head(head).encoded_len() - weight.len();
        let aligned = (0..2 * align)
            .find(|&head| start(head) % align == 0)
            .unwrap();
        let kernel = write_file(&with_head(aligned), &dir.path().join("aligned.bin"));
        assert_eq!((kernel.kernel_copies, kernel.buffered_copies), (1, 0));
        let shifted = write_file(&with_head(aligned + 1), &dir.path().join("shifted.bin"));
        assert_eq!((shifted.kernel_copies, shifted.buffered_copies), (0, 1));
    }

    /// A destination that fails after `room` bytes, as a full disk does.
    struct FillsUp {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for FillsUp {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let n = data.len().min(self.room - self.taken.len());
            if n == 0 && !data.is_empty() {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"));
            }
            self.taken.extend_from_slice(&data[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Destination for FillsUp {}

    /// The first write error is what `finish` returns, whichever route the
    /// failing bytes took; nothing after it is written.
    #[test]
    fn a_write_error_midway_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let mapped = mapped_weights(dir.path(), 3 * SINK_CAPACITY);
        let model = model_of(vec![
            tensor("small", Bytes::from_static(&[1, 2, 3])),
            tensor("mapped", mapped.slice(5..2 * SINK_CAPACITY + 9)),
            tensor("owned", Bytes::from(vec![4u8; 2 * SINK_CAPACITY])),
        ]);
        for room in [10, SINK_CAPACITY / 2, SINK_CAPACITY + 7, 3 * SINK_CAPACITY] {
            let mut out = FillsUp {
                room,
                taken: Vec::new(),
            };
            let err = stream(&model, &mut out).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull, "room {room}");
            assert_eq!(out.taken.len(), room);
            assert_eq!(out.taken[..], model.encode_to_vec()[..room]);
        }
    }

    /// Reads through the buffer cross its flushes at any point.
    #[test]
    fn buffered_copies_cross_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let len = 3 * SINK_CAPACITY + 12345;
        let mapped = mapped_weights(dir.path(), len);
        for head in [1usize, 100, 4099] {
            let model = model_of(vec![
                tensor("head", Bytes::from(vec![9u8; head])),
                tensor("a", mapped.slice(11..SINK_CAPACITY + 5)),
                tensor("small", Bytes::from_static(&[1, 2, 3])),
                tensor("b", mapped.slice(SINK_CAPACITY + 7..len - 1)),
            ]);
            let written = write_file(&model, &dir.path().join(format!("out-{head}.bin")));
            assert_eq!(written.kernel_copies + written.buffered_copies, 2);
        }
    }
}
