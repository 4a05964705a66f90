//! The Manager's REST API (issue 8, SPEC §2) driven over real HTTP by curl, the client
//! administrators script with: every operation, every refusal a person would meet, and the
//! OpenAPI document checked by an independent validator.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use postwerk_testkit::TestServer;
use postwerk_testkit::api::{Answer, Api};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_postwerk");

/// Plain HTTP on loopback in tests: cookies must travel without TLS.
const HTTP_CONFIG: &str =
    "[http]\nsecure_cookies = false\npublic_url = \"https://mail.example.test\"\n";

const ADMIN_PASSWORD: &str = "Admin-password-42";
const MEMBER_PASSWORD: &str = "Member-password-42";

fn server() -> TestServer {
    TestServer::start_with(Path::new(BIN), &["http", "smtp", "imap"], HTTP_CONFIG)
        .expect("server starts")
}

/// Panics with the whole answer unless the status is `status`.
#[track_caller]
fn expect(answer: Answer, status: u16) -> Value {
    answer.expect(status)
}

/// An organization "Acme" with a service abc.xyz, an administrator account and a member
/// account, both signed in through the API with their passwords.
struct Acme {
    server: TestServer,
    operator: Api,
    admin: Api,
    member: Api,
    _jars: tempfile::TempDir,
}

fn acme() -> Acme {
    let server = server();
    let operator = server.api().with_token(&server.operator_token());
    expect(
        post(&operator, "/api/v1/orgs", json!({"name": "Acme"})),
        201,
    );
    for (login, password, role) in [
        ("admin@outside.test", ADMIN_PASSWORD, "admin"),
        ("member@outside.test", MEMBER_PASSWORD, "member"),
    ] {
        let user = json!({"login": login, "password": password, "display_name": login,
                          "org": "Acme", "role": role});
        expect(post(&operator, "/api/v1/users", user), 201);
    }
    let service = json!({"domain": "abc.xyz", "org": "Acme", "address_quota": 5});
    expect(post(&operator, "/api/v1/services", service), 201);
    let jars = tempfile::tempdir().expect("tempdir");
    let admin = sign_in(&server, jars.path(), "admin@outside.test", ADMIN_PASSWORD);
    let member = sign_in(&server, jars.path(), "member@outside.test", MEMBER_PASSWORD);
    Acme {
        server,
        operator,
        admin,
        member,
        _jars: jars,
    }
}

/// A client signed in with a session cookie, as the Manager console is.
fn sign_in(server: &TestServer, jars: &Path, login: &str, password: &str) -> Api {
    let api = server.api().with_cookies(jars.join(login));
    let body = json!({"login": login, "password": password});
    let answer = api.json("POST", "/api/v1/session", &body).expect("curl");
    let cookie = answer.header("set-cookie").unwrap_or_default().to_owned();
    expect(answer, 200);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite"), "{cookie}");
    api
}

fn post(api: &Api, path: &str, body: Value) -> Answer {
    api.json("POST", path, &body).expect("curl runs")
}

fn patch(api: &Api, path: &str, body: Value) -> Answer {
    api.json("PATCH", path, &body).expect("curl runs")
}

fn put(api: &Api, path: &str, body: Value) -> Answer {
    api.json("PUT", path, &body).expect("curl runs")
}

fn get(api: &Api, path: &str) -> Answer {
    api.get(path).expect("curl runs")
}

fn delete(api: &Api, path: &str) -> Answer {
    api.delete(path).expect("curl runs")
}

/// Creates a mailbox of abc.xyz linked to nobody (ADDR-1 c); answers the creation's body.
fn create_mailbox(api: &Api, local: &str) -> Value {
    let body = json!({"local_part": local, "kind": "mailbox", "holder": {"mode": "nobody"}});
    expect(post(api, "/api/v1/services/abc.xyz/addresses", body), 201)
}

/// Panics unless `answer` is the error `status`/`code`; answers its message.
#[track_caller]
fn refused(answer: Answer, status: u16, code: &str) -> String {
    answer.refused(status, code)
}

