//! ADDR-3: bulk creation from a CSV file through `core::Admin`, over a real SQLite store in a
//! temporary folder: the whole-file refusals, the report naming each bad line, nothing created
//! while a line is bad, `skip_invalid`, the quota, progress, and the result file whose
//! generated passwords open the mailboxes.

use std::sync::Mutex;

use postwerk_core::{
    Actor, Admin, BulkOptions, CoreError, CreateAddress, LineProblem, ServiceUpdate,
};
use postwerk_model::{Address, AddressKind, Role, ServiceFeatures};
use postwerk_store::Stores;
use postwerk_testkit::directory::{Directory, address_request};

const PASSWORD: &str = "mailbox-secret-1";
const OP: Actor = Actor::Operator;

struct Fixture {
    _dir: tempfile::TempDir,
    stores: Stores,
    admin: Admin,
}

fn address(text: &str) -> Address {
    text.parse().unwrap()
}

/// Acme serves example.test (quota 20, alias domain example.org) with toto@ (aliases tata@
/// and titi@) and other@;
/// jane@ and joe@ are members of Acme, out@ of another organization.
async fn fixture() -> Fixture {
    let directory = Directory::open().await;
    directory.org("Acme").await;
    directory.org("Other").await;
    directory.service("Acme", "example.test", 20).await;
    directory
        .admin
        .add_alias_domain(OP, "example.test", "example.org")
        .await
        .unwrap();
    directory
        .address(CreateAddress {
            aliases: vec!["tata".into(), "titi".into()],
            ..address_request("toto@example.test", AddressKind::Mailbox, Some(PASSWORD))
        })
        .await;
    directory.mailbox("other@example.test", PASSWORD).await;
    for (login, org) in [
        ("jane@home.example", "Acme"),
        ("joe@home.example", "Acme"),
        ("out@else.example", "Other"),
    ] {
        directory.account(login, org, Role::Member).await;
    }
    let Directory { dir, stores, admin } = directory;
    Fixture {
        _dir: dir,
        stores,
        admin,
    }
}

fn problem(line: u64, address: &str, reason: &str) -> LineProblem {
    LineProblem {
        line,
        address: address.into(),
        reason: reason.into(),
    }
}

async fn count(f: &Fixture) -> usize {
    f.admin
        .list_addresses(OP, "example.test")
        .await
        .unwrap()
        .len()
}

