//! `admin address …`: hosted addresses (ADDR-1..10): creation with the modes the operator can
//! use, details, changes, invitations, deletion (confirmed) and passwords. CSV import is in
//! [`super::import`].

use anyhow::{Context as _, bail};
use postwerk_core::{
    AddressDetails, AddressUpdate, CreateAddress, Grant, Holder, InvitationRequest, InvitationSent,
};
use postwerk_model::{
    Access, Address, AddressKind, Alias, HostedAddress, Invitation, LoginMode, Permissions,
};
use serde_json::{Value, json};

use super::format::{date, fields, list_or, parse_permissions, permissions, size, table};
use super::users::password_report;
use super::{Context, OP, Report};
use crate::cli::admin::{AddressCommand, LoginModeArg, SendAsCommand};

pub async fn execute(ctx: &Context, command: AddressCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    match command {
        AddressCommand::SendAs(command) => send_as(ctx, command).await,
        AddressCommand::Create {
            address,
            password,
            users,
            invite,
            login_mode,
            permissions,
            signature,
            aliases,
            name,
            kind,
            to,
            keep_copy,
        } => {
            let permissions = parse_permissions(permissions.as_deref())?;
            let holder = holder(users, invite, login_mode, permissions, signature)?;
            let aliases = aliases.iter().map(|a| alias_address(a, &address)).collect();
            let request = CreateAddress {
                kind: kind.parse()?,
                address,
                password,
                holder,
                display_name: name.unwrap_or_default(),
                aliases,
                redirect_to: to,
                keep_copy,
            };
            create(ctx, request).await
        }
        AddressCommand::List { domain } => {
            let addresses = admin.list_addresses(OP, &domain).await?;
            let rows: Vec<Vec<String>> = addresses
                .iter()
                .map(|(a, aliases)| list_row(a, aliases))
                .collect();
            let text = table(&rows);
            Ok(Report {
                text,
                json: addresses
                    .iter()
                    .map(|(a, aliases)| address_json(a, aliases))
                    .collect(),
            })
        }
        AddressCommand::Show { address } => {
            let details = admin.address_details(OP, &address).await?;
            show(ctx, &details).await
        }
        AddressCommand::Set {
            address,
            enable,
            disable,
            storage_limit,
            redirect,
            keep_copy,
            no_redirect,
            name,
        } => {
            let update = AddressUpdate {
                enabled: match (enable, disable) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                storage_limit: storage_limit.as_deref().map(parse_limit).transpose()?,
                redirect: match (no_redirect, redirect.is_empty()) {
                    (true, _) => Some(None),
                    (false, false) => Some(Some((redirect, keep_copy))),
                    (false, true) => None,
                },
                display_name: name,
            };
            if update == AddressUpdate::default() {
                bail!(
                    "nothing to change: give --enable, --disable, --storage-limit, --redirect, \
                     --no-redirect or --name"
                );
            }
            let updated = admin.update_address(OP, &address, update.clone()).await?;
            let aliases = admin.list_aliases(OP, &address).await?;
            Ok(Report {
                text: changes_text(&updated, &update),
                json: address_json(&updated, &aliases),
            })
        }
        AddressCommand::Invite {
            address,
            to,
            login_mode,
            permissions,
            signature,
        } => {
            let request = InvitationRequest {
                send_to: recipient(&to),
                login_mode: login_mode_of(login_mode),
                permissions: parse_permissions(permissions.as_deref())?,
                signature,
            };
            let sent = admin.invite(OP, &address, request).await?;
            Ok(Report {
                text: invitation_text(&sent, &address),
                json: invitation_sent_json(&sent),
            })
        }
        AddressCommand::Delete { addresses, yes } => {
            if !yes {
                // ADDR-8: irreversible, so it is confirmed; the refusal says what would go.
                let doomed = destruction_summary(ctx, &addresses).await?;
                bail!(
                    "deleting {doomed} cannot be undone: everything they hold is destroyed; add \
                     --yes to confirm"
                );
            }
            let deleted = admin.delete_addresses(OP, &addresses).await?;
            let mut text = deleted
                .addresses
                .iter()
                .map(|a| format!("deleted {a}"))
                .collect::<Vec<_>>()
                .join("\n");
            for account in &deleted.orphaned_accounts {
                text.push_str(&format!(
                    "\nnote: {} was the login of a user account; it signs in with its recovery \
                     username and must choose a new login (ID-10)",
                    account.login
                ));
            }
            // ID-10: the accounts learn their recovery username by SMS and email. The addresses
            // are gone whatever happens here, so a failure to notify is reported, not fatal.
            if let Err(error) = ctx
                .recovery
                .issue_recovery_usernames(&deleted.orphaned_accounts)
                .await
            {
                text.push_str(&format!(
                    "\nwarning: the recovery usernames could not all be sent: {error}"
                ));
            }
            Ok(Report {
                text,
                json: json!({"deleted": deleted.addresses, "orphaned_logins": deleted.orphaned_logins}),
            })
        }
        AddressCommand::Passwd { address, password } => {
            let generated = admin
                .set_address_password(OP, &address, password.as_deref(), false)
                .await?;
            Ok(password_report(
                &format!(
                    "password of {address} changed; sessions that used the old one must log in again"
                ),
                generated.generated.as_deref().map(String::as_str),
            ))
        }
        AddressCommand::Test { address, password } => {
            let password = match password {
                Some(password) => zeroize::Zeroizing::new(password),
                None => read_password_line()?,
            };
            let ip = std::net::IpAddr::from([127, 0, 0, 1]);
            let result = ctx
                .mailbox_auth
                .test_credentials(ip, &address, &password)
                .await?;
            let (name, sentence) = credential_test_words(result);
            Ok(Report {
                text: format!("{address}: {sentence}"),
                json: json!({"address": address, "result": name}),
            })
        }
        AddressCommand::Import {
            domain,
            file,
            skip_invalid,
            dry_run,
            result,
        } => {
            let options = super::import::ImportOptions {
                skip_invalid,
                dry_run,
                result,
            };
            super::import::run(ctx, &domain, &file, options).await
        }
    }
}

