//! ADDR-3's CSV importer: `Admin::plan_bulk`, which parses and validates a whole file (the
//! columns, every line's fields, the file's own duplicates, then the directory's) and creates
//! nothing. It runs against a real directory in a temporary folder, made once per process: an
//! organization with the service `example.test` (one address, `toto`) and one member.

use std::sync::OnceLock;

use postwerk_core::{Actor, Admin, CoreError, CreateAddress, CreateUser, Holder};
use postwerk_model::{AddressKind, Role};
use tokio::runtime::Runtime;

/// The service every file is planned for.
const DOMAIN: &str = "example.test";

/// The directory the files are validated against.
struct Fixture {
    runtime: Runtime,
    admin: Admin,
    /// Removed when the process ends normally; kept alive as long as `admin` uses it.
    _folder: tempfile::TempDir,
}

/// Plans `input` as a CSV upload for `example.test`.
///
/// A refusal must be a sentence for the person who uploaded (`Invalid`); any other error
/// would be a fault of ours on a file. A plan lists each bad line once, in file order, with a
/// line number that exists in the file.
pub fn csv_import(input: &[u8]) {
    let fixture = fixture();
    let planned = fixture
        .runtime
        .block_on(fixture.admin.plan_bulk(Actor::Operator, DOMAIN, input));
    match planned {
        Ok(plan) => {
            let last_line = physical_lines(input);
            let mut previous = 0;
            for problem in &plan.problems {
                assert!(problem.line >= previous, "problems are in file order");
                assert!(
                    (2..=last_line).contains(&problem.line),
                    "line {} is a line of the file (2..={last_line})",
                    problem.line
                );
                assert!(!problem.reason.is_empty(), "every problem has a reason");
                previous = problem.line;
            }
            for line in &plan.lines {
                assert!(
                    (2..=last_line).contains(&line.line),
                    "a good line is in the file"
                );
                assert_eq!(
                    line.address.domain().as_str(),
                    DOMAIN,
                    "addresses are in the service"
                );
            }
        }
        Err(CoreError::Invalid(reason)) => assert!(!reason.is_empty()),
        Err(other) => panic!("a CSV file got an error that is not a refusal: {other}"),
    }
}

/// Lines as an editor counts them (LF, CRLF or a lone CR end one); a last line without a line
/// end counts too.
fn physical_lines(file: &[u8]) -> u64 {
    let mut lines = 1;
    for (i, &b) in file.iter().enumerate() {
        let ends_line = match b {
            b'\n' => true,
            b'\r' => file.get(i + 1) != Some(&b'\n'),
            _ => false,
        };
        if ends_line {
            lines += 1;
        }
    }
    lines
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(make_fixture)
}

/// Setting up the directory cannot depend on the input; failing here is an environment
/// problem (no writable temporary folder), reported as such.
fn make_fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the CSV target can be built");
    let folder = tempfile::tempdir().expect("the CSV target needs a writable temporary folder");
    let admin = runtime.block_on(async {
        let stores = postwerk_store::open_sqlite(&folder.path().join("data"))
            .await
            .expect("the CSV target's directory opens in its temporary folder");
        let admin = Admin::from_stores(&stores);
        let op = Actor::Operator;
        let setup: Result<(), CoreError> = async {
            admin.create_org(op, "Acme").await?;
            admin.create_service(op, DOMAIN, "Acme", 20).await?;
            admin
                .create_address(
                    op,
                    CreateAddress {
                        address: format!("toto@{DOMAIN}"),
                        kind: AddressKind::Mailbox,
                        password: Some("mailbox-secret-1".into()),
                        holder: Holder::Nobody,
                        display_name: String::new(),
                        aliases: Vec::new(),
                        redirect_to: Vec::new(),
                        keep_copy: false,
                    },
                )
                .await?;
            admin
                .create_user(
                    op,
                    CreateUser {
                        login: "jane@home.example".into(),
                        password: Some("account-secret-1".into()),
                        display_name: None,
                        org: Some(("Acme".into(), Role::Member)),
                    },
                )
                .await?;
            Ok(())
        }
        .await;
        setup.expect("the CSV target's directory is set up");
        admin
    });
    Fixture {
        runtime,
        admin,
        _folder: folder,
    }
}