fn invalid<T: std::fmt::Debug>(result: Result<T, CoreError>) -> String {
    match result {
        Err(CoreError::Invalid(sentence)) => sentence,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Every kind of bad line of ADDR-3 in one file, among good ones.
const MIXED: &str = "\
address,password,display_name,users,aliases
alice,,Alice Martin,jane@home.example,al;a.martin
bad..dots,,,,
x@elsewhere.example,,,,
bob@example.org,,,,
alice,,,,
toto,,,,
tata@example.test,,,,
carol,,,nobody@home.example,
dave,,,out@else.example,
erin,short,,,
frank,,,,titi
gina,,,,al
\"hank\",,\"Hank, the \"\"Boss\"\"\",,hank
ivan,,too,many,fields,here
judy,,\"Judy\nTwo lines\",,
kate@example.test,kate-password-1,Kate,jane@home.example;joe@home.example,
lily,,,,other
";

#[tokio::test]
async fn addr_3_every_bad_line_is_named_with_its_reason_and_nothing_is_created() {
    let f = fixture().await;
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", MIXED.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        plan.problems,
        [
            problem(
                3,
                "bad..dots",
                "\"bad..dots\" is not a valid local part: it contains two dots in a row"
            ),
            problem(
                4,
                "x@elsewhere.example",
                "x@elsewhere.example is not in example.test: the addresses of this file must be \
                 in the mail service's primary domain, example.test"
            ),
            problem(
                5,
                "bob@example.org",
                "bob@example.org is not in example.test: the addresses of this file must be in \
                 the mail service's primary domain, example.test"
            ),
            problem(6, "alice", "alice@example.test is already on line 2"),
            problem(7, "toto", "the address toto@example.test already exists"),
            problem(
                8,
                "tata@example.test",
                "tata@example.test already exists as an alias of toto@example.test"
            ),
            problem(
                9,
                "carol",
                "no user account logs in with nobody@home.example"
            ),
            problem(
                10,
                "dave",
                "the account out@else.example is not a member of the organization Acme"
            ),
            problem(
                11,
                "erin",
                "the password is too short: use at least 10 characters"
            ),
            problem(
                12,
                "frank",
                "the alias titi@example.test already exists as an alias of toto@example.test"
            ),
            problem(13, "gina", "the alias al@example.test is already on line 2"),
            problem(14, "hank", "hank@example.test cannot be an alias of itself"),
            problem(
                15,
                "ivan",
                "the line has 6 fields, but the header names 5 columns"
            ),
            problem(
                16,
                "judy",
                "a display name cannot contain line breaks or other control characters"
            ),
            problem(
                19,
                "lily",
                "the alias other@example.test is already an address"
            ),
        ]
    );
    let good: Vec<(u64, String)> = plan
        .lines
        .iter()
        .map(|l| (l.line, l.address.to_string()))
        .collect();
    assert_eq!(
        good,
        [
            (2, "alice@example.test".to_owned()),
            (18, "kate@example.test".to_owned())
        ]
    );
    let before = count(&f).await;
    let refused = invalid(
        f.admin
            .run_bulk(OP, plan, BulkOptions::default(), &|_, _| {})
            .await,
    );
    assert_eq!(
        refused,
        "nothing was created: the file has 15 bad lines (line 3: \"bad..dots\" is not a valid \
         local part: it contains two dots in a row); fix them, or ask to skip the bad lines"
    );
    assert_eq!(count(&f).await, before);
}

#[tokio::test]
async fn addr_3_skip_invalid_creates_only_the_good_lines_and_reports_each() {
    let f = fixture().await;
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", MIXED.as_bytes())
        .await
        .unwrap();
    let seen = Mutex::new(Vec::new());
    let outcome = f
        .admin
        .run_bulk(
            OP,
            plan,
            BulkOptions { skip_invalid: true },
            &|done, total| seen.lock().unwrap().push((done, total)),
        )
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [(1, 2), (2, 2)]);
    let created: Vec<String> = outcome
        .created
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(created, ["alice@example.test", "kate@example.test"]);
    assert_eq!(outcome.skipped.len(), 15);
    assert!(outcome.failed.is_empty());
    assert!(
        outcome.created[1].generated_password.is_none(),
        "kate's was chosen"
    );

    // The result file: one row per input line, in file order; the generated password works.
    let result = outcome.result_csv();
    let mut reader = csv::Reader::from_reader(result.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["line", "address", "password", "status", "reason"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 17);
    let lines: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        lines,
        [
            "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "18",
            "19"
        ]
    );
    assert_eq!(&rows[0][1], "alice@example.test");
    assert_eq!(&rows[0][3], "created");
    assert_eq!(&rows[12][1], "hank");
    assert_eq!(&rows[12][3], "skipped");
    assert_eq!(
        &rows[12][4],
        "hank@example.test cannot be an alias of itself"
    );
    assert_eq!(&rows[15][2], "", "a chosen password is not echoed");
    let generated = &rows[0][2];
    assert_eq!(
        Some(generated),
        outcome.created[0]
            .generated_password
            .as_ref()
            .map(|p| p.as_str())
    );
    let alice = f
        .stores
        .directory
        .address_by_address(&address("alice@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert!(postwerk_core::password::verify(
        generated,
        alice.password_hash.as_deref().unwrap()
    ));
    assert_eq!(alice.display_name, "Alice Martin");
    let kate = f
        .stores
        .directory
        .address_by_address(&address("kate@example.test"))
        .await
        .unwrap()
        .unwrap();
    assert!(postwerk_core::password::verify(
        "kate-password-1",
        kate.password_hash.as_deref().unwrap()
    ));

    // Aliases and access came with them, in the same transaction.
    let aliases: Vec<String> = f
        .admin
        .list_aliases(OP, "alice@example.test")
        .await
        .unwrap()
        .iter()
        .map(|a| a.local.to_string())
        .collect();
    assert_eq!(aliases, ["a.martin", "al"]);
    let access = f.admin.list_access(OP, "kate@example.test").await.unwrap();
    let mut logins: Vec<String> = access.iter().map(|(l, _)| l.to_string()).collect();
    logins.sort();
    assert_eq!(logins, ["jane@home.example", "joe@home.example"]);
    let (service, used) = f.admin.service(OP, "example.test").await.unwrap();
    assert_eq!(access[0].1.permissions, service.default_permissions);
    assert_eq!(used, 4);
}

#[tokio::test]
async fn addr_3_lines_beyond_the_quota_are_refused_naming_it() {
    let f = fixture().await;
    // Two addresses exist: a quota of 4 leaves room for two more.
    f.admin.set_quota(OP, "example.test", 4).await.unwrap();
    let file = "address\na1\na2\na3\n";
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", file.as_bytes())
        .await
        .unwrap();
    let room = "the quota of 4 addresses of the mail service example.test leaves room for 2 more, \
                which the lines before this one take; an administrator can raise it";
    assert_eq!(plan.problems, [problem(4, "a3", room)]);
    assert_eq!(plan.lines.len(), 2);

    f.admin.set_quota(OP, "example.test", 2).await.unwrap();
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", file.as_bytes())
        .await
        .unwrap();
    let full = "the mail service example.test has reached its quota of 2 addresses; an \
                administrator can raise it";
    assert_eq!(
        plan.problems,
        [
            problem(2, "a1", full),
            problem(3, "a2", full),
            problem(4, "a3", full)
        ]
    );
}

