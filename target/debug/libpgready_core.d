/work/main/target/debug/libpgready_core.rlib: /work/main/core/src/config/mod.rs /work/main/core/src/dsn.rs /work/main/core/src/lib.rs /work/main/core/src/migrations/mod.rs
