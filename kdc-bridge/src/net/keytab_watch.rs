//! Noticing that the keytab file changed.
//!
//! Operators replace keytabs in place or by rename (`ktutil`, `samba-tool exportkeytab`, config
//! management). We compare the file's identity and size and modification time on each poll; when
//! they change, the file is read and parsed. A file that does not parse (caught mid-write, say)
//! is reported and retried on the next poll while the old keys stay in use.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::proto::keytab::{Keytab, KeytabError};

/// What identifies one version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let m = std::fs::metadata(path)?;
        Ok(Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// Why a changed keytab could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The file could not be read.
    #[error("cannot read keytab {path}: {source}")]
    Io {
        /// The keytab path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file changed but does not parse.
    #[error("keytab {path} changed but cannot be used: {source}")]
    Parse {
        /// The keytab path.
        path: PathBuf,
        /// The parse error.
        source: KeytabError,
    },
}

/// Polls one keytab file.
#[derive(Debug)]
pub struct KeytabWatcher {
    path: PathBuf,
    loaded: Option<FileStamp>,
    reported: Option<FileStamp>,
}

impl KeytabWatcher {
    /// Watches `path`, treating its current version as already loaded.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            loaded: FileStamp::of(path).ok(),
            reported: None,
        }
    }

    /// The path watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the file. `Ok(Some(keytab))` when it changed and parsed; `Ok(None)` when it did
    /// not change, or when it is still broken in the way already reported.
    pub fn poll(&mut self) -> Result<Option<Keytab>, WatchError> {
        let io = |source| WatchError::Io {
            path: self.path.clone(),
            source,
        };
        let stamp = match FileStamp::of(&self.path) {
            Ok(s) => s,
            // A rename-based replacement can leave a moment with no file: try again later.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        if Some(stamp) == self.loaded || Some(stamp) == self.reported {
            return Ok(None);
        }
        let bytes = std::fs::read(&self.path).map_err(io)?;
        match Keytab::extract(&bytes) {
            Ok(kt) => {
                self.loaded = Some(stamp);
                self.reported = None;
                Ok(Some(kt))
            }
            Err(source) => {
                self.reported = Some(stamp);
                Err(WatchError::Parse {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::crypto::{Enctype, Key};
    use crate::proto::keytab::KeytabEntry;
    use crate::proto::principal::Principal;

    fn keytab(kvno: u32) -> Vec<u8> {
        let p = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
        let key = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[kvno as u8; 32]).unwrap();
        Keytab {
            entries: vec![KeytabEntry::new(p, kvno, key, 0)],
        }
        .build()
    }

    #[test]
    fn reports_changes_once_and_survives_broken_files() {
        let dir = std::env::temp_dir().join(format!("iwagw-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("http.keytab");
        std::fs::write(&path, keytab(2)).unwrap();
        let mut w = KeytabWatcher::new(&path);
        assert!(w.poll().unwrap().is_none());

        // Replace by rename, as config management does.
        let tmp = dir.join("http.keytab.new");
        std::fs::write(&tmp, keytab(3)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let kt = w.poll().unwrap().unwrap();
        assert_eq!(kt.entries[0].kvno, 3);
        assert!(w.poll().unwrap().is_none());

        // A half-written file is reported once, then fixed.
        std::fs::write(&tmp, &keytab(4)[..20]).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(matches!(w.poll(), Err(WatchError::Parse { .. })));
        assert!(w.poll().unwrap().is_none());
        std::fs::write(&tmp, keytab(4)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(w.poll().unwrap().unwrap().entries[0].kvno, 4);

        // Gone for a moment: nothing to do.
        std::fs::remove_file(&path).unwrap();
        assert!(w.poll().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