#[tokio::test]
async fn addr_3_a_line_taken_between_plan_and_run_fails_alone() {
    let f = fixture().await;
    let file = "address,password\nfirst,\nsecond,second-pass-1\n";
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", file.as_bytes())
        .await
        .unwrap();
    assert!(plan.problems.is_empty());
    f.admin
        .add_alias(OP, "toto@example.test", "second@example.test")
        .await
        .unwrap();
    let outcome = f
        .admin
        .run_bulk(OP, plan, BulkOptions::default(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(outcome.created.len(), 1);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].line, 3);
    assert!(
        outcome.failed[0].reason.contains("second@example.test"),
        "{:?}",
        outcome.failed[0]
    );
    let result = outcome.result_csv();
    assert!(
        result.contains("\n3,second@example.test,,failed,"),
        "{result}"
    );
}

#[tokio::test]
async fn addr_3_columns_in_any_order_with_a_byte_order_mark_and_blank_lines() {
    let f = fixture().await;
    let file = "\u{feff} Aliases , ADDRESS \r\n\r\nx1;x2@example.test,one\r\n\n,Two@Example.test\n";
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", file.as_bytes())
        .await
        .unwrap();
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let lines: Vec<(u64, String, Vec<String>)> = plan
        .lines
        .iter()
        .map(|l| (l.line, l.address.to_string(), l.aliases.clone()))
        .collect();
    assert_eq!(
        lines,
        [
            (
                3,
                "one@example.test".to_owned(),
                vec!["x1".to_owned(), "x2".to_owned()]
            ),
            (5, "two@example.test".to_owned(), Vec::new()),
        ]
    );
    // Planning through the alias domain plans for the service's primary domain.
    let plan = f
        .admin
        .plan_bulk(OP, "example.org", b"address\nthree\n")
        .await
        .unwrap();
    assert_eq!(plan.lines[0].address, address("three@example.test"));
}

#[tokio::test]
async fn addr_3_whole_file_refusals_name_the_problem() {
    let f = fixture().await;
    let plan = |file: &'static str| f.admin.plan_bulk(OP, "example.test", file.as_bytes());
    assert_eq!(
        invalid(plan("address,passwort\nx,\n").await),
        "the CSV file has an unknown column \"passwort\" (column 2); the columns are address, \
         password, display_name, users, aliases"
    );
    assert_eq!(
        invalid(plan("password,users\nabcdefghijk,\n").await),
        "the CSV file has no address column; its first line names the columns, such as \
         address,password,display_name,users,aliases"
    );
    assert_eq!(
        invalid(plan("").await),
        "the CSV file is empty; its first line names the columns, such as \
         address,password,display_name,users,aliases"
    );
    assert_eq!(
        invalid(plan("address,Address\nx,x\n").await),
        "the CSV file names the column address twice"
    );
    assert_eq!(
        invalid(plan("address\n").await),
        "the CSV file names its columns but has no line after the header"
    );
    assert!(matches!(
        f.admin
            .plan_bulk(OP, "nowhere.example", b"address\nx\n")
            .await,
        Err(CoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn addr_6_aliases_in_a_file_follow_the_service_switch_and_the_limit() {
    let f = fixture().await;
    let fifty_one: Vec<String> = (0..51).map(|n| format!("z{n}")).collect();
    let file = format!(
        "address,aliases\nmany,{}\nfifty,{}\n",
        fifty_one.join(";"),
        fifty_one[..50].join(";").replace('z', "y")
    );
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", file.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        plan.problems,
        [problem(
            2,
            "many",
            "the line has 51 aliases, and an address can have at most 50"
        )]
    );
    assert_eq!(plan.lines[0].aliases.len(), 50);

    let off = ServiceUpdate {
        features: Some(ServiceFeatures {
            aliases_allowed: false,
            filters: Default::default(),
        }),
        ..ServiceUpdate::default()
    };
    f.admin
        .update_service(OP, "example.test", off)
        .await
        .unwrap();
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", b"address,aliases\nsolo,\nduo,d2\n")
        .await
        .unwrap();
    assert_eq!(
        plan.problems,
        [problem(
            3,
            "duo",
            "aliases are not enabled for the mail service example.test"
        )]
    );
    assert_eq!(plan.lines.len(), 1);
}

#[tokio::test]
async fn addr_3_a_member_cannot_plan_or_run() {
    let f = fixture().await;
    let jane = f
        .stores
        .directory
        .user_by_login(&address("jane@home.example"))
        .await
        .unwrap()
        .unwrap();
    let member = Actor::User(jane.id);
    assert!(matches!(
        f.admin
            .plan_bulk(member, "example.test", b"address\nx\n")
            .await,
        Err(CoreError::Forbidden(_))
    ));
    let plan = f
        .admin
        .plan_bulk(OP, "example.test", b"address\nx\n")
        .await
        .unwrap();
    assert!(matches!(
        f.admin
            .run_bulk(member, plan, BulkOptions::default(), &|_, _| {})
            .await,
        Err(CoreError::Forbidden(_))
    ));
    assert!(
        f.stores
            .directory
            .address_by_address(&address("x@example.test"))
            .await
            .unwrap()
            .is_none()
    );
}