/// ADDR-1: who will use the new address, from the options. The operator has no account, so
/// mode (a) "myself" is not offered here.
fn holder(
    users: Vec<String>,
    invite: Option<String>,
    login_mode: Option<LoginModeArg>,
    permissions: Option<Permissions>,
    signature: Option<String>,
) -> anyhow::Result<Holder> {
    if let Some(to) = invite {
        let Some(mode) = login_mode else {
            bail!("--invite needs --login-mode exact or own");
        };
        return Ok(Holder::Invitation(InvitationRequest {
            send_to: recipient(&to),
            login_mode: login_mode_of(mode),
            permissions,
            signature,
        }));
    }
    if !users.is_empty() {
        let grants = users
            .into_iter()
            .map(|login| Grant {
                login,
                permissions,
                signature: signature.clone(),
            })
            .collect();
        return Ok(Holder::Users(grants));
    }
    if permissions.is_some() || signature.is_some() {
        bail!("--permissions and --signature apply to the people of --user or --invite: give one");
    }
    Ok(Holder::Nobody)
}

/// `--invite self` / `--to self`: the invitation goes to the address itself.
fn recipient(to: &str) -> Option<String> {
    if to.eq_ignore_ascii_case("self") {
        None
    } else {
        Some(to.to_string())
    }
}

fn login_mode_of(arg: LoginModeArg) -> LoginMode {
    match arg {
        LoginModeArg::Exact => LoginMode::ExactAddress,
        LoginModeArg::Own => LoginMode::OwnChoice,
    }
}

/// `--alias thomas` on `toto@example.com` means `thomas@example.com`; a full address is kept
/// as written (the domain check is the core's).
fn alias_address(alias: &str, address: &str) -> String {
    match address.rsplit_once('@') {
        Some((_, domain)) if !alias.contains('@') => format!("{alias}@{domain}"),
        _ => alias.to_string(),
    }
}

