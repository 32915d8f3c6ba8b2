//! Finding the machine's PostgreSQL server binaries. Nothing is ever downloaded.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::EmbeddedError;

/// The environment variable naming the directory that holds the server binaries.
pub const PG_BIN_ENV: &str = "PGREADY_PG_BIN";

/// The binaries a cluster needs, all from one directory.
const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where [`Binaries::discover_in`] looks, so that discovery can be tested (or steered) without
/// touching the process environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEnv {
    /// The value of `PGREADY_PG_BIN`: when set, the only place looked at.
    pub pg_bin: Option<PathBuf>,
    /// The value of `PATH`, searched for `pg_config` and then for the binaries themselves.
    pub path: Option<OsString>,
    /// The directory holding one `<version>/bin` per installed major version (Debian and
    /// Ubuntu's `/usr/lib/postgresql`); the newest version is taken.
    pub versioned_root: PathBuf,
}

impl SearchEnv {
    /// The search environment of this process: `PGREADY_PG_BIN`, `PATH` and
    /// `/usr/lib/postgresql`.
    pub fn from_process() -> Self {
        Self {
            pg_bin: std::env::var_os(PG_BIN_ENV)
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
            path: std::env::var_os("PATH"),
            versioned_root: PathBuf::from("/usr/lib/postgresql"),
        }
    }
}

/// A directory holding the PostgreSQL server binaries `initdb`, `pg_ctl` and `postgres`.
///
/// ```no_run
/// let binaries = pgready::embedded::Binaries::discover()?;
/// println!("using PostgreSQL from {}", binaries.dir().display());
/// # Ok::<(), pgready::embedded::EmbeddedError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Finds the server binaries from this process's environment; see [`Binaries::discover_in`].
    pub fn discover() -> Result<Self, EmbeddedError> {
        Self::discover_in(&SearchEnv::from_process())
    }

    /// Finds the server binaries, looking in this order:
    ///
    /// 1. `PGREADY_PG_BIN`: when set it is the only place looked at, so that a wrong setting is
    ///    an error rather than a silent switch to another installation;
    /// 2. `pg_config --bindir`, with the first `pg_config` on `PATH`;
    /// 3. each directory on `PATH` holding all of `initdb`, `pg_ctl` and `postgres`;
    /// 4. the newest `<versioned_root>/<version>/bin` (numeric order, so 15 beats 9.6).
    pub fn discover_in(env: &SearchEnv) -> Result<Self, EmbeddedError> {
        if let Some(dir) = &env.pg_bin {
            let missing = missing_in(dir, &REQUIRED);
            return if missing.is_empty() {
                Ok(Self { dir: dir.clone() })
            } else {
                Err(EmbeddedError::InvalidPgBin {
                    dir: dir.clone(),
                    missing,
                })
            };
        }

        let places = Places::of(env);
        let mut searched = Vec::new();
        match &places.pg_config {
            None => searched.push("`pg_config --bindir` (no `pg_config` on PATH)".to_owned()),
            Some((pg_config, Some(dir))) => {
                let missing = missing_in(dir, &REQUIRED);
                if missing.is_empty() {
                    return Ok(Self { dir: dir.clone() });
                }
                searched.push(format!(
                    "`{} --bindir` = `{}` (lacks {})",
                    pg_config.display(),
                    dir.display(),
                    missing.join(", ")
                ));
            }
            Some((pg_config, None)) => {
                searched.push(format!("`{} --bindir` (failed)", pg_config.display()));
            }
        }

        if let Some(dir) = places
            .path_dirs
            .iter()
            .find(|d| missing_in(d, &REQUIRED).is_empty())
        {
            return Ok(Self { dir: dir.clone() });
        }
        searched.push(if places.path_dirs.is_empty() {
            "PATH (empty)".to_owned()
        } else {
            format!(
                "PATH ({} directories, none holds all three)",
                places.path_dirs.len()
            )
        });

        if let Some((_, dir)) = places
            .versions
            .iter()
            .find(|(_, dir)| missing_in(dir, &REQUIRED).is_empty())
        {
            return Ok(Self { dir: dir.clone() });
        }
        searched.push(format!(
            "`{}/<version>/bin` ({})",
            env.versioned_root.display(),
            if places.versions.is_empty() {
                "no version installed"
            } else {
                "no complete version"
            }
        ));

        Err(EmbeddedError::BinariesNotFound { searched })
    }

    /// The directory holding the binaries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `initdb` binary.
    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    /// The `pg_ctl` binary.
    pub fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }

    /// The `postgres` server binary.
    pub fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }

    /// The `pg_basebackup` client of the same installation, when the directory holds one: it
    /// makes [`Cluster::replica_of`](super::Cluster::replica_of)'s copy.
    pub fn pg_basebackup(&self) -> Option<PathBuf> {
        let path = self.dir.join("pg_basebackup");
        is_executable(&path).then_some(path)
    }

    /// The `pg_dump` client of the same installation, when the directory holds one (a
    /// server-only installation may lack it), so a dump always matches the server's version.
    pub fn pg_dump(&self) -> Option<PathBuf> {
        let path = self.dir.join("pg_dump");
        is_executable(&path).then_some(path)
    }
}

