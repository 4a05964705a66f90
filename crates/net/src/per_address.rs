//! Issue 10 item 3: connections per client address, so that one address holding many slow
//! connections (slowloris) cannot take every session a listener serves and starve the others.
//!
//! One [`AddressLimits`] is shared by the listeners of a protocol (smtp, submission and
//! submissions share one; so do imap and imaps, pop3 and pop3s): a client cannot double its
//! share by using both ports. An IPv6 client counts by its /64, which one host or one home
//! network usually holds whole; an IPv4 client by its address (one NAT may hold a whole office,
//! hence generous defaults).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The open connections of each client address of one protocol, and the most it may hold.
#[derive(Debug)]
pub struct AddressLimits {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl AddressLimits {
    /// At most `max` connections per address; 0 means no limit.
    pub fn new(max: usize) -> Arc<AddressLimits> {
        Arc::new(AddressLimits {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one more connection from `ip`, or `None` when the address already holds its
    /// share. The count drops when the returned slot is dropped (the session ended).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = network_of(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if self.max != 0 && *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            limits: Arc::clone(self),
            key,
        })
    }

    /// How many connections `ip`'s network holds now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&network_of(ip)).copied().unwrap_or(0)
    }
}

/// One admitted connection; dropping it gives the place back.
#[derive(Debug)]
pub struct AddressSlot {
    limits: Arc<AddressLimits>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // The table holds only addresses with open connections: it cannot grow with
                // every address ever seen.
                open.remove(&self.key);
            }
        }
    }
}

/// The key an address counts under: itself for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_and_no_more_until_one_ends() {
        let limits = AddressLimits::new(2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let first = limits.admit(ip).expect("first");
        let _second = limits.admit(ip).expect("second");
        assert!(limits.admit(ip).is_none(), "the third waits for one to end");
        assert!(
            limits.admit(other).is_some(),
            "another address is not affected"
        );
        drop(first);
        assert!(limits.admit(ip).is_some(), "a place came back");
    }

    #[test]
    fn an_ipv6_network_counts_as_one_and_the_table_forgets_closed_addresses() {
        let limits = AddressLimits::new(1);
        let a: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::10".parse().unwrap();
        let held = limits.admit(a).expect("first");
        assert!(limits.admit(b).is_none(), "same /64");
        assert!(limits.admit(elsewhere).is_some(), "another /64");
        drop(held);
        assert_eq!(limits.open(a), 0);
        assert!(limits.open.lock().unwrap().is_empty());
    }

    #[test]
    fn zero_means_no_limit() {
        let limits = AddressLimits::new(0);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let slots: Vec<_> = (0..100)
            .map(|_| limits.admit(ip).expect("admitted"))
            .collect();
        assert_eq!(limits.open(ip), 100);
        drop(slots);
    }
}
