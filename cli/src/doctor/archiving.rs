//! The `wal_archiving` check, for disaster recovery: whether WAL archiving is on and when the
//! last segment was archived (`pg_stat_archiver`), against `[backup] rpo` when the config
//! states one. Without archiving, a restore loses everything since the last backup.

use std::time::Duration;

use pgready::sqlx;

use super::checks::Ctx;
use super::{Check, Status};

/// What the server says about archiving.
#[derive(Clone, Debug, Default)]
pub struct Archiver {
    /// `archive_mode`: `off`, `on` or `always`
    pub mode: String,
    /// `archive_timeout`, in seconds (0: segments switch only when full)
    pub timeout_secs: i64,
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    /// how long ago the last segment was archived
    pub last_archived_age: Option<Duration>,
    pub last_failed_wal: Option<String>,
    /// how long ago the last archiving attempt failed
    pub last_failed_age: Option<Duration>,
}

const FIX_ON: &str = "set `archive_mode = on` and `archive_library` (or `archive_command`) to a \
     WAL archiver such as pgBackRest or WAL-G, and restart the server";

pub async fn check(ctx: &mut Ctx<'_>) -> Result<Check, String> {
    #[allow(clippy::type_complexity)]
    let row: (
        String,
        i64,
        i64,
        Option<String>,
        Option<f64>,
        Option<String>,
        Option<f64>,
    ) = sqlx::query_as(
        "SELECT current_setting('archive_mode'), \
         (SELECT setting::bigint FROM pg_settings WHERE name = 'archive_timeout'), \
         a.archived_count, a.last_archived_wal, \
         extract(epoch FROM now() - a.last_archived_time)::float8, \
         a.last_failed_wal, extract(epoch FROM now() - a.last_failed_time)::float8 \
         FROM pg_stat_archiver a",
    )
    .fetch_one(&mut *ctx.conn)
    .await
    .map_err(|e| e.to_string())?;
    let age = |s: Option<f64>| s.map(|s| Duration::from_secs_f64(s.max(0.0)));
    let found = Archiver {
        mode: row.0,
        timeout_secs: row.1,
        archived_count: row.2,
        last_archived_wal: row.3,
        last_archived_age: age(row.4),
        last_failed_wal: row.5,
        last_failed_age: age(row.6),
    };
    Ok(judge(&found, ctx.project.config.backup.rpo))
}

fn ago(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// The check from what the server says and the RPO the config states.
pub fn judge(a: &Archiver, rpo: Option<Duration>) -> Check {
    let name = "wal_archiving";
    let stated = |rpo: Duration| format!("`[backup] rpo` = {}", ago(rpo));
    // without an RPO, a gap is reported as a warning; with one, it is missed: a failure
    let missed = if rpo.is_some() {
        Status::Fail
    } else {
        Status::Warn
    };
    if a.mode == "off" {
        return Check::problem(
            name,
            missed,
            format!(
                "WAL archiving is off (`archive_mode = off`): a restore loses everything since \
                 the last backup{}",
                rpo.map(|r| format!(", which cannot meet {}", stated(r)))
                    .unwrap_or_default()
            ),
            FIX_ON,
        );
    }
    let Some(age) = a.last_archived_age else {
        return Check::problem(
            name,
            missed,
            format!(
                "`archive_mode = {}` but no WAL segment has been archived yet{}",
                a.mode,
                a.last_failed_wal
                    .as_deref()
                    .map(|w| format!("; the last attempt failed ({w})"))
                    .unwrap_or_default()
            ),
            "check `archive_command`/`archive_library` and the server log; `SELECT \
             pg_switch_wal();` archives the current segment now",
        );
    };
    let last = format!(
        "last WAL archived {} ago ({}), {} archived",
        ago(age),
        a.last_archived_wal.as_deref().unwrap_or("?"),
        a.archived_count
    );
    if let Some(failed) = a.last_failed_age
        && failed < age
    {
        return Check::problem(
            name,
            Status::Fail,
            format!(
                "archiving is failing: {} failed {} ago, after the {last}",
                a.last_failed_wal.as_deref().unwrap_or("a segment"),
                ago(failed)
            ),
            "fix `archive_command`/`archive_library` (the server log says why it fails); WAL \
             piles up in pg_wal until it succeeds",
        );
    }
    let Some(rpo) = rpo else {
        return Check::pass(
            name,
            format!("{last}; no `[backup] rpo` stated to compare with"),
        );
    };
    if age > rpo {
        return Check::problem(
            name,
            Status::Fail,
            format!("{last}: older than {}", stated(rpo)),
            format!(
                "a quiet server archives a segment only when it fills: set `archive_timeout` \
                 below the RPO (e.g. `ALTER SYSTEM SET archive_timeout = '{}s';`), and check \
                 the archiver",
                (rpo.as_secs() / 2).max(60)
            ),
        );
    }
    if a.timeout_secs == 0 || Duration::from_secs(a.timeout_secs.unsigned_abs()) > rpo {
        return Check::problem(
            name,
            Status::Warn,
            format!(
                "{last}, within {}; but `archive_timeout` = {}s, so on a quiet server a segment \
                 may wait longer than the RPO",
                stated(rpo),
                a.timeout_secs
            ),
            format!(
                "ALTER SYSTEM SET archive_timeout = '{}s'; SELECT pg_reload_conf();",
                (rpo.as_secs() / 2).max(60)
            ),
        );
    }
    Check::pass(name, format!("{last}, within {}", stated(rpo)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(age_secs: u64) -> Archiver {
        Archiver {
            mode: "on".to_owned(),
            timeout_secs: 300,
            archived_count: 7,
            last_archived_wal: Some("000000010000000000000007".to_owned()),
            last_archived_age: Some(Duration::from_secs(age_secs)),
            ..Archiver::default()
        }
    }

    const RPO: Option<Duration> = Some(Duration::from_secs(900));

    #[test]
    fn off_warns_without_an_rpo_and_fails_with_one() {
        let off = Archiver {
            mode: "off".to_owned(),
            ..Archiver::default()
        };
        assert_eq!(judge(&off, None).status, Status::Warn);
        let c = judge(&off, RPO);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence.contains("cannot meet `[backup] rpo` = 15m"),
            "{}",
            c.evidence
        );
    }

    #[test]
    fn the_last_archive_is_held_against_the_rpo() {
        assert_eq!(judge(&on(60), RPO).status, Status::Pass);
        let c = judge(&on(3600), RPO);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence.contains("last WAL archived 1h ago"),
            "{}",
            c.evidence
        );
        let c = judge(&on(3600), None);
        assert_eq!(c.status, Status::Pass);
        assert!(
            c.evidence.contains("no `[backup] rpo` stated"),
            "{}",
            c.evidence
        );
        let slow = Archiver {
            timeout_secs: 0,
            ..on(60)
        };
        assert_eq!(judge(&slow, RPO).status, Status::Warn);
    }

    #[test]
    fn failing_archiving_fails() {
        let failing = Archiver {
            last_failed_wal: Some("000000010000000000000008".to_owned()),
            last_failed_age: Some(Duration::from_secs(10)),
            ..on(120)
        };
        assert_eq!(judge(&failing, None).status, Status::Fail);
        let never = Archiver {
            last_archived_age: None,
            ..on(0)
        };
        assert_eq!(judge(&never, None).status, Status::Warn);
        assert_eq!(judge(&never, RPO).status, Status::Fail);
    }
}
