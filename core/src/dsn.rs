//! Inspecting PostgreSQL connection strings (DSNs) without ever leaking their password.
//!
//! Both libpq forms are understood: the URL form (`postgres://user:pass@host/db?sslmode=require`,
//! also `postgresql://`) and the key/value form (`host=db password='s3 cret' sslmode=require`).
//! These are pure string functions: the runtime calls them on the DSN read from the environment,
//! and the configuration check calls them on every string in `pgready.toml`.
//!
//! Redaction errs on the side of hiding too much: a malformed DSN is redacted from the first
//! place a password could start, because a garbled error message is cheaper than a leaked secret.

use std::ops::Range;

/// What a redacted password is replaced with.
const MASK: &str = "***";

/// `sslmode` values that refuse a plaintext connection.
const TLS_MODES: [&str; 3] = ["require", "verify-ca", "verify-full"];

/// Returns `dsn` with every password replaced by `***`.
///
/// Covers the URL userinfo (`postgres://user:pass@host`), a `password` query parameter and a
/// `password` key in the key/value form. Anything else is returned unchanged.
///
/// ```
/// use pgready_core::dsn::redact;
/// assert_eq!(redact("postgres://app:hunter2@db/app"), "postgres://app:***@db/app");
/// assert_eq!(redact("host=db password=hunter2"), "host=db password=***");
/// ```
pub fn redact(dsn: &str) -> String {
    let mut out = String::with_capacity(dsn.len());
    let mut last = 0;
    for secret in secrets(dsn) {
        out.push_str(&dsn[last..secret.range.start]);
        out.push_str(MASK);
        last = secret.range.end;
    }
    out.push_str(&dsn[last..]);
    out
}

/// Returns `text` (typically an error message from a driver) with the password of `dsn` removed
/// wherever it occurs, raw or decoded, plus the password of any other URL-form DSN in `text`.
///
/// ```
/// use pgready_core::dsn::redact_in;
/// let dsn = "postgres://app:p%40ss@db/app";
/// assert_eq!(
///     redact_in("password authentication failed (tried `p@ss`)", dsn),
///     "password authentication failed (tried `***`)",
/// );
/// ```
pub fn redact_in(text: &str, dsn: &str) -> String {
    let mut out = text.to_owned();
    let redacted = redact(dsn);
    if !dsn.is_empty() && redacted != dsn {
        out = out.replace(dsn, &redacted);
    }
    let mut passwords: Vec<String> = Vec::new();
    for secret in secrets(dsn) {
        let raw = &dsn[secret.range.clone()];
        passwords.push(raw.to_owned());
        passwords.push(secret.decoded(raw));
    }
    passwords.retain(|p| !p.is_empty());
    // longest first, so a password that contains another form of itself is removed whole
    passwords.sort_by_key(|p| std::cmp::Reverse(p.len()));
    passwords.dedup();
    for password in &passwords {
        out = out.replace(password.as_str(), MASK);
    }
    redact_urls_in(&out)
}

/// Whether `dsn` carries a non-empty password in any of the forms [`redact`] removes.
///
/// ```
/// use pgready_core::dsn::has_password;
/// assert!(has_password("postgresql://app:hunter2@db/app"));
/// assert!(!has_password("postgresql://app@db/app"));
/// ```
pub fn has_password(dsn: &str) -> bool {
    secrets(dsn)
        .iter()
        .any(|s| !s.decoded(&dsn[s.range.clone()]).is_empty())
}

/// The password `dsn` carries (decoded), for handing to a PostgreSQL client tool through its
/// environment (`PGPASSWORD`), never through its command line. The last one wins, as in libpq.
///
/// ```
/// use pgready_core::dsn::password;
/// assert_eq!(password("postgres://app:p%40ss@db/app").as_deref(), Some("p@ss"));
/// assert_eq!(password("host=db password='s3 cret'").as_deref(), Some("s3 cret"));
/// assert_eq!(password("postgres://app@db/app"), None);
/// ```
pub fn password(dsn: &str) -> Option<String> {
    secrets(dsn)
        .iter()
        .map(|s| s.decoded(&dsn[s.range.clone()]))
        .rfind(|p| !p.is_empty())
}

/// Whether `value` looks like a connection string rather than, say, an environment variable name.
///
/// True for anything with a URL scheme (`://`), a libpq `host=` key or a password.
pub fn looks_like_dsn(value: &str) -> bool {
    value.contains("://") || value.contains("host=") || has_password(value)
}

