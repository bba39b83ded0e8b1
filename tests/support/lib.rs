//! Test support: start the real Starling server on a free port over a fresh database, and
//! talk to it over HTTP the way a browser does.
//!
//! The database is chosen by `STARLING_TEST_DB`: `sqlite` (default, a new file per test)
//! or `postgres` (a new database per test on `STARLING_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432`, dropped when the test ends).

pub mod fakes;
pub mod fuzz;

use anyhow::{bail, Context};
use serde_json::Value;
use server::config::Config;
use std::path::PathBuf;

pub use app::demo::LOGINS;

/// The demo login of a role, by e-mail prefix (`admin`, `am`, `copy`, `viewer@nordlicht`…).
pub fn login(email: &str) -> (&'static str, &'static str) {
    let l = LOGINS.iter().find(|l| l.email == email).expect("a demo login");
    (l.email, l.password)
}

pub const ADMIN: &str = "admin@starling.test";
pub const MANAGER: &str = "am@starling.test";
pub const WRITER: &str = "copy@starling.test";
/// The second copywriter, who reviews German, French and English.
pub const REVIEWER: &str = "lektor@starling.test";
pub const VIEWER: &str = "viewer@nordlicht.test";
pub const VIEWER_SAKURA: &str = "viewer@sakura.test";

/// Which database the suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestDb {
    Sqlite,
    Postgres,
}

impl TestDb {
    pub fn from_env() -> TestDb {
        match std::env::var("STARLING_TEST_DB").as_deref() {
            Ok("postgres") | Ok("pg") => TestDb::Postgres,
            _ => TestDb::Sqlite,
        }
    }
}

/// The repository root (where `target/site` is, after `cargo leptos build`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A running Starling with demo data, over its own database, gone when dropped.
pub struct TestApp {
    pub base: String,
    /// The database the server runs on (SQLite file or PostgreSQL database).
    pub database_url: String,
    /// The DNS server the app's domain checks ask (no records until a test adds some).
    pub dns: DnsServer,
    pub db: app::db::Db,
    pub data_dir: PathBuf,
    pg_database: Option<String>,
    task: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Starts the server with demo data on 127.0.0.1:0.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the server with demo data, after `adjust` has changed the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        init_logs();
        let unique = format!("{}_{}", std::process::id(), rand::random::<u32>());
        let data_dir = std::env::temp_dir().join(format!("starling-test-{unique}"));
        std::fs::create_dir_all(&data_dir).expect("temp data dir");
        let (database_url, pg_database) = match TestDb::from_env() {
            TestDb::Sqlite => (format!("sqlite://{}", data_dir.join("starling.db").display()), None),
            TestDb::Postgres => {
                let name = format!("starling_test_{unique}");
                let url = create_pg_database(&name).await.expect("creating a PostgreSQL test database");
                (url, Some(name))
            }
        };
        let dns = DnsServer::start();
        let mut config = Config {
            database_url,
            dns_server: Some(dns.addr),
            listen: "127.0.0.1:0".parse().expect("address"),
            data_dir: data_dir.clone(),
            site_root: std::env::var("LEPTOS_SITE_ROOT").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("target/site")),
            demo: true,
            // Tests that send start the outbox worker themselves (or run its passes).
            send: false,
            // Tests of connectors start the scheduler (`sync`) themselves.
            sync: false,
            ..Config::default()
        };
        adjust(&mut config);
        let database_url = config.database_url.clone();
        let running = server::start(config).await.expect("server starts");
        TestApp { base: format!("http://{}", running.addr), database_url, dns, db: running.db, data_dir, pg_database, task: running.task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client (cookie jar, same-site `Origin` on every request, no
    /// automatic redirects so tests see them).
    pub fn client(&self) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ORIGIN, self.base.parse().expect("origin header"));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("http client");
        Client { base: self.base.clone(), http }
    }

    /// A client signed in as the demo user `email`.
    pub async fn signed_in(&self, email: &str) -> Client {
        let client = self.client();
        let (email, password) = login(email);
        let answer = client.rpc("sign_in", serde_json::json!({ "email": email, "password": password })).await;
        assert_eq!(answer.status, 200, "signing in as {email}: {}", answer.body);
        client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = self.pg_database.take() {
            // The pool may still hold connections; FORCE ends them. Runs on its own thread
            // and runtime because Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(rt) = rt {
                    let _ = rt.block_on(drop_pg_database(&name));
                }
            })
            .join();
        }
    }
}