/// The places the search looks at, in its order: `pg_config --bindir`, each directory on
/// `PATH`, each `<versioned_root>/<version>/bin` (newest first). `PGREADY_PG_BIN`, when set,
/// replaces them all and is handled by each search.
struct Places {
    /// the first `pg_config` on `PATH`, and what its `--bindir` printed (`None`: it failed)
    pg_config: Option<(PathBuf, Option<PathBuf>)>,
    path_dirs: Vec<PathBuf>,
    /// newest first
    versions: Vec<(Vec<u32>, PathBuf)>,
}

impl Places {
    fn of(env: &SearchEnv) -> Places {
        let path_dirs: Vec<PathBuf> = env
            .path
            .as_ref()
            .map(|path| {
                std::env::split_paths(path)
                    .filter(|d| d.is_absolute())
                    .collect()
            })
            .unwrap_or_default();
        let pg_config = path_dirs
            .iter()
            .map(|d| d.join("pg_config"))
            .find(|p| is_executable(p))
            .map(|pg_config| {
                let dir = bindir_of(&pg_config);
                (pg_config, dir)
            });
        let mut versions = installed_versions(&env.versioned_root);
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        Places {
            pg_config,
            path_dirs,
            versions,
        }
    }

    /// Every directory, in search order, each once.
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        let all = self
            .pg_config
            .iter()
            .filter_map(|(_, dir)| dir.clone())
            .chain(self.path_dirs.iter().cloned())
            .chain(self.versions.iter().map(|(_, dir)| dir.clone()));
        // `/bin` is often `/usr/bin`: each directory once, by its real path
        let mut seen: Vec<PathBuf> = Vec::new();
        for dir in all {
            let real = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            if !seen.contains(&real) {
                seen.push(real);
                dirs.push(dir);
            }
        }
        dirs
    }
}

/// The client tools `pgready backup`, `restore` and `backup verify` run.
const CLIENT_TOOLS: [&str; 2] = ["pg_dump", "pg_restore"];

/// A directory holding PostgreSQL's `pg_dump` and `pg_restore`, of a major version that suits
/// a given server, found in the same places and order as the server [`Binaries`].
///
/// A `pg_dump` refuses a server newer than itself, and the best dump of a server comes from its
/// own major version, so the search takes the first directory whose tools have exactly the
/// server's major version, else the one with the closest newer major version (`pg_dump` reads
/// older servers). `PGREADY_PG_BIN`, when set, is the only place looked at.
///
/// ```no_run
/// let tools = pgready::embedded::ClientTools::discover(16)?;
/// println!("pg_dump {} from {}", tools.version(), tools.dir().display());
/// # Ok::<(), pgready::embedded::EmbeddedError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTools {
    dir: PathBuf,
    version: String,
    major: u32,
}

impl ClientTools {
    /// Finds the client tools for a server of major version `server_major` (`15` for
    /// PostgreSQL 15.x, `server_version_num / 10000`) from this process's environment.
    pub fn discover(server_major: u32) -> Result<Self, EmbeddedError> {
        Self::discover_in(&SearchEnv::from_process(), server_major)
    }