/// The `sslmode` the DSN asks for, if it names one (`sslmode`, or sqlx's `ssl-mode`, in the
/// URL query; `sslmode` in the key/value form). The last occurrence wins, as in libpq.
///
/// ```
/// use pgready_core::dsn::sslmode;
/// assert_eq!(sslmode("postgres://db/app?sslmode=verify-full").as_deref(), Some("verify-full"));
/// assert_eq!(sslmode("host=db sslmode=require").as_deref(), Some("require"));
/// assert_eq!(sslmode("postgres://db/app"), None);
/// ```
pub fn sslmode(dsn: &str) -> Option<String> {
    param(dsn, &["sslmode", "ssl-mode"])
}

/// The CA file the DSN names for verifying the server (`sslrootcert`, or sqlx's
/// `ssl-root-cert`/`ssl-ca`), decoded. The last occurrence wins.
///
/// ```
/// use pgready_core::dsn::sslrootcert;
/// let dsn = "postgres://db/app?sslmode=verify-full&sslrootcert=/etc/ssl/ca%20db.pem";
/// assert_eq!(sslrootcert(dsn).as_deref(), Some("/etc/ssl/ca db.pem"));
/// assert_eq!(sslrootcert("host=db sslrootcert=ca.pem").as_deref(), Some("ca.pem"));
/// assert_eq!(sslrootcert("postgres://db/app"), None);
/// ```
pub fn sslrootcert(dsn: &str) -> Option<String> {
    param(dsn, &["sslrootcert", "ssl-root-cert", "ssl-ca"])
}

/// The last value of any of `keys` (case-insensitive) in the DSN's parameters.
fn param(dsn: &str, keys: &[&str]) -> Option<String> {
    let params = if let Some(url) = Url::split(dsn) {
        url.query_params(dsn)
    } else {
        key_values(dsn).params
    };
    params
        .into_iter()
        .filter(|p| keys.iter().any(|k| p.key.eq_ignore_ascii_case(k)))
        .map(|p| p.value)
        .next_back()
}

/// With `require_tls`, refuses a DSN whose `sslmode` is not `require`, `verify-ca` or
/// `verify-full`. The error says what to add and never contains the password.
///
/// ```
/// use pgready_core::dsn::check_tls;
/// assert!(check_tls("postgres://db/app?sslmode=require", true).is_ok());
/// assert!(check_tls("postgres://db/app", true).is_err());
/// assert!(check_tls("postgres://db/app", false).is_ok());
/// ```
pub fn check_tls(dsn: &str, require_tls: bool) -> Result<(), String> {
    if !require_tls {
        return Ok(());
    }
    match sslmode(dsn) {
        Some(mode) if TLS_MODES.iter().any(|m| m.eq_ignore_ascii_case(&mode)) => Ok(()),
        Some(mode) => {
            // only echo a value that is plainly an sslmode word: anything else could be a secret
            let shown = if !mode.is_empty()
                && mode.len() <= 16
                && mode.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
                && redact_in(&mode, dsn) == mode
            {
                format!("`sslmode={mode}`")
            } else {
                "an `sslmode` that does not require TLS".to_owned()
            };
            Err(format!(
                "`require_tls = true` but the DSN has {shown}: add `sslmode=require` \
                 (or `verify-ca`/`verify-full`) to the DSN"
            ))
        }
        None => Err(
            "`require_tls = true` but the DSN sets no `sslmode` (libpq then falls back \
             to a plaintext connection): add `sslmode=require` (or `verify-ca`/`verify-full`) \
             to the DSN"
                .to_owned(),
        ),
    }
}

/// Where a password sits in a DSN, and how its raw text is encoded.
struct Secret {
    range: Range<usize>,
    encoding: Encoding,
}

#[derive(Clone, Copy)]
enum Encoding {
    /// URL userinfo or query value: `%XX` escapes
    Percent,
    /// key/value form: optional single quotes, backslash escapes
    Conninfo,
}

impl Secret {
    fn decoded(&self, raw: &str) -> String {
        match self.encoding {
            Encoding::Percent => percent_decode(raw),
            Encoding::Conninfo => unquote(raw),
        }
    }
}

