//! ADDR-3: creating many addresses from one CSV file.
//!
//! # The format (docs/CSV.md is written from this comment: keep both true)
//!
//! - UTF-8 text (a byte-order mark at the start is ignored), comma-separated, fields quoted
//!   with `"` when they hold a comma, a quote (doubled) or a line break (RFC 4180). Blank
//!   lines are ignored.
//! - The first line is a header naming the columns, in any order, each at most once:
//!   `address` (required), `password`, `display_name`, `users`, `aliases`. Names are matched
//!   ignoring case and surrounding spaces. A column with any other name refuses the whole file,
//!   naming it; so does a file without an `address` column, or with no line after the header.
//! - Every other line describes one mailbox and has as many fields as the header. Line numbers
//!   in reports count the header as line 1.
//! - `address`: a local part (`toto`) or a full address in the service's primary domain
//!   (`toto@example.com`); an alias domain is refused.
//! - `password`: the mailbox password, taken exactly as written (spaces included) and checked
//!   against the password policy; empty generates one, returned once in the result file.
//! - `display_name`: the name shown in mail sent from the address; no line breaks, at most
//!   200 characters.
//! - `users`: `;`-separated logins of user accounts, each a member of the service's
//!   organization, given access with the service's default permissions (SVC-4).
//! - `aliases`: `;`-separated aliases, local parts or full addresses in the primary domain; at
//!   most 50 per address, and only when the service allows aliases (ADDR-6).
//!
//! The whole file is validated first ([`Admin::plan_bulk`]): every bad line is named with one
//! reason (the first problem found): a field count unlike the header's, a bad address, an
//! address outside the primary domain, a duplicate inside the file (naming the line that has it
//! first) or with an existing address or alias, an unknown user or one outside the
//! organization, a password the policy refuses, a bad, repeated or colliding alias, more than 50
//! aliases or aliases switched off, and the quota (SVC-2: the good lines beyond the room left
//! are refused, naming the quota). Nothing is created when any line is bad unless the caller
//! asks to skip them ([`BulkOptions::skip_invalid`]).
//!
//! Then [`Admin::run_bulk`] creates each line in its own transaction (the address, its aliases
//! and its access together), hashing passwords on blocking threads, as many at once as the
//! machine has cores, and reports progress after each line.
//!
//! # The result file
//!
//! [`BulkOutcome::result_csv`]: a header `line,address,password,status,reason`, then one row per
//! line of the input in file order: `status` is `created` (with the generated password in
//! `password` when the line had none, the only time it is shown), `skipped` (a bad line left
//! out, with its reason) or `failed` (valid when planned, refused when created, with the
//! reason).

use std::collections::HashMap;
use std::num::NonZeroUsize;

use postwerk_model::{
    Address, AddressKind, Domain, HostedAddress, LocalPart, MAX_ALIASES_PER_ADDRESS, MailService,
    OrgId, UserId,
};
use postwerk_store::{AddressExtras, NewAddress, StoreError};
use tokio::task::JoinSet;
use zeroize::Zeroizing;

use super::addresses::{alias_local, check_display_name};
use super::{Actor, Admin};
use crate::CoreError;
use crate::password;

/// The columns a file may have, in the order of the documentation.
const COLUMNS: [&str; 5] = ["address", "password", "display_name", "users", "aliases"];

/// The header of the result file.
const RESULT_HEADER: [&str; 5] = ["line", "address", "password", "status", "reason"];

/// How to run a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkOptions {
    /// Create the good lines even when some are bad (the bad ones are reported as skipped).
    pub skip_invalid: bool,
}

/// One valid line of the file.
#[derive(Debug, Clone)]
pub struct BulkLine {
    /// Its line number in the file, the header being line 1.
    pub line: u64,
    /// The address to create.
    pub address: Address,
    /// The chosen password; `None` generates one.
    pub password: Option<Zeroizing<String>>,
    /// The display name.
    pub display_name: String,
    /// Logins of the accounts to link (service default permissions).
    pub users: Vec<String>,
    /// Alias local parts.
    pub aliases: Vec<String>,
}

