//! Who made a change, as the audit log names them (ID-11).

use postwerk_store::Directory;

use crate::admin::Actor;
use crate::audit::Protocol;

/// `operator`, or the account's login (`account #id` for an account deleted meanwhile). A
/// failed lookup costs the entry its name, never the change.
pub(crate) async fn actor_label(directory: &dyn Directory, actor: Actor) -> String {
    match actor {
        Actor::Operator => String::from("operator"),
        Actor::User(user) => match directory.user(user).await {
            Ok(Some(account)) => account.login.to_string(),
            _ => format!("account #{}", user.0),
        },
    }
}

/// Where a change through `Admin` or a token came from: the operator works from the command
/// line, an account through the REST API (the console is a client of the same API, so the
/// two are not told apart here).
pub(crate) fn protocol_of(actor: Actor) -> Protocol {
    match actor {
        Actor::Operator => Protocol::Cli,
        Actor::User(_) => Protocol::Api,
    }
}
