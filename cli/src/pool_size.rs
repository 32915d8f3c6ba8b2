//! `pgready pool-size`: how many connections each pool needs for the expected load, and
//! whether all instances' pools fit the server.
//!
//! Little's law: the connections busy on average are the arrival rate times the time each
//! request holds one (L = λW), per instance (λ = requests/s ÷ instances). The recommendation
//! adds `--headroom` for bursts, rounds up, and never goes below 2. Every instance also opens
//! one migration connection at start-up and one health probe connection; the sum over
//! instances must fit the server's `max_connections` minus the slots reserved for superusers
//! (`superuser_reserved_connections`, and `reserved_connections` from PostgreSQL 16).

use std::path::Path;
use std::time::Duration;

use pgready::sqlx::{self, Connection as _};
use serde::Serialize;

use crate::args::{Format, PoolSizeArgs};
use crate::failure::Failure;
use crate::output;
use crate::postgres::Server;
use crate::project::Project;

/// The smallest pool recommended: one connection is a queue behind any slow query.
const MIN_POOL: u32 = 2;
/// Connections besides the pools, per instance: the migration connection and the health probe.
const EXTRA_PER_INSTANCE: u32 = 2;

/// One pool's size and how it was found.
#[derive(Debug, PartialEq, Serialize)]
pub struct PoolSize {
    pub pool: &'static str,
    pub max_connections: u32,
    /// `little's law` or `pgready.toml`
    pub source: &'static str,
    pub explanation: String,
}

/// The connections all instances open, against what the server offers.
#[derive(Debug, PartialEq, Serialize)]
pub struct Budget {
    pub per_instance: u32,
    pub instances: u32,
    pub total: u32,
    pub server_max_connections: Option<u32>,
    pub reserved: Option<u32>,
    pub available: Option<u32>,
    pub fits: Option<bool>,
    pub explanation: Vec<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    pools: &'a [PoolSize],
    budget: &'a Budget,
}

/// Little's law with headroom for one pool.
pub fn size(
    pool: &'static str,
    rps: f64,
    hold: Duration,
    instances: u32,
    headroom: f64,
) -> PoolSize {
    let per_instance = rps / f64::from(instances);
    let busy = per_instance * hold.as_secs_f64();
    let wanted = busy * (1.0 + headroom);
    let max = (wanted.ceil() as u32).max(MIN_POOL);
    PoolSize {
        pool,
        max_connections: max,
        source: "little's law",
        explanation: format!(
            "{rps} req/s ÷ {instances} instance(s) = {} req/s per instance; × {} held = {} \
             connection(s) busy on average (Little's law, L = λW); × {} headroom = {} → \
             max_connections = {max}{}",
            round(per_instance),
            humantime::format_duration(hold),
            round(busy),
            round(1.0 + headroom),
            round(wanted),
            if max == MIN_POOL && wanted < f64::from(MIN_POOL) {
                format!(" (at least {MIN_POOL})")
            } else {
                String::new()
            }
        ),
    }
}

/// The connections of `pools` on one server over `instances`, against `max - reserved`.
pub fn budget(
    pools: &[&PoolSize],
    instances: u32,
    server_max: Option<u32>,
    reserved: Option<u32>,
) -> Budget {
    let in_pools: u32 = pools.iter().map(|p| p.max_connections).sum();
    let per_instance = in_pools + EXTRA_PER_INSTANCE;
    let total = per_instance.saturating_mul(instances);
    let parts: Vec<String> = pools
        .iter()
        .map(|p| format!("{} {}", p.max_connections, p.pool))
        .chain(["1 migration".to_owned(), "1 health".to_owned()])
        .collect();
    let mut explanation = vec![
        format!("per instance: {} = {per_instance}", parts.join(" + ")),
        format!("all instances: {instances} × {per_instance} = {total}"),
    ];
    let available = server_max.map(|m| m.saturating_sub(reserved.unwrap_or(0)));
    let fits = available.map(|a| total <= a);
    if let (Some(max), Some(available)) = (server_max, available) {
        let verdict = if total <= available {
            format!(
                "{total} ≤ {available}: fits, {} to spare",
                available - total
            )
        } else {
            format!(
                "{total} > {available}: {} too many; lower the pools, run fewer instances, raise \
                 max_connections, or put PgBouncer in front (`[database] pgbouncer = true`)",
                total - available
            )
        };
        explanation.push(format!(
            "server: max_connections {max} - {} reserved = {available}; {verdict}",
            reserved.unwrap_or(0)
        ));
    } else {
        explanation.push(
            "server: max_connections unknown; give `--server-max-connections`, set `[database] \
             server_max_connections`, or use `--live`"
                .to_owned(),
        );
    }
    Budget {
        per_instance,
        instances,
        total,
        server_max_connections: server_max,
        reserved,
        available,
        fits,
        explanation,
    }
}

fn round(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    format!("{r}")
}