/// A line that cannot be created, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// Its line number in the file (the header is line 1; 0 for the file as a whole).
    pub line: u64,
    /// The address as written on the line (may be empty or malformed).
    pub address: String,
    /// One sentence a person can act on.
    pub reason: String,
}

/// A validated file, ready to run.
#[derive(Debug, Clone)]
pub struct BulkPlan {
    /// The service's primary domain.
    pub domain: Domain,
    /// The good lines, in file order.
    pub lines: Vec<BulkLine>,
    /// The bad lines, in file order.
    pub problems: Vec<LineProblem>,
}

/// One address created from a line.
#[derive(Debug)]
pub struct BulkCreated {
    /// The line it came from.
    pub line: u64,
    /// The address.
    pub address: Address,
    /// The generated password, when the line had none (shown once).
    pub generated_password: Option<Zeroizing<String>>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct BulkOutcome {
    /// Created, in file order.
    pub created: Vec<BulkCreated>,
    /// Bad lines left out because of [`BulkOptions::skip_invalid`].
    pub skipped: Vec<LineProblem>,
    /// Lines that were valid at planning but refused when created (someone created the same
    /// address meanwhile, say).
    pub failed: Vec<LineProblem>,
}

impl BulkOutcome {
    /// The result file: `line,address,password,status,reason`, one row per line of the input,
    /// the generated passwords included (the only time they are shown).
    pub fn result_csv(&self) -> String {
        let mut rows: Vec<ResultRow<'_>> = Vec::new();
        for created in &self.created {
            rows.push(ResultRow {
                line: created.line,
                address: created.address.to_string(),
                password: created
                    .generated_password
                    .as_ref()
                    .map_or("", |p| p.as_str()),
                status: "created",
                reason: "",
            });
        }
        for (problems, status) in [(&self.skipped, "skipped"), (&self.failed, "failed")] {
            for problem in problems {
                rows.push(ResultRow {
                    line: problem.line,
                    address: problem.address.clone(),
                    password: "",
                    status,
                    reason: &problem.reason,
                });
            }
        }
        rows.sort_by_key(|row| row.line);
        match write_result(&rows) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // Writing into memory cannot fail; should it ever, the file says so rather than
            // looking empty.
            Err(error) => format!("{}\n0,,,failed,{error}\n", RESULT_HEADER.join(",")),
        }
    }
}

/// One row of the result file.
struct ResultRow<'a> {
    line: u64,
    address: String,
    password: &'a str,
    status: &'static str,
    reason: &'a str,
}

