//! Random hex strings for passwords and directory names, from the kernel's CSPRNG.

use std::fmt::Write as _;
use std::io::Read as _;

use super::EmbeddedError;

/// `bytes` random bytes as lowercase hex (`2 * bytes` characters).
pub(crate) fn hex(bytes: usize) -> Result<String, EmbeddedError> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut buf))
        .map_err(|e| EmbeddedError::io("read", "/dev/urandom", e))?;
    Ok(buf
        .iter()
        .fold(String::with_capacity(2 * bytes), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_random_and_sized() {
        let a = super::hex(16).unwrap();
        let b = super::hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
