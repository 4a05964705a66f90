//! Test fixture shared by the unit tests of the SQLite modules: one organization, one service
//! `abc.xyz` and one mailbox `toto@abc.xyz`.

use postwerk_model::{
    AddressKind, Domain, HostedAddress, LocalPart, Permissions, ServiceFeatures, ServiceId,
};

use crate::{NewAddress, NewService, Stores};

/// Creates the organization, the service (with `quota` addresses) and the mailbox toto.
pub(super) async fn mailbox_toto(stores: &Stores, quota: u32) -> HostedAddress {
    let org = stores.directory.create_org("Org").await.expect("org");
    let service = stores
        .directory
        .create_service(NewService {
            org: org.id,
            domain: Domain::parse("abc.xyz").expect("domain"),
            address_quota: quota,
            features: ServiceFeatures::default(),
            default_permissions: Permissions::READ_SEND,
            signature_templates: Vec::new(),
            dkim: None,
        })
        .await
        .expect("service");
    mailbox_in(stores, service.id, "toto").await
}

/// Creates the mailbox `local` in `service`.
pub(super) async fn mailbox_in(stores: &Stores, service: ServiceId, local: &str) -> HostedAddress {
    stores
        .directory
        .create_address(NewAddress {
            service,
            local: LocalPart::parse(local).expect("local part"),
            kind: AddressKind::Mailbox,
            display_name: String::new(),
            password_hash: None,
            redirect: None,
            storage_limit: None,
        })
        .await
        .expect("address")
}
