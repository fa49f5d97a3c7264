//! Files mapped into memory whose bytes back loaded tensors: the model file
//! itself and its external data files.
//!
//! Loading maps a file and decodes from the mapping, so a tensor's `raw_data`
//! is a slice of it and its pages are read only when something looks at them.
//! Saving asks [`locate`] where a large slice came from, and then copies it
//! from the file rather than from the mapping: by a kernel copy
//! ([`Origin::copy_to`]) or by `pread` into the writer's buffer
//! ([`Origin::read_into`]). Either way the mapping's pages are never faulted
//! in, which is what lets a conversion cost about what a `cp` of the model
//! costs, in time and in memory (`benches/convert.sh`).
//!
//! A mapping registers its address range while it lives and removes it before
//! it is unmapped, so an address is never taken for a file's once the mapping
//! is gone. If another process truncates an input file while it is mapped,
//! reading the lost pages raises SIGBUS: inputs must not change during a run.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Slices shorter than this are written from memory: looking up their file
/// and copying from it has a fixed cost that only pays off on larger ones.
pub const FILE_COPY_MIN: usize = 64 * 1024;

struct Region {
    start: usize,
    len: usize,
    file: Arc<Mutex<File>>,
}

static REGIONS: Mutex<Vec<Region>> = Mutex::new(Vec::new());

fn regions() -> std::sync::MutexGuard<'static, Vec<Region>> {
    // A panic elsewhere cannot leave the list half-updated: recover it.
    REGIONS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The owner of a mapping, kept alive by the `Bytes` that slice it.
struct MappedFile {
    map: memmap2::Mmap,
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // Runs before `map` is unmapped (fields drop after this body).
        let start = self.map.as_ptr() as usize;
        regions().retain(|r| r.start != start);
    }
}

/// Maps `file` read-only and returns its contents as `Bytes`. The file must
/// be a non-empty regular file.
pub fn map_file(file: File) -> io::Result<Bytes> {
    // SAFETY: the map is read-only and nothing here writes to the file. Its
    // contents could only change under us if another process wrote to or
    // truncated the input during the run, which the module doc rules out.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    regions().push(Region {
        start: map.as_ptr() as usize,
        len: map.len(),
        file: Arc::new(Mutex::new(file)),
    });
    Ok(Bytes::from_owner(MappedFile { map }))
}

/// Where a slice of a mapped file came from: the file and the offset.
pub struct Origin {
    file: Arc<Mutex<File>>,
    /// The slice's offset in the file.
    pub offset: u64,
}

impl Origin {
    /// Reads `buf.len()` bytes of the file starting `skip` bytes into the
    /// slice, with `pread`: the mapping's pages are never touched, so they
    /// neither fault in nor count towards the resident set.
    pub fn read_into(&self, skip: u64, buf: &mut [u8]) -> io::Result<()> {
        let at = self.offset + skip;
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let read = read_exact_at(&file, at, buf);
        read.map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => shrank(),
            _ => e,
        })
    }

    /// Appends the slice's `len` bytes to `out` by a kernel copy
    /// (`copy_file_range` through `std::io::copy` on Linux): the bytes never
    /// pass through this process.
    pub fn copy_to(&self, out: &mut File, len: u64) -> io::Result<()> {
        let source = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut reader: &File = &source;
        reader.seek(SeekFrom::Start(self.offset))?;
        let copied = io::copy(&mut reader.take(len), out)?;
        if copied != len {
            return Err(shrank());
        }
        Ok(())
    }
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "an input file shrank while it was being converted",
    )
}

#[cfg(unix)]
fn read_exact_at(file: &File, at: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, at: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut reader: &File = file;
    reader.seek(SeekFrom::Start(at))?;
    reader.read_exact(buf)
}

/// The mapped file `data` lies in, and where, if it lies in one.
pub fn locate(data: &[u8]) -> Option<Origin> {
    let start = data.as_ptr() as usize;
    let end = start.checked_add(data.len())?;
    regions()
        .iter()
        .find(|r| start >= r.start && end <= r.start + r.len)
        .map(|r| Origin {
            file: r.file.clone(),
            offset: (start - r.start) as u64,
        })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn slices_of_a_mapped_file_are_copied_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        let content: Vec<u8> = (0..FILE_COPY_MIN * 3).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &content).unwrap();
        let bytes = map_file(File::open(&src).unwrap()).unwrap();
        let slice = bytes.slice(100..100 + FILE_COPY_MIN * 2);
        let origin = locate(&slice).expect("a slice of the mapping");
        assert_eq!(origin.offset, 100);
        assert!(locate(b"not mapped").is_none());

        let mut part = vec![0u8; 1000];
        origin.read_into(7, &mut part).unwrap();
        assert_eq!(part, &content[107..1107]);

        let dst = dir.path().join("dst.bin");
        let mut out = File::create(&dst).unwrap();
        out.write_all(b"head").unwrap();
        origin.copy_to(&mut out, slice.len() as u64).unwrap();
        out.write_all(b"tail").unwrap();
        drop(out);
        let written = std::fs::read(&dst).unwrap();
        assert_eq!(&written[..4], b"head");
        assert_eq!(&written[4..4 + slice.len()], &slice[..]);
        assert_eq!(&written[4 + slice.len()..], b"tail");
    }

    #[test]
    fn reading_past_the_end_says_the_file_shrank() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, vec![1u8; FILE_COPY_MIN]).unwrap();
        let bytes = map_file(File::open(&src).unwrap()).unwrap();
        let origin = locate(&bytes[10..20]).unwrap();
        let mut buf = vec![0u8; FILE_COPY_MIN];
        let err = origin.read_into(0, &mut buf).unwrap_err();
        assert!(err.to_string().contains("shrank"), "{err}");
    }

    #[test]
    fn a_dropped_mapping_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, vec![1u8; FILE_COPY_MIN]).unwrap();
        let bytes = map_file(File::open(&src).unwrap()).unwrap();
        let start = bytes.as_ptr() as usize;
        drop(bytes);
        assert!(!regions().iter().any(|r| r.start == start));
    }
}