/// Server logs at `warn` (or `STARLING_LOG`) into the test's captured output.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter =
            tracing_subscriber::EnvFilter::try_from_env("STARLING_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
}

fn pg_admin_url() -> String {
    std::env::var("STARLING_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn pg_admin() -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    let url = format!("{}/postgres", pg_admin_url().trim_end_matches('/'));
    sqlx::PgConnection::connect(&url).await.with_context(|| format!("connecting to {url}"))
}

async fn create_pg_database(name: &str) -> anyhow::Result<String> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("bad database name {name}");
    }
    let mut admin = pg_admin().await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    Ok(format!("{}/{name}", pg_admin_url().trim_end_matches('/')))
}

async fn drop_pg_database(name: &str) -> anyhow::Result<()> {
    let mut admin = pg_admin().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    Ok(())
}

/// An HTTP answer: status, headers and body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A cookie-keeping HTTP client bound to one server.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    async fn answer(response: reqwest::Result<reqwest::Response>) -> Answer {
        let response = match response {
            Ok(response) => response,
            Err(e) => panic!("request to {:?} failed: {e}", e.url().map(|u| u.path())),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Answer { status, headers, body }
    }

    /// Calls the server function at `/rpc/<name>` with a JSON body.
    pub async fn rpc(&self, name: &str, args: Value) -> Answer {
        Self::answer(self.http.post(format!("{}/rpc/{name}", self.base)).json(&args).send().await).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        Self::answer(self.http.get(format!("{}{path}", self.base)).send().await).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let request = self.http.post(format!("{}{path}", self.base)).header(reqwest::header::CONTENT_TYPE, content_type).body(body);
        Self::answer(request.send().await).await
    }
}

/// One message the test SMTP server received.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// The `Subject:` header, decoded when it is a UTF-8 encoded-word.
    pub fn subject(&self) -> String {
        let raw = self.data.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default().to_string();
        decode_words(&raw)
    }
}