/// `--storage-limit`: octets, or `none` (ADDR-10's default: no limit).
fn parse_limit(text: &str) -> anyhow::Result<Option<u64>> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match text.parse::<u64>() {
        Ok(octets) => Ok(Some(octets)),
        Err(_) => bail!("--storage-limit takes a number of octets or `none`, not \"{text}\""),
    }
}

async fn create(ctx: &Context, request: CreateAddress) -> anyhow::Result<Report> {
    let created = ctx.admin.create_address(OP, request).await?;
    let address = &created.address;
    let name = address.address.to_string();
    let aliases = ctx.admin.list_aliases(OP, &name).await?;
    let access = ctx.admin.list_access(OP, &name).await?;
    let mut text = format!(
        "created {} address {}",
        kind_name(address.kind),
        address.address
    );
    if !access.is_empty() {
        let logins: Vec<String> = access.iter().map(|(login, _)| login.to_string()).collect();
        text.push_str(&format!(", linked to {}", logins.join(", ")));
    }
    if !aliases.is_empty() {
        text.push_str(&format!(
            "\naliases: {}",
            alias_addresses(address, &aliases).join(", ")
        ));
    }
    if let Some(sent) = &created.invitation {
        text.push('\n');
        text.push_str(&invitation_text(sent, &name));
    }
    let password = created.generated_password.as_ref().map(|p| p.as_str());
    if let Some(password) = password {
        text.push_str(&format!("\npassword (shown once): {password}"));
    }
    let mut json = address_json(address, &aliases);
    json["generated_password"] = json!(password);
    json["access"] = access
        .iter()
        .map(|(login, a)| access_json(login, a))
        .collect();
    json["invitation"] = json!(created.invitation.as_ref().map(invitation_sent_json));
    Ok(Report { text, json })
}

/// `address show`: everything about one address.
async fn show(ctx: &Context, details: &AddressDetails) -> anyhow::Result<Report> {
    let address = &details.address;
    let usage = if address.kind.holds_mail() {
        Some(ctx.stores.mail.mailbox_usage(address.id).await?)
    } else {
        None
    };
    let state = if address.enabled {
        "enabled"
    } else {
        "disabled (refuses mail and logins, keeps its content)"
    };
    let mut pairs = vec![
        ("address", address.address.to_string()),
        ("kind", kind_name(address.kind).to_string()),
        ("state", state.to_string()),
    ];
    if !address.display_name.is_empty() {
        pairs.push(("name", address.display_name.clone()));
    }
    if let Some(used) = usage {
        let limit = match address.storage_limit {
            Some(limit) => format!("limit {}", size(limit)),
            None => "no limit".to_string(),
        };
        pairs.push(("storage", format!("{} used, {limit}", size(used))));
    }
    pairs.push(("redirect", redirect_text(address)));
    pairs.push((
        "aliases",
        list_or(&alias_addresses(address, &details.aliases), "none"),
    ));
    let access_rows: Vec<Vec<String>> = details
        .access
        .iter()
        .map(|(login, a)| vec![login.to_string(), permissions(a.permissions)])
        .collect();
    pairs.push((
        "access",
        if access_rows.is_empty() {
            "nobody".to_string()
        } else {
            table(&access_rows)
        },
    ));
    if !details.invitations.is_empty() {
        let now = chrono::Utc::now().timestamp();
        let name = address.address.to_string();
        let rows: Vec<Vec<String>> = details
            .invitations
            .iter()
            .map(|i| {
                vec![
                    i.sent_to.to_string(),
                    login_mode_text(i.login_mode, &name),
                    invitation_state(i, now),
                ]
            })
            .collect();
        pairs.push(("invitations", table(&rows)));
    }
    let mut json = address_json(address, &details.aliases);
    json["display_name"] = json!(address.display_name);
    json["usage"] = json!(usage);
    json["access"] = details
        .access
        .iter()
        .map(|(login, a)| access_json(login, a))
        .collect();
    json["invitations"] = details.invitations.iter().map(invitation_json).collect();
    Ok(Report {
        text: fields(&pairs),
        json,
    })
}

