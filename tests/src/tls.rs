//! TLS for real: a self-signed CA and a server certificate for `localhost` and `127.0.0.1`,
//! made by the `openssl` command-line tool, and an embedded cluster that serves them
//! (`ssl = on`, every connection logged, so a test can tell whether one was even tried).

use std::net::Ipv4Addr;
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
        TlsCluster::start_with(None)
    }

    /// [`TlsCluster::start`], listening on `address` too (a non-loopback address of this
    /// machine, see [`non_loopback_ipv4`]), which its certificate names and its `pg_hba.conf`
    /// admits (password, TLS or not): a client there is not on loopback.
    pub fn start_also_on(address: Ipv4Addr) -> TlsCluster {
        TlsCluster::start_with(Some(address))
    }

    fn start_with(also_on: Option<Ipv4Addr>) -> TlsCluster {
        let dir = std::env::temp_dir().join(format!("pgready-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the certificates' directory");
        make_ca(&dir, "ca");
        make_ca(&dir, "other_ca");
        make_server_certificate(&dir, also_on);

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
        if let Some(address) = also_on {
            // after the include of pgready.conf, so this wins
            text.push_str(&format!("listen_addresses = '127.0.0.1,{address}'\n"));
            let hba = data_dir.join("pg_hba.conf");
            let mut rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
            rules.push_str(&format!("host all all {address}/32 scram-sha-256\n"));
            std::fs::write(&hba, rules).expect("write pg_hba.conf");
        }
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

/// An IPv4 address of this machine outside 127.0.0.0/8 (the kernel's local routes,
/// `/proc/net/fib_trie`), to reach a server by as a client from elsewhere would.
pub fn non_loopback_ipv4() -> Option<Ipv4Addr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let mut last: Option<Ipv4Addr> = None;
    for line in trie.lines() {
        if let Some(address) = line.trim().strip_prefix("|-- ") {
            last = address.trim().parse().ok();
        } else if line.contains("/32 host LOCAL")
            && let Some(address) = last
            && !address.is_loopback()
        {
            return Some(address);
        }
    }
    None
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

/// `server.crt` and `server.key`: `localhost`, `127.0.0.1` (and `also`), signed by `ca`.
fn make_server_certificate(dir: &Path, also: Option<Ipv4Addr>) {
    let also = also.map(|a| format!(", IP:{a}")).unwrap_or_default();
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1{also}\n"
        ),
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