/// Byte ranges of every password in `dsn`, in order, not overlapping.
fn secrets(dsn: &str) -> Vec<Secret> {
    let mut found = if let Some(url) = Url::split(dsn) {
        url.secrets(dsn)
    } else {
        key_values(dsn).secrets
    };
    // an empty password hides nothing: leave `user:@host` as written
    found.retain(|s| !s.range.is_empty());
    found.sort_by_key(|s| s.range.start);
    let mut merged: Vec<Secret> = Vec::with_capacity(found.len());
    for secret in found {
        match merged.last_mut() {
            Some(prev) if secret.range.start < prev.range.end => {
                prev.range.end = prev.range.end.max(secret.range.end);
            }
            _ => merged.push(secret),
        }
    }
    merged
}

/// The parts of a URL-form DSN that matter here, as byte offsets into the DSN.
struct Url {
    /// start of the authority (just after `://`)
    authority: usize,
    /// the userinfo's closing `@`, when there is a userinfo
    at: Option<usize>,
}

impl Url {
    fn split(dsn: &str) -> Option<Url> {
        let sep = dsn.find("://")?;
        let scheme = dsn[..sep].trim_start();
        let mut chars = scheme.chars();
        let first_is_alpha = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_is_alpha || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return None;
        }
        let authority = sep + 3;
        let rest = &dsn[authority..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        // an unencoded `/`, `?` or `#` in the password ends the authority early (and an `@`
        // before it ends the userinfo early): when the userinfo looks like `user:pa…`, it runs
        // to the last `@` of the whole DSN (`postgres://u:pa@h/ss@db/app`), hiding too much
        // rather than the password's tail
        let at = match rest[..end].rfind('@') {
            Some(at) if rest[..at].contains(':') && rest[end..].contains('@') => {
                rest[end..].rfind('@').map(|last| end + last)
            }
            Some(at) => Some(at),
            None if rest[..end].contains(':') => rest[end..].rfind('@').map(|at| end + at),
            None => None,
        };
        Some(Url {
            authority,
            at: at.map(|at| authority + at),
        })
    }

    /// Where the query (after `?`) starts and ends.
    fn query(&self, dsn: &str) -> Option<Range<usize>> {
        let from = self.at.map_or(self.authority, |at| at + 1);
        let start = from + dsn[from..].find('?')? + 1;
        let end = dsn[start..].find('#').map_or(dsn.len(), |e| start + e);
        Some(start..end)
    }

    fn query_pairs(&self, dsn: &str) -> Vec<(Range<usize>, Range<usize>)> {
        let Some(query) = self.query(dsn) else {
            return Vec::new();
        };
        let mut pairs = Vec::new();
        let mut start = query.start;
        while start <= query.end {
            let end = dsn[start..query.end]
                .find('&')
                .map_or(query.end, |e| start + e);
            let pair = &dsn[start..end];
            if let Some(eq) = pair.find('=') {
                pairs.push((start..start + eq, start + eq + 1..end));
            }
            start = end + 1;
        }
        pairs
    }

    fn query_params(&self, dsn: &str) -> Vec<Param> {
        self.query_pairs(dsn)
            .into_iter()
            .map(|(k, v)| Param {
                key: percent_decode(&dsn[k]),
                value: percent_decode(&dsn[v]),
            })
            .collect()
    }

    fn secrets(&self, dsn: &str) -> Vec<Secret> {
        let mut found = Vec::new();
        if let Some(at) = self.at {
            let userinfo = &dsn[self.authority..at];
            if let Some(colon) = userinfo.find(':') {
                found.push(Secret {
                    range: self.authority + colon + 1..at,
                    encoding: Encoding::Percent,
                });
            }
        }
        // and every `?password=`/`&password=` after the scheme, however the userinfo was read:
        // when it was stretched to a last `@` inside a query password, that password's tail is
        // only found so (overlapping ranges are merged by `secrets`)
        let lower = dsn.to_ascii_lowercase();
        for (pos, _) in lower.match_indices("password=") {
            if pos > self.authority && matches!(dsn.as_bytes()[pos - 1], b'?' | b'&') {
                let start = pos + "password=".len();
                let end = dsn[start..].find('&').map_or(dsn.len(), |e| start + e);
                found.push(Secret {
                    range: start..end,
                    encoding: Encoding::Percent,
                });
            }
        }
        for (key, value) in self.query_pairs(dsn) {
            if percent_decode(&dsn[key]).eq_ignore_ascii_case("password") {
                // an unencoded `#` in the last value starts a fragment: the password may run on
                // into it (`?password=ab#cd`), so everything after it is hidden too
                let end = if value.end < dsn.len() && dsn[value.end..].starts_with('#') {
                    dsn.len()
                } else {
                    value.end
                };
                found.push(Secret {
                    range: value.start..end,
                    encoding: Encoding::Percent,
                });
            }
        }
        found
    }
}

