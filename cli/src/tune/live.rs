//! The database's `pg_settings`, compared with the advice.

use std::collections::BTreeMap;

use pgready::sqlx::{self, Connection as _};
use serde::Serialize;

use super::advice::{Setting, Value};
use crate::failure::Failure;
use crate::postgres::{Server, server};

/// A setting as `pg_settings` has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Current {
    pub setting: String,
    /// `kB`, `8kB`, `MB`, `ms`, …
    pub unit: Option<String>,
    /// `postmaster`: a change needs a restart
    pub context: String,
}

/// A setting whose value differs from the advice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub name: &'static str,
    /// as `pg_settings` has it, in the advice's units (`128MB`)
    pub current: String,
    pub recommended: String,
    /// `pg_settings.context = 'postmaster'`
    pub restart: bool,
}

/// A `pg_settings` row: name, setting, unit, context.
type Row = (String, String, Option<String>, String);

/// The server's major version and its settings.
pub async fn read(server: &Server) -> Result<(u32, BTreeMap<String, Current>), Failure> {
    let mut conn = server.connect(&server.database()).await?;
    let version = server::version(&mut conn).await;
    let rows: Result<Vec<Row>, _> =
        sqlx::query_as("SELECT name::text, setting, unit, context::text FROM pg_settings")
            .fetch_all(&mut conn)
            .await;
    let _ = conn.close().await;
    let rows = rows.map_err(|e| Failure::Error(format!("cannot read pg_settings: {e}")))?;
    let settings = rows
        .into_iter()
        .map(|(name, setting, unit, context)| {
            (
                name,
                Current {
                    setting,
                    unit,
                    context,
                },
            )
        })
        .collect();
    Ok((version?.major(), settings))
}

/// The advised settings whose current value differs; numbers within `tolerance` (a fraction of
/// the advice) are equal. A setting the server does not have is left out.
pub fn compare(
    advice: &[Setting],
    current: &BTreeMap<String, Current>,
    tolerance: f64,
) -> Vec<Difference> {
    advice
        .iter()
        .filter_map(|s| {
            let c = current.get(s.name)?;
            let (same, shown) = match &s.value {
                Value::Memory(kb) => {
                    let now = kilobytes(c);
                    (
                        now.is_some_and(|n| close(n, *kb as f64, tolerance)),
                        now.map_or_else(
                            || c.setting.clone(),
                            |n| Value::Memory(n as u64).to_string(),
                        ),
                    )
                }
                Value::Int(n) => (
                    c.setting
                        .parse::<f64>()
                        .is_ok_and(|x| close(x, *n as f64, tolerance)),
                    c.setting.clone(),
                ),
                Value::Real(x) => (
                    c.setting
                        .parse::<f64>()
                        .is_ok_and(|y| close(y, *x, tolerance)),
                    c.setting.clone(),
                ),
                Value::Word(w) => (same_word(&c.setting, w), c.setting.clone()),
            };
            (!same).then(|| Difference {
                name: s.name,
                current: shown,
                recommended: s.value.to_string(),
                restart: c.context == "postmaster",
            })
        })
        .collect()
}

/// A memory setting in kB (`-1`, "use another setting", is no amount).
fn kilobytes(c: &Current) -> Option<f64> {
    let n: f64 = c.setting.parse().ok()?;
    if n < 0.0 {
        return None;
    }
    let per = match c.unit.as_deref()? {
        "B" => 1.0 / 1024.0,
        "kB" => 1.0,
        "8kB" => 8.0,
        "16kB" => 16.0,
        "32kB" => 32.0,
        "MB" => 1024.0,
        "16MB" => 16.0 * 1024.0,
        "GB" => 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * per)
}

fn close(now: f64, advised: f64, tolerance: f64) -> bool {
    if advised == 0.0 {
        return now == 0.0;
    }
    ((now - advised) / advised).abs() <= tolerance + 1e-9
}

/// `on` is `pglz` for `wal_compression`; words compare without case.
fn same_word(now: &str, advised: &str) -> bool {
    let norm = |w: &str| match w.to_ascii_lowercase().as_str() {
        "pglz" => "on".to_owned(),
        other => other.to_owned(),
    };
    norm(now) == norm(advised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(setting: &str, unit: Option<&str>, context: &str) -> Current {
        Current {
            setting: setting.to_owned(),
            unit: unit.map(str::to_owned),
            context: context.to_owned(),
        }
    }

    #[test]
    fn differences_within_tolerance_are_equal() {
        let advice = vec![
            Setting {
                name: "shared_buffers",
                value: Value::Memory(4 * 1024 * 1024),
                reason: String::new(),
            },
            Setting {
                name: "work_mem",
                value: Value::Memory(20560),
                reason: String::new(),
            },
            Setting {
                name: "random_page_cost",
                value: Value::Real(1.1),
                reason: String::new(),
            },
            Setting {
                name: "jit",
                value: Value::Word("off"),
                reason: String::new(),
            },
            Setting {
                name: "wal_compression",
                value: Value::Word("on"),
                reason: String::new(),
            },
            Setting {
                name: "not_a_setting",
                value: Value::Int(1),
                reason: String::new(),
            },
        ];
        let mut now = BTreeMap::new();
        now.insert(
            "shared_buffers".to_owned(),
            current("16384", Some("8kB"), "postmaster"),
        );
        now.insert("work_mem".to_owned(), current("20000", Some("kB"), "user"));
        now.insert("random_page_cost".to_owned(), current("4", None, "user"));
        now.insert("jit".to_owned(), current("on", None, "user"));
        now.insert(
            "wal_compression".to_owned(),
            current("pglz", None, "superuser"),
        );
        let diffs = compare(&advice, &now, 0.1);
        let names: Vec<&str> = diffs.iter().map(|d| d.name).collect();
        assert_eq!(names, ["shared_buffers", "random_page_cost", "jit"]);
        assert_eq!(diffs[0].current, "128MB");
        assert_eq!(diffs[0].recommended, "4GB");
        assert!(diffs[0].restart);
        assert!(!diffs[1].restart);
        assert_eq!(
            compare(&advice, &now, 0.0).len(),
            4,
            "work_mem 20000 vs 20560"
        );
    }
}
