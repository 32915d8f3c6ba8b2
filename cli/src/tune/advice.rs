//! PGTune's formulas: recommended `postgresql.conf` values from the machine and the workload.
//!
//! This follows PGTune (github.com/le0pard/pgtune) at commit `01bb644`, the selectors of
//! `src/features/configuration/configurationSlice.js` (PostgreSQL 10–18, memory in kB, integer
//! results floored as its JavaScript floors them). Every value carries a one-line reason.
//! The unit tests hold PGTune's own test expectations and whole configurations as vectors.

use serde::Serialize;

/// A fixed set of words, for the command line (clap) and JSON alike.
macro_rules! word_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
        pub enum $name {
            $( $(#[$vmeta])* #[value(name = $word)] $variant, )+
        }

        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

const KB_PER_MB: u64 = 1024;
const KB_PER_GB: u64 = 1024 * 1024;

word_enum! {
    /// What the database mostly does (PGTune's "DB type").
    pub enum Workload {
        /// web application: many short queries
        Web = "web",
        /// online transaction processing
        Oltp = "oltp",
        /// data warehouse: few large queries
        Dw = "dw",
        /// a developer's machine
        Desktop = "desktop",
        /// mixed
        Mixed = "mixed",
    }
}

word_enum! {
    /// The data directory's storage.
    pub enum Storage {
        Ssd = "ssd",
        Hdd = "hdd",
        /// network storage
        San = "san",
        Nvme = "nvme",
    }
}

word_enum! {
    /// The server's operating system.
    pub enum Os {
        Linux = "linux",
        Windows = "windows",
        Mac = "mac",
    }
}

/// The machine and the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// RAM in kB
    pub memory_kb: u64,
    pub cpus: Option<u32>,
    pub connections: Option<u32>,
    pub storage: Storage,
    pub workload: Workload,
    pub os: Os,
    /// PostgreSQL major version (10 or newer)
    pub version: u32,
}

/// A recommended value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// kB, written in the largest unit that loses nothing (`4GB`, `16MB`, `20560kB`)
    Memory(u64),
    Int(u64),
    Real(f64),
    Word(&'static str),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Memory(kb) if kb % KB_PER_GB == 0 => write!(f, "{}GB", kb / KB_PER_GB),
            Value::Memory(kb) if kb % KB_PER_MB == 0 => write!(f, "{}MB", kb / KB_PER_MB),
            Value::Memory(kb) => write!(f, "{kb}kB"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Real(x) => write!(f, "{x}"),
            Value::Word(w) => f.write_str(w),
        }
    }
}

/// One setting PGTune recommends.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub value: Value,
    pub reason: String,
}