/// One `key=value` setting, decoded.
struct Param {
    key: String,
    value: String,
}

/// The outcome of reading a key/value DSN.
struct KeyValues {
    params: Vec<Param>,
    secrets: Vec<Secret>,
}

/// Reads the libpq key/value form (`key = value`, values optionally single-quoted with `\`
/// escapes). On malformed input, everything from a `password` word onwards counts as secret.
fn key_values(dsn: &str) -> KeyValues {
    let bytes = dsn.as_bytes();
    let mut params = Vec::new();
    let mut secrets = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= bytes.len() {
            break;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let key = &dsn[key_start..i];
        i = skip_ws(i);
        if i >= bytes.len() || bytes[i] != b'=' {
            // not key/value after all: fall back to a loose scan of the remainder
            secrets.extend(loose_passwords(dsn, key_start));
            break;
        }
        i = skip_ws(i + 1);
        let value_start = i;
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = i.min(bytes.len());
        }
        // an escape may have stepped into a multi-byte character: move to its end
        while !dsn.is_char_boundary(i) {
            i += 1;
        }
        let raw = &dsn[value_start..i];
        if key.eq_ignore_ascii_case("password") {
            secrets.push(Secret {
                range: value_start..i,
                encoding: Encoding::Conninfo,
            });
        }
        params.push(Param {
            key: key.to_owned(),
            value: unquote(raw),
        });
    }
    KeyValues { params, secrets }
}

/// Every `password = value` in `text[from..]`, by a forgiving scan: the value runs to the next
/// whitespace (or the closing quote), or to the end when a quote never closes.
fn loose_passwords(text: &str, from: usize) -> Vec<Secret> {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut search = from;
    while let Some(pos) = lower[search..].find("password") {
        let mut i = search + pos + "password".len();
        search = i;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let end = if bytes.get(i) == Some(&b'\'') {
            text[i + 1..]
                .find('\'')
                .map_or(text.len(), |e| i + 1 + e + 1)
        } else {
            text[i..]
                .find(|c: char| c.is_ascii_whitespace())
                .map_or(text.len(), |e| i + e)
        };
        if end > start {
            found.push(Secret {
                range: start..end,
                encoding: Encoding::Conninfo,
            });
        }
        search = end.max(search);
    }
    found
}

