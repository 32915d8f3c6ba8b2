//! A throw-away project directory with a `pgready.toml`, and the built `pgready` binary run in it.

#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable the test projects' `[database] url_env` names, so the tests also check that the
/// DSN comes from the configured variable and not from `DATABASE_URL`.
pub const URL_ENV: &str = "PGREADY_CLI_TEST_URL";

/// A project directory, removed on drop.
pub struct Project {
    pub dir: PathBuf,
    url: Option<String>,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Project {
    /// A project with `pgready.toml` = `config` (plus `[database] url_env = URL_ENV` when the
    /// config has no `[database]` section) and an empty `migrations/`.
    pub fn new(label: &str, config: &str) -> Project {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pgready-cli-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("migrations")).expect("create the project");
        let config = if config.contains("[database]") {
            config.to_owned()
        } else {
            format!("[database]\nurl_env = \"{URL_ENV}\"\n{config}")
        };
        std::fs::write(dir.join("pgready.toml"), config).expect("write pgready.toml");
        Project { dir, url: None }
    }

    /// The same, connected to a fresh database on the shared test cluster.
    pub async fn with_database(label: &str, config: &str) -> Project {
        let mut project = Project::new(label, config);
        project.url = Some(pgready_tests::fresh_database(label).await);
        project
    }

    /// The same, connected to `url` (a server of the test's own).
    pub fn with_url(label: &str, config: &str, url: String) -> Project {
        let mut project = Project::new(label, config);
        project.url = Some(url);
        project
    }

    /// The DSN of the project's database.
    pub fn url(&self) -> &str {
        self.url.as_deref().expect("a project with a database")
    }

    /// Writes `migrations/<name>`.
    pub fn write(&self, name: &str, sql: &str) {
        std::fs::write(self.dir.join("migrations").join(name), sql).expect("write a migration");
    }

    /// `migrations/<name>`.
    pub fn migration(&self, name: &str) -> PathBuf {
        self.dir.join("migrations").join(name)
    }

    /// The file names in `migrations/`, sorted.
    pub fn migration_files(&self) -> Vec<String> {
        files_in(&self.dir.join("migrations"))
    }

    /// Runs `pgready <args>` in the project directory, with the DSN in [`URL_ENV`] (when the
    /// project has a database) and no profile or `DATABASE_URL` from the test's environment.
    pub fn pgready(&self, args: &[&str]) -> Output {
        self.pgready_with_env(args, &[])
    }

    /// Like [`Project::pgready`], with extra environment variables.
    pub fn pgready_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgready"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env_remove("PGREADY_PROFILE")
            .env_remove("DATABASE_URL")
            .env_remove(URL_ENV);
        if let Some(url) = &self.url {
            cmd.env(URL_ENV, url);
        }
        for (key, value) in vars {
            cmd.env(key, value);
        }
        run(cmd)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the binary and, for failing tests, shows what it printed.
fn run(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run the pgready binary");
    let output = Output {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    };
    eprintln!(
        "$ pgready {:?}\n{output:#?}",
        cmd.get_args().collect::<Vec<_>>()
    );
    output
}

/// The sorted file names in `dir`.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read a directory")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8")
        })
        .collect();
    names.sort();
    names
}

/// The password of the shared test cluster, which must never be printed.
pub fn cluster_password() -> &'static str {
    pgready_tests::cluster().password()
}