fn decode_words(raw: &str) -> String {
    use base64::Engine;
    raw.split_whitespace()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            if lower.starts_with("=?utf-8?b?") && w.ends_with("?=") {
                base64::engine::general_purpose::STANDARD
                    .decode(&w[10..w.len() - 2])
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_else(|| w.to_string())
            } else {
                format!(" {w} ")
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A real SMTP server (mailin-embedded) on a free loopback port, keeping what it receives.
pub struct SmtpSink {
    pub port: u16,
    inbox: std::sync::Arc<std::sync::Mutex<Vec<ReceivedMail>>>,
}

#[derive(Clone)]
struct SinkHandler {
    inbox: std::sync::Arc<std::sync::Mutex<Vec<ReceivedMail>>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for SinkHandler {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mail =
            ReceivedMail { from: self.from.clone(), to: self.to.clone(), data: String::from_utf8_lossy(&self.data).replace("\r\n", "\n") };
        if let Ok(mut inbox) = self.inbox.lock() {
            inbox.push(mail);
        }
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("an SMTP port");
        let port = listener.local_addr().expect("address").port();
        let inbox = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = SinkHandler { inbox: inbox.clone(), from: String::new(), to: vec![], data: vec![] };
        let mut server = mailin_embedded::Server::new(handler);
        // One thread per connection: each sending process keeps up to its concurrency of
        // connections open (two processes in the two-process test), and a connection
        // waiting for a free thread would stall until it times out.
        server.with_name("smtp.test").with_num_threads(128).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink { port, inbox }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits up to five seconds for a message to `recipient` whose subject contains `subject`.
    pub async fn wait_for(&self, recipient: &str, subject: &str) -> ReceivedMail {
        for _ in 0..100 {
            let found = self.messages().into_iter().find(|m| m.to.iter().any(|t| t == recipient) && m.subject().contains(subject));
            if let Some(mail) = found {
                return mail;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no mail to {recipient} about \"{subject}\"; received: {:?}",
            self.messages().iter().map(|m| (m.to.clone(), m.subject())).collect::<Vec<_>>()
        );
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// `n` delivered orders of a brand's first non-Amazon store, placed nine days ago and
/// delivered five days ago, each from its own British buyer (no opt-in needed), numbered
/// from `from`.
pub async fn delivered_orders(app: &TestApp, brand_id: i64, from: u64, n: u64) {
    let salt = app::common::fingerprint::salt(&app.db).await.unwrap();
    let (store_id,): (i64,) = sqlx::query_as("SELECT id FROM stores WHERE brand_id = $1 AND platform <> 'amazon' ORDER BY id LIMIT 1")
        .bind(brand_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let target = app::orders::store::target(&app.db, store_id).await.unwrap().unwrap();
    let placed = app::db::now_millis() - 9 * 86_400_000;
    let orders: Vec<_> = (from..from + n).map(|i| app::demo::delivered_order("T", i, placed)).collect();
    app::orders::store::upsert(&app.db, &target, orders, "test", &salt).await.unwrap();
}

/// (template, client, brand) of the first demo template with an approved version (the
/// German review request of Nordlicht's Fjell Gear).
pub async fn approved_template(app: &TestApp) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT t.id, t.client_id, t.brand_id FROM templates t WHERE EXISTS \
         (SELECT 1 FROM template_versions v WHERE v.template_id = t.id AND v.status = 'approved') ORDER BY t.id LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

/// A DNS server on a free loopback UDP port answering TXT queries from a table the test
/// fills (hickory-proto reads and writes the messages): unknown names get NXDOMAIN.
pub struct DnsServer {
    pub addr: std::net::SocketAddr,
    records: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>>,
}

impl DnsServer {
    pub fn start() -> DnsServer {
        use hickory_proto::op::{Message, ResponseCode};
        use hickory_proto::rr::{rdata::TXT, RData, Record, RecordType};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a DNS port");
        let addr = socket.local_addr().expect("address");
        let records: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>> = Default::default();
        let table = records.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
                let mut answer = Message::response(query.id(), query.op_code());
                answer.set_recursion_desired(true).set_recursion_available(true).set_authoritative(true);
                for q in query.queries() {
                    answer.add_query(q.clone());
                    let name = q.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
                    let known = table.lock().map(|t| t.get(&name).cloned()).unwrap_or_default();
                    match known {
                        None => {
                            answer.set_response_code(ResponseCode::NXDomain);
                        }
                        Some(texts) if q.query_type() == RecordType::TXT => {
                            for text in texts {
                                // Character-strings hold at most 255 bytes; longer records are split.
                                let parts = text.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                                answer.add_answer(Record::from_rdata(q.name().clone(), 60, RData::TXT(TXT::new(parts))));
                            }
                        }
                        Some(_) => {}
                    }
                }
                if let Ok(bytes) = answer.to_vec() {
                    let _ = socket.send_to(&bytes, peer);
                }
            }
        });
        DnsServer { addr, records }
    }

    /// Publishes (or, with no records, removes) the TXT records of `name`.
    pub fn set_txt(&self, name: &str, texts: &[&str]) {
        let mut table = self.records.lock().expect("DNS table");
        if texts.is_empty() {
            table.remove(&name.to_ascii_lowercase());
        } else {
            table.insert(name.to_ascii_lowercase(), texts.iter().map(|t| t.to_string()).collect());
        }
    }
}

/// An SMTP server on a free loopback port that fails the way real ones and networks do:
/// a share of messages (per mille) is answered `421` (closing) or `451` at the end of
/// DATA; a share of connections is cut in the middle of DATA (the message is not taken);
/// a share of accepted messages never gets its `250` to the client (the connection is cut
/// after the message was kept: the SMTP ambiguity); and it can be taken down (every
/// connection cut, new ones closed at once) for a while. It keeps what it accepted.
pub struct FaultySmtp {
    pub port: u16,
    state: std::sync::Arc<FaultState>,
}

/// Fault rates, per mille.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    pub transient: u32,
    pub cut_mid_data: u32,
    pub lose_reply: u32,
}

#[derive(Default)]
struct FaultState {
    faults: Faults,
    down: std::sync::atomic::AtomicBool,
    generation: std::sync::atomic::AtomicU64,
    inbox: std::sync::Mutex<Vec<ReceivedMail>>,
    transient_replies: std::sync::atomic::AtomicU64,
    cut_mid_data: std::sync::atomic::AtomicU64,
    lost_replies: std::sync::atomic::AtomicU64,
}

impl FaultySmtp {
    pub fn start(faults: Faults) -> FaultySmtp {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("an SMTP port");
        let port = listener.local_addr().expect("address").port();
        let state = std::sync::Arc::new(FaultState { faults, ..FaultState::default() });
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if shared.down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let state = shared.clone();
                std::thread::spawn(move || {
                    let generation = state.generation.load(Ordering::SeqCst);
                    let _ = serve_faulty(stream, &state, generation);
                });
            }
        });
        FaultySmtp { port, state }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state.inbox.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Cuts every connection and refuses service for `seconds`.
    pub fn outage(&self, seconds: u64) {
        use std::sync::atomic::Ordering;
        self.state.down.store(true, Ordering::SeqCst);
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        let state = self.state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(seconds));
            state.down.store(false, Ordering::SeqCst);
        });
    }

    /// (4xx replies, connections cut mid-DATA, accepted messages whose reply was lost).
    pub fn counts(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.state.transient_replies.load(Ordering::SeqCst),
            self.state.cut_mid_data.load(Ordering::SeqCst),
            self.state.lost_replies.load(Ordering::SeqCst),
        )
    }
}