/// Redacts the password of every URL-form DSN embedded in `text`.
fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        // the DSN token starts after the last delimiter before `://` and ends at the next one;
        // `,`, `[` and `]` do not end it: a multi-host DSN (`postgres://u:p@h1,h2/db`) and an
        // IPv6 host (`postgres://u@[::1]/db?password=p`) hold them (a bracket of the prose
        // around the DSN is then masked with the password, which hides too much, never too little)
        let is_delim = |c: char| c.is_whitespace() || "\"'`<>()[]{},;".contains(c);
        let ends = |c: char| c.is_whitespace() || "\"'`<>(){};".contains(c);
        let start = rest[..pos]
            .char_indices()
            .rfind(|&(_, c)| is_delim(c))
            .map_or(0, |(d, c)| d + c.len_utf8());
        let end = rest[pos..].find(ends).map_or(rest.len(), |e| pos + e);
        out.push_str(&rest[..start]);
        out.push_str(&redact(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Decodes `%XX` escapes; keeps the raw text when the result is not UTF-8.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = raw.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

/// A key/value-form value without its single quotes and backslash escapes.
fn unquote(raw: &str) -> String {
    let inner = raw
        .strip_prefix('\'')
        .map(|r| r.strip_suffix('\'').unwrap_or(r))
        .unwrap_or(raw);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The same DSN pointing at another database on the same server (URL or key=value form).
///
/// ```
/// use pgready_core::dsn::with_database;
/// assert_eq!(
///     with_database("postgres://u:p@h:5432/app?sslmode=require", "app_test"),
///     "postgres://u:p@h:5432/app_test?sslmode=require"
/// );
/// assert_eq!(with_database("host=h dbname=app", "t"), "host=h dbname=t");
/// ```
pub fn with_database(dsn: &str, database: &str) -> String {
    if let Some(url) = Url::split(dsn) {
        // the host starts after the userinfo as `redact` reads it: an unencoded `/` or `?` in
        // the password must not be taken for the start of the path
        let host = url.at.map_or(url.authority, |at| at + 1);
        let authority_end = dsn[host..].find(['/', '?']).map_or(dsn.len(), |e| host + e);
        let (head, tail) = dsn.split_at(authority_end);
        let query = tail.find('?').map_or("", |q| &tail[q..]);
        return format!("{head}/{database}{query}");
    }
    let mut replaced = false;
    let mut parts: Vec<String> = dsn
        .split_whitespace()
        .map(|part| match part.split_once('=') {
            Some(("dbname", _)) => {
                replaced = true;
                format!("dbname={database}")
            }
            _ => part.to_owned(),
        })
        .collect();
    if !replaced {
        parts.push(format!("dbname={database}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {

    #[test]
    fn with_database_keeps_everything_but_the_database() {
        assert_eq!(with_database("postgres://h", "t"), "postgres://h/t");
        assert_eq!(
            with_database("postgresql://u@h/app", "t"),
            "postgresql://u@h/t"
        );
        assert_eq!(
            with_database("postgres://u:p@h/app?a=1&b=2", "t"),
            "postgres://u:p@h/t?a=1&b=2"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=disable", "t"),
            "postgres://h/t?sslmode=disable"
        );
        assert_eq!(
            with_database("host=h user=u", "t"),
            "host=h user=u dbname=t"
        );
    }
    use super::*;

    #[test]
    fn redacts_url_password() {
        assert_eq!(
            redact("postgres://app:hunter2@db.internal:5432/app"),
            "postgres://app:***@db.internal:5432/app"
        );
        assert_eq!(
            redact("postgresql://app:hunter2@db/app?sslmode=require"),
            "postgresql://app:***@db/app?sslmode=require"
        );
    }

    #[test]
    fn leaves_dsn_without_password_alone() {
        for dsn in [
            "postgres://app@db/app",
            "postgres://db/app?sslmode=require",
            "postgres:///app?host=/var/run/postgresql",
            "host=db user=app dbname=app",
            "postgres://app:@db/app",
            "DATABASE_URL",
            "",
        ] {
            assert_eq!(redact(dsn), dsn);
            assert!(!has_password(dsn), "{dsn}");
        }
    }

    #[test]
    fn redacts_weird_url_passwords() {
        let cases = [
            ("postgres://app:p@ss@db/app", "postgres://app:***@db/app"),
            ("postgres://app:p:a:ss@db/app", "postgres://app:***@db/app"),
            (
                "postgres://app:p%40s%3As@db/app",
                "postgres://app:***@db/app",
            ),
            ("postgres://app:pa/ss@db/app", "postgres://app:***@db/app"),
            ("postgres://app:pa?ss#x@db/app", "postgres://app:***@db/app"),
            ("postgres://app:ünï©ødé@db/app", "postgres://app:***@db/app"),
        ];
        for (dsn, want) in cases {
            assert_eq!(redact(dsn), want, "{dsn}");
            assert!(has_password(dsn), "{dsn}");
        }
    }

    #[test]
    fn redacts_password_query_parameter() {
        assert_eq!(
            redact("postgres://db/app?user=app&password=hunter2&sslmode=require"),
            "postgres://db/app?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://u:a@db/app?PASSWORD=b#frag"),
            // a `#` after a password may be part of it, unencoded: hidden with it
            "postgres://u:***@db/app?PASSWORD=***"
        );
        assert_eq!(
            redact("postgres://u@db/app?password=ab#cd&sslmode=require"),
            "postgres://u@db/app?password=***"
        );
        assert!(has_password("postgres://db/app?password=x"));
    }

    /// Leaks the fuzz suite (`core/tests/fuzz.rs`, `redaction_never_shows_the_password`) found,
    /// shrunk: each showed part of the password.
    #[test]
    fn redacts_what_the_fuzzer_found() {
        // a multi-host or IPv6 URL inside a driver message: `,`, `[` and `]` ended the token
        for dsn in [
            "postgres://a@h1,h2:5433/?password=PwAZqB",
            "postgres://a@[::1]/?password=PwAZqB",
        ] {
            let text = redact_in(&format!("bad url: {dsn}"), "");
            assert!(!text.contains("PwA") && !text.contains("ZqB"), "{text}");
        }
        // an unencoded `@` then `/` or `?` in the password: the userinfo ended at the first `@`
        for dsn in [
            "postgres://a:PwA@h/ZqB@db/?",
            "postgres://a:PwA@h/ZqB@db/?password=PwA@h/ZqB",
            "postgres://a:PwA@?ZqB@db/?password=PwA@?ZqB",
        ] {
            let text = redact(dsn);
            assert!(!text.contains("PwA") && !text.contains("ZqB"), "{text}");
        }
        // `with_database` took the `/` of such a password for the start of the path
        let moved = with_database("postgres://a:PwA/ZqB@db/?", "other");
        assert_eq!(moved, "postgres://a:PwA/ZqB@db/other?");
        assert_eq!(redact(&moved), "postgres://a:***@db/other?");
    }

    #[test]
    fn redacts_key_value_password() {
        assert_eq!(
            redact("host=db password=hunter2 dbname=app"),
            "host=db password=*** dbname=app"
        );
        assert_eq!(
            redact("host=db password = 'it\\'s a s3cret' dbname=app"),
            "host=db password = *** dbname=app"
        );
        assert_eq!(redact("password=a\\ b host=db"), "password=*** host=db");
        assert!(has_password("host=db PASSWORD=x"));
        assert!(!has_password("host=db password=''"));
    }

    #[test]
    fn redacts_malformed_key_value_from_the_password_on() {
        let out = redact("host=db oops password=hunter2 more");
        assert!(!out.contains("hunter2"), "{out}");
        let out = redact("host=db password='never closed hunter2");
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn redact_in_removes_raw_and_decoded_password() {
        let dsn = "postgres://app:p%40ss%2Fw0rd@db/app";
        let text = format!("error connecting to {dsn}: password `p@ss/w0rd` rejected");
        let out = redact_in(&text, dsn);
        assert!(!out.contains("p@ss/w0rd"), "{out}");
        assert!(!out.contains("p%40ss%2Fw0rd"), "{out}");
        assert!(out.contains("postgres://app:***@db/app"), "{out}");
    }

    #[test]
    fn redact_in_handles_key_value_dsn() {
        let dsn = "host=db password='it\\'s secret'";
        let out = redact_in("auth failed for it's secret", dsn);
        assert_eq!(out, "auth failed for ***");
    }

    #[test]
    fn redact_in_removes_other_urls_passwords() {
        let out = redact_in(
            "connect to postgres://x:other@h/db failed",
            "postgres://h/db",
        );
        assert_eq!(out, "connect to postgres://x:***@h/db failed");
    }

    #[test]
    fn redact_in_survives_unicode_delimiters() {
        let out = redact_in("échec\u{3000}postgres://x:other@h/db\u{3000}fin", "");
        assert_eq!(out, "échec\u{3000}postgres://x:***@h/db\u{3000}fin");
    }

    #[test]
    fn sslmode_from_both_forms() {
        assert_eq!(
            sslmode("postgres://db/app?sslmode=require").as_deref(),
            Some("require")
        );
        assert_eq!(
            sslmode("postgres://db/app?ssl-mode=verify-ca").as_deref(),
            Some("verify-ca")
        );
        assert_eq!(
            sslmode("postgres://db/app?sslmode=disable&sslmode=verify-full").as_deref(),
            Some("verify-full")
        );
        assert_eq!(
            sslmode("host=db sslmode='require'").as_deref(),
            Some("require")
        );
        assert_eq!(sslmode("host=db"), None);
        assert_eq!(sslmode("postgres://u:sslmode=require@db/app"), None);
    }

    #[test]
    fn check_tls_accepts_tls_modes_only() {
        for ok in ["require", "verify-ca", "verify-full", "REQUIRE"] {
            assert!(check_tls(&format!("postgres://db/app?sslmode={ok}"), true).is_ok());
        }
        let err = check_tls("postgres://db/app?sslmode=prefer", true).unwrap_err();
        assert!(err.contains("`sslmode=prefer`"), "{err}");
        assert!(err.contains("add `sslmode=require`"), "{err}");
        assert!(check_tls("postgres://db/app?sslmode=prefer", false).is_ok());
    }

    #[test]
    fn check_tls_error_never_contains_password() {
        let dsn = "postgres://app:hunter2@db/app";
        let err = check_tls(dsn, true).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("add `sslmode=require`"), "{err}");
        let dsn = "postgres://app:hunter2@db/app?sslmode=hunter2";
        let err = check_tls(dsn, true).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn looks_like_dsn_detects_both_forms() {
        assert!(looks_like_dsn("postgres://db/app"));
        assert!(looks_like_dsn("host=db dbname=app"));
        assert!(looks_like_dsn("password=x"));
        assert!(!looks_like_dsn("DATABASE_URL"));
    }
}