/// Logs into IMAP (STARTTLS) with Python's imaplib; true when the login is accepted.
fn imap_login(server: &TestServer, user: &str, password: &str) -> bool {
    let addr = server.addr("imap");
    let script = "import imaplib, ssl, sys\n\
        c = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))\n\
        c.starttls(ssl_context=ssl._create_unverified_context())\n\
        try:\n    c.login(sys.argv[3], sys.argv[4])\nexcept imaplib.IMAP4.error:\n    sys.exit(3)\n\
        c.logout()\n";
    let status = Command::new("python3")
        .args([
            "-c",
            script,
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
        other => panic!("imap client failed: {other:?}"),
    }
}

#[test]
fn the_openapi_document_is_valid_and_lists_every_route() {
    let server = server();
    let answer = server.api().get("/api/v1/openapi.json").expect("curl");
    let document = expect(answer.clone(), 200);
    assert_eq!(document["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let paths = document["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/session", "post"),
        ("/api/v1/session", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/sessions", "get"),
        ("/api/v1/orgs", "post"),
        ("/api/v1/orgs/{org}/members", "get"),
        ("/api/v1/orgs/{org}/members/{login}", "put"),
        ("/api/v1/orgs/{org}/members/{login}", "delete"),
        ("/api/v1/users", "post"),
        ("/api/v1/services", "post"),
        ("/api/v1/services/{domain}", "patch"),
        ("/api/v1/services/{domain}/dns", "get"),
        ("/api/v1/services/{domain}/dkim/rotate", "post"),
        ("/api/v1/services/{domain}/alias-domains/{alias}", "put"),
        ("/api/v1/services/{domain}/addresses", "post"),
        ("/api/v1/services/{domain}/addresses/bulk", "post"),
        ("/api/v1/jobs/{id}", "get"),
        ("/api/v1/addresses/{address}", "patch"),
        ("/api/v1/addresses/{address}/password", "put"),
        ("/api/v1/addresses/{address}/invitations", "post"),
        ("/api/v1/addresses/delete", "post"),
        ("/api/v1/addresses/{address}/aliases", "post"),
        ("/api/v1/addresses/{address}/aliases/{alias}", "delete"),
        ("/api/v1/addresses/{address}/access/{login}", "put"),
        ("/api/v1/addresses/{address}/sender-rules", "post"),
        (
            "/api/v1/addresses/{address}/sender-rules/{pattern}",
            "delete",
        ),
        ("/api/v1/invitations/{secret}", "get"),
        ("/api/v1/invitations/{secret}/accept", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is missing from the OpenAPI document"
        );
    }
    // An independent validator (openapi-spec-validator, installed by .ci/run).
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &answer.raw).expect("write");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))\n",
        ])
        .arg(&file)
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "the OpenAPI document is invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn svc_an_administrator_configures_a_mail_service() {
    let acme = acme();
    let admin = &acme.admin;
    // SVC-1: the service as listed, with its use of the quota.
    let service = expect(get(admin, "/api/v1/services/abc.xyz"), 200);
    assert_eq!(service["domain"], "abc.xyz");
    assert_eq!(service["address_quota"], 5);
    // SVC-2: raised and lowered, never below what is in use.
    create_mailbox(admin, "one");
    create_mailbox(admin, "two");
    let raised = expect(
        patch(
            admin,
            "/api/v1/services/abc.xyz",
            json!({"address_quota": 7}),
        ),
        200,
    );
    assert_eq!(raised["address_quota"], 7);
    let message = refused(
        patch(
            admin,
            "/api/v1/services/abc.xyz",
            json!({"address_quota": 1}),
        ),
        409,
        "conflict",
    );
    assert!(
        message.contains('2'),
        "names the addresses in use: {message}"
    );
    // SVC-4: default permissions and signature templates.
    let settings = json!({
        "default_permissions": ["read_send", "manage_aliases"],
        "signature_templates": [{"name": "Sales", "body": "-- \nAcme sales"}],
    });
    let changed = expect(patch(admin, "/api/v1/services/abc.xyz", settings), 200);
    assert_eq!(
        changed["default_permissions"],
        json!(["read_send", "manage_aliases"])
    );
    assert_eq!(changed["signature_templates"][0]["name"], "Sales");
    // SVC-3: alias domains.
    expect(
        put(
            admin,
            "/api/v1/services/abc.xyz/alias-domains/abc.example",
            json!({}),
        ),
        204,
    );
    let service = expect(get(admin, "/api/v1/services/abc.xyz"), 200);
    assert_eq!(service["alias_domains"], json!(["abc.example"]));
    expect(
        delete(admin, "/api/v1/services/abc.xyz/alias-domains/abc.example"),
        204,
    );
    // SVC-1: the DNS report names every record, expected vs found (nothing is published on
    // the test server's DNS, which answers SERVFAIL: a lookup error, not "missing").
    let report = expect(get(admin, "/api/v1/services/abc.xyz/dns"), 200);
    let records = report.as_array().expect("one entry per record");
    for kind in ["MX", "TXT", "SRV"] {
        assert!(
            records.iter().any(|r| r["expected"]["type"] == kind),
            "{kind}: {report:#}"
        );
    }
    assert!(
        records
            .iter()
            .all(|r| r["in_place"] == false && r["lookup_error"].is_string()),
        "{report:#}"
    );
    // SVC-1: a new DKIM key.
    let rotated = expect(
        post(admin, "/api/v1/services/abc.xyz/dkim/rotate", json!({})),
        200,
    );
    assert!(
        rotated["record"]["value"]
            .as_str()
            .unwrap_or("")
            .contains("v=DKIM1"),
        "{rotated:#}"
    );
    // An unknown domain is named as such.
    let message = refused(
        get(admin, "/api/v1/services/nope.example"),
        404,
        "not_found",
    );
    assert!(message.contains("nope.example"), "{message}");
}

