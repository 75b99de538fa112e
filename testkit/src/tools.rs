//! Finding and installing the server programs the tests run.

use super::*;

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Make sure the binary `name` exists; if it does not and we are root, install
/// `debian_package` with apt. Panics with the command to run otherwise.
pub fn ensure_tool(name: &str, debian_package: &str) {
    static APT_LOCK: Mutex<()> = Mutex::new(());
    let _guard = APT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if on_path(name) {
        return;
    }
    if !is_root() {
        panic!("`{name}` is missing; install it with: sudo apt-get install -y {debian_package}");
    }
    let update = Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    let install = Command::new("apt-get")
        .args(["install", "-y", "-qq", debian_package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    assert!(
        on_path(name),
        "`{name}` is still missing after `apt-get install -y {debian_package}` (update: {update:?}, install: {install:?})"
    );
}

/// A loopback port that was free a moment ago.
/// A loopback port that was free a moment ago and that this test process has not handed out
/// before: parallel tests never start two servers on one port (gnutls-serv binds every
/// interface, so it would share a port with a server bound to 127.0.0.1).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind 127.0.0.1:0");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{}", std::process::id(), n, nanos)
}
