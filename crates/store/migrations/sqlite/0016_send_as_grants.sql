-- SND-1: "an address it has been granted". A send-as grant lets the mailbox that logs in
-- (`mailbox_id`) send as another hosted address of its organization (`address_id`): a shared
-- mailbox such as sales@, a no-reply or a redirect-only address. Who may be given what (same
-- organization, a mailbox as the sender) is decided by core::Admin; the table keeps the links.
--
-- Both sides cascade: deleting either address (ADDR-8) takes its grants with it, so a grant
-- never outlives an address nor passes to a new address created under the same name.
CREATE TABLE send_as_grants (
    mailbox_id  INTEGER NOT NULL REFERENCES addresses (id) ON DELETE CASCADE,
    address_id  INTEGER NOT NULL REFERENCES addresses (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    -- The guards' check is one lookup of this key.
    PRIMARY KEY (mailbox_id, address_id),
    -- A mailbox sends as itself without a grant.
    CHECK (mailbox_id <> address_id)
) WITHOUT ROWID;
-- Who may send as an address, and the cascade when that address is deleted.
CREATE INDEX send_as_grants_address ON send_as_grants (address_id);
