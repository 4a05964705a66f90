//! A directory for tests that run against the embedded store in-process: a SQLite store in a
//! temporary folder, filled through `postwerk_core::Admin` as the operator, the way the CLI
//! and the REST API fill it, so the rules `Admin` checks (quota, aliases, holders) hold for
//! the test's data too.
//!
//! Each helper returns the id of what it created and panics with the operation and the
//! error when it fails: a setup that cannot be built is a broken test, not a result.

use postwerk_core::{
    Actor, Admin, CreateAddress, CreateUser, Delivery, Holder, Webmail, WebmailParts,
};
use postwerk_model::{
    Address, AddressId, AddressKind, OrgId, Permissions, Role, ServiceId, UserId,
};
use postwerk_store::Stores;

/// Every change is made as the operator, who may do anything (no permission is under test
/// in the setup).
const OPERATOR: Actor = Actor::Operator;

/// A store in a temporary folder and the `Admin` over it. Keep it (or `dir`) alive as long
/// as the store is used: dropping the folder deletes the database.
pub struct Directory {
    /// The temporary folder; the store lives in its `data` subfolder, so tests may put other
    /// files (a TLS pair) beside it.
    pub dir: tempfile::TempDir,
    pub stores: Stores,
    pub admin: Admin,
}

impl Directory {
    /// An empty store in a new temporary folder.
    pub async fn open() -> Directory {
        let dir = tempfile::tempdir().expect("a temporary folder for the store");
        let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
            .await
            .unwrap_or_else(|error| panic!("cannot open the test store: {error}"));
        let admin = Admin::from_stores(&stores);
        Directory { dir, stores, admin }
    }

    /// Creates the organization `name`.
    pub async fn org(&self, name: &str) -> OrgId {
        self.admin
            .create_org(OPERATOR, name)
            .await
            .unwrap_or_else(|error| panic!("cannot create organization {name}: {error}"))
            .id
    }

    /// Creates the mail service of `domain` for the organization `org`, with room for
    /// `quota` addresses (SVC-2).
    pub async fn service(&self, org: &str, domain: &str, quota: u32) -> ServiceId {
        self.admin
            .create_service(OPERATOR, domain, org, quota)
            .await
            .unwrap_or_else(|error| panic!("cannot create service {domain}: {error}"))
            .id
    }

    /// Creates the mailbox `address` with the mailbox password `password`, held by nobody.
    pub async fn mailbox(&self, address: &str, password: &str) -> AddressId {
        self.address(address_request(
            address,
            AddressKind::Mailbox,
            Some(password),
        ))
        .await
    }

    /// Creates the redirect-only address `address`, forwarding to `to` (ADDR-5).
    pub async fn redirection(&self, address: &str, to: &[&str]) -> AddressId {
        self.address(CreateAddress {
            redirect_to: to.iter().map(|target| target.to_string()).collect(),
            ..address_request(address, AddressKind::RedirectOnly, None)
        })
        .await
    }

    /// Creates an address from a full request, for kinds and fields [`Directory::mailbox`]
    /// does not set.
    pub async fn address(&self, request: CreateAddress) -> AddressId {
        let address = request.address.clone();
        self.admin
            .create_address(OPERATOR, request)
            .await
            .unwrap_or_else(|error| panic!("cannot create address {address}: {error}"))
            .address
            .id
    }

    /// Creates the user account `login` (password `account-secret-1`), with `role` in the
    /// organization `org`.
    pub async fn account(&self, login: &str, org: &str, role: Role) -> UserId {
        let request = CreateUser {
            login: login.into(),
            password: Some(ACCOUNT_PASSWORD.into()),
            display_name: None,
            org: Some((org.into(), role)),
        };
        self.admin
            .create_user(OPERATOR, request)
            .await
            .unwrap_or_else(|error| panic!("cannot create account {login}: {error}"))
            .value
            .id
    }

    /// Gives the account `login` access to `address` with `permissions` (ADDR-9).
    pub async fn grant(&self, address: &str, login: &str, permissions: Permissions) {
        self.admin
            .grant_access(OPERATOR, address, login, Some(permissions), None)
            .await
            .unwrap_or_else(|error| panic!("cannot give {login} access to {address}: {error}"));
    }

    /// The webmail over this store, wired as `serve` wires it for the host name
    /// `mail.example.test`: local mail delivered at once, the rest queued.
    pub fn webmail(&self) -> Webmail {
        let stores = &self.stores;
        let delivery = Delivery::new(
            stores.directory.clone(),
            stores.mail.clone(),
            stores.queue.clone(),
        );
        Webmail::new(WebmailParts {
            directory: stores.directory.clone(),
            mail: stores.mail.clone(),
            manager: stores.manager.clone(),
            blobs: stores.blobs.clone(),
            delivery,
            hostname: "mail.example.test".into(),
            public_url: "https://mail.example.test/".into(),
        })
    }

    /// The id of the hosted address `address`.
    pub async fn id(&self, address: &str) -> AddressId {
        let parsed: Address = address
            .parse()
            .unwrap_or_else(|error| panic!("{address} is not an address: {error}"));
        self.stores
            .directory
            .address_by_address(&parsed)
            .await
            .unwrap_or_else(|error| panic!("cannot look up {address}: {error}"))
            .unwrap_or_else(|| panic!("{address} is not hosted"))
            .id
    }
}

/// The password [`Directory::account`] gives every account.
pub const ACCOUNT_PASSWORD: &str = "account-secret-1";

/// A request for `address` of `kind`, held by nobody, without display name, aliases or
/// redirection: the usual start of a test's address, changed with struct update syntax.
pub fn address_request(address: &str, kind: AddressKind, password: Option<&str>) -> CreateAddress {
    CreateAddress {
        address: address.into(),
        kind,
        password: password.map(Into::into),
        holder: Holder::Nobody,
        display_name: String::new(),
        aliases: Vec::new(),
        redirect_to: Vec::new(),
        keep_copy: false,
    }
}