/// `address set`: the fields that were asked to change, as they now are.
fn changes_text(address: &HostedAddress, update: &AddressUpdate) -> String {
    let mut lines = vec![format!("updated {}", address.address)];
    if update.enabled.is_some() {
        lines.push(
            if address.enabled {
                "enabled: accepts mail and logins"
            } else {
                "disabled: refuses mail and logins, keeps its content"
            }
            .to_string(),
        );
    }
    if update.storage_limit.is_some() {
        lines.push(match address.storage_limit {
            Some(limit) => format!("storage limit {} ({limit} octets)", size(limit)),
            None => "no storage limit".to_string(),
        });
    }
    if update.redirect.is_some() {
        lines.push(format!("redirect: {}", redirect_text(address)));
    }
    if update.display_name.is_some() {
        lines.push(format!("name: \"{}\"", address.display_name));
    }
    lines.join("\n  ")
}

/// ADDR-8: what `address delete` would destroy, named before anything is: each address with
/// its messages, aliases and redirection, and the accounts that would lose their login (ID-10).
/// An unknown address is refused here already, with the core's sentence.
async fn destruction_summary(ctx: &Context, addresses: &[String]) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    let mut seen: Vec<Address> = Vec::new();
    for text in addresses {
        let details = ctx.admin.address_details(OP, text).await?;
        let address = &details.address;
        if seen.contains(&address.address) {
            continue;
        }
        seen.push(address.address.clone());
        let mut holds = Vec::new();
        if address.kind.holds_mail() {
            let (messages, folders) = message_count(ctx, address).await?;
            holds.push(format!(
                "{} in {}",
                count(messages, "message"),
                count(folders as u64, "folder")
            ));
        }
        if !details.aliases.is_empty() {
            holds.push(count(details.aliases.len() as u64, "alias"));
        }
        if let Some(redirect) = &address.redirect {
            holds.push(format!(
                "its redirection to {}",
                count(redirect.targets.len() as u64, "address")
            ));
        }
        parts.push(if holds.is_empty() {
            address.address.to_string()
        } else {
            format!("{} ({})", address.address, holds.join(", "))
        });
    }
    let mut summary = join_and(&parts);
    let logins: Vec<String> = ctx
        .admin
        .list_users(OP)
        .await?
        .into_iter()
        .filter(|u| seen.contains(&u.login))
        .map(|u| u.login.to_string())
        .collect();
    if !logins.is_empty() {
        summary.push_str(&format!(
            ", and the account{} logging in as {} would have to choose a new login",
            if logins.len() == 1 { "" } else { "s" },
            join_and(&logins)
        ));
    }
    Ok(summary)
}

/// Messages and folders of a mailbox.
async fn message_count(ctx: &Context, address: &HostedAddress) -> anyhow::Result<(u64, usize)> {
    let folders = ctx.stores.mail.list_folders(address.id).await?;
    let mut messages = 0u64;
    for folder in &folders {
        messages += u64::from(ctx.stores.mail.status(folder.id).await?.messages);
    }
    Ok((messages, folders.len()))
}

