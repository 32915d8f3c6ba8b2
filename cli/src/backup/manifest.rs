//! The manifest written beside every dump (`<name>.json`), the verification record
//! `backup verify` writes beside it (`<name>.verify.json`), and the dump's checksum.
//!
//! A manifest is written once, after its dump is complete; a dump without one is unfinished or
//! not pgready's, and no command restores it.

use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::args::Format;
use crate::failure::Failure;
use crate::progress::Progress;

pub use pgready_core::backup::{
    MANIFEST_VERSION, Manifest, Scope, TableRows, Verification, Verifications,
};

/// Reads a JSON file written by this module.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("not a pgready backup record: {e}"))
}

/// Writes `value` as JSON to `path` through a temporary file and a rename, so a reader never
/// sees half a file.
pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), Failure> {
    let failed =
        |e: std::io::Error| Failure::Error(format!("cannot write `{}`: {e}", path.display()));
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Error(format!("cannot write JSON: {e}")))?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, format!("{text}\n")).map_err(failed)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(failed)?;
    std::fs::rename(&tmp, path).map_err(failed)
}

/// SHA-256 of the file at `path` (lowercase hex) and its size, with a progress bar.
pub fn sha256(path: &Path, format: Format) -> Result<(String, u64), Failure> {
    let failed =
        |e: std::io::Error| Failure::Error(format!("cannot read `{}`: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let len = file.metadata().map_err(failed)?.len();
    let progress = Progress::bytes(len, "checksum", format);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(failed)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
        progress.inc(n as u64);
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((hex, size))
}

/// Checks the dump against the manifest's checksum and size; the error says the dump is
/// damaged or changed and that nothing was restored.
pub fn check(dump: &Path, manifest: &Manifest, format: Format) -> Result<(), String> {
    let (hex, size) = sha256(dump, format).map_err(|e| match e {
        Failure::Error(m) | Failure::Usage(m) => m,
        Failure::Reported => "cannot read the dump".to_owned(),
    })?;
    if hex != manifest.sha256 || size != manifest.size {
        return Err(format!(
            "`{}` does not match its manifest (SHA-256 {}, {} bytes; the manifest records {}, \
             {} bytes): the dump is damaged or was changed, so it is not restored",
            dump.display(),
            short(&hex),
            size,
            short(&manifest.sha256),
            manifest.size
        ));
    }
    Ok(())
}

/// The first 12 hex digits, enough to tell checksums apart in a message.
pub fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_text() {
        let path = std::env::temp_dir().join(format!("pgready-sha-{}", std::process::id()));
        std::fs::write(&path, "abc").expect("write");
        let (hex, size) = sha256(&path, Format::Json).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(size, 3);
    }
}
