//! Identity (issue 9, SPEC §1) over the real interfaces: the REST API driven by curl, mail
//! logins by Python's imaplib, poplib and smtplib, two-factor codes computed by oathtool (an
//! independent RFC 6238 implementation), and the admin CLI.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use postwerk_testkit::TestServer;
use postwerk_testkit::api::Api;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

/// Plain HTTP on loopback in tests: cookies must travel without TLS.
const HTTP_CONFIG: &str =
    "[http]\nsecure_cookies = false\npublic_url = \"https://mail.example.test\"\n";

const ACCOUNT_PASSWORD: &str = "Account-password-42";
const MAILBOX_PASSWORD: &str = "Mailbox-password-42";

/// A server with an organization "Acme", its service abc.xyz, a mailbox toto@abc.xyz and a
/// user account whose login is the very same string toto@abc.xyz but whose password differs
/// (ID-3), holding every permission on the mailbox.
struct Toto {
    server: TestServer,
    operator: Api,
    _jars: tempfile::TempDir,
    jars: std::path::PathBuf,
}

fn toto() -> Toto {
    let server = TestServer::start_with(
        Path::new(BIN),
        &["http", "submission", "imap", "pop3"],
        HTTP_CONFIG,
    )
    .expect("server starts");
    let operator = server.api().with_token(&server.operator_token());
    post(&operator, "/api/v1/orgs", json!({"name": "Acme"})).expect(201);
    let service = json!({"domain": "abc.xyz", "org": "Acme", "address_quota": 10});
    post(&operator, "/api/v1/services", service).expect(201);
    let mailbox = json!({"local_part": "toto", "kind": "mailbox", "password": MAILBOX_PASSWORD,
                         "holder": {"mode": "nobody"}});
    post(&operator, "/api/v1/services/abc.xyz/addresses", mailbox).expect(201);
    let account = json!({"login": "toto@abc.xyz", "password": ACCOUNT_PASSWORD,
                         "display_name": "Toto Dupont", "org": "Acme", "role": "member"});
    post(&operator, "/api/v1/users", account).expect(201);
    let access = json!({"permissions": ["all"]});
    put(
        &operator,
        "/api/v1/addresses/toto@abc.xyz/access/toto@abc.xyz",
        access,
    )
    .expect(200);
    let jars = tempfile::tempdir().expect("tempdir");
    Toto {
        server,
        operator,
        jars: jars.path().to_owned(),
        _jars: jars,
    }
}

impl Toto {
    /// A fresh cookie jar for `name`, signed in with `login`/`password` (and a TOTP code).
    fn sign_in(&self, name: &str, login: &str, password: &str, totp: Option<&str>) -> Api {
        let api = self.server.api().with_cookies(self.jars.join(name));
        let mut body = json!({"login": login, "password": password});
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        post(&api, "/api/v1/session", body).expect(200);
        api
    }

    /// The status and error code of a sign-in attempt.
    fn try_sign_in(&self, login: &str, password: &str, totp: Option<&str>) -> (u16, String) {
        let api = self.server.api();
        let mut body = json!({"login": login, "password": password});
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        let answer = post(&api, "/api/v1/session", body);
        (answer.status, answer.error_code().to_owned())
    }

    /// Logs into `protocol` (imap, pop3 or smtp submission, each after STARTTLS) with Python's
    /// own client; true when the login is accepted.
    fn mail_login(&self, protocol: &str, user: &str, password: &str) -> bool {
        let key = if protocol == "smtp" {
            "submission"
        } else {
            protocol
        };
        let addr = self.server.addr(key);
        let status = Command::new("python3")
            .args([
                "-c",
                MAIL_LOGIN,
                protocol,
                &addr.ip().to_string(),
                &addr.port().to_string(),
                user,
                password,
            ])
            .status()
            .expect("python3 is installed (.ci/run installs it)");
        match status.code() {
            Some(0) => true,
            Some(3) => false,
            other => panic!("{protocol} client failed: {other:?}"),
        }
    }

    /// The SMS in the outbox (`postwerk admin notifications list --json`), newest first.
    fn outbox(&self) -> Vec<Value> {
        let out = self.server.admin_ok(&["--json", "notifications", "list"]);
        let list: Value = serde_json::from_slice(&out.stdout).expect("json");
        list.as_array().cloned().unwrap_or_default()
    }
}