    /// Finds the client tools for a server of major version `server_major`, looking where
    /// [`Binaries::discover_in`] looks.
    pub fn discover_in(env: &SearchEnv, server_major: u32) -> Result<Self, EmbeddedError> {
        let dirs = match &env.pg_bin {
            Some(dir) => vec![dir.clone()],
            None => Places::of(env).dirs(),
        };
        let mut found = Vec::new();
        let mut searched = Vec::new();
        for dir in dirs {
            let missing = missing_in(&dir, &CLIENT_TOOLS);
            if !missing.is_empty() {
                // a directory with neither tool is not worth naming, unless it is the only one
                if missing.len() < CLIENT_TOOLS.len() || env.pg_bin.is_some() {
                    searched.push(format!(
                        "`{}` (lacks {})",
                        dir.display(),
                        missing.join(", ")
                    ));
                }
                continue;
            }
            match version_of(&dir.join("pg_dump")) {
                // the first exact match ends the search (each probe runs a process)
                Some((version, major)) if major == server_major => {
                    return Ok(ClientTools {
                        dir,
                        version,
                        major,
                    });
                }
                Some((version, major)) => {
                    searched.push(format!("`{}` (version {version})", dir.display()));
                    found.push(ClientTools {
                        dir,
                        version,
                        major,
                    });
                }
                None => searched.push(format!("`{}` (`pg_dump --version` failed)", dir.display())),
            }
        }
        let newer = found
            .iter()
            .enumerate()
            .filter(|(_, t)| t.major > server_major)
            .min_by_key(|(_, t)| t.major)
            .map(|(i, _)| i);
        match newer {
            Some(i) => Ok(found.swap_remove(i)),
            None => {
                if searched.is_empty() {
                    searched.push(format!(
                        "`pg_config --bindir`, PATH and `{}/<version>/bin` (none holds them)",
                        env.versioned_root.display()
                    ));
                }
                Err(EmbeddedError::ClientToolsNotFound {
                    server_major,
                    searched,
                })
            }
        }
    }

    /// The directory holding the tools.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `pg_dump` binary.
    pub fn pg_dump(&self) -> PathBuf {
        self.dir.join("pg_dump")
    }

    /// The `pg_restore` binary.
    pub fn pg_restore(&self) -> PathBuf {
        self.dir.join("pg_restore")
    }

    /// The tools' version as `pg_dump --version` prints it, e.g. `15.18`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The tools' major version, e.g. `15`.
    pub fn major(&self) -> u32 {
        self.major
    }
}

/// `(version, major)` from `<program> --version` (`pg_dump (PostgreSQL) 15.18 (Debian …)`).
fn version_of(program: &Path) -> Option<(String, u32)> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&output.stdout))
}

/// `(version, major)` from a `--version` line: the first word after `(PostgreSQL)`.
fn parse_version(line: &str) -> Option<(String, u32)> {
    let after = line.split_once(')').map_or(line, |(_, rest)| rest);
    let version = after.split_whitespace().next()?;
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((version.to_owned(), major))
}