fn serve_faulty(stream: std::net::TcpStream, state: &FaultState, generation: u64) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    use std::sync::atomic::Ordering;
    let roll = |permille: u32| rand::random::<u32>() % 1000 < permille;
    stream.set_read_timeout(Some(std::time::Duration::from_millis(100)))?;
    let mut out = stream.try_clone()?;
    let mut input = std::io::BufReader::new(stream.try_clone()?);
    let cut = || {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        Ok(())
    };
    out.write_all(b"220 faulty.test ESMTP\r\n")?;
    let (mut from, mut to, mut data, mut in_data, mut cut_this) = (String::new(), Vec::new(), Vec::new(), false, false);
    let mut line = Vec::new();
    loop {
        if state.generation.load(Ordering::SeqCst) != generation {
            return cut();
        }
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) if !line.ends_with(b"\n") => continue,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e),
        }
        let text = std::mem::take(&mut line);
        if in_data {
            if text == b".\r\n" {
                in_data = false;
                if roll(state.faults.transient) {
                    state.transient_replies.fetch_add(1, Ordering::SeqCst);
                    if rand::random::<bool>() {
                        out.write_all(b"421 4.3.2 Service busy, closing the connection\r\n")?;
                        return cut();
                    }
                    out.write_all(b"451 4.3.0 Temporary local problem, try again later\r\n")?;
                    continue;
                }
                let mail = ReceivedMail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data: String::from_utf8_lossy(&std::mem::take(&mut data)).replace("\r\n", "\n"),
                };
                state.inbox.lock().expect("inbox").push(mail);
                if roll(state.faults.lose_reply) {
                    state.lost_replies.fetch_add(1, Ordering::SeqCst);
                    return cut();
                }
                out.write_all(b"250 2.0.0 Ok: queued\r\n")?;
            } else {
                if cut_this && data.len() > 200 {
                    state.cut_mid_data.fetch_add(1, Ordering::SeqCst);
                    return cut();
                }
                data.extend_from_slice(text.strip_prefix(b".").filter(|_| text.starts_with(b"..")).unwrap_or(&text));
            }
            continue;
        }
        let command = String::from_utf8_lossy(&text).trim_end().to_string();
        let verb = command.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-faulty.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 Ok\r\n",
            "RSET" => {
                (from, to, data) = (String::new(), Vec::new(), Vec::new());
                b"250 Ok\r\n"
            }
            "MAIL" => {
                from = command
                    .split_once(':')
                    .map(|(_, a)| a.trim().trim_matches(['<', '>']).split_whitespace().next().unwrap_or("").to_string())
                    .unwrap_or_default();
                from = from.trim_end_matches('>').to_string();
                b"250 Ok\r\n"
            }
            "RCPT" => {
                to.push(command.split_once(':').map(|(_, a)| a.trim().trim_matches(['<', '>']).to_string()).unwrap_or_default());
                b"250 Ok\r\n"
            }
            "DATA" => {
                in_data = true;
                cut_this = roll(state.faults.cut_mid_data);
                data.clear();
                b"354 End data with <CR><LF>.<CR><LF>\r\n"
            }
            "QUIT" => {
                out.write_all(b"221 Bye\r\n")?;
                return cut();
            }
            _ => b"502 5.5.2 Command not recognized\r\n",
        };
        out.write_all(reply)?;
    }
}

