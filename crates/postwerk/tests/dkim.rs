//! SVC-1 and SND-2 from the command line: `admin service dns DOMAIN` prints the records to
//! publish, the service's DKIM key among them; `admin service dkim-rotate DOMAIN` makes a new
//! key and says which record to publish and which may go; quickstart shows the key record too.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    /// An organization and the service example.com, with the alias domain example.net.
    fn with_service() -> Cli {
        let cli = Cli {
            dir: tempfile::tempdir().unwrap(),
        };
        cli.ok(&["org", "create", "Acme"]);
        cli.ok(&["service", "create", "example.com", "--org", "Acme"]);
        cli.ok(&["service", "alias-domain", "example.com", "example.net"]);
        cli
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str]) -> Output {
        postwerk_testkit::admin(Path::new(BIN), &self.data(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with_json)).unwrap()
    }
}

/// The DKIM record of a `service dns --json` document: owner name and zone value.
fn dkim_record(doc: &Value) -> (String, String) {
    let record = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"].as_str().unwrap().contains("._domainkey."))
        .expect("a DKIM record");
    assert_eq!(record["kind"], "TXT");
    (
        record["name"].as_str().unwrap().to_owned(),
        record["value"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn svc_1_service_dns_prints_zone_lines_with_the_dkim_key() {
    let cli = Cli::with_service();
    let doc = cli.json(&["service", "dns", "example.com"]);
    assert_eq!(doc["domain"], "example.com");
    assert_eq!(doc["dkim"]["algorithm"], "rsa-sha256");
    let selector = doc["dkim"]["selector"].as_str().unwrap().to_owned();
    assert!(selector.starts_with("pw"), "{selector}");
    let (name, value) = dkim_record(&doc);
    assert_eq!(name, format!("{selector}._domainkey.example.com"));
    assert!(value.starts_with("\"v=DKIM1; k=rsa; p=MIIB"), "{value}");
    // RFC 1035: no character-string longer than 255 octets.
    assert!(
        value
            .split("\" \"")
            .all(|s| s.trim_matches('"').len() <= 255)
    );

    let text = cli.ok(&["service", "dns", "example.com"]);
    assert!(
        text.contains(&format!(
            "{selector}._domainkey.example.com. 3600 IN TXT \"v=DKIM1; k=rsa; p=MIIB"
        )),
        "{text}"
    );
    assert!(
        text.contains("example.com. 3600 IN MX 10 mail.example.test."),
        "{text}"
    );
    assert!(text.contains("_dmarc.example.com. 3600 IN TXT"), "{text}");
    assert!(
        text.lines()
            .all(|l| l.contains(" IN ") || l.starts_with(';')),
        "zone lines and comments only: {text}"
    );

    // The service list and its creation name the key too.
    let services = cli.json(&["service", "list"]);
    assert_eq!(services[0]["dkim"]["selector"], selector.as_str());

    // An alias domain signs as its primary domain: no key record of its own, and a comment
    // that says where it is.
    let alias = cli.ok(&["service", "dns", "example.net"]);
    assert!(!alias.contains("_domainkey"), "{alias}");
    assert!(alias.contains("example.net. 3600 IN MX"), "{alias}");
    assert!(alias.contains("signed for example.com"), "{alias}");

    let refused = cli.run(&["service", "dns", "nowhere.example"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.starts_with("postwerk: "), "{stderr}");
    assert!(stderr.contains("nowhere.example"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn svc_1_dkim_rotate_prints_the_new_record_and_the_one_to_remove_later() {
    let cli = Cli::with_service();
    let before = cli.json(&["service", "dns", "example.com"]);
    let (old_name, old_value) = dkim_record(&before);
    let old_selector = before["dkim"]["selector"].as_str().unwrap().to_owned();

    let text = cli.ok(&["service", "dkim-rotate", "example.com"]);
    let after = cli.json(&["service", "dns", "example.com"]);
    let (new_name, new_value) = dkim_record(&after);
    let new_selector = after["dkim"]["selector"].as_str().unwrap().to_owned();
    assert_ne!(new_selector, old_selector);
    assert_ne!(new_value, old_value, "a new key");
    assert!(
        text.contains(&format!("{new_name}. 3600 IN TXT \"v=DKIM1; k=rsa; p=")),
        "the record to publish: {text}"
    );
    assert!(text.contains(&new_selector), "{text}");
    assert!(
        text.contains(&format!("remove its record {old_name}")),
        "{text}"
    );
    assert!(text.contains("after a few days"), "{text}");
    assert!(
        !after.to_string().contains(&old_name),
        "only the active key is to publish"
    );

    let rotated = cli.json(&["service", "dkim-rotate", "example.com"]);
    assert_eq!(rotated["domain"], "example.com");
    assert_eq!(rotated["retired_selector"], new_selector.as_str());
    assert_eq!(
        rotated["retired_record"],
        format!("{new_selector}._domainkey.example.com")
    );
    let third = rotated["selector"].as_str().unwrap();
    assert_ne!(third, new_selector);
    assert_eq!(
        rotated["record"]["name"],
        format!("{third}._domainkey.example.com")
    );
    assert_eq!(
        cli.json(&["service", "dns", "example.com"])["dkim"]["selector"],
        third
    );
}

#[test]
fn svc_1_quickstart_shows_the_dkim_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .arg("quickstart")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["example.org", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = doc["dns_records"].as_array().unwrap();
    let dkim = records
        .iter()
        .find(|r| {
            r["name"]
                .as_str()
                .unwrap()
                .ends_with("._domainkey.example.org")
        })
        .expect("the DKIM record");
    assert!(
        dkim["value"]
            .as_str()
            .unwrap()
            .starts_with("\"v=DKIM1; k=rsa; p=")
    );
}