/// Every setting PGTune recommends for `m`, in PGTune's order.
pub fn advise(m: &Machine) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut set = |name: &'static str, value: Value, reason: String| {
        out.push(Setting {
            name,
            value,
            reason,
        });
    };
    let mem = m.memory_kb;
    let w = m.workload;
    let old_windows = m.os == Os::Windows && m.version <= 17;

    let max_connections = m.connections.unwrap_or(match w {
        Workload::Web => 200,
        Workload::Oltp => 300,
        Workload::Dw => 40,
        Workload::Desktop => 20,
        Workload::Mixed => 100,
    });
    set(
        "max_connections",
        Value::Int(u64::from(max_connections)),
        if m.connections.is_some() {
            "the connections you expect".to_owned()
        } else {
            format!("PGTune's default for a {w} workload")
        },
    );

    let mut shared_buffers = if w == Workload::Desktop {
        mem / 16
    } else {
        mem / 4
    };
    let mut sb_reason = if w == Workload::Desktop {
        "1/16 of RAM on a desktop, which runs other programs".to_owned()
    } else {
        "25% of RAM: the OS page cache holds the rest".to_owned()
    };
    if m.version < 10 && m.os == Os::Windows && shared_buffers > 512 * KB_PER_MB {
        shared_buffers = 512 * KB_PER_MB;
        sb_reason = "512MB at most on Windows before PostgreSQL 10".to_owned();
    }
    set("shared_buffers", Value::Memory(shared_buffers), sb_reason);

    let effective_cache_size = if w == Workload::Desktop {
        mem / 4
    } else {
        mem * 3 / 4
    };
    set(
        "effective_cache_size",
        Value::Memory(effective_cache_size),
        format!(
            "{} of RAM: what the planner may assume shared_buffers and the OS cache hold",
            if w == Workload::Desktop { "25%" } else { "75%" }
        ),
    );

    let mut maintenance = if w == Workload::Dw { mem / 8 } else { mem / 16 };
    let mut maint_reason = format!(
        "1/{} of RAM for VACUUM, CREATE INDEX and ALTER TABLE",
        if w == Workload::Dw { 8 } else { 16 }
    );
    let limit = if old_windows {
        2 * KB_PER_GB
    } else {
        8 * KB_PER_GB
    };
    if maintenance >= limit {
        if old_windows {
            maintenance = limit - KB_PER_MB;
            maint_reason = "2GB less 1MB, the most Windows allows up to PostgreSQL 17".to_owned();
        } else {
            maintenance = limit;
            maint_reason = "capped at 8GB: more does not speed maintenance up".to_owned();
        }
    }
    set(
        "maintenance_work_mem",
        Value::Memory(maintenance),
        maint_reason,
    );

    set(
        "checkpoint_completion_target",
        Value::Real(0.9),
        "spread checkpoint writes over 90% of the interval (PostgreSQL 14's default)".to_owned(),
    );

    let mut wal_buffers = 3 * shared_buffers / 100;
    let max_wal_buffers = 16 * KB_PER_MB;
    if wal_buffers > max_wal_buffers {
        wal_buffers = max_wal_buffers;
    }
    if wal_buffers > 14 * KB_PER_MB && wal_buffers < max_wal_buffers {
        wal_buffers = max_wal_buffers;
    }
    if wal_buffers < 32 {
        wal_buffers = 32;
    }
    set(
        "wal_buffers",
        Value::Memory(wal_buffers),
        "3% of shared_buffers, at most 16MB (PostgreSQL's own auto-tuning rule)".to_owned(),
    );

    set(
        "default_statistics_target",
        Value::Int(if w == Workload::Dw { 500 } else { 100 }),
        if w == Workload::Dw {
            "finer statistics for a warehouse's complex queries".to_owned()
        } else {
            "PostgreSQL's default: enough for short queries".to_owned()
        },
    );

    set(
        "random_page_cost",
        Value::Real(if m.storage == Storage::Hdd { 4.0 } else { 1.1 }),
        if m.storage == Storage::Hdd {
            "a spinning disk: random reads cost 4 sequential ones".to_owned()
        } else {
            format!("{}: a random read costs about a sequential one", m.storage)
        },
    );

    if m.os == Os::Linux {
        let eic = match m.storage {
            Storage::Hdd => 2,
            Storage::Ssd => 200,
            Storage::San => 300,
            Storage::Nvme => 1000,
        };
        set(
            "effective_io_concurrency",
            Value::Int(eic),
            format!("the concurrent reads {} storage sustains", m.storage),
        );
    }

    // parallel settings, used by work_mem too
    let mut max_worker_processes = None;
    let mut parallel = Vec::new();
    if let Some(cpus) = m.cpus.filter(|c| *c >= 4) {
        let mut per_gather = cpus.div_ceil(2);
        if w != Workload::Dw && per_gather > 4 {
            per_gather = 4;
        }
        max_worker_processes = Some(cpus);
        parallel.push((
            "max_worker_processes",
            cpus,
            "one background worker per CPU".to_owned(),
        ));
        parallel.push((
            "max_parallel_workers_per_gather",
            per_gather,
            if w == Workload::Dw {
                "half the CPUs per query in a warehouse".to_owned()
            } else {
                "half the CPUs per query, at most 4 (more rarely helps short queries)".to_owned()
            },
        ));
        if m.version >= 10 {
            parallel.push((
                "max_parallel_workers",
                cpus,
                "every CPU may run a parallel worker".to_owned(),
            ));
        }
        if m.version >= 11 {
            parallel.push((
                "max_parallel_maintenance_workers",
                cpus.div_ceil(2).min(4),
                "half the CPUs, at most 4, for CREATE INDEX and VACUUM".to_owned(),
            ));
        }
    }

    let workers_for_work_mem = max_worker_processes.filter(|n| *n > 0).unwrap_or(8);
    // PGTune: (RAM - shared_buffers) / ((max_connections + max_worker_processes) * 3), since a
    // query may use work_mem several times over
    let per_connection = (mem as f64 - shared_buffers as f64)
        / (f64::from(max_connections + workers_for_work_mem) * 3.0);
    let (divisor, share) = match w {
        Workload::Web | Workload::Oltp => (1.0, ""),
        Workload::Dw | Workload::Mixed => (2.0, ", halved for large sorts"),
        Workload::Desktop => (6.0, ", a sixth on a desktop"),
    };
    let mut work_mem = (per_connection / divisor).floor() as u64;
    let mut wm_reason = format!(
        "(RAM - shared_buffers) / ((max_connections + {workers_for_work_mem} workers) × 3){share}"
    );
    if work_mem < 4 * KB_PER_MB {
        work_mem = 4 * KB_PER_MB;
        wm_reason = "4MB at least, so simple sorts stay in memory".to_owned();
    }
    if old_windows && work_mem > 2 * KB_PER_GB - KB_PER_MB {
        work_mem = 2 * KB_PER_GB - KB_PER_MB;
        wm_reason = "2GB less 1MB, the most Windows allows up to PostgreSQL 17".to_owned();
    }
    set("work_mem", Value::Memory(work_mem), wm_reason);

    let huge_pages = m.os != Os::Mac && shared_buffers >= 2 * KB_PER_GB;
    set(
        "huge_pages",
        Value::Word(if huge_pages { "try" } else { "off" }),
        if m.os == Os::Mac {
            "macOS has no huge pages for PostgreSQL".to_owned()
        } else if huge_pages {
            "shared_buffers of 2GB or more: huge pages cut page-table overhead".to_owned()
        } else {
            "shared_buffers under 2GB gains little from huge pages".to_owned()
        },
    );

    let (min_wal, max_wal) = match w {
        Workload::Web | Workload::Mixed => (1024, 4096),
        Workload::Oltp => (2048, 8192),
        Workload::Dw => (4096, 16384),
        Workload::Desktop => (100, 2048),
    };
    set(
        "min_wal_size",
        Value::Memory(min_wal * KB_PER_MB),
        format!("WAL kept for a {w} workload's write bursts"),
    );
    set(
        "max_wal_size",
        Value::Memory(max_wal * KB_PER_MB),
        "fewer forced checkpoints under heavy writes".to_owned(),
    );

    for (name, n, reason) in parallel {
        set(name, Value::Int(u64::from(n)), reason);
    }

    if w == Workload::Desktop {
        set(
            "wal_level",
            Value::Word("minimal"),
            "a desktop needs no replication or archiving".to_owned(),
        );
        set(
            "max_wal_senders",
            Value::Int(0),
            "required by wal_level = minimal".to_owned(),
        );
    }

    if m.version >= 12 && matches!(w, Workload::Web | Workload::Oltp | Workload::Mixed) {
        set(
            "jit",
            Value::Word("off"),
            "JIT costs short queries more planning time than it saves".to_owned(),
        );
    }

    if m.version >= 15 {
        set(
            "wal_compression",
            Value::Word("lz4"),
            "lz4 compresses full-page writes cheaply (PostgreSQL 15+)".to_owned(),
        );
    } else {
        set(
            "wal_compression",
            Value::Word("on"),
            "compress full-page writes (pglz)".to_owned(),
        );
    }

    if let Some(cpus) = m.cpus {
        let workers = if cpus >= 32 {
            Some(5)
        } else if cpus >= 16 {
            Some(4)
        } else {
            None
        };
        if let Some(n) = workers {
            set(
                "autovacuum_max_workers",
                Value::Int(n),
                format!("{cpus} CPUs can vacuum more tables at once than the default 3"),
            );
        }
    }

    let threshold = 2 * KB_PER_GB;
    if maintenance >= threshold {
        set(
            "autovacuum_work_mem",
            Value::Memory(threshold),
            "2GB per autovacuum worker, so several workers cannot exhaust RAM".to_owned(),
        );
    }

    out
}

