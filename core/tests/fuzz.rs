//! Fuzzed inputs on stable Rust: property-based tests (proptest) for everything in core that
//! reads text a user or a tool wrote: `pgready.toml`, migration file names, the release ledger,
//! migrations through the statement splitter, the lints and the schema replay, and DSNs through
//! redaction.
//!
//! Every property holds for any input: no panic, errors are typed and located (TOML key or
//! line, migration file and line), and no output ever carries a DSN's password. Real inputs are
//! the seeds: the README's and `pgready init`'s configurations, the fixture migration histories
//! under `tests/fixtures`, mutated byte by byte.
//!
//! `cargo test -p pgready-core --test fuzz` runs a small slice (a few seconds); millions of
//! inputs overall (README, "Fuzzing"):
//!
//! ```text
//! PROPTEST_CASES=200000 cargo test --release -p pgready-core --test fuzz
//! ```
//!
//! `PROPTEST_CASES` applies to every property; without it each property runs its own small
//! number of cases (`cases(n)` below).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pgready_core::config;
use pgready_core::dsn;
use pgready_core::lint::{LintLevel, lint_file};
use pgready_core::migrations::{
    Kind, Ledger, Resolve, from_files, looks_like_migration, parse_file_name, skip_reason,
    statements,
};
use pgready_core::schema::replay_sql;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

/// `n` cases per property, unless `PROPTEST_CASES` says otherwise (the long run).
fn cases(n: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = n;
    }
    // shrinking a failure is worth a few seconds, not minutes
    config.max_shrink_iters = 2048;
    config
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

// ---------------------------------------------------------------------------------------------
// seeds: the real inputs that get mutated

/// Every `.sql` file of the fixture histories, `(relative path, text)`.
fn fixture_sql() -> &'static [(String, String)] {
    static FILES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = workspace().join("tests/fixtures");
        let mut files = Vec::new();
        collect_sql(&root, &root, &mut files);
        files.sort();
        assert!(
            files.len() > 50,
            "fixtures not found under {}",
            root.display()
        );
        files
    })
}

fn collect_sql(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_sql(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            let text = std::fs::read_to_string(&path).unwrap();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            out.push((relative, text));
        }
    }
}

/// The migration history of `tests/fixtures/<dir>`, `(file name, text)` in version order.
fn history(dir: &str) -> Vec<(String, String)> {
    let prefix = format!("{dir}/");
    fixture_sql()
        .iter()
        .filter_map(|(path, text)| {
            let name = path.strip_prefix(&prefix)?;
            (!name.contains('/')).then(|| (name.to_owned(), text.clone()))
        })
        .collect()
}

/// The configurations a user starts from: the README's `toml` blocks, the examples' files and
/// what `pgready init` writes.
fn config_seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds = Vec::new();
        let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
        let mut block: Option<String> = None;
        for line in readme.lines() {
            let trimmed = line.trim_start();
            match &mut block {
                None if trimmed.starts_with("```toml") => block = Some(String::new()),
                Some(text) if trimmed.starts_with("```") => {
                    seeds.push(std::mem::take(text));
                    block = None;
                }
                Some(text) => {
                    text.push_str(trimmed);
                    text.push('\n');
                }
                None => {}
            }
        }
        for file in ["examples/pgready.toml", "examples/slow_requests.toml"] {
            seeds.push(std::fs::read_to_string(workspace().join(file)).unwrap());
        }
        // `pgready init` on a crate with a `sqlx.toml` (cli/src/init.rs, `config_text`)
        seeds.push(
            "# pgready: every key has a production default; see the README's configuration \
             reference.\n# Written by `pgready init`.\n\n[migrations]\ndir = \"migrations\"\n\
             table = \"ops._sqlx_migrations\"  # from sqlx.toml\n\
             create_schemas = [\"ops\"]  # from sqlx.toml: created before the migrations table\n\
             ignored_chars = [\"\\r\", \" \"]  # from sqlx.toml: checksums as sqlx computes them\n\
             # the migrations released before pgready: verified against it, never linted again\n\
             ledger = \"migrations.lock\"\n"
                .to_owned(),
        );
        assert!(
            seeds.len() >= 6,
            "too few configuration seeds: {}",
            seeds.len()
        );
        seeds
    })
}