/// Logs in with Python's clients: exit 0 accepted, 3 refused.
const MAIL_LOGIN: &str = r#"
import imaplib, poplib, smtplib, ssl, sys
protocol, host, port, user, password = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
tls = ssl._create_unverified_context()
try:
    if protocol == "imap":
        c = imaplib.IMAP4(host, port); c.starttls(ssl_context=tls); c.login(user, password); c.logout()
    elif protocol == "pop3":
        c = poplib.POP3(host, port); c.stls(context=tls); c.user(user); c.pass_(password); c.quit()
    else:
        c = smtplib.SMTP(host, port); c.starttls(context=tls); c.login(user, password); c.quit()
except (imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPAuthenticationError):
    sys.exit(3)
"#;

/// Opens one session of each mail protocol with the mailbox password, puts the IMAP one in
/// IDLE, prints `ready`, waits for a line on standard input, then reports in JSON what each
/// session saw: the IMAP line that arrived during IDLE, and whether POP3 STAT and SMTP MAIL
/// still worked.
const THREE_SESSIONS: &str = r#"
import imaplib, poplib, smtplib, socket, ssl, sys, json
host, imap_port, pop_port, smtp_port, user, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
tls = ssl._create_unverified_context()
imap = imaplib.IMAP4(host, imap_port); imap.starttls(ssl_context=tls); imap.login(user, password)
imap.select("INBOX")
imap.send(imap._new_tag() + b" IDLE\r\n")
assert imap.readline().startswith(b"+"), "IDLE not accepted"
pop = poplib.POP3(host, pop_port); pop.stls(context=tls); pop.user(user); pop.pass_(password)
smtp = smtplib.SMTP(host, smtp_port); smtp.starttls(context=tls); smtp.login(user, password)
print("ready", flush=True)
sys.stdin.readline()
# A failure guard only: the server's periodic check comes after 60 s, so a BYE within this
# wait can only be the immediate end of ID-6.
imap.sock.settimeout(20)
try:
    idle_line = imap.readline().decode()
except socket.timeout:
    idle_line = "timeout"
try:
    pop.stat(); pop_ok = True
except (poplib.error_proto, OSError, EOFError):
    pop_ok = False
try:
    code, _ = smtp.mail(user); smtp_ok = code == 250
except (smtplib.SMTPException, OSError):
    smtp_ok = False
print(json.dumps({"idle": idle_line, "pop": pop_ok, "smtp": smtp_ok}), flush=True)
"#;

fn post(api: &Api, path: &str, body: Value) -> postwerk_testkit::api::Answer {
    api.json("POST", path, &body).expect("curl runs")
}

fn put(api: &Api, path: &str, body: Value) -> postwerk_testkit::api::Answer {
    api.json("PUT", path, &body).expect("curl runs")
}

fn get(api: &Api, path: &str) -> postwerk_testkit::api::Answer {
    api.get(path).expect("curl runs")
}

