//! Test fixture shared by the unit tests of the SQLite modules: one organization, one service
//! `abc.xyz` and one mailbox `toto@abc.xyz`.

use postwerk_model::{AddressKind, Domain, HostedAddress, LocalPart, Permissions, ServiceFeatures};

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
    stores
        .directory
        .create_address(NewAddress {
            service: service.id,
            local: LocalPart::parse("toto").expect("local part"),
            kind: AddressKind::Mailbox,
            display_name: String::new(),
            password_hash: None,
            redirect: None,
            storage_limit: None,
        })
        .await
        .expect("address")
}