// ---------------------------------------------------------------------------------------------
// mutations

/// One edit of a text, at a position given as a fraction of its length.
#[derive(Clone, Debug)]
enum Mutation {
    Delete {
        at: f64,
        len: usize,
    },
    Insert {
        at: f64,
        bytes: Vec<u8>,
    },
    Truncate {
        at: f64,
    },
    /// swap two lines (statements are mostly one or a few lines)
    SwapLines {
        a: f64,
        b: f64,
    },
    /// duplicate a line somewhere else
    DuplicateLine {
        from: f64,
        to: f64,
    },
}

/// The characters that change how SQL and TOML are read.
const SPECIAL: &[&str] = &[
    "'",
    "\"",
    "$$",
    "$x$",
    "$",
    "--",
    "/*",
    "*/",
    ";",
    "\\",
    "E'",
    "U&'",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "=",
    "\n",
    "\r",
    "\t",
    " ",
    "#",
    "\0",
    "é",
    "\u{feff}",
    "💥",
    "BEGIN",
    "END",
    "ATOMIC",
    "COMMIT",
    "-- pgready:no-transaction\n",
    "-- pgready:allow(",
    "[profiles.",
    "\"\"\"",
    "'''",
    ",",
    ".",
    "0",
    "-1",
    "9223372036854775808",
    "1e999",
    "nan",
    "true",
];

fn inserted() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(SPECIAL).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..4),
        1 => "[ -~]{1,8}".prop_map(String::into_bytes),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        4 => (at.clone(), 1..16usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        6 => (at.clone(), inserted()).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        1 => at.clone().prop_map(|at| Mutation::Truncate { at }),
        2 => (at.clone(), at.clone()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        1 => (at.clone(), at).prop_map(|(from, to)| Mutation::DuplicateLine { from, to }),
    ]
}

fn index(at: f64, len: usize) -> usize {
    ((at * len as f64) as usize).min(len)
}

/// Applies the mutations; the result may be invalid UTF-8 in the middle, as a corrupted file is,
/// and is read back the way a lossy reader would.
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in mutations {
        match m {
            Mutation::Delete { at, len } => {
                let start = index(*at, bytes.len());
                let end = (start + len).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert { at, bytes: new } => {
                let at = index(*at, bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Truncate { at } => bytes.truncate(index(*at, bytes.len())),
            Mutation::SwapLines { a, b } => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let (a, b) = (index(*a, lines.len() - 1), index(*b, lines.len() - 1));
                lines.swap(a, b);
                bytes = lines.join(&b'\n');
            }
            Mutation::DuplicateLine { from, to } => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let line = lines[index(*from, lines.len() - 1)].clone();
                lines.insert(index(*to, lines.len()), line);
                bytes = lines.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..6)
}

// ---------------------------------------------------------------------------------------------
// pgready.toml

/// Checks what every diagnostic promises: a message saying what to fix, located by key or line.
fn assert_located(source: &str, diagnostics: &[config::Diagnostic]) -> Result<(), TestCaseError> {
    let lines = source.lines().count().max(1);
    for d in diagnostics {
        let shown = d.to_string();
        prop_assert!(!d.message.trim().is_empty(), "empty message: {d:?}");
        prop_assert!(
            !d.key.is_empty() || d.line > 0,
            "neither key nor line: {shown}"
        );
        // toml may point one past the last line (an unterminated table at the end)
        prop_assert!(d.line <= lines + 1, "line {} of {lines}: {shown}", d.line);
        let _ = format!("{d:?}");
    }
    Ok(())
}

fn parse_config(source: &str) -> Result<(), TestCaseError> {
    match config::parse(source, "fuzzed_crate") {
        Ok(parsed) => {
            assert_located(source, &parsed.warnings)?;
            // a file that parses has a usable configuration for every profile
            let _ = parsed.file.base().pool.max_connections;
            for name in parsed.file.profile_names() {
                prop_assert!(parsed.file.profile(&name).is_ok(), "profile `{name}`");
            }
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty(), "refused without a reason");
            assert_located(source, &errors)?;
        }
    }
    Ok(())
}

/// TOML-ish lines built from pgready's own sections, keys and value shapes.
fn toml_line() -> impl Strategy<Value = String> {
    let sections = prop::sample::select(
        &[
            "database",
            "pool",
            "read_pool",
            "session",
            "migrations",
            "migrations.lints",
            "health",
            "shutdown",
            "backup",
            "profiles.production",
            "profiles.production.pool",
            "profiles.test.session",
            "profiles.x.database",
            "profiles",
            "poool",
            "",
        ][..],
    );
    let keys = prop::sample::select(
        &[
            "url_env",
            "read_url_env",
            "max_connections",
            "min_connections",
            "acquire_timeout",
            "idle_timeout",
            "max_lifetime",
            "statement_timeout",
            "lock_timeout",
            "idle_in_transaction_session_timeout",
            "application_name",
            "schema",
            "search_path",
            "dir",
            "table",
            "ledger",
            "apply",
            "verify",
            "ignored_chars",
            "create_schemas",
            "drain",
            "grace",
            "pgbouncer",
            "require_tls",
            "connect_retry",
            "server_max_connections",
            "rpo",
            "protected",
            "concurrently-in-transaction",
            "migration-file-name",
            "max_connectionz",
            "\"quoted key\"",
            "a.b.c",
        ][..],
    );
    let values = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..100).prop_map(|n| n.to_string()),
        prop::sample::select(
            &[
                "\"5s\"",
                "\"0s\"",
                "\"1h 30m\"",
                "\"-1s\"",
                "\"5\"",
                "\"ms\"",
                "\"10 years\"",
                "\"deny\"",
                "\"warn\"",
                "\"allow\"",
                "\"DATABASE_URL\"",
                "\"\"",
                "true",
                "false",
                "[]",
                "[\"a\", 1]",
                "{}",
                "{ a = 1 }",
                "1.5",
                "inf",
                "1979-05-27T07:32:00Z",
                "\"postgres://app:Pw9sekret@db/app\"",
                "'host=db password=Pw9x'",
                "\"never\"",
                "\"always\"",
                "\"development\"",
                "\"migrations\"",
                "\"../m\"",
            ][..]
        )
        .prop_map(str::to_owned),
        "\"[ -~]{0,12}\"".prop_map(|s| s.replace('\\', "\\\\")),
    ];
    prop_oneof![
        2 => sections.prop_map(|s| format!("[{s}]")),
        6 => (keys, values).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "[ -~]{0,20}",
        1 => Just("# comment".to_owned()),
    ]
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn config_from_pgreadys_own_words(lines in prop::collection::vec(toml_line(), 0..24)) {
        parse_config(&lines.join("\n"))?;
    }

    #[test]
    fn config_from_any_text(source in "(?s).{0,200}") {
        parse_config(&source)?;
    }

    #[test]
    fn config_mutated_real_files(
        seed in prop::sample::select(config_seeds()),
        edits in mutations(),
    ) {
        parse_config(&mutate(&seed, &edits))?;
    }
}

#[test]
fn config_seeds_parse() {
    // the seeds are valid to begin with (else the mutations start from an error): the README's
    // blocks are fragments, so only the whole files are held to it
    for seed in config_seeds().iter().rev().take(3) {
        assert!(config::parse(seed, "seed").is_ok(), "{seed}");
    }
}

