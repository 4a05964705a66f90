//! ORG-1: the members of an organization and their roles.

use postwerk_model::{Address, Membership, OrgId, Role, UserAccount, UserId};

use super::{Actor, Admin};
use crate::CoreError;
use crate::audit::{Change, Owners};

/// A member as the Manager lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub user: UserId,
    /// Its login.
    pub login: Address,
    /// Its name.
    pub display_name: String,
    /// What it may do in the organization.
    pub role: Role,
}

impl Admin {
    /// The members of organization `org` (by name). Any member may list them.
    pub async fn org_members(&self, actor: Actor, org: &str) -> Result<Vec<Member>, CoreError> {
        let org = self.org_named(org).await?;
        if self.role_in(actor, org.id).await?.is_none() {
            return Err(CoreError::Forbidden(format!(
                "only members of the organization {} can see its members",
                org.name
            )));
        }
        let mut members = Vec::new();
        for membership in self.directory.org_members(org.id).await? {
            if let Some(user) = self.directory.user(membership.user).await? {
                members.push(member(user, membership.role));
            }
        }
        members.sort_by(|a, b| a.login.cmp(&b.login));
        Ok(members)
    }

    /// Adds the account `login` to `org` with `role`, or changes its role. Administrators
    /// only; only an owner makes or unmakes owners; the last owner keeps the role.
    pub async fn set_member(
        &self,
        actor: Actor,
        org: &str,
        login: &str,
        role: Role,
    ) -> Result<Member, CoreError> {
        let org = self.org_named(org).await?;
        self.require_admin(actor, org.id).await?;
        let user = self.user_by_login(login).await?;
        let current = self.membership(org.id, user.id).await?.map(|m| m.role);
        let touches_owner = role == Role::Owner || current == Some(Role::Owner);
        if touches_owner && self.role_in(actor, org.id).await? != Some(Role::Owner) {
            return Err(CoreError::Forbidden(format!(
                "only an owner of the organization {} can make or unmake owners",
                org.name
            )));
        }
        let membership = match current {
            None => self.directory.add_membership(org.id, user.id, role).await?,
            Some(_) => {
                self.directory
                    .set_membership_role(org.id, user.id, role)
                    .await?
            }
        };
        if current != Some(role) {
            let detail = match current {
                None => format!("joined the organization {} as {role}", org.name),
                Some(before) => format!("{before} → {role} in the organization {}", org.name),
            };
            self.record_member_change(actor, &user, org.id, "role_changed", detail)
                .await;
        }
        Ok(member(user, membership.role))
    }

    /// Removes the account `login` from `org`, with its access to the organization's
    /// mailboxes. Administrators only (a member may remove themself); never the last owner.
    /// Only an owner removes another owner.
    pub async fn remove_member(
        &self,
        actor: Actor,
        org: &str,
        login: &str,
    ) -> Result<(), CoreError> {
        let org = self.org_named(org).await?;
        let user = self.user_by_login(login).await?;
        let leaving_themself = actor == Actor::User(user.id);
        if !leaving_themself {
            self.require_admin(actor, org.id).await?;
        }
        let Some(membership) = self.membership(org.id, user.id).await? else {
            return Err(CoreError::NotFound(format!(
                "the account {} is not a member of the organization {}",
                user.login, org.name
            )));
        };
        if membership.role == Role::Owner
            && !leaving_themself
            && self.role_in(actor, org.id).await? != Some(Role::Owner)
        {
            return Err(CoreError::Forbidden(format!(
                "only an owner of the organization {} can remove an owner",
                org.name
            )));
        }
        // Leaving takes the access rows, and any unification with them (ID-5).
        let unified = self.identity.unified_address(user.id).await?;
        self.directory.remove_membership(org.id, user.id).await?;
        let detail = format!(
            "left the organization {}, with its access to the organization's mailboxes",
            org.name
        );
        self.record_member_change(actor, &user, org.id, "member_removed", detail)
            .await;
        if let Some(address) = unified
            && self.identity.unified_address(user.id).await?.is_none()
        {
            let detail = String::from(
                "the account no longer has access to the mailbox, so the two passwords are \
                 separate again",
            );
            let context = self.change_context(actor).await;
            self.audit.change(Change {
                protocol: context.protocol,
                ip: None,
                actor: context.actor,
                subject: user.login.to_string(),
                event: "unification_ended",
                detail,
                owners: Owners {
                    user: Some(user.id),
                    address: Some(address),
                    org: Some(org.id),
                },
            });
        }
        Ok(())
    }

    /// Records a change to `user`'s membership of `org` (ID-11).
    async fn record_member_change(
        &self,
        actor: Actor,
        user: &UserAccount,
        org: OrgId,
        event: &'static str,
        detail: String,
    ) {
        let context = self.change_context(actor).await;
        self.audit.change(Change {
            protocol: context.protocol,
            ip: None,
            actor: context.actor,
            subject: user.login.to_string(),
            event,
            detail,
            owners: Owners {
                user: Some(user.id),
                address: None,
                org: Some(org),
            },
        });
    }

    /// The membership of `user` in `org`, if any.
    async fn membership(&self, org: OrgId, user: UserId) -> Result<Option<Membership>, CoreError> {
        Ok(self
            .directory
            .user_memberships(user)
            .await?
            .into_iter()
            .find(|m| m.org == org))
    }
}

fn member(user: UserAccount, role: Role) -> Member {
    Member {
        user: user.id,
        login: user.login,
        display_name: user.display_name,
        role,
    }
}