/// `1 message`, `3 messages`, `1 alias`, `2 aliases`.
fn count(n: u64, noun: &str) -> String {
    let plural = match (n, noun) {
        (1, _) => noun.to_string(),
        (_, "alias") | (_, "address") => format!("{noun}es"),
        _ => format!("{noun}s"),
    };
    format!("{n} {plural}")
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One `address list` row: address, kind and state, then redirection and aliases if any.
fn list_row(address: &HostedAddress, aliases: &[Alias]) -> Vec<String> {
    let mut kind = kind_name(address.kind).to_string();
    if !address.enabled {
        kind.push_str(" (disabled)");
    }
    let mut extras = Vec::new();
    if address.redirect.is_some() {
        extras.push(format!("→ {}", redirect_text(address)));
    }
    if !aliases.is_empty() {
        let names: Vec<&str> = aliases.iter().map(|x| x.local.as_str()).collect();
        extras.push(format!("aliases: {}", names.join(", ")));
    }
    vec![address.address.to_string(), kind, extras.join("  ")]
}

fn redirect_text(address: &HostedAddress) -> String {
    match &address.redirect {
        Some(redirect) => {
            let targets: Vec<String> = redirect.targets.iter().map(ToString::to_string).collect();
            let mut text = targets.join(", ");
            if redirect.keep_copy {
                text.push_str(" (keeps a copy)");
            }
            text
        }
        None => "none".to_string(),
    }
}

fn alias_addresses(address: &HostedAddress, aliases: &[Alias]) -> Vec<String> {
    aliases
        .iter()
        .map(|a| format!("{}@{}", a.local, address.address.domain()))
        .collect()
}

fn invitation_text(sent: &InvitationSent, address: &str) -> String {
    format!(
        "invitation sent to {}: {}; the link works until {}",
        sent.sent_to,
        login_mode_text(sent.login_mode, address),
        date(sent.expires_at)
    )
}

fn login_mode_text(mode: LoginMode, address: &str) -> String {
    match mode {
        LoginMode::ExactAddress => format!("logs in as {address}"),
        LoginMode::OwnChoice => "logs in with a login of their choice".to_string(),
    }
}

fn invitation_state(invitation: &Invitation, now: i64) -> String {
    match invitation.accepted_at {
        Some(at) => format!("accepted {}", date(at)),
        None if invitation.is_open(now) => format!("open until {}", date(invitation.expires_at)),
        None => format!("expired {}", date(invitation.expires_at)),
    }
}

fn kind_name(kind: AddressKind) -> &'static str {
    match kind {
        AddressKind::Mailbox => "mailbox",
        AddressKind::NoReply => "no-reply",
        AddressKind::CatchAll => "catch-all",
        AddressKind::RedirectOnly => "redirect-only",
    }
}

fn address_json(address: &HostedAddress, aliases: &[Alias]) -> Value {
    json!({
        "id": address.id,
        "address": address.address,
        "kind": address.kind.as_str(),
        "display_name": address.display_name,
        "enabled": address.enabled,
        "redirect": address.redirect.as_ref().map(|r| json!({"targets": r.targets, "keep_copy": r.keep_copy})),
        "aliases": aliases.iter().map(|a| a.local.as_str()).collect::<Vec<_>>(),
        "storage_limit": address.storage_limit,
        "created_at": address.created_at,
    })
}

/// One user's access, as `access list` and `address show` give it.
pub fn access_json(login: &Address, access: &Access) -> Value {
    json!({
        "user": login,
        "address_id": access.address,
        "permissions": access.permissions.names(),
        "signature": access.signature,
    })
}

fn invitation_sent_json(sent: &InvitationSent) -> Value {
    json!({
        "id": sent.id,
        "sent_to": sent.sent_to,
        "login_mode": sent.login_mode,
        "expires_at": sent.expires_at,
    })
}

fn invitation_json(invitation: &Invitation) -> Value {
    json!({
        "id": invitation.id,
        "sent_to": invitation.sent_to,
        "login_mode": invitation.login_mode,
        "permissions": invitation.permissions.names(),
        "signature": invitation.signature,
        "expires_at": invitation.expires_at,
        "accepted_at": invitation.accepted_at,
    })
}

/// ID-7's four answers (and the limiter's), as JSON names and sentences.
fn credential_test_words(result: postwerk_core::CredentialTest) -> (&'static str, &'static str) {
    use postwerk_core::CredentialTest;
    match result {
        CredentialTest::Valid => ("valid", "valid: an email client logs in with this password"),
        CredentialTest::WrongPassword => (
            "wrong_password",
            "wrong password: the address exists but this is not its password",
        ),
        CredentialTest::UnknownAddress => (
            "unknown_address",
            "unknown address: no hosted address with a password has this name",
        ),
        CredentialTest::Disabled => (
            "disabled",
            "disabled: the password is right but the address is disabled",
        ),
        CredentialTest::Throttled => (
            "throttled",
            "too many failed tests; wait a few minutes and try again",
        ),
    }
}

/// One line of standard input, without its line end: a password never given on the command
/// line, where other users could see it in the process list.
fn read_password_line() -> anyhow::Result<zeroize::Zeroizing<String>> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let trimmed = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(zeroize::Zeroizing::new(trimmed))
}

/// `admin address send-as …`: SND-1 send-as grants.
async fn send_as(ctx: &Context, command: SendAsCommand) -> anyhow::Result<Report> {
    let admin = &ctx.admin;
    Ok(match command {
        SendAsCommand::Grant { mailbox, address } => {
            let granted = admin.grant_send_as(OP, &mailbox, &address).await?;
            Report {
                text: format!("{mailbox} may now send as {}", granted.address),
                json: json!({"mailbox": mailbox, "granted": granted.address.to_string()}),
            }
        }
        SendAsCommand::Revoke { mailbox, address } => {
            admin.revoke_send_as(OP, &mailbox, &address).await?;
            Report {
                text: format!("{mailbox} may no longer send as {address}"),
                json: json!({"mailbox": mailbox, "revoked": address}),
            }
        }
        SendAsCommand::List { mailbox } => {
            let granted: Vec<String> = admin
                .list_send_as(OP, &mailbox)
                .await?
                .iter()
                .map(|a| a.address.to_string())
                .collect();
            Report {
                text: if granted.is_empty() {
                    format!("{mailbox} sends only as itself and its aliases")
                } else {
                    granted.join("\n")
                },
                json: json!({"mailbox": mailbox, "send_as": granted}),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_local_parts_take_the_domain_of_the_address() {
        assert_eq!(
            alias_address("thomas", "toto@example.com"),
            "thomas@example.com"
        );
        assert_eq!(
            alias_address("t@example.com", "toto@example.com"),
            "t@example.com"
        );
    }

    #[test]
    fn storage_limit_is_octets_or_none() {
        assert_eq!(parse_limit("none").unwrap(), None);
        assert_eq!(parse_limit("NONE").unwrap(), None);
        assert_eq!(parse_limit("1000000").unwrap(), Some(1_000_000));
        let refused = parse_limit("1G").unwrap_err().to_string();
        assert!(refused.contains("octets"), "{refused}");
    }

    #[test]
    fn counts_and_lists_read_as_sentences() {
        assert_eq!(count(1, "alias"), "1 alias");
        assert_eq!(count(2, "alias"), "2 aliases");
        assert_eq!(count(0, "message"), "0 messages");
        assert_eq!(count(3, "address"), "3 addresses");
        let items = ["a".to_string(), "b".into(), "c".into()];
        assert_eq!(join_and(&items[..1]), "a");
        assert_eq!(join_and(&items[..2]), "a and b");
        assert_eq!(join_and(&items), "a, b and c");
    }

    #[test]
    fn permissions_without_people_are_refused_and_self_invites_the_address_itself() {
        let refused = holder(Vec::new(), None, None, Some(Permissions::READ_SEND), None)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("--user or --invite"), "{refused}");
        assert_eq!(
            holder(Vec::new(), None, None, None, None).unwrap(),
            Holder::Nobody
        );
        let invited = holder(
            Vec::new(),
            Some("SELF".into()),
            Some(LoginModeArg::Exact),
            None,
            None,
        )
        .unwrap();
        let Holder::Invitation(request) = invited else {
            panic!("an invitation was asked for");
        };
        assert_eq!(request.send_to, None, "self: to the created address");
        assert_eq!(request.login_mode, LoginMode::ExactAddress);
    }
}
