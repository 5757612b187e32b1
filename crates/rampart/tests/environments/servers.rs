//! PostgreSQL and Redis speaking TLS only, started for one test with
//! certificates made for it, and stopped when dropped.
//!
//! Under CI=true a missing `redis-server` or PostgreSQL binaries fail the
//! test; elsewhere the test is skipped with a message.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `None` (skip) outside CI; a failure under CI.
fn unavailable<T>(what: &str) -> Option<T> {
    assert!(!in_ci(), "{what} is required under CI but not installed");
    eprintln!("skipping: {what} not installed");
    None
}

/// A CA made for the test, and a server certificate it signed for
/// `127.0.0.1` and `localhost`.
pub struct TestPki {
    pub dir: tempfile::TempDir,
}

impl TestPki {
    /// Writes `ca.pem`, `server.pem` and `server-key.pem` (signed by that
    /// CA), and `other-ca.pem`, a second CA that signed nothing here.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca_params, ca_key) = ca("rampart test CA");
        std::fs::write(
            dir.path().join("ca.pem"),
            ca_params.self_signed(&ca_key).unwrap().pem(),
        )
        .unwrap();
        let (other_params, other_key) = ca("another CA");
        std::fs::write(
            dir.path().join("other-ca.pem"),
            other_params.self_signed(&other_key).unwrap().pem(),
        )
        .unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let key = KeyPair::generate().unwrap();
        std::fs::write(
            dir.path().join("server.pem"),
            params.signed_by(&key, &issuer).unwrap().pem(),
        )
        .unwrap();
        std::fs::write(dir.path().join("server-key.pem"), key.serialize_pem()).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    (params, KeyPair::generate().unwrap())
}

/// A free loopback port (released before the server binds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, stopped and reaped on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn found(path: &Path) -> bool {
    path.is_file()
}

/// `redis-server` serving TLS only (no plaintext port), with the test
/// CA's server certificate.
pub async fn tls_redis(pki: &TestPki) -> Option<Server> {
    let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| found(path));
    let Some(binary) = binary else {
        return unavailable("redis-server");
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .args(["--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(pki.path("server.pem"))
        .arg("--tls-key-file")
        .arg(pki.path("server-key.pem"))
        .arg("--tls-ca-cert-file")
        .arg(pki.path("ca.pem"))
        .args(["--tls-auth-clients", "no", "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    wait_for_port(port, "redis-server").await;
    Some(server)
}

/// The folder of PostgreSQL's server binaries: `pg_config --bindir`, or
/// the newest under /usr/lib/postgresql.
fn postgres_bindir() -> Option<PathBuf> {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if found(&dir.join("postgres")) && found(&dir.join("initdb")) {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| found(&bin.join("postgres")) && found(&bin.join("initdb")))
        .collect();
    versions.sort();
    versions.pop()
}

fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// PostgreSQL with `ssl=on` and a pg_hba that admits TLS connections only
/// (`hostssl`), user `postgres` trusted. PostgreSQL will not run as root:
/// under root (as in CI) the server runs as the `postgres` user.
pub async fn tls_postgres(pki: &TestPki) -> Option<Server> {
    let Some(bindir) = postgres_bindir() else {
        return unavailable("PostgreSQL server binaries (initdb, postgres)");
    };
    let run_as = if id(&["-u"]) == Some(0) {
        let uid = id(&["-u", "postgres"]).expect("running as root needs a postgres user");
        let gid = id(&["-g", "postgres"]).expect("the postgres user's group");
        Some((uid, gid))
    } else {
        None
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["server.pem", "server-key.pem"] {
        std::fs::copy(pki.path(name), dir.path().join(name)).unwrap();
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("server-key.pem"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    if let Some((uid, gid)) = run_as {
        for path in [
            dir.path().to_path_buf(),
            dir.path().join("server.pem"),
            dir.path().join("server-key.pem"),
        ] {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
    }
    let as_user = |command: &mut Command| {
        if let Some((uid, gid)) = run_as {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
    };
    let mut initdb = Command::new(bindir.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-sync"])
        .stdout(Stdio::null());
    as_user(&mut initdb);
    let status = initdb.status().expect("initdb runs");
    assert!(status.success(), "initdb failed");
    // TLS or nothing: a plaintext connection finds no pg_hba line.
    std::fs::write(
        data.join("pg_hba.conf"),
        "hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
    )
    .unwrap();
    let port = free_port();
    let mut postgres = Command::new(bindir.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.path().display()))
        .args(["-c", "ssl=on", "-c", "fsync=off"])
        .arg("-c")
        .arg(format!(
            "ssl_cert_file={}",
            dir.path().join("server.pem").display()
        ))
        .arg("-c")
        .arg(format!(
            "ssl_key_file={}",
            dir.path().join("server-key.pem").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    as_user(&mut postgres);
    let child = postgres.spawn().expect("postgres starts");
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    wait_for_port(port, "postgres").await;
    // Accepting connections is not yet accepting sessions.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !Command::new(bindir.join("pg_isready"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "postgres not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Some(server)
}

async fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "{what} not listening within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
