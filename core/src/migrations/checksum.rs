//! Checksums and lock ids, byte-compatible with sqlx.

use std::collections::BTreeSet;

use sha2::{Digest, Sha384};

/// SHA-384 of a migration file's bytes: the value sqlx stores in `_sqlx_migrations.checksum`.
pub fn checksum(sql: &[u8]) -> Vec<u8> {
    Sha384::digest(sql).to_vec()
}

/// SHA-384 of a migration's text with every character in `ignored` left out: what sqlx stores
/// when `sqlx.toml` sets `[migrate] ignored-chars` (sqlx's `checksum_fragments`). With nothing
/// ignored it is [`checksum`] of the bytes.
///
/// ```
/// use std::collections::BTreeSet;
/// use pgready_core::migrations::{checksum, checksum_ignoring};
///
/// let crlf = "SELECT 1;\r\nSELECT 2;\r\n";
/// let ignored = BTreeSet::from(['\r']);
/// assert_eq!(checksum_ignoring(crlf, &ignored), checksum(b"SELECT 1;\nSELECT 2;\n"));
/// assert_eq!(checksum_ignoring(crlf, &BTreeSet::new()), checksum(crlf.as_bytes()));
/// ```
pub fn checksum_ignoring(sql: &str, ignored: &BTreeSet<char>) -> Vec<u8> {
    if ignored.is_empty() {
        return checksum(sql.as_bytes());
    }
    let mut digest = Sha384::new();
    for fragment in sql.split(|c| ignored.contains(&c)) {
        digest.update(fragment);
    }
    digest.finalize().to_vec()
}

/// The advisory lock id sqlx takes while migrating `database`: `0x3d32ad9e * crc32(name)`.
///
/// pgready takes the same lock, so a pgready service and `sqlx migrate run` never migrate the
/// same database at once.
pub fn lock_id(database: &str) -> i64 {
    const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32ad9e * i64::from(CRC_IEEE.checksum(database.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_sha384() {
        // `printf '' | sha384sum`
        let empty = checksum(b"");
        assert_eq!(empty.len(), 48);
        assert_eq!(
            empty[..8],
            [0x38, 0xb0, 0x60, 0xa7, 0x51, 0xac, 0x96, 0x38],
            "sha384 of the empty string starts 38b060a751ac9638"
        );
        assert_ne!(checksum(b"SELECT 1;"), checksum(b"SELECT 1; "));
    }

    #[test]
    fn ignored_characters_are_left_out_of_the_checksum() {
        // sqlx's own test case: a BOM, tabs and CRLF line ends
        let sql = "\u{FEFF}create table comment (\r\n\tid uuid primary key\r\n);\r\n";
        let ignored = BTreeSet::from([' ', '\t', '\r', '\n', '\u{FEFF}']);
        assert_eq!(
            checksum_ignoring(sql, &ignored),
            checksum(b"createtablecomment(iduuidprimarykey);")
        );
        assert_eq!(
            checksum_ignoring("a\r\nb", &BTreeSet::from(['\r'])),
            checksum(b"a\nb")
        );
        assert_ne!(
            checksum_ignoring("a\r\nb", &BTreeSet::from(['\r'])),
            checksum(b"a\r\nb")
        );
    }

    #[test]
    fn lock_id_matches_sqlx() {
        // crc32("postgres") = 0x156a8775 (ISO-HDLC, as zlib computes it), times sqlx's constant
        assert_eq!(lock_id("postgres"), 0x3d32ad9e_i64 * 0x156a_8775_i64);
        assert_ne!(lock_id("a"), lock_id("b"));
    }
}
