//! Starts pgready with the migrations found in `$MIGRATIONS_DIR` (read at run time, unlike
//! `#[migrated_pool]`, so one binary serves many fixtures) and the config in `$RUNNER_CONFIG`
//! (if set), prints `MIGRATED <n>` and exits.
//! The concurrency and crash tests run it as real processes.
//!
//! With `$RUNNER_SERVE` set it then serves: each line read on stdin is a request, answered
//! with one transaction that writes a row to `served` and reads it back through the pool
//! (`ANSWER <instance> <id> <rows of this instance>`, or `FAILED <error>`), until stdin ends.
//! The many-instances test runs 8 of them behind PgBouncer.

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
        if let Ok(instance) = std::env::var("RUNNER_SERVE") {
            serve(&db, &instance).await;
        }
    });
}

/// Answers one request per stdin line until stdin ends.
async fn serve(db: &pgready::Db, instance: &str) {
    use std::io::Write as _;
    println!("SERVING");
    loop {
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|n| n > 0)
        })
        .await;
        if !matches!(line, Ok(Ok(true))) {
            return;
        }
        let instance = instance.to_owned();
        let answer = db
            .transaction(|tx| {
                Box::pin(async move {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO served (instance) VALUES ($1) RETURNING id",
                    )
                    .bind(&instance)
                    .fetch_one(&mut **tx)
                    .await?;
                    let rows: i64 =
                        sqlx::query_scalar("SELECT count(*) FROM served WHERE instance = $1")
                            .bind(&instance)
                            .fetch_one(&mut **tx)
                            .await?;
                    Ok::<_, pgready::Error>(format!("ANSWER {instance} {id} {rows}"))
                })
            })
            .await;
        match answer {
            Ok(answer) => println!("{answer}"),
            Err(e) => println!("FAILED {e}"),
        }
        let _ = std::io::stdout().flush();
    }
}
