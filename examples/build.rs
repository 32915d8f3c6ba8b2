// Re-expand `#[migrated_pool]` when a migration is added (edits are tracked already).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