// ---------------------------------------------------------------------------------------------
// migration file names

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Simple), Just(Kind::Up), Just(Kind::Down)]
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn any_file_name(name in prop_oneof![
        "(?s).{0,40}",
        "[0-9+-]{0,22}_[a-z_. ]{0,12}(\\.sql|\\.up\\.sql|\\.down\\.sql|\\.SQL|)",
        "[0-9]{0,25}[_.a-zA-Z ]{0,6}",
    ]) {
        let parsed = parse_file_name(&name);
        // skipped by name exactly when not parsed
        prop_assert_eq!(parsed.is_none(), skip_reason(&name).is_some());
        let _ = looks_like_migration(&name);
        match parsed {
            Some(Ok(file)) => {
                prop_assert!(name.ends_with(file.kind.suffix()), "{name} {file:?}");
                let _ = file.recorded_description();
            }
            Some(Err(message)) => prop_assert!(!message.is_empty()),
            None => {}
        }
        // one file on its own: read as sqlx reads it, or a typed error naming it
        match from_files([(name.as_str(), "SELECT 1;")], &Resolve::default()) {
            Ok(migrations) => prop_assert!(migrations.len() <= 1),
            Err(errors) => for e in errors {
                prop_assert_eq!(&e.file, &name);
                prop_assert!(!e.message.is_empty());
            },
        }
    }

    #[test]
    fn valid_file_names_round_trip(
        version in any::<i64>(),
        description in "[a-z0-9_ ]{0,24}",
        kind in kind(),
        plus in any::<bool>(),
    ) {
        let sign = if plus && version >= 0 { "+" } else { "" };
        let name = format!("{sign}{version}_{description}{}", kind.suffix());
        let parsed = parse_file_name(&name).unwrap().unwrap();
        prop_assert_eq!(parsed.version, version);
        prop_assert_eq!(&parsed.description, &description);
        prop_assert_eq!(parsed.kind, kind);
        prop_assert_eq!(parsed.recorded_description(), description.replace('_', " "));
    }
}

// ---------------------------------------------------------------------------------------------
// the release ledger

fn migration_files() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map(
        (any::<i64>(), "[a-z][a-z0-9_ ]{0,16}[a-z]", kind()),
        "(?s).{0,40}",
        0..12,
    )
    .prop_map(|files| {
        files
            .into_iter()
            .map(|((v, d, k), sql)| (format!("{v}_{d}{}", k.suffix()), sql))
            .collect()
    })
}

