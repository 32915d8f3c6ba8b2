/work/main/target/debug/deps/humantime-50f11fe535eefb7b.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/date.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/duration.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/wrapper.rs

/work/main/target/debug/deps/libhumantime-50f11fe535eefb7b.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/date.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/duration.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/wrapper.rs

/work/main/target/debug/deps/libhumantime-50f11fe535eefb7b.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/date.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/duration.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/wrapper.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/lib.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/date.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/duration.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/humantime-2.4.0/src/wrapper.rs:
