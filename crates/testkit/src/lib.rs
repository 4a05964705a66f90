//! Test support (dev-only): a real `postwerk` server on ephemeral loopback ports with its own
//! temporary data folder, and a runner for the admin CLI against that folder.
//!
//! Each test starts its own server, so failures stay independent and tests run in parallel.

pub mod api;
pub mod cli;
pub mod directory;
pub mod dns;
pub mod python;
pub mod transcript;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long a server may take to bind its listeners before the test gives up. This is a
/// readiness deadline, not a timing assertion: a slow machine only waits longer.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// A running server process, killed on drop.
pub struct TestServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    listeners: BTreeMap<String, SocketAddr>,
    /// The empty DNS server the process asks when the test gives no `[dns]`.
    dns: Option<dns::DnsServer>,
}

impl TestServer {
    /// Starts `binary serve` with every listener in `listeners` on `127.0.0.1:0`.
    pub fn start(binary: &Path, listeners: &[&str]) -> anyhow::Result<TestServer> {
        TestServer::start_with(binary, listeners, "")
    }

    /// Like [`TestServer::start`], with `extra` appended to the configuration file (tables
    /// such as `[smtp]` with small limits).
    pub fn start_with(
        binary: &Path,
        listeners: &[&str],
        extra: &str,
    ) -> anyhow::Result<TestServer> {
        let mut server = TestServer {
            binary: binary.to_path_buf(),
            dir: tempfile::tempdir()?,
            child: None,
            listeners: BTreeMap::new(),
            dns: None,
        };
        server.spawn(listeners, extra)?;
        Ok(server)
    }

    /// Writes the configuration and starts the process on this server's folder.
    fn spawn(&mut self, listeners: &[&str], extra: &str) -> anyhow::Result<()> {
        let dir = self.dir.path();
        let mut config = String::from("hostname = \"mail.example.test\"\ndata_dir = \"data\"\n");
        config.push_str("[listen]\n");
        for key in listeners {
            config.push_str(&format!("{key} = \"127.0.0.1:0\"\n"));
        }
        config.push_str(extra);
        config.push('\n');
        if !extra.contains("[greylist]") {
            // Greylisting is on by default, as at a real provider; a test that delivers over
            // the MX listener would otherwise have to come back after the delay. Tests of
            // greylisting give their own `[greylist]`.
            config.push_str("[greylist]\nenabled = false\n");
        }
        if !extra.contains("[dns]") {
            // Hermetic by default: a DNS server of its own on loopback that answers SERVFAIL
            // at once, so that no test depends on this machine's resolver, SPF of strangers'
            // mail is a quick temperror (accepted), and mail for outside domains waits in the
            // queue (a temporary failure) instead of bouncing. Tests of delivery give their own.
            if self.dns.is_none() {
                let mut zone = dns::Zone::new();
                zone.servfail(".");
                self.dns = Some(dns::DnsServer::start(zone)?);
            }
            let addr = self.dns.as_ref().map(dns::DnsServer::addr);
            if let Some(addr) = addr {
                config.push_str(&format!(
                    "[dns]\nservers = [\"{addr}\"]\ndnssec = \"off\"\n"
                ));
            }
        }
        let config_path = dir.join("postwerk.toml");
        std::fs::write(&config_path, config)?;
        // A restarted server must not be mistaken for ready by the previous run's file.
        let _ = std::fs::remove_file(self.data_dir().join("run").join("listeners.json"));
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
        };
        let child = Command::new(&self.binary)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log("stdout.log")?)
            .stderr(log("stderr.log")?)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_until_listening()
    }

    /// Kills the process with SIGKILL, as a crash would: no shutdown work runs.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().context("server already stopped")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Starts the server again on the same data folder (after [`TestServer::kill`] or
    /// [`TestServer::terminate`]), with a new configuration tail `extra`.
    pub fn restart_with(&mut self, listeners: &[&str], extra: &str) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("the server is still running");
        }
        self.spawn(listeners, extra)
    }

    fn wait_until_listening(&mut self) -> anyhow::Result<()> {
        let file = self.data_dir().join("run").join("listeners.json");
        let started = Instant::now();
        loop {
            if let Ok(bytes) = std::fs::read(&file) {
                self.listeners = serde_json::from_slice(&bytes)?;
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "server exited with {status} before listening:\n{}",
                    self.stderr()
                );
            }
            if started.elapsed() > STARTUP_DEADLINE {
                bail!("server did not start listening:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address a listener actually bound.
    pub fn addr(&self, key: &str) -> SocketAddr {
        self.listeners[key]
    }

    /// A curl client for the REST API of the `http` listener, without credentials.
    pub fn api(&self) -> api::Api {
        api::Api::new(format!("http://{}", self.addr("http")))
    }

    /// A new operator API token (write scope), made with `postwerk admin token create` as an
    /// administrator scripting the API would.
    pub fn operator_token(&self) -> String {
        let out = self.admin_ok(&["--json", "token", "create", "tests", "--scope", "write"]);
        let created: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("token create --json prints JSON");
        created["secret"]
            .as_str()
            .expect("token create --json has a secret")
            .to_owned()
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `postwerk admin --data-dir DATA ARGS…` against this server's data folder.
    pub fn admin(&self, args: &[&str]) -> Output {
        admin(&self.binary, &self.data_dir(), args)
    }

    /// Runs `postwerk admin ARGS` for a test's setup, panicking with the CLI's error output if
    /// it fails.
    pub fn admin_ok(&self, args: &[&str]) -> Output {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The raw messages in the INBOX of `address`, in UID order, read from the data folder
    /// the way the server stored them.
    pub fn inbox(&self, address: &str) -> anyhow::Result<Vec<Vec<u8>>> {
        let address: postwerk_model::Address = address.parse()?;
        self.with_store(|stores| async move { inbox_messages(&stores, &address).await })
    }

    /// Every message in the outbound queue with its content, oldest first.
    pub fn queued(&self) -> anyhow::Result<Vec<(postwerk_store::QueuedMessage, Vec<u8>)>> {
        self.with_store(|stores| async move {
            let mut out = Vec::new();
            for entry in stores.queue.queued().await? {
                let content = stores.queue.read_queued(entry.id).await?;
                out.push((entry, content));
            }
            Ok(out)
        })
    }

    /// Runs `work` against the server's store, opened a second time from this process (the
    /// embedded database allows it; writes wait for the server's lock).
    pub fn with_store<T, F, Fut>(&self, work: F) -> anyhow::Result<T>
    where
        F: FnOnce(postwerk_store::Stores) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let data_dir = self.data_dir();
        runtime.block_on(async move {
            let stores = postwerk_store::open_sqlite(&data_dir).await?;
            let result = work(stores.clone()).await;
            stores.close().await;
            result
        })
    }

    /// What the server printed on stderr (its logs) so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// What the server printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("server already stopped")?;
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        Ok(child.wait()?)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `binary admin --data-dir DIR ARGS…` and returns its output.
pub fn admin(binary: &Path, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the postwerk binary runs")
}

/// The raw messages in the INBOX of `address`, in UID order, as `stores` holds them.
pub async fn inbox_messages(
    stores: &postwerk_store::Stores,
    address: &postwerk_model::Address,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let hosted = stores
        .directory
        .address_by_address(address)
        .await?
        .with_context(|| format!("no address {address}"))?;
    let inbox = stores
        .mail
        .folder_by_name(hosted.id, "INBOX")
        .await?
        .context("no INBOX")?;
    let metas = stores
        .mail
        .list_messages(inbox.id, &postwerk_store::UidSet::all())
        .await?;
    let mut messages = Vec::new();
    for meta in metas {
        messages.push(stores.mail.read_message(inbox.id, meta.uid).await?);
    }
    Ok(messages)
}
