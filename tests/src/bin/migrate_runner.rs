//! Starts pgready with the migrations found in `$MIGRATIONS_DIR` (read at run time, unlike
//! `#[migrated_pool]`, so one binary serves many fixtures) and the config in `$RUNNER_CONFIG`
//! (if set), prints `MIGRATED <n>` and exits.
//! The concurrency and crash tests run it as real processes.

fn main() {
    let dir = std::env::var("MIGRATIONS_DIR").expect("MIGRATIONS_DIR");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read MIGRATIONS_DIR") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8")
            .to_owned();
        let sql = std::fs::read_to_string(&path).expect("read migration");
        files.push(pgready::__private::EmbeddedFile {
            name: Box::leak(name.into_boxed_str()),
            sql: Box::leak(sql.into_boxed_str()),
        });
    }
    let files: &'static [_] = Box::leak(files.into_boxed_slice());
    // `RUNNER_CONFIG`: the whole `pgready.toml`, for the tests that need other limits.
    let config = std::env::var("RUNNER_CONFIG")
        .unwrap_or_else(|_| "[database]\nconnect_retry = \"5s\"\n".to_owned());
    let setup = pgready::Setup::new(Box::leak(config.into_boxed_str()), "migrate-runner", files);
    pgready::__private::run(setup, async |db: pgready::Db| {
        println!("MIGRATED {}", db.migrations().applied);
    });
}