/// `16GB`, `512MB`, `1TB` (binary units, as PGTune reads them) in kB.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = t[digits.len()..].to_ascii_uppercase();
    let n: u64 = digits.trim().parse().map_err(|_| {
        format!("`{text}` is not an amount of memory: write it as `16GB`, `512MB` or `1TB`")
    })?;
    let per = match unit.as_str() {
        "MB" | "MIB" | "M" => KB_PER_MB,
        "GB" | "GIB" | "G" => KB_PER_GB,
        "TB" | "TIB" | "T" => KB_PER_GB * 1024,
        _ => {
            return Err(format!(
                "`{text}` has no unit PGTune knows: write it as `16GB`, `512MB` or `1TB`"
            ));
        }
    };
    if n == 0 {
        return Err("the memory must be more than 0".to_owned());
    }
    n.checked_mul(per)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// PGTune's warning for memory outside what its formulas were made for.
pub fn warning(memory_kb: u64) -> Option<&'static str> {
    if memory_kb < 256 * KB_PER_MB {
        Some("PGTune's formulas are not meant for less than 256MB of RAM")
    } else if memory_kb > 100 * KB_PER_GB {
        Some("PGTune's formulas are not meant for more than 100GB of RAM")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(memory: &str, workload: Workload) -> Machine {
        Machine {
            memory_kb: parse_memory(memory).unwrap_or(0),
            cpus: None,
            connections: None,
            storage: Storage::Ssd,
            workload,
            os: Os::Linux,
            version: 18,
        }
    }

    fn get(settings: &[Setting], name: &str) -> Option<String> {
        settings
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value.to_string())
    }

    fn conf(settings: &[Setting]) -> Vec<String> {
        settings
            .iter()
            .map(|s| format!("{} = {}", s.name, s.value))
            .collect()
    }

    /// Whole configurations, as PGTune `01bb644` computes them.
    #[test]
    fn whole_configurations() {
        let m = Machine {
            cpus: Some(4),
            version: 15,
            ..machine("16GB", Workload::Web)
        };
        assert_eq!(
            conf(&advise(&m)),
            [
                "max_connections = 200",
                "shared_buffers = 4GB",
                "effective_cache_size = 12GB",
                "maintenance_work_mem = 1GB",
                "checkpoint_completion_target = 0.9",
                "wal_buffers = 16MB",
                "default_statistics_target = 100",
                "random_page_cost = 1.1",
                "effective_io_concurrency = 200",
                "work_mem = 20560kB",
                "huge_pages = try",
                "min_wal_size = 1GB",
                "max_wal_size = 4GB",
                "max_worker_processes = 4",
                "max_parallel_workers_per_gather = 2",
                "max_parallel_workers = 4",
                "max_parallel_maintenance_workers = 2",
                "jit = off",
                "wal_compression = lz4",
            ]
        );
        let m = Machine {
            cpus: Some(32),
            connections: Some(50),
            storage: Storage::Hdd,
            version: 14,
            ..machine("64GB", Workload::Dw)
        };
        assert_eq!(
            conf(&advise(&m)),
            [
                "max_connections = 50",
                "shared_buffers = 16GB",
                "effective_cache_size = 48GB",
                "maintenance_work_mem = 8GB",
                "checkpoint_completion_target = 0.9",
                "wal_buffers = 16MB",
                "default_statistics_target = 500",
                "random_page_cost = 4",
                "effective_io_concurrency = 2",
                "work_mem = 102300kB",
                "huge_pages = try",
                "min_wal_size = 4GB",
                "max_wal_size = 16GB",
                "max_worker_processes = 32",
                "max_parallel_workers_per_gather = 16",
                "max_parallel_workers = 32",
                "max_parallel_maintenance_workers = 4",
                "wal_compression = on",
                "autovacuum_max_workers = 5",
                "autovacuum_work_mem = 2GB",
            ]
        );
        let m = Machine {
            storage: Storage::Nvme,
            os: Os::Mac,
            version: 17,
            ..machine("2GB", Workload::Desktop)
        };
        assert_eq!(
            conf(&advise(&m)),
            [
                "max_connections = 20",
                "shared_buffers = 128MB",
                "effective_cache_size = 512MB",
                "maintenance_work_mem = 128MB",
                "checkpoint_completion_target = 0.9",
                "wal_buffers = 3932kB",
                "default_statistics_target = 100",
                "random_page_cost = 1.1",
                "work_mem = 4MB",
                "huge_pages = off",
                "min_wal_size = 100MB",
                "max_wal_size = 2GB",
                "wal_level = minimal",
                "max_wal_senders = 0",
                "wal_compression = lz4",
            ]
        );
        let m = Machine {
            cpus: Some(8),
            connections: Some(400),
            storage: Storage::San,
            version: 16,
            ..machine("32GB", Workload::Oltp)
        };
        let advice = advise(&m);
        assert_eq!(get(&advice, "work_mem").as_deref(), Some("20560kB"));
        assert_eq!(
            get(&advice, "effective_io_concurrency").as_deref(),
            Some("300")
        );
        assert_eq!(get(&advice, "min_wal_size").as_deref(), Some("2GB"));
        assert_eq!(get(&advice, "max_wal_size").as_deref(), Some("8GB"));
        assert_eq!(
            get(&advice, "max_parallel_workers_per_gather").as_deref(),
            Some("4")
        );
        let m = Machine {
            cpus: Some(2),
            version: 13,
            ..machine("8GB", Workload::Mixed)
        };
        let advice = advise(&m);
        assert_eq!(get(&advice, "work_mem").as_deref(), Some("9709kB"));
        assert_eq!(get(&advice, "max_worker_processes"), None);
        assert_eq!(get(&advice, "jit").as_deref(), Some("off"));
    }

    /// PGTune's own test expectations (`__tests__/configurationSlice.test.js`).
    #[test]
    fn pgtunes_own_vectors() {
        for (w, n) in [
            (Workload::Web, "200"),
            (Workload::Oltp, "300"),
            (Workload::Dw, "40"),
            (Workload::Desktop, "20"),
            (Workload::Mixed, "100"),
        ] {
            assert_eq!(
                get(&advise(&machine("4GB", w)), "max_connections").as_deref(),
                Some(n)
            );
        }
        for (w, n) in [
            (Workload::Web, "100"),
            (Workload::Dw, "500"),
            (Workload::Desktop, "100"),
        ] {
            assert_eq!(
                get(&advise(&machine("4GB", w)), "default_statistics_target").as_deref(),
                Some(n)
            );
        }
        for (storage, cost, eic) in [
            (Storage::Hdd, "4", "2"),
            (Storage::Ssd, "1.1", "200"),
            (Storage::San, "1.1", "300"),
            (Storage::Nvme, "1.1", "1000"),
        ] {
            let advice = advise(&Machine {
                storage,
                ..machine("4GB", Workload::Web)
            });
            assert_eq!(get(&advice, "random_page_cost").as_deref(), Some(cost));
            assert_eq!(
                get(&advice, "effective_io_concurrency").as_deref(),
                Some(eic)
            );
        }
        let windows = advise(&Machine {
            os: Os::Windows,
            ..machine("4GB", Workload::Web)
        });
        assert_eq!(get(&windows, "effective_io_concurrency"), None);

        let parallel = |version, cpus, w| {
            let advice = advise(&Machine {
                version,
                cpus: Some(cpus),
                ..machine("4GB", w)
            });
            [
                "max_worker_processes",
                "max_parallel_workers_per_gather",
                "max_parallel_workers",
                "max_parallel_maintenance_workers",
            ]
            .iter()
            .filter_map(|n| get(&advice, n))
            .collect::<Vec<_>>()
        };
        assert!(parallel(14, 1, Workload::Web).is_empty());
        assert_eq!(parallel(13, 12, Workload::Web), ["12", "4", "12", "4"]);
        assert_eq!(parallel(10, 12, Workload::Web), ["12", "4", "12"]);
        assert_eq!(parallel(10, 31, Workload::Web), ["31", "4", "31"]);
        assert_eq!(parallel(12, 31, Workload::Dw), ["31", "16", "31", "4"]);

        let desktop = advise(&machine("4GB", Workload::Desktop));
        assert_eq!(get(&desktop, "wal_level").as_deref(), Some("minimal"));
        assert_eq!(get(&desktop, "max_wal_senders").as_deref(), Some("0"));
        assert_eq!(
            get(&advise(&machine("4GB", Workload::Web)), "wal_level"),
            None
        );

        let kb = |memory, os, version, name: &str| {
            let advice = advise(&Machine {
                os,
                version,
                ..machine(memory, Workload::Web)
            });
            advice
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.clone())
        };
        let maint = "maintenance_work_mem";
        assert_eq!(
            kb("256GB", Os::Linux, 17, maint),
            Some(Value::Memory(8_388_608))
        );
        assert_eq!(
            kb("256GB", Os::Windows, 17, maint),
            Some(Value::Memory(2_096_128))
        );
        assert_eq!(
            kb("256GB", Os::Windows, 18, maint),
            Some(Value::Memory(8_388_608))
        );
        assert_eq!(
            kb("16GB", Os::Linux, 15, maint),
            Some(Value::Memory(1_048_576))
        );

        assert_eq!(
            kb("4GB", Os::Linux, 15, "huge_pages"),
            Some(Value::Word("off"))
        );
        assert_eq!(
            kb("16GB", Os::Linux, 15, "huge_pages"),
            Some(Value::Word("try"))
        );
        assert_eq!(
            kb("128GB", Os::Mac, 15, "huge_pages"),
            Some(Value::Word("off"))
        );

        let work_mem = |memory, os, version, connections| {
            let advice = advise(&Machine {
                os,
                version,
                connections: Some(connections),
                cpus: Some(4),
                ..machine(memory, Workload::Web)
            });
            advice
                .iter()
                .find(|s| s.name == "work_mem")
                .map(|s| s.value.clone())
        };
        assert_eq!(
            work_mem("4GB", Os::Linux, 15, 9999),
            Some(Value::Memory(4096))
        );
        assert_eq!(
            work_mem("256GB", Os::Windows, 17, 20),
            Some(Value::Memory(2_096_128))
        );
        assert_eq!(
            work_mem("256GB", Os::Windows, 18, 20),
            Some(Value::Memory(2_796_202))
        );

        let jit = |version, w| {
            get(
                &advise(&Machine {
                    version,
                    ..machine("4GB", w)
                }),
                "jit",
            )
        };
        assert_eq!(jit(12, Workload::Web).as_deref(), Some("off"));
        assert_eq!(jit(15, Workload::Oltp).as_deref(), Some("off"));
        assert_eq!(jit(15, Workload::Dw), None);
        assert_eq!(jit(11, Workload::Web), None);

        let wal = |version| {
            get(
                &advise(&Machine {
                    version,
                    ..machine("4GB", Workload::Web)
                }),
                "wal_compression",
            )
        };
        assert_eq!(wal(10).as_deref(), Some("on"));
        assert_eq!(wal(14).as_deref(), Some("on"));
        assert_eq!(wal(15).as_deref(), Some("lz4"));
        assert_eq!(wal(17).as_deref(), Some("lz4"));

        let av = |cpus| {
            get(
                &advise(&Machine {
                    cpus: Some(cpus),
                    ..machine("4GB", Workload::Web)
                }),
                "autovacuum_max_workers",
            )
        };
        assert_eq!(av(32).as_deref(), Some("5"));
        assert_eq!(av(16).as_deref(), Some("4"));
        assert_eq!(av(8), None);

        let avm = "autovacuum_work_mem";
        assert_eq!(kb("4GB", Os::Linux, 15, avm), None);
        assert_eq!(
            kb("256GB", Os::Linux, 15, avm),
            Some(Value::Memory(2_097_152))
        );
        assert_eq!(kb("256GB", Os::Windows, 17, avm), None);
        assert_eq!(
            kb("256GB", Os::Windows, 18, avm),
            Some(Value::Memory(2_097_152))
        );
    }

    #[test]
    fn memory_amounts() {
        assert_eq!(parse_memory("16GB"), Ok(16 * KB_PER_GB));
        assert_eq!(parse_memory("512mb"), Ok(512 * KB_PER_MB));
        assert_eq!(parse_memory("1TB"), Ok(1024 * KB_PER_GB));
        assert!(parse_memory("16").is_err());
        assert!(parse_memory("1.5GB").is_err());
        assert!(parse_memory("0GB").is_err());
        assert!(warning(128 * KB_PER_MB).is_some());
        assert_eq!(warning(16 * KB_PER_GB), None);
    }

    #[test]
    fn every_setting_has_a_reason() {
        for w in [Workload::Web, Workload::Dw, Workload::Desktop] {
            for s in advise(&Machine {
                cpus: Some(64),
                ..machine("300GB", w)
            }) {
                assert!(!s.reason.is_empty(), "{}", s.name);
            }
        }
    }
}
