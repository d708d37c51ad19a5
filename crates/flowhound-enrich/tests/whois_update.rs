//! `whois` on the real registry files with a site inventory, and `registry
//! update` against a local HTTP server (127.0.0.1 only) that serves the real
//! files, a corrupt one, an empty one and a 404. Skipped, with a message,
//! where ../shared/registry is missing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use flowhound_enrich::{parse_addr, update, whois, Config, EnrichError, Registry};

fn registry_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
    .join("../../../shared/registry");
    if dir.join("geo-whois-asn-country.mmdb").exists() && dir.join("asn-ipv6.csv").exists() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("FLOWHOUND_REQUIRE_SHARED").is_none(),
            "../shared is missing and FLOWHOUND_REQUIRE_SHARED is set"
        );
        eprintln!(
            "skipping: the real registry files are not in {} (see ../shared/registry/README.md)",
            dir.display()
        );
        None
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn whois_on_real_data_with_an_inventory() {
    let Some(reg_dir) = registry_dir() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "mail.txt",
        "# registered mail servers\n10.0.0.25\n",
    );
    write(
        dir.path(),
        "owners.csv",
        "network,owner,contact,account\n10.0.0.0/24,Mail team,postmaster@example.org,it-01\n",
    );
    let config = format!(
        r#"
[site]
internal = ["10.0.0.0/8"]
[roles]
mail_servers = ["@mail.txt"]
[inventory]
owners = "owners.csv"
[registry]
country = "{0}/geo-whois-asn-country.mmdb"
asn = ["{0}/asn-ipv4.csv", "{0}/asn-ipv6.csv"]
"#,
        reg_dir.display()
    );
    let path = write(dir.path(), "flowhound.toml", &config);
    let config = Config::load(&path).expect("config loads");
    let registry = config.load_registry().expect("registry loads");
    let who = |ip: &str| {
        let rec = whois(&registry, &config.site, parse_addr(ip).expect("address"));
        serde_json::to_value(&rec).expect("serializes")
    };
    assert_eq!(
        who("1.0.0.1"),
        serde_json::json!({
            "ip": "1.0.0.1", "country": "AU", "asn": 13335, "as_org": "Cloudflare, Inc.",
            "internal": false, "roles": [], "owner": null, "contact": null, "account": null,
            "network": null
        })
    );
    assert_eq!(
        who("10.0.0.25"),
        serde_json::json!({
            "ip": "10.0.0.25", "country": null, "asn": null, "as_org": null,
            "internal": true, "roles": ["mail_servers"], "owner": "Mail team",
            "contact": "postmaster@example.org", "account": "it-01", "network": "10.0.0.0/24"
        })
    );
    assert_eq!(who("8.8.8.8")["country"], "US");
    assert_eq!(who("193.0.6.139")["country"], "NL");
    let v6 = who("2001:4:112::1");
    assert_eq!(
        (v6["asn"].as_u64(), v6["as_org"].as_str()),
        (Some(112), Some("DNS-OARC"))
    );
}

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 serving fixed
/// bodies by path; anything else is a 404. Runs until the test ends.
fn serve(routes: Vec<(&'static str, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let body = routes.iter().find(|(p, _)| *p == path).map(|(_, b)| b);
            let (status, body) = match body {
                Some(b) => ("200 OK", b.as_slice()),
                None => ("404 Not Found", &b"not here"[..]),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    format!("http://{addr}")
}

struct Fixture {
    dir: tempfile::TempDir,
    base: String,
}

fn fixture() -> Option<Fixture> {
    let reg = registry_dir()?;
    let mmdb = std::fs::read(reg.join("geo-whois-asn-country.mmdb")).expect("read mmdb");
    // The metadata survives, the search tree does not.
    let corrupt = mmdb[mmdb.len() - 64 * 1024..].to_vec();
    let v6 = std::fs::read(reg.join("asn-ipv6.csv")).expect("read csv");
    let base = serve(vec![
        ("/geo.mmdb", mmdb),
        ("/corrupt.mmdb", corrupt),
        ("/asn-ipv6.csv", v6),
        ("/empty.csv", Vec::new()),
        ("/comments.csv", b"# nothing but a comment\n".to_vec()),
    ]);
    Some(Fixture {
        dir: tempfile::tempdir().expect("temp dir"),
        base,
    })
}

fn config(f: &Fixture, country_url: &str, asn_url: &str) -> Config {
    let text = format!(
        r#"
[registry]
country = "data/geo.mmdb"
asn = "data/asn-ipv6.csv"
[registry.update]
country = "{0}{country_url}"
asn = "{0}{asn_url}"
"#,
        f.base
    );
    let path = write(f.dir.path(), "flowhound.toml", &text);
    Config::load(&path).expect("config loads")
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn update_fetches_verifies_and_swaps_in() {
    let Some(f) = fixture() else { return };
    let c = config(&f, "/geo.mmdb", "/asn-ipv6.csv");
    assert!(
        c.load_registry().is_err(),
        "nothing there before the update"
    );
    let report = update(&c.registry).expect("update succeeds");
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.files[0].url, format!("{}/geo.mmdb", f.base));
    assert!(report
        .files
        .iter()
        .all(|u| u.bytes > 1_000_000 && u.ranges > 10_000));
    let registry: Registry = c.load_registry().expect("registry loads after the update");
    let a = parse_addr("193.0.6.139").expect("address");
    assert_eq!(
        registry.country(a).map(|c| c.to_string()).as_deref(),
        Some("NL")
    );
    assert_eq!(
        listing(&f.dir.path().join("data")),
        ["asn-ipv6.csv", "geo.mmdb"]
    );
}

fn failed_update_keeps_old_files(country_url: &str, asn_url: &str, bad_url: &str, why: &str) {
    let Some(f) = fixture() else { return };
    let data = f.dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    write(&data, "geo.mmdb", "OLD GEO");
    write(&data, "asn-ipv6.csv", "OLD ASN");
    let c = config(&f, country_url, asn_url);
    let err = update(&c.registry).expect_err("update fails");
    let text = err.to_string();
    let url = format!("{}{bad_url}", f.base);
    assert!(
        matches!(&err, EnrichError::Update { url: u, .. } if *u == url),
        "names the URL: {text}"
    );
    assert!(text.contains(why), "says why ({why}): {text}");
    assert!(!text.contains('\n'));
    assert_eq!(
        std::fs::read_to_string(data.join("geo.mmdb")).expect("read"),
        "OLD GEO"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("asn-ipv6.csv")).expect("read"),
        "OLD ASN"
    );
    assert_eq!(
        listing(&data),
        ["asn-ipv6.csv", "geo.mmdb"],
        "no temp files left"
    );
}

#[test]
fn a_corrupt_download_replaces_nothing() {
    // The good country file verifies first; the corrupt one still stops both.
    failed_update_keeps_old_files("/geo.mmdb", "/corrupt.mmdb", "/corrupt.mmdb", "MaxMind DB");
}

#[test]
fn a_missing_download_replaces_nothing() {
    failed_update_keeps_old_files("/nope.mmdb", "/asn-ipv6.csv", "/nope.mmdb", "404");
}

#[test]
fn an_empty_download_replaces_nothing() {
    failed_update_keeps_old_files("/geo.mmdb", "/empty.csv", "/empty.csv", "empty");
    failed_update_keeps_old_files(
        "/geo.mmdb",
        "/comments.csv",
        "/comments.csv",
        "no address ranges",
    );
}
