//! The DSN's password never appears in an error, a log line or a panic message.

use pgready_tests::{Captured, cluster, setup};

const PASSWORD: &str = "Sup3r-Secret_pw";

fn assert_no_password(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} leaks the password: {text}"
    );
    assert!(
        !text.contains("Secret"),
        "{what} leaks part of the password: {text}"
    );
}

#[test]
fn no_error_log_or_panic_message_carries_the_password() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = cluster().port();

    let cases = [
        // wrong password for a real server
        format!("postgres://pgready:{PASSWORD}@127.0.0.1:{port}/postgres"),
        // nothing listens: retried (logged), then given up
        format!("postgres://app:{PASSWORD}@127.0.0.1:1/app"),
        // unparsable port
        format!("postgres://app:{PASSWORD}@127.0.0.1:notaport/app"),
        // TLS required but not asked for
        format!("postgres://app:{PASSWORD}@127.0.0.1:{port}/app?sslmode=disable"),
        // key=value form
        format!("host=127.0.0.1 port=1 user=app password={PASSWORD} dbname=app"),
    ];
    for (i, dsn) in cases.iter().enumerate() {
        let config = if i == 3 {
            "[database]\nrequire_tls = true\nconnect_retry = \"300ms\"\n"
        } else {
            "[database]\nconnect_retry = \"300ms\"\n"
        };
        let err = runtime
            .block_on(pgready::start(&setup(config, dsn)))
            .expect_err("every case fails");
        assert_no_password(&format!("case {i} Display"), &err.to_string());
        assert_no_password(&format!("case {i} Debug"), &format!("{err:?}"));
        let shown = std::panic::AssertUnwindSafe(&err);
        let panic = std::panic::catch_unwind(|| -> () { panic!("start-up failed: {}", *shown) });
        let payload = panic.expect_err("it panicked");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.starts_with("start-up failed"), "{message}");
        assert_no_password(&format!("case {i} panic"), &message);
    }
    let logs = logs.text();
    assert!(
        logs.contains("retrying"),
        "the refused case was retried and logged: {logs}"
    );
    assert_no_password("logs", &logs);
}
