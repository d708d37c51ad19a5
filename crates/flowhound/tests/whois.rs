//! `flowhound whois` on the real registry files and a site inventory.

mod common;

use std::process::Command;

use common::*;

#[test]
fn whois_answers_from_registries_and_inventory() {
    let Some(reg) = shared_registry() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("owners.csv"),
        "network,owner,contact,account\n10.0.0.0/16,School of Arts,noc@arts.example,ACC-7\n",
    )
    .expect("owners");
    let config = dir.path().join("flowhound.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\ninternal = [\"10.0.0.0/8\"]\n[roles]\nmail_servers = [\"10.0.0.25\"]\n\
             [inventory]\nowners = \"owners.csv\"\n[registry]\ncountry = \"{0}/geo-whois-asn-country.mmdb\"\n\
             asn = [\"{0}/asn-ipv4.csv\", \"{0}/asn-ipv6.csv\"]\n",
            reg.display()
        ),
    )
    .expect("config");
    let out = run_ok(Command::new(bin()).arg("--config").arg(&config).args([
        "whois",
        "1.0.0.1",
        "10.0.0.25",
        "-o",
        "json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["ip"], "1.0.0.1");
    assert_eq!(v[0]["asn"], 13335);
    assert_eq!(v[0]["as_org"], "Cloudflare, Inc.");
    assert_eq!(v[0]["internal"], false);
    assert_eq!(v[1]["internal"], true);
    assert_eq!(v[1]["roles"], serde_json::json!(["mail_servers"]));
    assert_eq!(v[1]["owner"], "School of Arts");
    assert_eq!(v[1]["contact"], "noc@arts.example");
    assert_eq!(v[1]["account"], "ACC-7");
    let us = run_ok(
        Command::new(bin())
            .arg("--config")
            .arg(&config)
            .args(["whois", "8.8.8.8", "-o", "json"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&us.stdout).expect("json");
    assert_eq!(v["country"], "US");
}

#[test]
fn a_bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[roles]\nmail_servers = [\"10.0.0.0/33\"]\n").expect("config");
    let out = Command::new(bin())
        .arg("--config")
        .arg(&config)
        .args(["whois", "10.0.0.1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mail_servers") && err.contains("bad.toml"),
        "{err}"
    );
}
