//! Helpers for tests that run the real `flowhound` binary.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_flowhound")
}

/// A UDP port on 127.0.0.1 that was free a moment ago, and that no other
/// test of this process was given: tests run in parallel, and the kernel
/// may hand a port just released to the next `bind(0)`.
pub fn free_udp_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = s.local_addr().expect("local addr").port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// `flowhound collect` in the background on 127.0.0.1:PORT.
pub fn collect(port: u16, data: &Path, extra: &[&str]) -> Child {
    let child = Command::new(bin())
        .args([
            "collect",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(data)
        .args(extra)
        .stdout(Stdio::null())
        // A file, not a pipe: nobody reads a pipe while the collector runs,
        // and a full one would block its threads on logging.
        .stderr(stderr_file(data))
        .spawn()
        .expect("start flowhound collect");
    wait_for_udp_listener(port);
    child
}

/// A fresh log file beside (not inside) the data dir, for a child's stderr.
pub fn stderr_file(data: &Path) -> Stdio {
    let name = format!(
        "{}.stderr-{}",
        data.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let path = std::env::temp_dir().join(name);
    std::fs::File::create(&path)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

/// Debian's `nfcapd` in the background on 127.0.0.1:PORT, LZ4, one file an
/// hour, writing into `dir`. SIGTERM makes it close its file.
pub fn nfcapd(port: u16, dir: &Path) -> Child {
    let child = Command::new("nfcapd")
        .args([
            "-b",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-y",
            "-B",
            "8000000",
            "-t",
            "3600",
            "-w",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(stderr_file(dir))
        .spawn()
        .expect("start nfcapd (Debian's nfdump package: scripts/test.sh installs it)");
    wait_for_udp_listener(port);
    child
}

/// Wait until something listens on UDP 127.0.0.1:port (from /proc/net/udp).
pub fn wait_for_udp_listener(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let needle = format!("0100007F:{port:04X}");
    while Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
        if table.contains(&needle) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on udp 127.0.0.1:{port} after 20 s");
}

/// `flowhound generate …` to every port, waited for; returns its JSON report.
pub fn generate_to(ports: &[u16], args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(bin());
    cmd.arg("generate");
    for port in ports {
        cmd.args(["--to", &format!("127.0.0.1:{port}")]);
    }
    let out = run_ok(cmd.args(args));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "generate printed no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// SIGTERM, then wait; the collector must exit 0.
pub fn terminate(mut child: Child) -> String {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let out = wait_with_timeout(&mut child, Duration::from_secs(60));
    assert!(
        out.0.success(),
        "collector exited with {}: {}",
        out.0,
        out.1
    );
    out.1
}

pub fn wait_with_timeout(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `flowhound generate …` to one port.
pub fn generate(port: u16, args: &[&str]) -> serde_json::Value {
    generate_to(&[port], args)
}

/// `flowhound summary --data DIR -o json`.
pub fn summary(data: &Path) -> serde_json::Value {
    let out = run_ok(
        Command::new(bin())
            .args(["summary", "-o", "json", "--data"])
            .arg(data),
    );
    serde_json::from_slice(&out.stdout).expect("summary JSON")
}

/// `../shared/registry` beside the clone. Missing, the test is skipped with
/// a message, except where `FLOWHOUND_REQUIRE_SHARED` is set (CI's test
/// script sets it): there a missing registry fails the test.
pub fn shared_registry() -> Option<std::path::PathBuf> {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/registry");
    if dir.join("geo-whois-asn-country.mmdb").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FLOWHOUND_REQUIRE_SHARED").is_none(),
        "../shared/registry is missing and FLOWHOUND_REQUIRE_SHARED is set"
    );
    eprintln!("skipping: ../shared/registry is missing");
    None
}

/// A config naming the shared registry files (country MaxMind DB, AS CSVs).
pub fn registry_config(dir: &Path, registry: &Path) -> std::path::PathBuf {
    let config = dir.join("flowhound.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\ninternal = [\"10.0.0.0/8\"]\n[registry]\n\
             country = \"{0}/geo-whois-asn-country.mmdb\"\n\
             asn = [\"{0}/asn-ipv4.csv\", \"{0}/asn-ipv6.csv\"]\n",
            registry.display()
        ),
    )
    .expect("write config");
    config
}

/// `flowhound [--config FILE] query --data DIR ARGS…` as JSON.
pub fn query_json(config: Option<&Path>, data: &Path, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(bin());
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = run_ok(cmd.arg("query").arg("--data").arg(data).args(args));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "query printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// (value, flows, packets, bytes) of one statistic row.
pub type Row = (String, u64, u64, u64);

/// `nfdump -R DIR -s STAT -n 0 FILTER`, all rows, as (value, flows,
/// packets, bytes), in nfdump's order.
pub fn nfdump_stat(dir: &Path, stat: &str, filter: &str) -> Vec<Row> {
    let out = run_ok(
        Command::new("nfdump")
            .env("TZ", "UTC")
            .arg("-R")
            .arg(dir)
            .args(["-q", "-N", "-s", stat, "-n", "0", "-o", "csv", filter]),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() == 14 && f[0] != "ts")
        .map(|f| {
            let n = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("number {s:?}"));
            (f[4].to_string(), n(f[5]), n(f[7]), n(f[9]))
        })
        .collect()
}

/// SIGTERM to nfcapd, which then closes its file; it must exit 0.
pub fn stop_nfcapd(mut nfcapd: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &nfcapd.id().to_string()])
        .status();
    let (status, err) = wait_with_timeout(&mut nfcapd, Duration::from_secs(30));
    assert!(status.success(), "nfcapd: {status} {err}");
}

/// A time as nfdump's CSV prints it: `YYYY-MM-DD hh:mm:ss.mmm`, UTC.
pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// A real SMTP server (Python's aiosmtpd, installed by scripts/test.sh) on
/// 127.0.0.1, saving every message it receives as a file with its envelope
/// (`X-MailFrom`, `X-RcptTo`) on top. Stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: std::path::PathBuf,
    child: Child,
}

impl SmtpSink {
    pub fn start(dir: &Path) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        // A port free a moment ago may be taken before Python binds it:
        // try a few.
        for _ in 0..5 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp");
                l.local_addr().expect("addr").port()
            };
            let mut child = Command::new("python3")
                .arg(&script)
                .arg(port.to_string())
                .arg(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3 runs the SMTP test server (scripts/test.sh installs aiosmtpd)");
            let mut line = String::new();
            {
                use std::io::BufRead;
                let out = child.stdout.take().expect("stdout");
                let _ = std::io::BufReader::new(out).read_line(&mut line);
            }
            if line.trim() == "ready" {
                return SmtpSink {
                    port,
                    dir: dir.to_path_buf(),
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the SMTP test server did not start (its error is above; is aiosmtpd installed?)");
    }

    /// The messages received so far, in order, as they came (with the
    /// envelope on top).
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("read message"))
            .collect()
    }

    /// The text of message `i` (0-based) as a mail client shows it: every
    /// text part decoded, plain first.
    pub fn text(&self, i: usize) -> String {
        let path = self.dir.join(format!("{:04}.json", i + 1));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("the decoded message"))
                .expect("json");
        v["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Wait until `n` messages are in (at most `limit`).
    pub fn wait_for(&self, n: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header of a received message (the first one of that name).
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The site config of the desk tests, written into `root` with its owners
/// file: the campus network, the generated day's roles, `bot` owned by
/// Dana (a /32 inside Campus IT's /16: the longest prefix wins), notices
/// through the SMTP server on `smtp_port`, and `extra` at the end.
pub fn desk_site(
    root: &Path,
    day: &flowhound_generate::Day,
    bot: &str,
    smtp_port: u16,
    extra: &str,
) -> std::path::PathBuf {
    std::fs::write(
        root.join("owners.csv"),
        format!(
            "network,owner,contact,account\n10.0.0.0/16,Campus IT,it-helpdesk@campus.example,CAMPUS\n\
             {bot}/32,Dana Student,dana@campus.example,acct-dana\n"
        ),
    )
    .expect("owners");
    let mut text = String::from(
        "[site]\ninternal = [\"10.0.0.0/16\"]\ntimezone = \"UTC\"\nquiet_hours = \"22:00-06:00\"\n[roles]\n",
    );
    for (role, hosts) in day.site_roles() {
        let list: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        text.push_str(&format!("{role} = [{}]\n", list.join(", ")));
    }
    text.push_str(&format!(
        "[inventory]\nowners = \"owners.csv\"\n[notify]\nsmtp = \"127.0.0.1:{smtp_port}\"\n\
         from = \"abuse@campus.example\"\ndesk = \"abuse-desk@campus.example\"\n{extra}"
    ));
    let config = root.join("site.toml");
    std::fs::write(&config, text).expect("config");
    config
}

/// A generated day sent (v9, 150 k flows/s) through a real `flowhound
/// collect` into `data`, which is stopped once it wrote every flow.
pub fn collect_day(data: &Path, day: flowhound_generate::Day) -> u64 {
    static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let port = free_udp_port();
    let collector = collect(port, data, &[]);
    let to: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut c = flowhound_generate::SendConfig::new(to, flowhound_generate::Proto::V9);
    c.rate_flows_per_s = 150_000;
    let sent = flowhound_generate::send_flows(&c, day, &NEVER).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    terminate(collector);
    sent.flows
}