/// The current RFC 6238 code of `secret`, `offset` seconds from now, from oathtool.
fn oathtool(secret: &str, offset: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "--base32", "--now", offset, secret])
        .output()
        .expect("oathtool is installed (.ci/run installs it)");
    assert!(out.status.success(), "oathtool: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// ID-1, ID-2, ID-3: the account and the mailbox share a name, not a credential. Each password
/// opens its own doors and no other, on every protocol.
#[test]
fn id_2_account_and_mailbox_credentials_never_open_each_others_doors() {
    let toto = toto();
    for protocol in ["imap", "pop3", "smtp"] {
        assert!(
            toto.mail_login(protocol, "toto@abc.xyz", MAILBOX_PASSWORD),
            "{protocol}: the mailbox password logs in"
        );
        assert!(
            !toto.mail_login(protocol, "toto@abc.xyz", ACCOUNT_PASSWORD),
            "{protocol}: the account password must not log in (ID-1)"
        );
    }
    // The Manager: the account's password signs in, the mailbox's does not (ID-2).
    assert_eq!(
        toto.try_sign_in("toto@abc.xyz", MAILBOX_PASSWORD, None),
        (401, "invalid_credentials".to_owned())
    );
    let me = toto.sign_in("web", "toto@abc.xyz", ACCOUNT_PASSWORD, None);
    let who = get(&me, "/api/v1/me").expect(200);
    assert_eq!(who["login"], "toto@abc.xyz", "{who}");
    // A mailbox without any account of that login never signs in.
    let other = json!({"local_part": "other", "kind": "mailbox", "password": MAILBOX_PASSWORD,
                       "holder": {"mode": "nobody"}});
    post(&toto.operator, "/api/v1/services/abc.xyz/addresses", other).expect(201);
    assert_eq!(
        toto.try_sign_in("other@abc.xyz", MAILBOX_PASSWORD, None),
        (401, "invalid_credentials".to_owned())
    );
}

/// ID-6: a mailbox password change ends the IMAP session idling (at once), and the POP3 and
/// SMTP sessions at their next command; the account's web session goes on (it never used the
/// mailbox password).
#[test]
fn id_6_a_mailbox_password_change_cuts_every_mail_session_but_not_the_web() {
    let toto = toto();
    let me = toto.sign_in("web", "toto@abc.xyz", ACCOUNT_PASSWORD, None);
    let (imap, pop3, smtp) = (
        toto.server.addr("imap"),
        toto.server.addr("pop3"),
        toto.server.addr("submission"),
    );
    let mut sessions = Command::new("python3")
        .args([
            "-c",
            THREE_SESSIONS,
            &imap.ip().to_string(),
            &imap.port().to_string(),
            &pop3.port().to_string(),
            &smtp.port().to_string(),
            "toto@abc.xyz",
            MAILBOX_PASSWORD,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(sessions.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("a line").expect("utf-8");
    assert_eq!(ready, "ready");

    let change = json!({"password": "Brand-new-mailbox-pw-7"});
    put(&me, "/api/v1/addresses/toto@abc.xyz/password", change).expect(200);

    writeln!(sessions.stdin.as_mut().expect("stdin"), "go").expect("write");
    let report = lines.next().expect("a report").expect("utf-8");
    assert!(sessions.wait().expect("exit").success());
    let report: Value = serde_json::from_str(&report).expect("json");
    let idle = report["idle"].as_str().unwrap_or_default();
    assert!(idle.starts_with("* BYE"), "IDLE must end at once: {report}");
    assert_eq!(report["pop"], false, "POP3 is cut at its next command");
    assert_eq!(report["smtp"], false, "SMTP is cut at its next command");

    // The web session of the account is untouched, and the new password logs in.
    get(&me, "/api/v1/me").expect(200);
    assert!(toto.mail_login("imap", "toto@abc.xyz", "Brand-new-mailbox-pw-7"));
    assert!(!toto.mail_login("imap", "toto@abc.xyz", MAILBOX_PASSWORD));
}

/// ID-1: two-factor enrolment with codes computed by oathtool; a code works once.
#[test]
fn id_1_totp_enrolment_and_sign_in_with_an_independent_generator() {
    let toto = toto();
    let me = toto.sign_in("web", "toto@abc.xyz", ACCOUNT_PASSWORD, None);
    let enrolment = post(&me, "/api/v1/me/totp", json!({})).expect(200);
    let secret = enrolment["secret"].as_str().expect("secret").to_owned();
    let uri = enrolment["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");

    let confirm = json!({"code": oathtool(&secret, "now")});
    let confirmed = post(&me, "/api/v1/me/totp/confirm", confirm).expect(200);
    let codes = confirmed["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10, "{confirmed}");

    // The password alone no longer signs in.
    assert_eq!(
        toto.try_sign_in("toto@abc.xyz", ACCOUNT_PASSWORD, None),
        (401, "totp_required".to_owned())
    );
    // The next step's code is within the allowed skew and was never used.
    let code = oathtool(&secret, "+30 seconds");
    toto.sign_in("second", "toto@abc.xyz", ACCOUNT_PASSWORD, Some(&code));
    // RFC 6238 §5.2: the same code again is a replay.
    assert_eq!(
        toto.try_sign_in("toto@abc.xyz", ACCOUNT_PASSWORD, Some(&code)),
        (401, "totp_invalid".to_owned())
    );
    // A recovery code replaces the app once.
    let recovery = codes[0].as_str().expect("code");
    toto.sign_in("third", "toto@abc.xyz", ACCOUNT_PASSWORD, Some(recovery));
    assert_eq!(
        toto.try_sign_in("toto@abc.xyz", ACCOUNT_PASSWORD, Some(recovery)),
        (401, "totp_invalid".to_owned())
    );
}

/// ID-5 and ID-7: unification offered, performed, then both passwords are one on every
/// protocol; the credential tester answers as a mail client would see it.
#[test]
fn id_5_unified_passwords_change_together_and_the_tester_says_so() {
    let toto = toto();
    let me = toto.sign_in("web", "toto@abc.xyz", ACCOUNT_PASSWORD, None);
    let change = json!({"password": "Shared-password-5"});
    let answer = put(&me, "/api/v1/addresses/toto@abc.xyz/password", change).expect(200);
    assert_eq!(answer["unification"]["state"], "offered", "{answer}");

    let unify = json!({"password": "Shared-password-5", "unify": true});
    let answer = put(&me, "/api/v1/addresses/toto@abc.xyz/password", unify).expect(200);
    assert_eq!(answer["unification"]["state"], "unified", "{answer}");
    // The session in which the change was made goes on.
    let who = get(&me, "/api/v1/me").expect(200);
    assert_eq!(who["unified_with"], "toto@abc.xyz", "{who}");

    // Changing the account's password now changes the mailbox's.
    let own = json!({"current_password": "Shared-password-5", "new_password": "Both-at-once-6"});
    let answer = put(&me, "/api/v1/me/password", own).expect(200);
    assert_eq!(answer["unification"]["state"], "unified", "{answer}");
    assert!(toto.mail_login("imap", "toto@abc.xyz", "Both-at-once-6"));
    assert!(!toto.mail_login("pop3", "toto@abc.xyz", "Shared-password-5"));

    // ID-7 over the API and the CLI.
    let tests = [
        ("toto@abc.xyz", "Both-at-once-6", "valid"),
        ("toto@abc.xyz", "nope", "wrong_password"),
        ("nobody@abc.xyz", "Both-at-once-6", "unknown_address"),
    ];
    for (address, password, result) in tests {
        let body = json!({"address": address, "password": password});
        let answer = post(&me, "/api/v1/credentials/test", body).expect(200);
        assert_eq!(answer["result"], result, "{address}/{password}: {answer}");
    }
    let out = toto.server.admin_ok(&[
        "--json",
        "address",
        "test",
        "toto@abc.xyz",
        "--password",
        "Both-at-once-6",
    ]);
    let answer: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answer["result"], "valid", "{answer}");

    // A second account gets access: unification ends, the next change diverges (ID-5 (b)).
    let second = json!({"login": "helper@outside.test", "password": "Helper-password-1",
                        "org": "Acme", "role": "member"});
    post(&toto.operator, "/api/v1/users", second).expect(201);
    let access = json!({"permissions": ["read_send"]});
    put(
        &toto.operator,
        "/api/v1/addresses/toto@abc.xyz/access/helper@outside.test",
        access,
    )
    .expect(200);
    let change = json!({"password": "Only-the-mailbox-8"});
    let answer = put(&me, "/api/v1/addresses/toto@abc.xyz/password", change).expect(200);
    assert_eq!(answer["unification"]["state"], "not_offered", "{answer}");
    assert!(toto.mail_login("imap", "toto@abc.xyz", "Only-the-mailbox-8"));
    // The account kept its own password.
    toto.sign_in("after", "toto@abc.xyz", "Both-at-once-6", None);
}

/// ID-8 and ID-12: a reset code by SMS through the outbox; the answers never say whether the
/// account exists; ID-11: the audit log shows the logins of every protocol.
#[test]
fn id_8_password_reset_by_sms_and_id_11_audit_of_every_login() {
    let toto = toto();
    toto.server.admin_ok(&[
        "user",
        "contact",
        "toto@abc.xyz",
        "--phone",
        "+41 79 123 45 67",
    ]);
    let anonymous = toto.server.api();
    let start = json!({"login": "toto@abc.xyz", "channel": "sms"});
    let known = post(&anonymous, "/api/v1/recovery/password", start).expect(202);
    let start = json!({"login": "nobody@nowhere.test", "channel": "sms"});
    let unknown = post(&anonymous, "/api/v1/recovery/password", start).expect(202);
    assert_eq!(known, unknown, "the answer never reveals an account");

    let outbox = toto.outbox();
    assert_eq!(outbox.len(), 1, "one SMS, for the real account: {outbox:?}");
    assert_eq!(outbox[0]["phone"], "+41 79 123 45 67");
    let text = outbox[0]["body"].as_str().expect("text");
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 8)
        .expect("an 8-digit code")
        .to_owned();

    let wrong = json!({"login": "toto@abc.xyz", "code": "00000000", "new_password": "Reset-pw-99"});
    post(&anonymous, "/api/v1/recovery/password/reset", wrong).refused(400, "invalid_code");
    let reset = json!({"login": "toto@abc.xyz", "code": code, "new_password": "Reset-pw-99"});
    post(&anonymous, "/api/v1/recovery/password/reset", reset.clone()).expect(200);
    // Single use.
    post(&anonymous, "/api/v1/recovery/password/reset", reset).refused(400, "invalid_code");
    toto.sign_in("reset", "toto@abc.xyz", "Reset-pw-99", None);
    // The mailbox password did not change with it (not unified, ID-3).
    assert!(toto.mail_login("imap", "toto@abc.xyz", MAILBOX_PASSWORD));
    assert!(!toto.mail_login("pop3", "toto@abc.xyz", "wrong-password"));

    // ID-11: the mailbox's logins, newest first, with protocol and result. The server writes
    // its log in the background, so the read is repeated until the last login is there.
    let wanted = [("imap", "success"), ("pop3", "wrong_password")];
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = mailbox_logins(&toto.server, "toto@abc.xyz");
        if wanted
            .iter()
            .all(|(p, e)| seen.contains(&(p.to_string(), e.to_string())))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for (protocol, event) in wanted {
        assert!(
            seen.contains(&(protocol.to_owned(), event.to_owned())),
            "{protocol} {event} missing from {seen:?}"
        );
    }
    // The account reads its own Manager logins and the reset through the API.
    let me = toto.sign_in("audit", "toto@abc.xyz", "Reset-pw-99", None);
    let log = get(&me, "/api/v1/audit").expect(200);
    let events: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(events.contains(&"password_reset"), "{log}");
    assert!(events.contains(&"success"), "{log}");
}

/// ID-10: the account whose hosted login address is deleted signs in with the recovery
/// username it received by SMS, and must choose a new login before anything else.
#[test]
fn id_10_a_deleted_login_address_leaves_a_recovery_username() {
    let toto = toto();
    toto.server.admin_ok(&[
        "user",
        "contact",
        "toto@abc.xyz",
        "--phone",
        "+33 6 12 34 56 78",
    ]);
    toto.server
        .admin_ok(&["address", "delete", "toto@abc.xyz", "--yes"]);
    let outbox = toto.outbox();
    let text = outbox
        .first()
        .and_then(|sms| sms["body"].as_str())
        .expect("an SMS with the recovery username")
        .to_owned();
    // "Toto Dupont" gives the initials td, then six digits.
    let username = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|word| {
            word.len() == 8
                && word.starts_with("td")
                && word[2..].bytes().all(|b| b.is_ascii_digit())
        })
        .expect("the recovery username in the SMS")
        .to_owned();

    let me = toto.sign_in("recovered", &username, ACCOUNT_PASSWORD, None);
    let who = get(&me, "/api/v1/me").expect(200);
    assert_eq!(who["must_choose_login"], true, "{who}");
    get(&me, "/api/v1/orgs").refused(403, "must_choose_login");
    put(
        &me,
        "/api/v1/me/login",
        json!({"login": "toto@elsewhere.test"}),
    )
    .expect(200);
    get(&me, "/api/v1/orgs").expect(200);
    toto.sign_in("new-login", "toto@elsewhere.test", ACCOUNT_PASSWORD, None);
}

/// (protocol, result) of the login entries of `address` in the audit log, read with the CLI.
fn mailbox_logins(server: &TestServer, address: &str) -> Vec<(String, String)> {
    let out = server.admin_ok(&[
        "--json",
        "audit",
        "--address",
        address,
        "--category",
        "login",
    ]);
    let entries: Value = serde_json::from_slice(&out.stdout).expect("json");
    entries
        .as_array()
        .expect("list")
        .iter()
        .map(|e| {
            (
                e["protocol"].as_str().unwrap_or_default().to_owned(),
                e["event"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
