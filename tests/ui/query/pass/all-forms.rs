//! Every form compiles: a record, the caller's type, a scalar, overrides, `as _`, a derived row.

#[derive(Debug, sqlx::Type)]
#[sqlx(type_name = "status", rename_all = "lowercase")]
enum Status {
    Open,
    Done,
}

#[derive(pgready::Row)]
#[pgready(table = "tasks")]
struct Task {
    id: i64,
    title: String,
    #[pgready(rename = "remark")]
    note: Option<String>,
    status: Status,
}

struct Titled {
    id: i64,
    title: String,
    status: Status,
}

fn main() {
    let title = String::from("a");
    let _ = pgready::query!("SELECT id, title, remark FROM tasks WHERE title = $1", &title);
    let _ = pgready::query!(r#"SELECT status AS "status: Status" FROM tasks"#);
    let _ = pgready::query!("UPDATE tasks SET status = $1 WHERE id = $2", Status::Done, 1i64);
    let _ = pgready::query_as!(Titled, "SELECT id, title, status FROM tasks");
    let _ = pgready::query_scalar!(r#"SELECT remark AS "remark!" FROM tasks LIMIT 1"#);
    let _ = pgready::query!("SELECT id FROM tasks WHERE id = $1", 1i32 as _);
    let _ = (Status::Open, std::any::type_name::<Task>());
}
