//! Originals beside the store: one file per content under `<store>.blobs/`,
//! named by its SHA-256 and deflated, written by the sync worker that
//! received it. The store's single writer thread then records only a small
//! `blobs` row (codec `beside`, the size) instead of copying every mail's
//! bytes through the WAL and again into the database: on a first sync those
//! copies were most of the writer's work. The file is written before the row
//! that names it is committed, so a row never names a file that is not there.

use crate::model::Packed;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// What a blob file starts with: format, codec and the original's size.
const MAGIC: &str = "pult-blob 1 deflate ";

/// Where the originals of the store at `store` live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobDir {
    root: PathBuf,
    /// The store file's read and write bits: a team store's group reads its originals too.
    file_mode: u32,
}

impl BlobDir {
    /// The directory beside the store file (`pult.db` → `pult.db.blobs/`).
    pub fn beside(store: &Path) -> BlobDir {
        let mut root = store.as_os_str().to_owned();
        root.push(".blobs");
        let file_mode = std::fs::metadata(store).map(|m| m.permissions().mode() & 0o660).unwrap_or(0o600) | 0o600;
        BlobDir { root: PathBuf::from(root), file_mode }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Writes `p` once: aside, then renamed into place.
    pub fn put(&self, p: &Packed) -> std::io::Result<()> {
        let path = self.path_of(&p.sha256).ok_or_else(|| std::io::Error::other("not a SHA-256"))?;
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root);
        // rwx for whoever may read or write the store.
        let dir_mode = self.file_mode | ((self.file_mode & 0o440) >> 2) | 0o700;
        std::fs::DirBuilder::new().recursive(true).mode(dir_mode).create(dir)?;
        let aside = dir.join(format!(".{}.{}.part", p.sha256, std::process::id()));
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(self.file_mode).open(&aside)?;
        let written = f
            .write_all(format!("{MAGIC}{}\n", p.size).as_bytes())
            .and_then(|()| f.write_all(&p.deflated))
            .and_then(|()| std::fs::rename(&aside, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&aside);
        }
        written
    }

    /// Deletes the file of `sha256` (nothing names it any more); one already gone is fine.
    pub fn remove(&self, sha256: &str) -> std::io::Result<()> {
        let Some(path) = self.path_of(sha256) else { return Ok(()) };
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The bytes named `sha256`, checked against it; `None` when there is no such file.
    pub fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path_of(sha256) else { return Ok(None) };
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let bad =
            || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a pult blob", path.display()));
        let newline = data.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let header = std::str::from_utf8(&data[..newline]).map_err(|_| bad())?;
        let size: usize = header.strip_prefix(MAGIC).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let mut out = Vec::with_capacity(size);
        flate2::read::DeflateDecoder::new(&data[newline + 1..]).read_to_end(&mut out)?;
        if super::audit_chain::sha256_hex(&out) != sha256 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: does not hash to its name", path.display()),
            ));
        }
        Ok(Some(out))
    }
}

/// Writes the original a worker packed into `dir` and marks it kept there,
/// so the store records only its name. Left as it was (the store keeps the
/// bytes itself) when the file cannot be written.
pub fn keep(dir: &BlobDir, m: &mut crate::model::Inbound) {
    let Some(raw) = m.raw.as_mut() else { return };
    let raw = std::sync::Arc::make_mut(raw);
    let Some(p) = raw.packed.as_mut().filter(|p| !p.beside) else { return };
    match dir.put(p) {
        Ok(()) => {
            p.beside = true;
            p.deflated = Vec::new();
            raw.bytes = Vec::new();
        }
        Err(e) => tracing::warn!("original {} not kept beside the store ({}): {e}", p.sha256, dir.root.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_comes_back_as_it_went_and_a_changed_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("pult.db");
        std::fs::write(&store, b"").unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
        let dir = BlobDir::beside(&store);
        let p = Packed::of(b"From: a@b\r\n\r\nhi").unwrap();
        dir.put(&p).unwrap();
        dir.put(&p).unwrap();
        assert_eq!(dir.get(&p.sha256).unwrap().as_deref(), Some(&b"From: a@b\r\n\r\nhi"[..]));
        let file = dir.path_of(&p.sha256).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(dir.get(&"0".repeat(64)).unwrap(), None);
        assert_eq!(dir.get("../../etc/passwd").unwrap(), None, "only a SHA-256 names a file");
        let other = Packed::of(b"something else").unwrap();
        std::fs::write(&file, [format!("{MAGIC}14\n").as_bytes(), &other.deflated].concat()).unwrap();
        assert!(dir.get(&p.sha256).is_err());
    }
}