#[test]
fn org_1_a_member_is_refused_what_only_administrators_do() {
    let acme = acme();
    let member = &acme.member;
    let attempts = [
        post(
            member,
            "/api/v1/services/abc.xyz/addresses",
            json!({"local_part": "x", "kind": "mailbox", "holder": {"mode": "nobody"}}),
        ),
        patch(
            member,
            "/api/v1/services/abc.xyz",
            json!({"address_quota": 50}),
        ),
        put(
            member,
            "/api/v1/orgs/Acme/members/member@outside.test",
            json!({"role": "admin"}),
        ),
        post(
            member,
            "/api/v1/services",
            json!({"domain": "other.xyz", "org": "Acme", "address_quota": 5}),
        ),
    ];
    for answer in attempts {
        let message = refused(answer, 403, "forbidden");
        assert!(message.contains("administrator"), "{message}");
    }
    // A member sees the members of their organization, and their own account.
    let members = expect(get(member, "/api/v1/orgs/Acme/members"), 200);
    assert_eq!(
        members["items"].as_array().map(Vec::len),
        Some(2),
        "{members:#}"
    );
    let me = expect(get(member, "/api/v1/me"), 200);
    assert_eq!(me["login"], "member@outside.test");
    // Every account is listed to the platform operator only.
    let users = expect(get(&acme.operator, "/api/v1/users"), 200);
    assert_eq!(users["total"], 2, "{users:#}");
    refused(get(member, "/api/v1/users"), 403, "forbidden");
    // Without credentials nothing but the public routes answers.
    refused(
        get(&acme.server.api(), "/api/v1/services"),
        401,
        "unauthenticated",
    );
}