/// A Starling server in a process of its own (this test binary run again as the ignored
/// test `delivery::child_server_process`), over a test app's database and data folder,
/// sending to `smtp_url` with the outbox worker on: the real thing to `kill -9`, or to run
/// twice at once.
pub struct ChildServer {
    child: std::process::Child,
}

impl ChildServer {
    pub fn start(app: &TestApp, smtp_url: &str, lease_secs: u64) -> ChildServer {
        Self::start_with(app, smtp_url, lease_secs, None)
    }

    /// As `start`, with Amazon (Login with Amazon and every SP-API region) at `amazon_url`.
    pub fn start_with(app: &TestApp, smtp_url: &str, lease_secs: u64, amazon_url: Option<&str>) -> ChildServer {
        let exe = std::env::current_exe().expect("the test binary");
        let mut command = std::process::Command::new(exe);
        command
            .args(["--exact", "delivery::child_server_process", "--ignored", "--nocapture", "--test-threads=1"])
            .env("STARLING_CHILD_DATABASE_URL", &app.database_url)
            .env("STARLING_CHILD_DATA_DIR", &app.data_dir)
            .env("STARLING_CHILD_SMTP_URL", smtp_url)
            .env("STARLING_CHILD_LEASE_SECS", lease_secs.to_string())
            .stdout(std::process::Stdio::null());
        if let Some(url) = amazon_url {
            command.env("STARLING_CHILD_AMAZON_URL", url);
        }
        ChildServer { child: command.spawn().expect("starting a child server") }
    }

    /// The `starling` binary at `bin` (what the run command serves) over the test app's
    /// database and data folder, texting through the provider at `sms_url` (the fake's
    /// account and token; none when empty), not pulling stores and mailing nowhere.
    pub fn start_binary_texting(bin: &std::path::Path, app: &TestApp, sms_url: &str) -> ChildServer {
        let mut command = std::process::Command::new(bin);
        command
            .env("STARLING_DATABASE_URL", &app.database_url)
            .env("STARLING_DATA_DIR", &app.data_dir)
            .env("STARLING_LISTEN", "127.0.0.1:0")
            .env("STARLING_SMTP_URL", "smtp://127.0.0.1:9")
            .env("STARLING_SYNC", "false");
        if !sms_url.is_empty() {
            command
                .env("STARLING_SMS_URL", sms_url)
                .env("STARLING_SMS_ACCOUNT", fakes::twilio::ACCOUNT_SID)
                .env("STARLING_SMS_TOKEN", fakes::twilio::AUTH_TOKEN);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        ChildServer { child }
    }

    /// The child's peak resident memory (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        self.status_kb("VmHWM:").map(|kb| kb * 1024)
    }

    /// The child's resident memory now (VmRSS), in bytes.
    pub fn rss(&self) -> Option<u64> {
        self.status_kb("VmRSS:").map(|kb| kb * 1024)
    }

    fn status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
    }

    /// `kill -9`: the process gets no chance to finish anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