fn missing_in(dir: &Path, names: &[&'static str]) -> Vec<&'static str> {
    names
        .iter()
        .copied()
        .filter(|name| !is_executable(&dir.join(name)))
        .collect()
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn bindir_of(pg_config: &Path) -> Option<PathBuf> {
    let output = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (output.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `(version, bin dir)` for each `<root>/<version>/bin`, version as numbers (`9.6` → `[9, 6]`).
fn installed_versions(root: &Path) -> Vec<(Vec<u32>, PathBuf)> {
    let Ok(entries) = root.read_dir() else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pgready-binaries-test-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_install(dir: &Path, names: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for name in names {
            let file = dir.join(name);
            fs::write(&file, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn empty_pg_bin_is_a_clear_error_even_when_others_would_be_found() {
        let root = scratch("empty-pg-bin");
        let good = root.join("good");
        fake_install(&good, &REQUIRED);
        let env = SearchEnv {
            pg_bin: Some(root.join("empty")),
            path: Some(good.clone().into_os_string()),
            versioned_root: root.join("none"),
        };
        let err = Binaries::discover_in(&env).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, EmbeddedError::InvalidPgBin { .. }),
            "{message}"
        );
        assert!(message.contains("PGREADY_PG_BIN"), "{message}");
        assert!(message.contains("initdb, pg_ctl, postgres"), "{message}");
        assert!(
            message.contains(
                "install the PostgreSQL server binaries (e.g. `apt-get install postgresql`)"
            ),
            "{message}"
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn nothing_found_lists_every_place_and_what_to_install() {
        let root = scratch("nothing");
        let empty = root.join("empty");
        fs::create_dir_all(&empty).unwrap();
        // A partial install on PATH must not be taken.
        fake_install(&root.join("partial"), &["initdb", "pg_ctl"]);
        let path = std::env::join_paths([empty.clone(), root.join("partial")]).unwrap();
        let env = SearchEnv {
            pg_bin: None,
            path: Some(path),
            versioned_root: root.join("no-such-root"),
        };
        let err = Binaries::discover_in(&env).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, EmbeddedError::BinariesNotFound { .. }),
            "{message}"
        );
        assert!(message.contains("pg_config"), "{message}");
        assert!(message.contains("PATH (2 directories"), "{message}");
        assert!(message.contains("no-such-root/<version>/bin"), "{message}");
        assert!(
            message.contains("install the PostgreSQL server binaries (e.g. `apt-get install postgresql`) or set PGREADY_PG_BIN"),
            "{message}"
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn pg_bin_wins_over_everything() {
        let root = scratch("pg-bin-wins");
        fake_install(&root.join("explicit"), &REQUIRED);
        fake_install(&root.join("on-path"), &REQUIRED);
        let env = SearchEnv {
            pg_bin: Some(root.join("explicit")),
            path: Some(root.join("on-path").into_os_string()),
            versioned_root: root.clone(),
        };
        assert_eq!(
            Binaries::discover_in(&env).unwrap().dir(),
            root.join("explicit")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn pg_config_bindir_comes_before_path() {
        let root = scratch("pg-config");
        let server = root.join("server-bin");
        fake_install(&server, &REQUIRED);
        let tools = root.join("tools");
        fs::create_dir_all(&tools).unwrap();
        let pg_config = tools.join("pg_config");
        fs::write(
            &pg_config,
            format!("#!/bin/sh\necho '{}'\n", server.display()),
        )
        .unwrap();
        fs::set_permissions(&pg_config, fs::Permissions::from_mode(0o755)).unwrap();
        let other = root.join("other");
        fake_install(&other, &REQUIRED);
        let env = SearchEnv {
            pg_bin: None,
            path: Some(std::env::join_paths([other, tools]).unwrap()),
            versioned_root: root.join("none"),
        };
        assert_eq!(Binaries::discover_in(&env).unwrap().dir(), server);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn path_directory_with_all_three_is_found() {
        let root = scratch("path");
        fake_install(&root.join("a"), &["postgres"]);
        fake_install(&root.join("b"), &REQUIRED);
        let env = SearchEnv {
            pg_bin: None,
            path: Some(std::env::join_paths([root.join("a"), root.join("b")]).unwrap()),
            versioned_root: root.join("none"),
        };
        assert_eq!(Binaries::discover_in(&env).unwrap().dir(), root.join("b"));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn newest_version_is_chosen_numerically() {
        let root = scratch("versions");
        for version in ["9.6", "10", "15", "16"] {
            let names: &[&str] = if version == "16" {
                &["initdb"] // incomplete: skipped
            } else {
                &REQUIRED
            };
            fake_install(&root.join(version).join("bin"), names);
        }
        fs::create_dir_all(root.join("common")).unwrap();
        let env = SearchEnv {
            pg_bin: None,
            path: None,
            versioned_root: root.clone(),
        };
        assert_eq!(
            Binaries::discover_in(&env).unwrap().dir(),
            root.join("15").join("bin")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn pg_dump_is_taken_from_the_same_directory_when_there() {
        let root = scratch("pg-dump");
        fake_install(&root.join("server-only"), &REQUIRED);
        fake_install(&root.join("full"), &[&REQUIRED[..], &["pg_dump"]].concat());
        let in_dir = |dir: &str| {
            Binaries::discover_in(&SearchEnv {
                pg_bin: Some(root.join(dir)),
                path: None,
                versioned_root: root.clone(),
            })
            .unwrap()
        };
        assert_eq!(in_dir("server-only").pg_dump(), None);
        assert_eq!(
            in_dir("full").pg_dump(),
            Some(root.join("full").join("pg_dump"))
        );
        fs::remove_dir_all(root).unwrap();
    }

    fn fake_client(dir: &Path, version: &str) {
        fake_install(dir, &["pg_restore"]);
        let pg_dump = dir.join("pg_dump");
        fs::write(
            &pg_dump,
            format!("#!/bin/sh\necho 'pg_dump (PostgreSQL) {version} (Debian {version}-1)'\n"),
        )
        .unwrap();
        fs::set_permissions(&pg_dump, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn client_tools_of_the_servers_major_version_win_over_newer_ones() {
        let root = scratch("client-exact");
        for v in ["14.9", "15.4", "16.2", "17.0"] {
            let major = v.split('.').next().unwrap();
            fake_client(&root.join(major).join("bin"), v);
        }
        let env = SearchEnv {
            pg_bin: None,
            path: None,
            versioned_root: root.clone(),
        };
        let tools = ClientTools::discover_in(&env, 15).unwrap();
        assert_eq!(tools.dir(), root.join("15").join("bin"));
        assert_eq!((tools.version(), tools.major()), ("15.4", 15));
        assert_eq!(
            tools.pg_restore(),
            root.join("15").join("bin").join("pg_restore")
        );
        // no 13: the closest newer one reads an older server
        assert_eq!(ClientTools::discover_in(&env, 13).unwrap().major(), 14);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn client_tools_older_than_the_server_are_refused_with_what_to_install() {
        let root = scratch("client-old");
        fake_client(&root.join("on-path"), "15.4");
        fake_install(&root.join("half"), &["pg_dump"]);
        let env = SearchEnv {
            pg_bin: None,
            path: Some(std::env::join_paths([root.join("on-path"), root.join("half")]).unwrap()),
            versioned_root: root.join("none"),
        };
        let err = ClientTools::discover_in(&env, 17).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("for PostgreSQL 17"), "{message}");
        assert!(message.contains("on-path` (version 15.4)"), "{message}");
        assert!(message.contains("half` (lacks pg_restore)"), "{message}");
        assert!(
            message.contains("`apt-get install postgresql-client-17`"),
            "{message}"
        );
        // the same directory suits a PostgreSQL 15 server
        assert_eq!(
            ClientTools::discover_in(&env, 15).unwrap().dir(),
            root.join("on-path")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn client_tools_from_pg_bin_only() {
        let root = scratch("client-pg-bin");
        fake_client(&root.join("explicit"), "16.1");
        fake_client(&root.join("15").join("bin"), "15.4");
        let env = SearchEnv {
            pg_bin: Some(root.join("explicit")),
            path: None,
            versioned_root: root.clone(),
        };
        assert_eq!(ClientTools::discover_in(&env, 15).unwrap().major(), 16);
        let err = ClientTools::discover_in(&env, 17).unwrap_err().to_string();
        assert!(err.contains("explicit` (version 16.1)"), "{err}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn versions_are_read_from_the_version_line() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(("15.18".to_owned(), 15))
        );
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 17beta1\n"),
            Some(("17beta1".to_owned(), 17))
        );
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn this_machine_has_client_tools_for_its_server() {
        let binaries = Binaries::discover().unwrap();
        let version = version_of(&binaries.postgres()).unwrap();
        let tools = ClientTools::discover(version.1).unwrap();
        assert_eq!(tools.major(), version.1, "{tools:?}");
    }

    #[test]
    fn this_machine_has_server_binaries() {
        let binaries = Binaries::discover().unwrap();
        assert!(is_executable(&binaries.postgres()), "{binaries:?}");
    }
}