#[test]
fn addr_addresses_aliases_access_and_sender_lists() {
    let acme = acme();
    let admin = &acme.admin;
    // ADDR-1 (b): given to a member, a generated password shown once, which works in IMAP.
    let body = json!({"local_part": "toto", "kind": "mailbox", "display_name": "Toto",
        "holder": {"mode": "users", "users": [{"login": "member@outside.test",
            "permissions": ["read_send", "manage_aliases"], "signature": null}]}});
    let created = expect(post(admin, "/api/v1/services/abc.xyz/addresses", body), 201);
    let password = created["generated_password"]
        .as_str()
        .expect("generated password")
        .to_owned();
    assert!(imap_login(&acme.server, "toto@abc.xyz", &password));
    // ADDR-1 (a): themself, with a chosen password.
    let body = json!({"local_part": "mine", "kind": "mailbox", "password": "Chosen-password-42",
                      "holder": {"mode": "myself"}});
    let mine = expect(post(admin, "/api/v1/services/abc.xyz/addresses", body), 201);
    assert!(mine["generated_password"].is_null());
    assert!(imap_login(
        &acme.server,
        "mine@abc.xyz",
        "Chosen-password-42"
    ));
    // ADDR-6: aliases, 50 at most, never an existing address.
    let aliases = "/api/v1/addresses/toto@abc.xyz/aliases";
    for n in 0..50 {
        expect(
            post(admin, aliases, json!({"alias": format!("t{n}@abc.xyz")})),
            201,
        );
    }
    let message = refused(
        post(admin, aliases, json!({"alias": "t50@abc.xyz"})),
        409,
        "alias_limit",
    );
    assert!(message.contains("50"), "{message}");
    expect(
        delete(admin, "/api/v1/addresses/toto@abc.xyz/aliases/t49@abc.xyz"),
        204,
    );
    let message = refused(
        post(admin, aliases, json!({"alias": "mine@abc.xyz"})),
        409,
        "conflict",
    );
    assert!(message.contains("mine@abc.xyz"), "{message}");
    // ADDR-9: the member holds `manage_aliases` on toto, and nothing on mine.
    let member = &acme.member;
    expect(
        post(member, aliases, json!({"alias": "by-member@abc.xyz"})),
        201,
    );
    refused(
        post(
            member,
            "/api/v1/addresses/mine@abc.xyz/aliases",
            json!({"alias": "x@abc.xyz"}),
        ),
        403,
        "forbidden",
    );
    refused(
        put(member, "/api/v1/addresses/toto@abc.xyz/password", json!({})),
        403,
        "forbidden",
    );
    // The administrator changes the permissions; now the member may change the password.
    let access = json!({"permissions": ["read_send", "change_password"]});
    expect(
        put(
            admin,
            "/api/v1/addresses/toto@abc.xyz/access/member@outside.test",
            access,
        ),
        200,
    );
    let changed = expect(
        put(
            member,
            "/api/v1/addresses/toto@abc.xyz/password",
            json!({"password": "Member-chose-this-42"}),
        ),
        200,
    );
    assert!(changed["generated_password"].is_null());
    assert!(
        !imap_login(&acme.server, "toto@abc.xyz", &password),
        "the old password is dead"
    );
    assert!(imap_login(
        &acme.server,
        "toto@abc.xyz",
        "Member-chose-this-42"
    ));
    // Details: aliases, access with logins.
    let details = expect(get(admin, "/api/v1/addresses/toto@abc.xyz"), 200);
    assert_eq!(
        details["aliases"].as_array().map(Vec::len),
        Some(50),
        "{details:#}"
    );
    assert_eq!(
        details["access"][0]["login"], "member@outside.test",
        "{details:#}"
    );
    // ADDR-10 and ADDR-5 through PATCH.
    let update = json!({"storage_limit": 1_000_000, "redirect": {"targets": ["elsewhere@outside.test"], "keep_copy": true}});
    let updated = expect(patch(admin, "/api/v1/addresses/toto@abc.xyz", update), 200);
    assert_eq!(updated["storage_limit"], 1_000_000);
    assert_eq!(updated["redirect"]["keep_copy"], true);
    let lifted = expect(
        patch(
            admin,
            "/api/v1/addresses/toto@abc.xyz",
            json!({"storage_limit": null, "redirect": null}),
        ),
        200,
    );
    assert!(
        lifted["storage_limit"].is_null() && lifted["redirect"].is_null(),
        "{lifted:#}"
    );
    // RCV-4: the sender lists of a mailbox.
    let rules = "/api/v1/addresses/toto@abc.xyz/sender-rules";
    expect(
        post(
            admin,
            rules,
            json!({"kind": "allow", "pattern": "boss@partner.example"}),
        ),
        201,
    );
    expect(
        post(
            admin,
            rules,
            json!({"kind": "block", "pattern": "@spam.example"}),
        ),
        201,
    );
    let listed = expect(get(admin, rules), 200);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(2),
        "{listed:#}"
    );
    expect(
        delete(
            admin,
            "/api/v1/addresses/toto@abc.xyz/sender-rules/@spam.example",
        ),
        204,
    );
    refused(
        post(
            admin,
            rules,
            json!({"kind": "allow", "pattern": "not a pattern"}),
        ),
        400,
        "invalid",
    );
    // SVC-2: the quota (5) is reached by toto, mine, and three more.
    create_mailbox(admin, "three");
    create_mailbox(admin, "four");
    create_mailbox(admin, "five");
    let message = refused(
        post(
            admin,
            "/api/v1/services/abc.xyz/addresses",
            json!({"local_part": "six", "kind": "mailbox", "holder": {"mode": "nobody"}}),
        ),
        409,
        "quota_reached",
    );
    assert!(message.contains('5'), "{message}");
    // Unknown domain.
    refused(
        post(
            admin,
            "/api/v1/services/nope.example/addresses",
            json!({"local_part": "x", "kind": "mailbox", "holder": {"mode": "nobody"}}),
        ),
        404,
        "not_found",
    );
    // Lists are paginated.
    let page = expect(
        get(
            admin,
            "/api/v1/services/abc.xyz/addresses?per_page=2&page=2",
        ),
        200,
    );
    assert_eq!(page["total"], 5, "{page:#}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page:#}");
}

#[test]
fn addr_8_deleting_an_address_destroys_its_content() {
    let acme = acme();
    let admin = &acme.admin;
    create_mailbox(admin, "gone");
    create_mailbox(admin, "stays");
    // A message large enough to live in a blob file of its own.
    let big = "x".repeat(100) + "\r\n";
    let body = format!("Subject: big\r\n\r\n{}", big.repeat(1500));
    let (code, transcript) = swaks(&acme.server, "gone@abc.xyz", &body);
    assert_eq!(code, 0, "{transcript}");
    assert_eq!(acme.server.inbox("gone@abc.xyz").expect("inbox").len(), 1);
    let blobs = acme.server.data_dir().join("blobs");
    assert!(count_files(&blobs) > 0, "the message has a blob file");
    // Irreversible, so the request repeats the list it destroys.
    let message = refused(
        post(
            admin,
            "/api/v1/addresses/delete",
            json!({"addresses": ["gone@abc.xyz"], "confirm": []}),
        ),
        400,
        "invalid",
    );
    assert!(message.contains("confirm"), "{message}");
    expect(
        post(
            admin,
            "/api/v1/addresses/delete",
            json!({"addresses": ["gone@abc.xyz"], "confirm": ["gone@abc.xyz"]}),
        ),
        200,
    );
    refused(
        get(admin, "/api/v1/addresses/gone@abc.xyz"),
        404,
        "not_found",
    );
    assert!(
        acme.server.inbox("gone@abc.xyz").is_err(),
        "the mailbox is gone"
    );
    // The content is destroyed once no message refers to it (collected after the commit).
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_files(&blobs) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        count_files(&blobs),
        0,
        "no blob of the deleted mailbox stays"
    );
    expect(get(admin, "/api/v1/addresses/stays@abc.xyz"), 200);
}

