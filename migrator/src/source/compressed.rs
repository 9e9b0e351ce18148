//! Checking a gzip file whole, before what was read from it is trusted.
//!
//! A damaged byte inside a gzip file decompresses into garbage (which a reader sees as documents
//! malformed inside, or as bad frames) well before the decoder notices: the deflate data may
//! stay decodable, and the CRC-32 and size at the end of the stream catch the rest only once it
//! is read to its end. So before a document of a compressed file becomes a dead letter, or a
//! frame error of one stops the run, the file is decompressed again to its end here: a damaged
//! stream is then reported as such ([`SourceError::CorruptStream`], with the byte of the
//! compressed file where the decoder stopped), and the batch that held the garbage is not
//! committed.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

use super::SourceError;

/// How a gzip file is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    /// Bytes of the compressed file the decoder had consumed when it stopped.
    pub offset: u64,
    pub reason: String,
    /// The file ends early (what came before decodes and checks out as far as it goes); else
    /// its contents are wrong.
    pub truncated: bool,
}

impl Damage {
    pub(crate) fn into_error(self, file: &Path) -> SourceError {
        SourceError::CorruptStream {
            file: file.to_path_buf(),
            offset: self.offset,
            reason: self.reason,
        }
    }
}

/// Decompresses the gzip file at `path` (every member) to its end, checking its deflate data
/// and each member's CRC-32 and size. `Ok(Err(damage))`: the file is damaged.
pub(crate) fn check_gzip(path: &Path) -> Result<Result<(), Damage>, SourceError> {
    let file = File::open(path).map_err(|e| SourceError::io(path, e))?;
    let counted = Counted {
        inner: file,
        read: 0,
    };
    let mut decoder =
        flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, counted));
    let mut sink = vec![0u8; 256 * 1024];
    loop {
        match decoder.read(&mut sink) {
            Ok(0) => return Ok(Ok(())),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let buffered = decoder.get_ref();
                let offset = buffered.get_ref().read - buffered.buffer().len() as u64;
                return match e.kind() {
                    ErrorKind::InvalidInput | ErrorKind::InvalidData => Ok(Err(Damage {
                        offset,
                        reason: format!("{e} (the file is damaged: restore it)"),
                        truncated: false,
                    })),
                    ErrorKind::UnexpectedEof => Ok(Err(Damage {
                        offset,
                        reason: format!("{e} (the file is truncated)"),
                        truncated: true,
                    })),
                    _ => Err(SourceError::io(path, e)),
                };
            }
        }
    }
}

/// Whether `path` is read through gzip by the file sources (by its name: `.gz`).
pub(crate) fn is_gzip_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Counts the bytes read from the file.
struct Counted {
    inner: File,
    read: u64,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(dir: &Path, name: &str, members: &[&[u8]]) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut bytes = Vec::new();
        for member in members {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(member).expect("compress");
            bytes.extend(encoder.finish().expect("gzip"));
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn a_sound_file_passes_and_damage_is_found_with_its_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let sound = gzip(dir.path(), "sound.bson.gz", &[&data, b"second member"]);
        assert_eq!(check_gzip(&sound).expect("readable"), Ok(()));

        let mut bytes = std::fs::read(&sound).expect("read");
        let len = bytes.len();
        // The stored CRC-32 of the first member's data.
        let first_len = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).expect("compress");
            e.finish().expect("gzip").len()
        };
        bytes[first_len - 8] ^= 0x01;
        let flipped = dir.path().join("flipped.bson.gz");
        std::fs::write(&flipped, &bytes).expect("write");
        let damage = check_gzip(&flipped)
            .expect("readable")
            .expect_err("a checksum that does not match");
        assert!(!damage.truncated);
        assert!(damage.offset <= first_len as u64, "{damage:?}");
        let error = damage.into_error(&flipped).to_string();
        assert!(
            error.starts_with(&format!(
                "corrupt compressed stream in {} at byte ",
                flipped.display()
            )),
            "{error}"
        );

        let cut = dir.path().join("cut.bson.gz");
        std::fs::write(&cut, &std::fs::read(&sound).expect("read")[..len / 2]).expect("write");
        let damage = check_gzip(&cut).expect("readable").expect_err("cut");
        assert!(
            damage.truncated && damage.reason.contains("truncated"),
            "{damage:?}"
        );
    }
}