fn write_result(rows: &[ResultRow<'_>]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(RESULT_HEADER)?;
    for row in rows {
        let line = row.line.to_string();
        writer.write_record([
            line.as_str(),
            &row.address,
            row.password,
            row.status,
            row.reason,
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

impl Admin {
    /// Parses and validates a whole CSV file for the service of `domain` (administrators
    /// only). A file that cannot be read as CSV at all, or lacks the `address` column, is a
    /// refusal; bad lines are listed in the plan.
    pub async fn plan_bulk(
        &self,
        actor: Actor,
        domain: &str,
        csv: &[u8],
    ) -> Result<BulkPlan, CoreError> {
        let service = self.service_for(actor, domain).await?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(csv);
        let mut records = reader.byte_records();
        let header = match records.next() {
            Some(record) => Header::parse(&record.map_err(unreadable)?)?,
            None => {
                return Err(CoreError::Invalid(format!(
                    "the CSV file is empty; its first line names the columns, such as {}",
                    COLUMNS.join(",")
                )));
            }
        };

        // Pass 1, without the database: syntax, the file's own duplicates, the policies.
        let mut seen: HashMap<LocalPart, u64> = HashMap::new();
        let mut candidates = Vec::new();
        let mut problems = Vec::new();
        let mut lines = LineCounter::new(csv);
        for record in records {
            let record = record.map_err(unreadable)?;
            let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
            match read_line(&record, line, &header, &service, &mut seen) {
                Ok(candidate) => candidates.push(candidate),
                Err(problem) => problems.push(problem),
            }
        }
        if candidates.is_empty() && problems.is_empty() {
            return Err(CoreError::Invalid(
                "the CSV file names its columns but has no line after the header".into(),
            ));
        }

        // Pass 2, against the directory: existing addresses and aliases, the accounts.
        let org_name = self.org_name(service.org).await?;
        let mut accounts: HashMap<Address, Option<String>> = HashMap::new();
        let mut lines = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let problem = self
                .directory_problem(&candidate, &service, &org_name, &mut accounts)
                .await?;
            match problem {
                None => lines.push(candidate),
                Some(reason) => problems.push(candidate.problem(reason)),
            }
        }

        // SVC-2: the good lines beyond the room the quota leaves are refused.
        let used = self.directory.address_count(service.id).await?;
        let room =
            usize::try_from(service.address_quota.saturating_sub(used)).unwrap_or(usize::MAX);
        if lines.len() > room {
            let reason = quota_reason(&service, room);
            for candidate in lines.split_off(room) {
                problems.push(candidate.problem(reason.clone()));
            }
        }
        problems.sort_by_key(|problem| problem.line);
        Ok(BulkPlan {
            domain: service.domain,
            lines: lines.into_iter().map(Candidate::into_line).collect(),
            problems,
        })
    }

    /// Creates the addresses of `plan`, one transaction per line, calling `progress(done,
    /// total)` after each. Refused as a whole when the plan has problems and `skip_invalid`
    /// is off. Passwords are hashed on blocking threads, several at once.
    pub async fn run_bulk(
        &self,
        actor: Actor,
        plan: BulkPlan,
        options: BulkOptions,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<BulkOutcome, CoreError> {
        let service = self.service_for(actor, plan.domain.as_str()).await?;
        if let Some(first) = plan.problems.first()
            && !options.skip_invalid
        {
            let count = plan.problems.len();
            return Err(CoreError::Invalid(format!(
                "nothing was created: the file has {count} bad line{} (line {}: {}); fix {}, or \
                 ask to skip the bad lines",
                if count == 1 { "" } else { "s" },
                first.line,
                first.reason,
                if count == 1 { "it" } else { "them" },
            )));
        }
        let mut tally = Tally {
            done: 0,
            total: plan.lines.len() as u64,
            progress,
            outcome: BulkOutcome {
                skipped: plan.problems,
                ..BulkOutcome::default()
            },
        };

        let mut accounts: HashMap<String, Result<UserId, String>> = HashMap::new();
        let mut runs = Vec::with_capacity(plan.lines.len());
        for line in plan.lines {
            match self.prepare_run(line, service.org, &mut accounts).await? {
                Ok(run) => runs.push(run),
                Err(problem) => tally.failed(problem),
            }
        }

        // Hashing is the cost (Argon2id, ID-4): one hash per core at a time, on blocking
        // threads; each hashed line is written at once, so the store's group commit gathers
        // the writes that arrive together.
        let parallelism = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let mut hashing: JoinSet<(usize, Result<String, password::PasswordError>)> = JoinSet::new();
        let mut writing: JoinSet<(usize, Result<HostedAddress, StoreError>)> = JoinSet::new();
        let mut next = 0;
        loop {
            while hashing.len() < parallelism && next < runs.len() {
                let secret = runs[next].secret.clone();
                let index = next;
                hashing.spawn_blocking(move || (index, password::hash(&secret)));
                next += 1;
            }
            tokio::select! {
                Some(joined) = hashing.join_next(), if !hashing.is_empty() => {
                    let (index, hash) = joined.map_err(task_failed)?;
                    match hash {
                        Ok(hash) => {
                            let (new, extras) = runs[index].to_create(&service, hash);
                            let directory = self.directory.clone();
                            writing.spawn(async move {
                                (index, directory.create_address_with(new, extras).await)
                            });
                        }
                        Err(error) => tally.failed(runs[index].problem(error.to_string())),
                    }
                }
                Some(joined) = writing.join_next(), if !writing.is_empty() => {
                    let (index, created) = joined.map_err(task_failed)?;
                    match created {
                        Ok(_) => tally.created(&mut runs[index]),
                        Err(error) => tally.failed(runs[index].problem(error.to_string())),
                    }
                }
                else => break,
            }
        }
        let mut outcome = tally.outcome;
        outcome.created.sort_by_key(|created| created.line);
        outcome.failed.sort_by_key(|problem| problem.line);
        Ok(outcome)
    }

    /// Why a line that passed the file's own checks cannot be created, as the directory is
    /// now: its address or an alias exists already, or an account is unknown or outside the
    /// organization. `accounts` remembers the answer for each login.
    async fn directory_problem(
        &self,
        candidate: &Candidate,
        service: &MailService,
        org_name: &str,
        accounts: &mut HashMap<Address, Option<String>>,
    ) -> Result<Option<String>, CoreError> {
        let facts = self.directory.resolve_facts(&candidate.address).await?;
        if let Some(existing) = facts.exact {
            return Ok(Some(format!(
                "the address {} already exists",
                existing.address
            )));
        }
        if let Some(owner) = facts.alias_of {
            return Ok(Some(format!(
                "{} already exists as an alias of {}",
                candidate.address, owner.address
            )));
        }
        for alias in &candidate.aliases {
            let alias = Address::new(alias.clone(), service.domain.clone())?;
            let facts = self.directory.resolve_facts(&alias).await?;
            if facts.exact.is_some() {
                return Ok(Some(format!("the alias {alias} is already an address")));
            }
            if let Some(owner) = facts.alias_of {
                return Ok(Some(format!(
                    "the alias {alias} already exists as an alias of {}",
                    owner.address
                )));
            }
        }
        for login in &candidate.users {
            if !accounts.contains_key(login) {
                let problem = match self.directory.user_by_login(login).await? {
                    None => Some(format!("no user account logs in with {login}")),
                    Some(user) if !self.is_member(user.id, service.org).await? => Some(format!(
                        "the account {login} is not a member of the organization {org_name}"
                    )),
                    Some(_) => None,
                };
                accounts.insert(login.clone(), problem);
            }
            if let Some(Some(problem)) = accounts.get(login) {
                return Ok(Some(problem.clone()));
            }
        }
        Ok(None)
    }

    /// A planned line made ready to create: its accounts looked up again (one may have gone
    /// since the plan), its password chosen or generated.
    async fn prepare_run(
        &self,
        line: BulkLine,
        org: OrgId,
        accounts: &mut HashMap<String, Result<UserId, String>>,
    ) -> Result<Result<Run, LineProblem>, CoreError> {
        let mut users = Vec::with_capacity(line.users.len());
        for login in &line.users {
            if !accounts.contains_key(login) {
                let found = match self.user_by_login(login).await {
                    Ok(user) if self.is_member(user.id, org).await? => Ok(user.id),
                    Ok(user) => Err(format!(
                        "the account {} left the organization since the file was checked",
                        user.login
                    )),
                    Err(CoreError::NotFound(reason)) => Err(reason),
                    Err(other) => return Err(other),
                };
                accounts.insert(login.clone(), found);
            }
            match accounts.get(login) {
                Some(Ok(user)) => users.push(*user),
                Some(Err(reason)) => {
                    return Ok(Err(LineProblem {
                        line: line.line,
                        address: line.address.to_string(),
                        reason: reason.clone(),
                    }));
                }
                None => {}
            }
        }
        let aliases = line
            .aliases
            .iter()
            .map(|alias| LocalPart::parse(alias))
            .collect::<Result<Vec<_>, _>>()?;
        let (secret, generated) = match line.password {
            Some(chosen) => (chosen, None),
            None => {
                let generated = password::generate();
                (generated.clone(), Some(generated))
            }
        };
        Ok(Ok(Run {
            line: line.line,
            address: line.address,
            secret,
            generated,
            display_name: line.display_name,
            users,
            aliases,
        }))
    }

    async fn is_member(&self, user: UserId, org: OrgId) -> Result<bool, CoreError> {
        Ok(self
            .directory
            .user_memberships(user)
            .await?
            .iter()
            .any(|m| m.org == org))
    }
}

/// Where each column is in the file's lines.
struct Header {
    /// Index of each of [`COLUMNS`], when present.
    positions: [Option<usize>; COLUMNS.len()],
    /// How many fields every line has.
    width: usize,
}

/// Indexes into [`COLUMNS`].
const ADDRESS: usize = 0;
const PASSWORD: usize = 1;
const DISPLAY_NAME: usize = 2;
const USERS: usize = 3;
const ALIASES: usize = 4;

impl Header {
    fn parse(record: &csv::ByteRecord) -> Result<Header, CoreError> {
        let mut positions = [None; COLUMNS.len()];
        for (index, raw) in record.iter().enumerate() {
            let text = std::str::from_utf8(raw).map_err(|_| {
                CoreError::Invalid("the header line of the CSV file is not UTF-8 text".into())
            })?;
            // Spreadsheets often start UTF-8 files with a byte-order mark.
            let text = text.trim_start_matches('\u{feff}').trim();
            let name = text.to_ascii_lowercase();
            let Some(column) = COLUMNS.iter().position(|known| *known == name) else {
                return Err(CoreError::Invalid(format!(
                    "the CSV file has an unknown column \"{text}\" (column {}); the columns are \
                     {}",
                    index + 1,
                    COLUMNS.join(", ")
                )));
            };
            if positions[column].is_some() {
                return Err(CoreError::Invalid(format!(
                    "the CSV file names the column {name} twice"
                )));
            }
            positions[column] = Some(index);
        }
        if positions[ADDRESS].is_none() {
            return Err(CoreError::Invalid(format!(
                "the CSV file has no address column; its first line names the columns, such as {}",
                COLUMNS.join(",")
            )));
        }
        Ok(Header {
            positions,
            width: record.len(),
        })
    }

    /// The raw field of `column` on a line; empty when the file has no such column.
    fn field<'r>(&self, record: &'r csv::ByteRecord, column: usize) -> &'r [u8] {
        self.positions[column]
            .and_then(|index| record.get(index))
            .unwrap_or_default()
    }
}

/// A line that passed the file's own checks.
struct Candidate {
    line: u64,
    /// The address as written, for reports.
    written: String,
    address: Address,
    password: Option<Zeroizing<String>>,
    display_name: String,
    users: Vec<Address>,
    aliases: Vec<LocalPart>,
}

impl Candidate {
    fn problem(&self, reason: String) -> LineProblem {
        LineProblem {
            line: self.line,
            address: self.written.clone(),
            reason,
        }
    }

    fn into_line(self) -> BulkLine {
        BulkLine {
            line: self.line,
            address: self.address,
            password: self.password,
            display_name: self.display_name,
            users: self.users.iter().map(ToString::to_string).collect(),
            aliases: self.aliases.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Reads one line and checks what needs no database: the field count, the address and its
/// domain, duplicates with earlier lines (`seen`: each local part used so far, address or
/// alias, with the line that used it first), the password policy, the display name, the
/// logins' syntax, and the aliases (syntax, repeats, the service's switch, the limit of 50).
fn read_line(
    record: &csv::ByteRecord,
    line: u64,
    header: &Header,
    service: &MailService,
    seen: &mut HashMap<LocalPart, u64>,
) -> Result<Candidate, LineProblem> {
    let written = String::from_utf8_lossy(header.field(record, ADDRESS))
        .trim()
        .to_owned();
    let problem = |reason: String| LineProblem {
        line,
        address: written.clone(),
        reason,
    };
    if record.len() != header.width {
        return Err(problem(format!(
            "the line has {} fields, but the header names {} columns",
            record.len(),
            header.width
        )));
    }
    let text = |column: usize| {
        std::str::from_utf8(header.field(record, column))
            .map_err(|_| problem("the line is not UTF-8 text".to_owned()))
    };
    let domain = &service.domain;

    let address = parse_address(&written, domain).map_err(&problem)?;
    if let Some(first) = seen.get(address.local()) {
        return Err(problem(format!("{address} is already on line {first}")));
    }
    seen.insert(address.local().clone(), line);

    let password = match text(PASSWORD)? {
        "" => None,
        chosen => {
            password::check_policy(chosen).map_err(|e| problem(e.to_string()))?;
            Some(Zeroizing::new(chosen.to_owned()))
        }
    };
    let display_name = check_display_name(text(DISPLAY_NAME)?).map_err(&problem)?;

    let mut users: Vec<Address> = Vec::new();
    for login in list(text(USERS)?) {
        let login = Address::parse(login)
            .map_err(|e| problem(format!("\"{login}\" is not a user login: {e}")))?;
        if users.contains(&login) {
            return Err(problem(format!("the user {login} is listed twice")));
        }
        users.push(login);
    }

    let written_aliases: Vec<&str> = list(text(ALIASES)?).collect();
    if !written_aliases.is_empty() && !service.features.aliases_allowed {
        return Err(problem(format!(
            "aliases are not enabled for the mail service {domain}"
        )));
    }
    if written_aliases.len() > MAX_ALIASES_PER_ADDRESS {
        return Err(problem(format!(
            "the line has {} aliases, and an address can have at most {MAX_ALIASES_PER_ADDRESS}",
            written_aliases.len()
        )));
    }
    let mut aliases: Vec<LocalPart> = Vec::with_capacity(written_aliases.len());
    for written_alias in written_aliases {
        let alias = alias_local(written_alias, service).map_err(&problem)?;
        if &alias == address.local() {
            return Err(problem(format!("{address} cannot be an alias of itself")));
        }
        if aliases.contains(&alias) {
            return Err(problem(format!(
                "the alias {alias}@{domain} is listed twice"
            )));
        }
        if let Some(first) = seen.get(&alias) {
            return Err(problem(format!(
                "the alias {alias}@{domain} is already on line {first}"
            )));
        }
        aliases.push(alias);
    }
    for alias in &aliases {
        seen.insert(alias.clone(), line);
    }
    Ok(Candidate {
        line,
        written: written.clone(),
        address,
        password,
        display_name,
        users,
        aliases,
    })
}

/// Line numbers of the file as a person sees them in an editor (the header is line 1).
/// The reader's own line count leaves out the blank lines it skips, and a record's byte offset
/// is where the previous one ended, before those blank lines; so lines are counted here up to
/// the record's first byte that is not a line break. A line ends at LF, CRLF, or a lone CR.
struct LineCounter<'a> {
    file: &'a [u8],
    /// Where counting stopped, and the line number there.
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(file: &'a [u8]) -> LineCounter<'a> {
        LineCounter {
            file,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record the reader placed at `offset`; offsets only grow from call to
    /// call.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut end = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.file.len());
        while matches!(self.file.get(end), Some(b'\r' | b'\n')) {
            end += 1;
        }
        for index in self.offset..end.max(self.offset) {
            let ends_line = match self.file[index] {
                b'\n' => true,
                b'\r' => self.file.get(index + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends_line {
                self.line += 1;
            }
        }
        self.offset = end.max(self.offset);
        self.line
    }
}

/// The address of a line: a local part, or a full address in the primary domain.
fn parse_address(written: &str, domain: &Domain) -> Result<Address, String> {
    if written.is_empty() {
        return Err("the address is empty".to_owned());
    }
    if written.contains('@') {
        let address = Address::parse(written).map_err(|e| e.to_string())?;
        if address.domain() != domain {
            return Err(format!(
                "{address} is not in {domain}: the addresses of this file must be in the mail \
                 service's primary domain, {domain}"
            ));
        }
        return Ok(address);
    }
    let local = LocalPart::parse(written).map_err(|e| e.to_string())?;
    Address::new(local, domain.clone()).map_err(|e| e.to_string())
}

/// The items of a `;`-separated field, trimmed, empty ones left out.
fn list(field: &str) -> impl Iterator<Item = &str> {
    field
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// SVC-2: why a good line beyond the room the quota leaves is refused.
fn quota_reason(service: &MailService, room: usize) -> String {
    match room {
        0 => postwerk_model::DirectoryError::AddressQuotaReached {
            domain: Some(service.domain.clone()),
            quota: service.address_quota,
        }
        .to_string(),
        room => format!(
            "the quota of {} addresses of the mail service {} leaves room for {room} more, \
             which the lines before this one take; an administrator can raise it",
            service.address_quota, service.domain
        ),
    }
}

/// A whole-file refusal for CSV the reader cannot parse.
fn unreadable(error: csv::Error) -> CoreError {
    CoreError::Invalid(format!("the file cannot be read as CSV: {error}"))
}

/// A hashing or writing task that panicked: our fault.
fn task_failed(error: tokio::task::JoinError) -> CoreError {
    CoreError::Store(StoreError::Backend {
        context: "creating addresses from a CSV file",
        detail: error.to_string(),
    })
}

/// One line on its way to creation.
struct Run {
    line: u64,
    address: Address,
    /// The password to hash: chosen, or the generated one.
    secret: Zeroizing<String>,
    /// The generated password, for the result file.
    generated: Option<Zeroizing<String>>,
    display_name: String,
    users: Vec<UserId>,
    aliases: Vec<LocalPart>,
}

impl Run {
    fn problem(&self, reason: String) -> LineProblem {
        LineProblem {
            line: self.line,
            address: self.address.to_string(),
            reason,
        }
    }

    /// What the store needs to create the line's mailbox with its aliases and access.
    fn to_create(
        &self,
        service: &MailService,
        password_hash: String,
    ) -> (NewAddress, AddressExtras) {
        let new = NewAddress {
            service: service.id,
            local: self.address.local().clone(),
            kind: AddressKind::Mailbox,
            display_name: self.display_name.clone(),
            password_hash: Some(password_hash),
            redirect: None,
            storage_limit: None,
        };
        let extras = AddressExtras {
            aliases: self.aliases.clone(),
            access: self
                .users
                .iter()
                .map(|user| (*user, service.default_permissions, None))
                .collect(),
        };
        (new, extras)
    }
}

/// The outcome of a run as it grows, and its progress.
struct Tally<'a> {
    done: u64,
    total: u64,
    progress: &'a (dyn Fn(u64, u64) + Send + Sync),
    outcome: BulkOutcome,
}

impl Tally<'_> {
    fn created(&mut self, run: &mut Run) {
        self.outcome.created.push(BulkCreated {
            line: run.line,
            address: run.address.clone(),
            generated_password: run.generated.take(),
        });
        self.step();
    }

    fn failed(&mut self, problem: LineProblem) {
        self.outcome.failed.push(problem);
        self.step();
    }

    fn step(&mut self) {
        self.done += 1;
        (self.progress)(self.done, self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The physical line of each record the reader finds in `file`.
    fn record_lines(file: &str) -> Vec<u64> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(file.as_bytes());
        let mut counter = LineCounter::new(file.as_bytes());
        reader
            .byte_records()
            .map(|record| {
                let record = record.unwrap();
                counter.line_at(record.position().map_or(0, csv::Position::byte))
            })
            .collect()
    }

    #[test]
    fn addr_3_reported_lines_are_the_lines_an_editor_shows() {
        let cases = [
            ("a\nb\nc\n", vec![1, 2, 3]),
            ("a\r\nb\r\n", vec![1, 2]),
            ("a\n\n\nb\n", vec![1, 4]),
            ("a\r\n\r\nb\r\n\nc", vec![1, 3, 5]),
            ("a\rb\r\rc", vec![1, 2, 4]),
            ("a\n\"multi\nline\",x\nb\n", vec![1, 2, 4]),
        ];
        for (file, expected) in cases {
            assert_eq!(record_lines(file), expected, "{file:?}");
        }
    }

    #[test]
    fn addr_3_result_file_quotes_what_needs_it() {
        let outcome = BulkOutcome {
            created: Vec::new(),
            skipped: vec![LineProblem {
                line: 3,
                address: "a,b".into(),
                reason: "say \"no\"".into(),
            }],
            failed: Vec::new(),
        };
        assert_eq!(
            outcome.result_csv(),
            "line,address,password,status,reason\n3,\"a,b\",,skipped,\"say \"\"no\"\"\"\n"
        );
    }
}
