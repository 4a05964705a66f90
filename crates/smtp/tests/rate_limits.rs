//! RCV-8 in conversation: the rate limits at MAIL FROM, with small limits (so a refill during
//! the test is half a minute away, not a second), over the real session and the real `core`
//! services on an embedded store in a temporary folder.
//!
//! Script syntax: `postwerk_testkit::transcript`.

use std::net::SocketAddr;
use std::sync::Arc;

use postwerk_core::{Delivery, FailureLimiter, FailurePolicy, Filters, MailboxAuth};
use postwerk_net::Shutdown;
use postwerk_smtp::{Limits, ListenerKind, Server};
use postwerk_testkit::transcript::Client;

#[path = "common/fixture.rs"]
mod fixture;

use fixture::{Fixture, fixture};

/// AUTH PLAIN for toto@example.test with its mailbox password.
const AUTH_TOTO: &str = "AUTH PLAIN AHRvdG9AZXhhbXBsZS50ZXN0AG1haWxib3gtc2VjcmV0LTE=";

/// The limits of these tests (`[rate]` in the configuration).
const PER_CLIENT_PER_MINUTE: usize = 2;
const PER_SENDER_PER_HOUR: usize = 4;

/// A server whose delivery runs the checks of SPEC §4 with this file's rate limits; its
/// limiters live as long as the server, across sessions, as in the real process.
fn server(fixture: &Fixture, kind: ListenerKind) -> Arc<Server> {
    let stores = &fixture.stores;
    let config = postwerk_filter::FilterConfig {
        rate: postwerk_filter::rate::RateConfig {
            enabled: true,
            per_client_per_minute: PER_CLIENT_PER_MINUTE as u32,
            per_sender_per_hour: PER_SENDER_PER_HOUR as u32,
        },
        ..Default::default()
    };
    let filters = Filters::new(
        config,
        Arc::new(postwerk_dns::FakeResolver::new()),
        stores.greylist.clone(),
        Default::default(),
        "mx.example.test".into(),
    );
    Arc::new(Server {
        hostname: "mx.example.test".into(),
        kind,
        limits: Limits::default(),
        delivery: Delivery::new(
            stores.directory.clone(),
            stores.mail.clone(),
            stores.queue.clone(),
        )
        .with_filters(Arc::new(filters)),
        auth: Arc::new(MailboxAuth::new(
            stores.directory.clone(),
            Arc::new(FailureLimiter::new(FailurePolicy::default())),
        )),
        tls: Some(fixture.tls.acceptor.clone()),
        shutdown: Shutdown::new(),
    })
}

/// Runs `script` against a fresh session of `server` seen as coming from `peer` (TLS first
/// on submissions).
async fn run_from(fixture: &Fixture, server: &Arc<Server>, peer: &str, script: &str) {
    let peer: SocketAddr = peer.parse().unwrap();
    let session = server.clone();
    let mut client = Client::connect(&fixture.tls.connector, move |io, _| {
        session.handle(io, peer)
    });
    if server.kind == ListenerKind::Submissions {
        client.tls().await;
    }
    client.script(script).await;
    client.finish().await;
}

/// `count` transactions opened and reset at once (PIPELINING), all accepted; the senders
/// are `sender(n)`.
fn accepted_transactions(count: usize, sender: impl Fn(usize) -> String) -> String {
    let commands: String = (0..count)
        .map(|n| format!("C: MAIL FROM:<{}>\nC: RSET\n", sender(n)))
        .collect();
    let replies = "S: 250 2.1.0 *\nS: 250 2.0.0 *\n".repeat(count);
    format!("{commands}{replies}")
}

#[tokio::test]
async fn rcv_8_the_mail_over_the_clients_minute_is_450_and_the_session_goes_on() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Mx);
    // Distinct senders, so that only the client's limit can be the one reached.
    let within = accepted_transactions(PER_CLIENT_PER_MINUTE, |n| {
        format!("sender{n}@remote.example")
    });
    let script = format!(
        "S: 220 mx.example.test ESMTP*
        C: EHLO client.example
        S: 250-mx.example.test*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 STARTTLS
        {within}
        C: MAIL FROM:<one-more@remote.example>
        S: 450 4.7.1 Rate limit exceeded: too many messages from your address; slow down and try again in a few minutes
        # The refusal is temporary and ends nothing: the session goes on.
        C: RSET
        S: 250 2.0.0 *
        C: NOOP
        S: 250 2.0.0 *
        C: MAIL FROM:<>
        S: 450 4.7.1 Rate limit exceeded*
        C: QUIT
        S: 221 2.0.0 *
        END"
    );
    run_from(&f, &server, "192.0.2.1:4000", &script).await;
    // The limiter is the server's, not the session's: a new connection from the same
    // address is still over its limit, and another address is not.
    let again = "
        S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 STARTTLS
        C: MAIL FROM:<sender0@remote.example>
        S: 450 4.7.1 Rate limit exceeded*
        C: QUIT
        S: 221 *
        END";
    run_from(&f, &server, "192.0.2.1:4001", again).await;
    let elsewhere = again.replace("S: 450 4.7.1 Rate limit exceeded*", "S: 250 2.1.0 *");
    run_from(&f, &server, "198.51.100.7:4000", &elsewhere).await;
}

#[tokio::test]
async fn rcv_8_a_submission_is_counted_by_its_login_whatever_the_sender_address() {
    let f = fixture().await;
    let server = server(&f, ListenerKind::Submissions);
    let login = "
        S: 220 *
        C: EHLO client.example
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 AUTH PLAIN LOGIN";
    // The login's hour spread over several clients, each within its own minute, and over
    // both addresses toto may send as, half each.
    let clients = PER_SENDER_PER_HOUR / PER_CLIENT_PER_MINUTE;
    for client in 0..clients {
        let within = accepted_transactions(PER_CLIENT_PER_MINUTE, |n| {
            if n % 2 == 0 {
                "toto@example.test".into()
            } else {
                "tata@example.test".into()
            }
        });
        let script = format!(
            "{login}
            C: {AUTH_TOTO}
            S: 235 2.7.0 *
            {within}
            C: QUIT
            S: 221 *
            END"
        );
        run_from(&f, &server, &format!("192.0.2.{}:587", client + 1), &script).await;
    }
    let script = format!(
        "{login}
        C: {AUTH_TOTO}
        S: 235 2.7.0 *
        C: MAIL FROM:<tata@example.test>
        S: 450 4.7.1 Rate limit exceeded: too many messages from this sender; slow down and try again in a few minutes
        C: RSET
        S: 250 2.0.0 *
        C: QUIT
        S: 221 *
        END"
    );
    run_from(&f, &server, "203.0.113.9:587", &script).await;
}
