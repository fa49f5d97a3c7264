//! Files mapped into memory whose bytes back loaded tensors: the model file
//! itself and its external data files.
//!
//! Loading maps a file and decodes from the mapping, so a tensor's `raw_data`
//! is a slice of it and its pages are read only when something looks at them.
//! Saving asks [`write_bytes`] to write each large slice: when the slice lies
//! in a mapped file, its bytes are copied file to file by the kernel
//! (`copy_file_range`, through `std::io::copy`) and never pass through this
//! process, which is what lets a conversion cost about what a `cp` of the
//! model costs, in time and in memory.
//!
//! A mapping registers its address range while it lives and removes it before
//! it is unmapped, so an address is never taken for a file's once the mapping
//! is gone. If another process truncates an input file while it is mapped,
//! reading the lost pages raises SIGBUS: inputs must not change during a run.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Slices shorter than this are written from memory; a kernel copy has a
/// fixed cost that only pays off on larger ones.
pub const KERNEL_COPY_MIN: usize = 64 * 1024;

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

/// The mapped file `data` lies in, and its offset there.
fn locate(data: &[u8]) -> Option<(Arc<Mutex<File>>, u64)> {
    let start = data.as_ptr() as usize;
    let end = start.checked_add(data.len())?;
    regions()
        .iter()
        .find(|r| start >= r.start && end <= r.start + r.len)
        .map(|r| (r.file.clone(), (start - r.start) as u64))
}

/// Writes `data` to `out`: file to file in the kernel when `data` is a large
/// slice of a mapped file, from memory otherwise.
pub fn write_bytes(out: &mut File, data: &[u8]) -> io::Result<()> {
    if data.len() >= KERNEL_COPY_MIN
        && let Some((source, offset)) = locate(data)
    {
        let source = source.lock().unwrap_or_else(|p| p.into_inner());
        let mut reader: &File = &source;
        reader.seek(SeekFrom::Start(offset))?;
        let wanted = data.len() as u64;
        let copied = io::copy(&mut reader.take(wanted), out)?;
        if copied != wanted {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "an input file shrank while it was being converted",
            ));
        }
        return Ok(());
    }
    out.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_of_a_mapped_file_are_copied_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        let content: Vec<u8> = (0..KERNEL_COPY_MIN * 3).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &content).unwrap();
        let bytes = map_file(File::open(&src).unwrap()).unwrap();
        let slice = bytes.slice(100..100 + KERNEL_COPY_MIN * 2);
        assert!(locate(&slice).is_some_and(|(_, off)| off == 100));

        let dst = dir.path().join("dst.bin");
        let mut out = File::create(&dst).unwrap();
        out.write_all(b"head").unwrap();
        write_bytes(&mut out, &slice).unwrap();
        write_bytes(&mut out, b"tail").unwrap();
        drop(out);
        let written = std::fs::read(&dst).unwrap();
        assert_eq!(&written[..4], b"head");
        assert_eq!(
            &written[4..4 + slice.len()],
            &content[100..100 + KERNEL_COPY_MIN * 2]
        );
        assert_eq!(&written[4 + slice.len()..], b"tail");
    }

    #[test]
    fn a_dropped_mapping_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, vec![1u8; KERNEL_COPY_MIN]).unwrap();
        let bytes = map_file(File::open(&src).unwrap()).unwrap();
        let start = bytes.as_ptr() as usize;
        drop(bytes);
        assert!(!regions().iter().any(|r| r.start == start));
    }
}
