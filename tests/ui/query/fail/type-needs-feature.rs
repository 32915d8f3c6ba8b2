// `timestamptz` decodes as chrono's or time's type: one of pgready's features must be on
fn main() {
    let _ = pgready::query!("SELECT due FROM tasks");
}
