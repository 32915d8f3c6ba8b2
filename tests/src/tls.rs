//! TLS for real: a self-signed CA and a server certificate for `localhost` and `127.0.0.1`,
//! made by the `openssl` command-line tool, and an embedded cluster that serves them
//! (`ssl = on`, every connection logged, so a test can tell whether one was even tried).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use pgready::embedded::Cluster;

/// A running cluster with `ssl = on` and the certificates it was given.
pub struct TlsCluster {
    /// The server: it accepts TLS and plaintext connections alike (`host` lines of the default
    /// `pg_hba.conf`), so only the client decides.
    pub cluster: Cluster,
    /// The CA that signed the server's certificate (PEM).
    pub ca: PathBuf,
    /// A CA of the same make that signed nothing the server has: the wrong `sslrootcert`.
    pub other_ca: PathBuf,
    dir: PathBuf,
}

impl TlsCluster {
    /// Makes the certificates, creates a cluster, installs the server's certificate and key in
    /// its data directory (owned by the server's OS user, key mode 0600) and starts it.
    /// Blocks: call it from `spawn_blocking` in async code.
    pub fn start() -> TlsCluster {
        let dir = std::env::temp_dir().join(format!("pgready-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the certificates' directory");
        make_ca(&dir, "ca");
        make_ca(&dir, "other_ca");
        make_server_certificate(&dir);

        let mut cluster = Cluster::init().unwrap_or_else(|e| panic!("create the cluster: {e}"));
        let data_dir = cluster.data_dir().to_path_buf();
        let owner = std::fs::metadata(&data_dir).expect("stat PGDATA");
        for (file, mode) in [("server.crt", 0o644), ("server.key", 0o600)] {
            let target = data_dir.join(file);
            std::fs::copy(dir.join(file), &target).expect("copy into PGDATA");
            std::os::unix::fs::chown(&target, Some(owner.uid()), Some(owner.gid()))
                .expect("give the file to the server's user");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .expect("set the file's mode");
        }
        // `server.crt` and `server.key` in PGDATA are the defaults of `ssl_cert_file` and
        // `ssl_key_file`.
        let conf = data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str("\n# TLS test\nssl = on\nlog_connections = on\n");
        std::fs::write(&conf, text).expect("write postgresql.conf");
        cluster
            .start()
            .unwrap_or_else(|e| panic!("start the TLS cluster: {e}"));
        TlsCluster {
            cluster,
            ca: dir.join("ca.crt"),
            other_ca: dir.join("other_ca.crt"),
            dir,
        }
    }

    /// The DSN of `database`, with `params` (`sslmode=…&sslrootcert=…`) as its query.
    pub fn url(&self, database: &str, params: &str) -> String {
        let url = self.cluster.url(database);
        if params.is_empty() {
            url
        } else {
            format!("{url}?{params}")
        }
    }

    /// How many connections the server has received so far (`log_connections`).
    pub fn connections_received(&self) -> usize {
        std::fs::read_to_string(self.cluster.log_file())
            .unwrap_or_default()
            .matches("connection received:")
            .count()
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run `openssl` (install it: `apt-get install openssl`)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `<name>.crt` and `<name>.key`: a self-signed CA (P-256, two days).
fn make_ca(dir: &Path, name: &str) {
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            &format!("/CN=pgready test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.crt` and `server.key`: `localhost` and `127.0.0.1`, signed by `ca`.
fn make_server_certificate(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost, IP:127.0.0.1\n",
    )
    .expect("write server.ext");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}