pub fn run(config: Option<&Path>, args: &PoolSizeArgs) -> Result<(), Failure> {
    for (name, rate) in [("--rps", args.rps), ("--read-rps", args.read_rps)] {
        if let Some(r) = rate
            && !(r.is_finite() && r > 0.0)
        {
            return Err(Failure::Usage(format!(
                "`{name}` must be more than 0, found `{r}`"
            )));
        }
    }
    if !(args.headroom.is_finite() && args.headroom >= 0.0) {
        return Err(Failure::Usage(format!(
            "`--headroom` is a fraction of at least 0 (0.5 = 50%), found `{}`",
            args.headroom
        )));
    }
    if args.hold.is_zero() {
        return Err(Failure::Usage("`--hold` must be more than 0".to_owned()));
    }
    let project = Project::load(config, None)?;
    let cfg = &project.config;
    let from_config = |pool: &'static str, key: &str, max: u32| PoolSize {
        pool,
        max_connections: max,
        source: "pgready.toml",
        explanation: format!(
            "`{key}` = {max} from the configuration (give the expected req/s to size it)"
        ),
    };
    let write = match args.rps {
        Some(rps) => size("write", rps, args.hold, args.instances, args.headroom),
        None => from_config("write", "[pool] max_connections", cfg.pool.max_connections),
    };
    let read = match args.read_rps {
        Some(rps) => size(
            "read",
            rps,
            args.read_hold.unwrap_or(args.hold),
            args.instances,
            args.headroom,
        ),
        None => from_config(
            "read",
            "[read_pool] max_connections",
            cfg.read_pool.max_connections,
        ),
    };
    let (mut server_max, mut reserved) = (
        args.server_max_connections
            .or(cfg.database.server_max_connections),
        args.reserved.or(cfg.database.reserved_connections),
    );
    if args.live {
        let server = Server::of(&project)?;
        let (max, res) = crate::backup::block_on(live(&server))?;
        server_max = args.server_max_connections.or(Some(max));
        reserved = args.reserved.or(Some(res));
    } else if server_max.is_some() && reserved.is_none() {
        reserved = Some(pgready_core::config::DEFAULT_RESERVED_CONNECTIONS);
    }
    let on_server: Vec<&PoolSize> = if args.replica {
        vec![&write]
    } else {
        vec![&write, &read]
    };
    let budget = budget(&on_server, args.instances, server_max, reserved);
    let pools = [write, read];
    match args.output.format {
        Format::Json => output::json(&Report {
            pools: &pools,
            budget: &budget,
        })?,
        Format::Text => {
            for p in &pools {
                println!("{} pool: {}", p.pool, p.explanation);
            }
            if args.replica {
                println!("read pool: on the replica, not counted against this server");
            }
            for line in &budget.explanation {
                println!("{line}");
            }
        }
    }
    if budget.fits == Some(false) {
        return Err(Failure::Error(format!(
            "the pools need {} connections and the server offers {}",
            budget.total,
            budget.available.unwrap_or(0)
        )));
    }
    Ok(())
}

/// `max_connections` and the reserved slots, from the server.
async fn live(server: &Server) -> Result<(u32, u32), Failure> {
    let mut conn = server.connect(&server.database()).await?;
    let row: Result<(i64, i64), _> = sqlx::query_as(
        "SELECT current_setting('max_connections')::bigint, \
         current_setting('superuser_reserved_connections')::bigint \
         + coalesce(current_setting('reserved_connections', true)::bigint, 0)",
    )
    .fetch_one(&mut conn)
    .await;
    let _ = conn.close().await;
    let (max, reserved) =
        row.map_err(|e| Failure::Error(format!("cannot read max_connections: {e}")))?;
    Ok((
        u32::try_from(max).unwrap_or(u32::MAX),
        u32::try_from(reserved).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn littles_law_with_headroom() {
        // 200 req/s, each holding a connection 50 ms: 10 busy, 15 with 50% headroom
        let p = size("write", 200.0, Duration::from_millis(50), 1, 0.5);
        assert_eq!(p.max_connections, 15);
        assert!(
            p.explanation.contains("= 10 connection(s) busy"),
            "{}",
            p.explanation
        );
        // 3,000 req/s over 4 instances, 20 ms: 15 busy per instance, 30 with 100% headroom
        let p = size("read", 3000.0, Duration::from_millis(20), 4, 1.0);
        assert_eq!(p.max_connections, 30);
        assert!(
            p.explanation
                .contains("3000 req/s ÷ 4 instance(s) = 750 req/s"),
            "{}",
            p.explanation
        );
        // a trickle still gets 2
        let p = size("write", 1.0, Duration::from_millis(5), 1, 0.5);
        assert_eq!(p.max_connections, 2);
        assert!(p.explanation.ends_with("(at least 2)"), "{}", p.explanation);
        // rounding up, never down: 7.5 → 8
        assert_eq!(
            size("write", 100.0, Duration::from_millis(50), 1, 0.5).max_connections,
            8
        );
    }

    #[test]
    fn the_designs_default_pools_on_two_instances_do_not_fit_a_default_server() {
        let write = PoolSize {
            pool: "write",
            max_connections: 20,
            source: "pgready.toml",
            explanation: String::new(),
        };
        let read = PoolSize {
            pool: "read",
            max_connections: 40,
            source: "pgready.toml",
            explanation: String::new(),
        };
        let b = budget(&[&write, &read], 2, Some(100), Some(3));
        assert_eq!(
            (b.per_instance, b.total, b.available, b.fits),
            (62, 124, Some(97), Some(false))
        );
        assert!(b.explanation[0].contains("20 write + 40 read + 1 migration + 1 health = 62"));
        assert!(
            b.explanation[2].contains("124 > 97: 27 too many"),
            "{:?}",
            b.explanation
        );
        let b = budget(&[&write], 2, Some(100), Some(3));
        assert_eq!((b.total, b.fits), (44, Some(true)));
        assert!(b.explanation[2].contains("44 ≤ 97: fits, 53 to spare"));
        let b = budget(&[&write], 1, None, None);
        assert_eq!(b.fits, None);
    }
}