/// Regular files under `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => count_files(&entry.path()),
            Ok(kind) if kind.is_file() => 1,
            _ => 0,
        })
        .sum()
}

#[test]
fn addr_3_csv_bulk_creation_reports_bad_lines_then_runs_as_a_job() {
    let acme = acme();
    let admin = &acme.admin;
    expect(
        patch(
            admin,
            "/api/v1/services/abc.xyz",
            json!({"address_quota": 100}),
        ),
        200,
    );
    create_mailbox(admin, "taken");
    let csv = "address,password,display_name,users,aliases\n\
               anna,,Anna,member@outside.test,ann\n\
               bad address,,Bad,,\n\
               bob@abc.xyz,Bob-password-1234,Bob,,\n\
               anna,,Anna again,,\n\
               taken,,Taken,,\n\
               carl@elsewhere.xyz,,Carl,,\n\
               dora,,Dora,nobody@outside.test,\n";
    let bulk = |query: &str| {
        admin
            .send(
                "POST",
                &format!("/api/v1/services/abc.xyz/addresses/bulk{query}"),
                Some("text/csv"),
                csv.as_bytes(),
            )
            .expect("curl runs")
    };
    // Validated as a whole: every bad line named with its reason, nothing created.
    let report = bulk("");
    assert_eq!(report.status, 422, "{report:#?}");
    let problems = report.body["problems"]
        .as_array()
        .expect("problems")
        .clone();
    let lines: Vec<u64> = problems.iter().filter_map(|p| p["line"].as_u64()).collect();
    assert_eq!(lines, [3, 5, 6, 7, 8], "{problems:#?}");
    let reason = |line: u64| {
        problems
            .iter()
            .find(|p| p["line"] == line)
            .and_then(|p| p["reason"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        reason(5).contains("line 2"),
        "duplicate names the first line: {}",
        reason(5)
    );
    assert!(reason(6).contains("exists"), "{}", reason(6));
    assert!(reason(7).contains("abc.xyz"), "{}", reason(7));
    assert!(reason(8).contains("nobody@outside.test"), "{}", reason(8));
    refused(
        get(admin, "/api/v1/addresses/anna@abc.xyz"),
        404,
        "not_found",
    );
    // With skip_invalid the good lines are created by a job.
    let started = bulk("?skip_invalid=true");
    let job = expect(started, 202)["job"].clone();
    let job = job
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| job.to_string());
    let deadline = Instant::now() + Duration::from_secs(120);
    let finished = loop {
        let status = expect(get(admin, &format!("/api/v1/jobs/{job}")), 200);
        if status["status"] != "running" || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(finished["status"], "done", "{finished:#}");
    assert_eq!(finished["created"], 2, "{finished:#}");
    let result = finished["result_csv"]
        .as_str()
        .expect("the result CSV, once")
        .to_owned();
    let anna = result
        .lines()
        .find(|l| l.contains("anna@abc.xyz"))
        .expect("anna's row");
    let password = anna.split(',').nth(2).expect("password column").to_owned();
    assert!(
        imap_login(&acme.server, "anna@abc.xyz", &password),
        "{result}"
    );
    assert!(imap_login(&acme.server, "bob@abc.xyz", "Bob-password-1234"));
    // The generated passwords are shown once only.
    let again = expect(get(admin, &format!("/api/v1/jobs/{job}")), 200);
    assert!(again["result_csv"].is_null(), "{again:#}");
    let anna = expect(get(admin, "/api/v1/addresses/anna@abc.xyz"), 200);
    assert_eq!(anna["aliases"][0]["alias"], "ann@abc.xyz", "{anna:#}");
    assert_eq!(
        anna["access"][0]["login"], "member@outside.test",
        "{anna:#}"
    );
}

#[test]
fn addr_1_invitations_create_the_account_with_the_chosen_login_mode() {
    let acme = acme();
    let admin = &acme.admin;
    // The invitee's own address is hosted here too, so the invitation lands in an INBOX.
    create_mailbox(admin, "personal");
    for (local, mode) in [("exact", "exact_address"), ("own", "own_choice")] {
        let body = json!({"local_part": local, "kind": "mailbox", "holder": {"mode": "invitation",
            "invitation": {"send_to": "personal@abc.xyz", "login_mode": mode}}});
        let created = expect(post(admin, "/api/v1/services/abc.xyz/addresses", body), 201);
        assert_eq!(
            created["invitation"]["sent_to"], "personal@abc.xyz",
            "{created:#}"
        );
        assert_eq!(
            created["generated_password"].is_null(),
            mode == "exact_address",
            "a password is shown unless the login is the address: {created:#}"
        );
    }
    let inbox = acme.server.inbox("personal@abc.xyz").expect("inbox");
    assert_eq!(inbox.len(), 2, "two invitations delivered");
    let secrets: Vec<String> = inbox.iter().map(|m| invitation_secret(m)).collect();
    let public = acme.server.api();
    // Exact address: the login is the created address; the password chosen opens both the
    // Manager and the mailbox.
    let offered = expect(
        get(&public, &format!("/api/v1/invitations/{}", secrets[0])),
        200,
    );
    assert_eq!(offered["address"], "exact@abc.xyz");
    assert_eq!(offered["login_mode"], "exact_address");
    let accept = json!({"password": "Invitee-password-42", "display_name": "Eve Exact"});
    expect(
        post(
            &public,
            &format!("/api/v1/invitations/{}/accept", secrets[0]),
            accept.clone(),
        ),
        201,
    );
    let jars = tempfile::tempdir().expect("tempdir");
    let eve = sign_in(
        &acme.server,
        jars.path(),
        "exact@abc.xyz",
        "Invitee-password-42",
    );
    let details = expect(get(&eve, "/api/v1/addresses/exact@abc.xyz"), 200);
    assert_eq!(
        details["access"][0]["login"], "exact@abc.xyz",
        "{details:#}"
    );
    assert!(imap_login(
        &acme.server,
        "exact@abc.xyz",
        "Invitee-password-42"
    ));
    // Used once only.
    refused(
        post(
            &public,
            &format!("/api/v1/invitations/{}/accept", secrets[0]),
            accept,
        ),
        404,
        "not_found",
    );
    // Own choice: the person logs in with an address of their own.
    let accept = json!({"login": "olga@outside.test", "password": "Olga-password-4242", "display_name": "Olga"});
    expect(
        post(
            &public,
            &format!("/api/v1/invitations/{}/accept", secrets[1]),
            accept,
        ),
        201,
    );
    let olga = sign_in(
        &acme.server,
        jars.path(),
        "olga@outside.test",
        "Olga-password-4242",
    );
    expect(get(&olga, "/api/v1/addresses/own@abc.xyz"), 200);
    // The account's password is not the mailbox's (ID-3).
    assert!(!imap_login(
        &acme.server,
        "own@abc.xyz",
        "Olga-password-4242"
    ));
}

/// The secret of the acceptance link `https://mail.example.test/invite/<secret>` in a message,
/// read from its text body as a mail client decodes it.
fn invitation_secret(message: &[u8]) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(message)
        .expect("the invitation parses");
    let text = parsed.body_text(0).expect("a text body").into_owned();
    let start = text.find("/invite/").expect("the message has the link") + "/invite/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[test]
fn tokens_and_sessions() {
    let acme = acme();
    let admin = &acme.admin;
    // A read-only token reads, and is refused anything else.
    let token = expect(
        post(
            admin,
            "/api/v1/tokens",
            json!({"name": "reports", "scope": "read"}),
        ),
        201,
    );
    let secret = token["secret"].as_str().expect("secret, once").to_owned();
    let reader = acme.server.api().with_token(&secret);
    expect(get(&reader, "/api/v1/services/abc.xyz"), 200);
    let message = refused(
        patch(
            &reader,
            "/api/v1/services/abc.xyz",
            json!({"address_quota": 9}),
        ),
        403,
        "forbidden",
    );
    assert!(message.contains("read"), "{message}");
    // Listed without its secret; revoked, it stops working at once.
    let listed = expect(get(admin, "/api/v1/tokens"), 200);
    let text = listed.to_string();
    assert!(
        !text.contains(&secret),
        "a token's secret is shown once only"
    );
    let id = token["token"]["id"].to_string();
    expect(delete(admin, &format!("/api/v1/tokens/{id}")), 204);
    refused(
        get(&reader, "/api/v1/services/abc.xyz"),
        401,
        "unauthenticated",
    );
    // A browser on another site cannot make a signed-in console change anything (CSRF).
    let forged = admin
        .with_header("Origin: https://evil.example")
        .with_header("Sec-Fetch-Site: cross-site");
    let answer = patch(
        &forged,
        "/api/v1/services/abc.xyz",
        json!({"address_quota": 9}),
    );
    assert_eq!(answer.status, 403, "{answer:#?}");
    // Wrong passwords and mailbox credentials never open the Manager (ID-2).
    create_mailbox(admin, "box");
    let public = acme.server.api();
    let wrong = post(
        &public,
        "/api/v1/session",
        json!({"login": "admin@outside.test", "password": "wrong-password-1"}),
    );
    let unknown = post(
        &public,
        "/api/v1/session",
        json!({"login": "ghost@outside.test", "password": "wrong-password-1"}),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.body, unknown.body,
        "the answer does not tell whether the login exists"
    );
    // Sessions are listed and end on sign-out.
    let sessions = expect(get(admin, "/api/v1/sessions"), 200);
    assert_eq!(
        sessions["items"].as_array().map(Vec::len),
        Some(1),
        "{sessions:#}"
    );
    expect(delete(admin, "/api/v1/session"), 204);
    refused(get(admin, "/api/v1/me"), 401, "unauthenticated");
}

/// Sends `body` to `to` over the MX listener with swaks; answers its exit code and transcript.
fn swaks(server: &TestServer, to: &str, body: &str) -> (i32, String) {
    use std::io::Write;
    let addr = server.addr("smtp");
    let mut child = Command::new("swaks")
        .args([
            "--server",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args([
            "--from",
            "sender@outside.test",
            "--to",
            to,
            "--timeout",
            "60",
        ])
        .args(["--data", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("swaks is installed (.ci/run installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("swaks runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn addr_10_a_mailbox_over_its_storage_limit_refuses_mail_with_552() {
    let acme = acme();
    let admin = &acme.admin;
    create_mailbox(admin, "small");
    expect(
        patch(
            admin,
            "/api/v1/addresses/small@abc.xyz",
            json!({"storage_limit": 1000}),
        ),
        200,
    );
    let message = format!("Subject: one\r\n\r\n{}\r\n", "y".repeat(1500));
    // Below the limit when it arrives: accepted, even though it crosses the limit.
    let (code, transcript) = swaks(&acme.server, "small@abc.xyz", &message);
    assert_eq!(code, 0, "{transcript}");
    // Full now: refused at RCPT, with the reply of ADDR-10.
    let (code, transcript) = swaks(&acme.server, "small@abc.xyz", &message);
    assert_ne!(code, 0, "{transcript}");
    assert!(
        transcript.contains("552 5.2.2 Mailbox full"),
        "{transcript}"
    );
    assert_eq!(acme.server.inbox("small@abc.xyz").expect("inbox").len(), 1);
    // Lifted: mail comes in again.
    expect(
        patch(
            admin,
            "/api/v1/addresses/small@abc.xyz",
            json!({"storage_limit": null}),
        ),
        200,
    );
    let (code, transcript) = swaks(&acme.server, "small@abc.xyz", &message);
    assert_eq!(code, 0, "{transcript}");
}

#[test]
fn svc_1_the_dns_report_says_which_records_are_published() {
    use postwerk_testkit::dns::{DnsServer, Zone};
    let mut zone = Zone::new();
    zone.mx("abc.xyz", 10, "mail.example.test")
        .txt("abc.xyz", "v=spf1 mx a:mail.example.test -all")
        .srv("_submissions._tcp.abc.xyz", 0, 1, 465, "mail.example.test");
    let dns = DnsServer::start(zone).expect("dns server");
    let config = format!(
        "{HTTP_CONFIG}[dns]\nservers = [\"{}\"]\ndnssec = \"off\"\n",
        dns.addr()
    );
    let server = TestServer::start_with(Path::new(BIN), &["http"], &config).expect("server starts");
    let operator = server.api().with_token(&server.operator_token());
    expect(
        post(&operator, "/api/v1/orgs", json!({"name": "Acme"})),
        201,
    );
    let service = json!({"domain": "abc.xyz", "org": "Acme", "address_quota": 5});
    expect(post(&operator, "/api/v1/services", service), 201);
    let report = expect(get(&operator, "/api/v1/services/abc.xyz/dns"), 200);
    let records = report.as_array().expect("one entry per record");
    let check = |kind: &str, name: &str| {
        records
            .iter()
            .find(|r| r["expected"]["type"] == kind && r["expected"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name}: {report:#}"))
            .clone()
    };
    let mx = check("MX", "abc.xyz");
    assert_eq!(mx["in_place"], true, "{mx:#}");
    assert_eq!(mx["found"][0], "10 mail.example.test.", "{mx:#}");
    let spf = records
        .iter()
        .find(|r| {
            r["expected"]["value"]
                .as_str()
                .is_some_and(|v| v.contains("v=spf1"))
        })
        .expect("an SPF record");
    assert_eq!(spf["in_place"], true, "{spf:#}");
    assert_eq!(check("SRV", "_submissions._tcp.abc.xyz")["in_place"], true);
    // Not published: missing, and known to be missing (not a failed lookup).
    let dmarc = check("TXT", "_dmarc.abc.xyz");
    assert_eq!(dmarc["in_place"], false, "{dmarc:#}");
    assert!(dmarc["lookup_error"].is_null(), "{dmarc:#}");
    let dkim = records
        .iter()
        .find(|r| {
            r["expected"]["name"]
                .as_str()
                .is_some_and(|n| n.contains("._domainkey."))
        })
        .expect("a DKIM record");
    assert_eq!(dkim["in_place"], false, "{dkim:#}");
}

#[test]
fn org_1_members_access_reinvitations_and_sessions_are_managed_over_the_api() {
    let acme = acme();
    let admin = &acme.admin;
    // ORG-1: a member is promoted, and a new account joins and leaves.
    let promoted = expect(
        put(
            admin,
            "/api/v1/orgs/Acme/members/member@outside.test",
            json!({"role": "admin"}),
        ),
        200,
    );
    assert_eq!(promoted["role"], "admin", "{promoted:#}");
    let user = json!({"login": "temp@outside.test", "display_name": "Temp", "org": "Acme", "role": "member"});
    let created = expect(post(&acme.operator, "/api/v1/users", user), 201);
    assert!(created["generated_password"].is_string(), "{created:#}");
    // ADDR-9: access granted, then revoked.
    create_mailbox(admin, "shared");
    let grant = json!({"permissions": ["read_send"]});
    expect(
        put(
            admin,
            "/api/v1/addresses/shared@abc.xyz/access/temp@outside.test",
            grant,
        ),
        200,
    );
    let access = expect(get(admin, "/api/v1/addresses/shared@abc.xyz/access"), 200);
    assert_eq!(
        access["items"][0]["login"], "temp@outside.test",
        "{access:#}"
    );
    expect(
        delete(
            admin,
            "/api/v1/addresses/shared@abc.xyz/access/temp@outside.test",
        ),
        204,
    );
    let access = expect(get(admin, "/api/v1/addresses/shared@abc.xyz/access"), 200);
    assert_eq!(access["total"], 0, "{access:#}");
    expect(
        delete(admin, "/api/v1/orgs/Acme/members/temp@outside.test"),
        204,
    );
    let members = expect(get(admin, "/api/v1/orgs/Acme/members"), 200);
    assert_eq!(members["total"], 2, "{members:#}");
    // ADDR-1 (b'): a lost invitation is sent again, to the address itself.
    let again = json!({"send_to": null, "login_mode": "exact_address"});
    let sent = expect(
        post(admin, "/api/v1/addresses/shared@abc.xyz/invitations", again),
        201,
    );
    assert_eq!(sent["sent_to"], "shared@abc.xyz", "{sent:#}");
    let inbox = acme.server.inbox("shared@abc.xyz").expect("inbox");
    assert_eq!(inbox.len(), 1, "the invitation is in the mailbox it offers");
    // ADDR-8 by path: the query repeats the address it destroys.
    refused(
        delete(admin, "/api/v1/addresses/shared@abc.xyz"),
        400,
        "invalid",
    );
    expect(
        delete(
            admin,
            "/api/v1/addresses/shared@abc.xyz?confirm=shared@abc.xyz",
        ),
        204,
    );
    refused(
        get(admin, "/api/v1/addresses/shared@abc.xyz"),
        404,
        "not_found",
    );
    // ID-1: a second sign-in of the same account ends the first one from its session list.
    let jars = tempfile::tempdir().expect("tempdir");
    let laptop = sign_in(
        &acme.server,
        jars.path(),
        "admin@outside.test",
        ADMIN_PASSWORD,
    );
    let sessions = expect(get(&laptop, "/api/v1/sessions"), 200);
    assert_eq!(sessions["total"], 2, "{sessions:#}");
    let oldest = sessions["items"]
        .as_array()
        .expect("items")
        .iter()
        .min_by_key(|s| s["id"].as_i64())
        .expect("a session")["id"]
        .clone();
    expect(delete(&laptop, &format!("/api/v1/sessions/{oldest}")), 204);
    refused(get(admin, "/api/v1/me"), 401, "unauthenticated");
    expect(get(&laptop, "/api/v1/me"), 200);
}
