/work/main/target/debug/deps/pgready_core-24598dbc7f93f428.d: core/src/lib.rs core/src/config/mod.rs core/src/dsn.rs core/src/migrations/mod.rs

/work/main/target/debug/deps/libpgready_core-24598dbc7f93f428.rlib: core/src/lib.rs core/src/config/mod.rs core/src/dsn.rs core/src/migrations/mod.rs

/work/main/target/debug/deps/libpgready_core-24598dbc7f93f428.rmeta: core/src/lib.rs core/src/config/mod.rs core/src/dsn.rs core/src/migrations/mod.rs

core/src/lib.rs:
core/src/config/mod.rs:
core/src/dsn.rs:
core/src/migrations/mod.rs:
