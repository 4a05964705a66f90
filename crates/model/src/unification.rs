//! ID-5: when the password of a user account and the password of a mailbox may be unified.
//!
//! The store and the core decide what to do; this module only states the condition, so the
//! offer, the screens that say "unified" and the end of unification all use the same rule.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Address;

/// One reason why an account and a mailbox may not share a password (ID-5 (a)–(c)).
#[derive(Copy, Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnificationBlocker {
    /// ID-5 (a): the account's login is not the mailbox address.
    LoginDiffers,
    /// ID-5 (b): the account is not the only account with access to the mailbox (other
    /// accounts share it, or the account itself has no access).
    SharedMailbox,
    /// ID-5 (c): the account may not change the mailbox's password.
    NoPasswordPermission,
}

impl UnificationBlocker {
    /// A sentence for the screen that explains why unification is not offered.
    pub fn explanation(self) -> &'static str {
        match self {
            UnificationBlocker::LoginDiffers => {
                "your login is not this address, so the two passwords stay separate"
            }
            UnificationBlocker::SharedMailbox => {
                "other accounts also use this address, so the two passwords stay separate"
            }
            UnificationBlocker::NoPasswordPermission => {
                "you may not change this address's password, so the two passwords stay separate"
            }
        }
    }
}

impl fmt::Display for UnificationBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explanation())
    }
}

/// ID-5: every condition that prevents unification, in the order (a), (b), (c); empty when
/// unification is allowed.
///
/// `accounts_with_access` counts every account with access to the mailbox, the holder
/// included, so it must be exactly 1.
pub fn unification_blockers(
    account_login: &Address,
    mailbox: &Address,
    accounts_with_access: usize,
    holder_can_change_password: bool,
) -> Vec<UnificationBlocker> {
    let mut blockers = Vec::new();
    // Addresses are canonical, so equality is the case-insensitive comparison ID-5 (a) needs.
    if account_login != mailbox {
        blockers.push(UnificationBlocker::LoginDiffers);
    }
    if accounts_with_access != 1 {
        blockers.push(UnificationBlocker::SharedMailbox);
    }
    if !holder_can_change_password {
        blockers.push(UnificationBlocker::NoPasswordPermission);
    }
    blockers
}

/// ID-5: true when all three conditions hold. Also the test for whether an existing
/// unification still stands: when it turns false, the passwords diverge on the next change.
pub fn unification_allowed(
    account_login: &Address,
    mailbox: &Address,
    accounts_with_access: usize,
    holder_can_change_password: bool,
) -> bool {
    unification_blockers(
        account_login,
        mailbox,
        accounts_with_access,
        holder_can_change_password,
    )
    .is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use UnificationBlocker::*;

    fn address(text: &str) -> Address {
        match Address::parse(text) {
            Ok(address) => address,
            Err(error) => panic!("test address {text:?}: {error}"),
        }
    }

    #[test]
    fn id_5_every_combination_of_the_three_conditions() {
        let toto = address("toto@abc.xyz");
        let other = address("toto@gmail.example");
        // (login, accounts with access, may change password, expected blockers)
        let cases = [
            (&toto, 1, true, vec![]),
            (&other, 1, true, vec![LoginDiffers]),
            (&toto, 2, true, vec![SharedMailbox]),
            (&toto, 0, true, vec![SharedMailbox]),
            (&toto, 1, false, vec![NoPasswordPermission]),
            (&other, 2, true, vec![LoginDiffers, SharedMailbox]),
            (&other, 1, false, vec![LoginDiffers, NoPasswordPermission]),
            (&toto, 3, false, vec![SharedMailbox, NoPasswordPermission]),
            (
                &other,
                5,
                false,
                vec![LoginDiffers, SharedMailbox, NoPasswordPermission],
            ),
        ];
        for (login, accounts, may_change, expected) in cases {
            let blockers = unification_blockers(login, &toto, accounts, may_change);
            assert_eq!(blockers, expected, "{login} {accounts} {may_change}");
            let allowed = unification_allowed(login, &toto, accounts, may_change);
            assert_eq!(
                allowed,
                expected.is_empty(),
                "{login} {accounts} {may_change}"
            );
        }
    }

    #[test]
    fn id_5_login_comparison_ignores_case_like_addresses_do() {
        let login = address("Toto@ABC.xyz");
        let mailbox = address("toto@abc.xyz");
        assert!(unification_allowed(&login, &mailbox, 1, true));
    }

    #[test]
    fn id_5_each_blocker_has_an_explanation() {
        for blocker in [LoginDiffers, SharedMailbox, NoPasswordPermission] {
            assert!(
                blocker
                    .to_string()
                    .ends_with("so the two passwords stay separate")
            );
        }
    }
}
