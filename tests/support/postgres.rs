//! A real PostgreSQL server (Debian `postgresql`: the newest
//! `/usr/lib/postgresql/<ver>/bin`) of the test process's own: `initdb` into a temporary
//! folder, `postgres` on a free 127.0.0.1 port with its socket in that folder, password
//! authentication (scram) for TCP so a wrong password is refused as in production. One
//! server per test binary, started on first use; each test gets a fresh database
//! (`database()`), dropped with it. The server stops, and its folder goes, when the test
//! process ends: it runs under a small shell that kills it once the process's end of a
//! pipe closes (statics are never dropped, a pipe always closes).
//!
//! initdb refuses to run as root: as root (CI), initdb and the server run as the Debian
//! `postgres` user (`runuser`), the folder chowned to it. Missing binaries → the test
//! fails naming `scripts/test`, which installs the package.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The superuser's password on the test server.
pub const PASSWORD: &str = "probity-test-pw";

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    // Held so the pipe stays open (and the server up) as long as the process lives.
    _guard: Mutex<(Child, ChildStdin)>,
}

/// The newest installed PostgreSQL's `bin` folder.
pub fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's initdb is missing (no /usr/lib/postgresql/<ver>/bin/initdb): run the \
             tests with `scripts/test`, which installs the Debian package postgresql"
        ),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    unsafe { geteuid() == 0 }
}

/// `bin/NAME args...`, as the `postgres` user when we are root.
fn command(bin: &Path, name: &str) -> Command {
    let exe = bin.join(name);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

fn start() -> Server {
    let bin = bin_dir();
    // Not a TempDir: the watchdog shell removes it once the server has stopped.
    let dir = tempfile::Builder::new()
        .prefix("probity-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let data = dir.join("data");
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, PASSWORD).expect("write the password file");
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("run chown");
        assert!(
            status.success(),
            "chown the PostgreSQL test folder to postgres"
        );
    }
    let out = command(&bin, "initdb")
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["-E", "UTF8", "--no-sync"])
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let postgres = bin.join("postgres");
    let as_user = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    // The watchdog: start the server, wait for our end of stdin to close (this process
    // ended, however), then stop it fast and remove its folder.
    let script = format!(
        "{as_user}'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c max_connections=200 >'{dir}/server.log' 2>&1 &
         pid=$!; cat >/dev/null; kill -INT $pid 2>/dev/null; wait $pid; rm -rf '{dir}'",
        postgres = postgres.display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the PostgreSQL watchdog shell");
    let stdin = child.stdin.take().expect("the watchdog's stdin");
    let server = Server {
        port,
        dir: dir.clone(),
        _guard: Mutex::new((child, stdin)),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match postgres::Client::connect(&server.url("postgres"), postgres::NoTls) {
            Ok(_) => return server,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!(
                "PostgreSQL did not accept connections within 60 s: {e}; its log: {}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            ),
        }
    }
}

/// The server of this test process, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(start)
}

impl Server {
    /// A URL with the password in it, for `database`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }
}

/// A fresh database on the test server, dropped with this value.
pub struct Database {
    pub name: String,
    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/NAME`.
    pub url: String,
}

impl Database {
    /// The URL as a path, which `Store::open` takes.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.url)
    }
}

/// A new, empty database.
pub fn database() -> Database {
    static N: AtomicU32 = AtomicU32::new(0);
    let server = server();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin =
        postgres::Client::connect(&server.url("postgres"), postgres::NoTls).expect("connect");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    Database {
        url: server.url(&name),
        name,
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&server().url("postgres"), postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