proptest! {
    #![proptest_config(cases(500))]

    #[test]
    fn ledger_round_trips(files in migration_files()) {
        // two applied files of one version are refused by sqlx's rules: nothing to record
        let Ok(migrations) = from_files(files.iter().cloned(), &Resolve::default()) else {
            return Ok(());
        };
        let mut ledger = Ledger::default();
        let added = ledger.record_new(&migrations);
        prop_assert_eq!(added.len(), migrations.len());
        let text = ledger.to_text();
        let parsed = Ledger::parse("migrations.lock", &text);
        prop_assert_eq!(parsed.as_ref(), Ok(&ledger), "{}", text);
        prop_assert_eq!(parsed.unwrap().to_text(), text);
        prop_assert!(ledger.check("migrations.lock", &migrations).is_empty());
        for (name, _) in &files {
            prop_assert!(ledger.contains(name));
        }
    }

    #[test]
    fn ledger_mutated(files in migration_files(), edits in mutations()) {
        let Ok(migrations) = from_files(files.iter().cloned(), &Resolve::default()) else {
            return Ok(());
        };
        let mut ledger = Ledger::default();
        ledger.record_new(&migrations);
        let text = mutate(&ledger.to_text(), &edits);
        let lines = text.lines().count();
        match Ledger::parse("migrations.lock", &text) {
            Ok(parsed) => {
                // whatever survived is checked like a real ledger: typed errors only
                for e in parsed.check("migrations.lock", &migrations) {
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(e.line == 0);
                }
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert_eq!(&e.file, "migrations.lock");
                    prop_assert!(e.line >= 1 && e.line <= lines, "{e} of {lines} lines");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn ledger_from_any_text(text in "(?s)(.{0,30}|[0-9]{1,5}_[a-z]{1,5}\\.sql sha384:[0-9a-fA-F]{90,100})(\n.{0,30}){0,4}") {
        if let Err(errors) = Ledger::parse("l", &text) {
            for e in errors {
                prop_assert!(e.line >= 1, "{e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SQL: the statement splitter, the lints, the schema replay

fn sql_seed() -> impl Strategy<Value = &'static (String, String)> {
    any::<prop::sample::Index>().prop_map(|i| &fixture_sql()[i.index(fixture_sql().len())])
}

fn lint_levels() -> &'static BTreeMap<String, LintLevel> {
    static LEVELS: OnceLock<BTreeMap<String, LintLevel>> = OnceLock::new();
    LEVELS.get_or_init(BTreeMap::new)
}

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn splitter_and_lints_on_mutated_sql(seed in sql_seed(), edits in mutations(), in_tx in any::<bool>()) {
        let sql = mutate(&seed.1, &edits);
        let lines = sql.lines().count().max(1);
        match statements(&sql) {
            Ok(split) => {
                for s in &split {
                    prop_assert!(s.line >= 1 && s.line <= lines);
                    // every statement is a piece of the file, as written
                    prop_assert!(sql.contains(&s.text));
                }
            }
            Err(e) => {
                prop_assert!(e.line >= 1 && e.line <= lines, "{e} of {lines} lines");
                prop_assert!(!e.message.is_empty());
            }
        }
        for finding in lint_file("1_fuzzed.sql", &sql, in_tx, lint_levels()) {
            prop_assert!(finding.line <= lines + 1, "{finding:?} of {lines} lines");
            prop_assert!(!finding.message.is_empty());
            prop_assert_eq!(&finding.file, "1_fuzzed.sql");
        }
    }

    #[test]
    fn splitter_and_lints_on_any_text(sql in "(?s)([a-zA-Z(),;'\"$ \n\t*/-]|\\$\\$|--|/\\*|E'|BEGIN ATOMIC){0,60}") {
        let _ = statements(&sql);
        let _ = lint_file("1_x.sql", &sql, true, lint_levels());
    }

    /// Splitting statements joined with `;` gives them back, in order, from any real file that
    /// splits, with any of its statements left out, repeated or reordered.
    #[test]
    fn splitting_the_concatenation_gives_the_statements_back(
        seed in sql_seed(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..12),
        separator in prop::sample::select(&[";\n", ";", ";\n\n-- between\n", " ; ", ";\n/* c; */\n"][..]),
    ) {
        let Ok(split) = statements(&seed.1) else { return Ok(()) };
        if split.is_empty() {
            return Ok(());
        }
        let chosen: Vec<&str> = picks.iter().map(|i| split[i.index(split.len())].text.as_str()).collect();
        let joined = chosen.join(separator);
        let again = statements(&joined).map_err(|e| TestCaseError::fail(format!("{e}\n{joined}")))?;
        let texts: Vec<&str> = again.iter().map(|s| s.text.as_str()).collect();
        prop_assert_eq!(texts, chosen);
    }
}

proptest! {
    // the replay copies the catalog per statement (replay-self-check is off here): fewer cases
    #![proptest_config(cases(40))]

    #[test]
    fn schema_replay_on_a_mutated_history(index in any::<prop::sample::Index>(), edits in mutations()) {
        let mut files = history("queries/migrations");
        prop_assert!(!files.is_empty());
        let i = index.index(files.len());
        files[i].1 = mutate(&files[i].1, &edits);
        let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let replay = replay_sql("public", &refs);
        let _ = format!("{:?}", replay.opaque().count());
    }
}

#[test]
fn fixtures_split_and_lint() {
    // the seeds are real: most fixture files split (the rest are there to be refused)
    let split = fixture_sql()
        .iter()
        .filter(|(_, sql)| statements(sql).is_ok_and(|s| !s.is_empty()))
        .count();
    assert!(
        split * 10 >= fixture_sql().len() * 9,
        "{split} of {}",
        fixture_sql().len()
    );
    assert!(history("sqlx-histories/long-history").len() >= 70);
}

// ---------------------------------------------------------------------------------------------
// DSNs and redaction

/// A password that cannot be mistaken for any other part of the DSN: it starts and ends with a
/// marker no generated user, host or database holds, around characters that need encoding.
fn password() -> impl Strategy<Value = String> {
    let middle = prop::collection::vec(
        prop_oneof![
            prop::sample::select(
                &[
                    "@",
                    ":",
                    "/",
                    "?",
                    "#",
                    "&",
                    "=",
                    "%",
                    "%4",
                    "%zz",
                    "+",
                    " ",
                    "'",
                    "\"",
                    "\\",
                    "\\'",
                    "[",
                    "]",
                    "~",
                    ";",
                    ",",
                    "é",
                    "密",
                    "\t",
                    "password=",
                    "@h/",
                    "://",
                    "*",
                ][..]
            )
            .prop_map(str::to_owned),
            "[a-z0-9]{1,3}",
        ],
        0..6,
    );
    middle.prop_map(|parts| format!("PwA{}ZqB", parts.concat()))
}

/// What a generated DSN writes the password as.
#[derive(Clone, Copy, Debug)]
enum Encode {
    /// as is, reserved characters and all (a hand-written DSN)
    Raw,
    /// `%XX` for everything outside the unreserved set (the correct form)
    Reserved,
    /// `%XX` for every byte
    All,
}

fn percent(text: &str, encode: Encode) -> String {
    match encode {
        Encode::Raw => text.to_owned(),
        Encode::Reserved => text
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
        Encode::All => text.bytes().map(|b| format!("%{b:02X}")).collect(),
    }
}

fn conninfo_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[derive(Clone, Debug)]
struct DsnCase {
    dsn: String,
    /// the texts that must not appear anywhere: both markers, as written and decoded
    forbidden: Vec<String>,
    /// a URL whose password is percent-encoded: findable in free text without knowing the DSN
    /// (a raw password may hold the spaces and quotes that end a URL in prose)
    encoded_url: bool,
}

fn dsn_case() -> impl Strategy<Value = DsnCase> {
    let encode = prop_oneof![Just(Encode::Raw), Just(Encode::Reserved), Just(Encode::All)];
    let user = "[a-z][a-z0-9_.-]{0,8}";
    let host = prop::sample::select(
        &[
            "db",
            "localhost",
            "10.0.0.1",
            "[::1]",
            "db.example.com",
            "h1,h2:5433",
            "",
        ][..],
    );
    let database = "[a-z_]{0,8}";
    let scheme = prop::sample::select(&["postgres", "postgresql", "POSTGRES", "pg+tls"][..]);
    let extra = prop::sample::select(
        &[
            "",
            "sslmode=require",
            "application_name=app",
            "sslmode=disable&connect_timeout=5",
            "options=-c%20search_path%3Dx",
        ][..],
    );
    (
        password(),
        encode,
        user,
        host,
        database,
        scheme,
        extra,
        0..6u8,
        any::<bool>(),
    )
        .prop_map(
            |(password, encode, user, host, db, scheme, extra, form, port)| {
                let port = if port { ":5432" } else { "" };
                let written = percent(&password, encode);
                // a raw `&` in a query value starts the next parameter: no reader can tell where the
                // password ends, so a DSN writes it `%26` (sqlx and libpq read it so too)
                let in_query = written.replace('&', "%26");
                let join = |a: &str, b: &str| match (a.is_empty(), b.is_empty()) {
                    (true, _) => b.to_owned(),
                    (_, true) => a.to_owned(),
                    _ => format!("{a}&{b}"),
                };
                let dsn = match form {
                    0 | 1 => format!("{scheme}://{user}:{written}@{host}{port}/{db}?{extra}"),
                    2 => format!(
                        "{scheme}://{user}@{host}{port}/{db}?{}",
                        join(extra, &format!("password={in_query}"))
                    ),
                    3 => format!(
                        "{scheme}://{user}:{written}@{host}{port}/{db}?{}",
                        join(&format!("password={in_query}"), extra)
                    ),
                    4 => format!(
                        "host={} user={user} password={} dbname={db}",
                        if host.is_empty() { "db" } else { host },
                        conninfo_quote(&password)
                    ),
                    _ => {
                        let bare: String = password
                            .chars()
                            .filter(|c| !c.is_whitespace() && *c != '\'' && *c != '\\')
                            .collect();
                        return DsnCase {
                            dsn: format!("password={bare} host=db dbname={db}"),
                            forbidden: vec!["PwA".into(), "ZqB".into()],
                            encoded_url: false,
                        };
                    }
                };
                let mut forbidden = vec!["PwA".to_owned(), "ZqB".to_owned()];
                if matches!(encode, Encode::All) {
                    forbidden.push(percent("PwA", Encode::All));
                    forbidden.push(percent("ZqB", Encode::All));
                }
                let encoded_url = form < 4 && !matches!(encode, Encode::Raw);
                DsnCase {
                    dsn,
                    forbidden,
                    encoded_url,
                }
            },
        )
}

fn assert_hidden(what: &str, text: &str, case: &DsnCase) -> Result<(), TestCaseError> {
    for secret in &case.forbidden {
        prop_assert!(
            !text.contains(secret.as_str()),
            "{what} shows `{secret}` of the password\n  dsn:  {}\n  text: {text}",
            case.dsn
        );
    }
    Ok(())
}

/// Every place core lets a DSN out: its redacted form, text about it, the TLS check's error,
/// and `pgready.toml`'s refusal of a DSN with a password.
fn check_dsn(case: &DsnCase) -> Result<(), TestCaseError> {
    let dsn = &case.dsn;
    prop_assert!(dsn::has_password(dsn), "password not seen in {dsn}");
    prop_assert!(dsn::looks_like_dsn(dsn));
    assert_hidden("redact", &dsn::redact(dsn), case)?;
    let message = format!(
        "error connecting to {dsn}: password authentication failed for `{}`",
        dsn::password(dsn).unwrap_or_default()
    );
    assert_hidden("redact_in", &dsn::redact_in(&message, dsn), case)?;
    // a driver message about another URL, with this DSN unknown
    if case.encoded_url {
        assert_hidden(
            "redact_in(\"\")",
            &dsn::redact_in(&format!("bad url: {dsn}"), ""),
            case,
        )?;
    }
    for require in [true, false] {
        if let Err(e) = dsn::check_tls(dsn, require) {
            assert_hidden("check_tls", &e, case)?;
        }
    }
    let _ = dsn::sslmode(dsn);
    let _ = dsn::sslrootcert(dsn);
    let moved = dsn::with_database(dsn, "other");
    assert_hidden("redact(with_database)", &dsn::redact(&moved), case)?;
    // in pgready.toml, as a TOML basic string
    let escaped: String = dsn
        .chars()
        .map(|c| match c {
            '"' => "\\\"".to_owned(),
            '\\' => "\\\\".to_owned(),
            c if c.is_control() => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect();
    let source =
        format!("[database]\nurl = \"{escaped}\"\n[profiles.production.pool]\nx = \"{escaped}\"\n");
    match config::parse(&source, "app") {
        Ok(_) => prop_assert!(false, "a DSN with a password was accepted in pgready.toml"),
        Err(errors) => {
            for e in errors {
                assert_hidden("config error", &e.to_string(), case)?;
                assert_hidden("config error (Debug)", &format!("{e:?}"), case)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn redaction_never_shows_the_password(case in dsn_case()) {
        check_dsn(&case)?;
    }

    #[test]
    fn dsn_functions_on_any_text(text in prop_oneof![
        "(?s).{0,60}",
        "[a-z+]{0,8}://[a-z:@/?#&=%'\\\\ ]{0,40}",
        "([a-z]{1,8}=('[^']{0,6}'|[a-z%@:'\\\\]{0,6}) ?){0,5}",
    ]) {
        let redacted = dsn::redact(&text);
        if let Some(password) = dsn::password(&text) {
            // a password as long as the mask could appear anywhere by chance
            if password.len() > 6 && !text.replacen(&password, "", 1).contains(&password) {
                prop_assert!(!dsn::redact_in(&text, &text).contains(&password), "{text}");
            }
        }
        let _ = dsn::redact_in(&redacted, &text);
        let _ = dsn::has_password(&text);
        let _ = dsn::looks_like_dsn(&text);
        let _ = dsn::check_tls(&text, true);
        let _ = dsn::with_database(&text, "db");
    }
}
