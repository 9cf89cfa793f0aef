//! Access-control decisions the engine took, reported as security events: every query an ACL
//! refused or dropped (query, recursion, transfer) becomes one `acl_refused` or `acl_dropped`
//! event with the client and, when it could be read, the question.

use std::net::IpAddr;

use engine::QueryError;
use events::{Action, Event, Events};
use guard::AclAction;
use wire::{NameRef, RType};

/// Reports `error` as a security event when an ACL caused it. `message` is the response (for
/// a refusal) or the query (for a drop): the question is taken from it. Builds nothing when
/// no ACL acted.
pub(crate) fn report(events: &Events, error: QueryError, client: IpAddr, message: &[u8]) {
    let Some((action, purpose)) = error.acl() else {
        return;
    };
    let action = match action {
        AclAction::Drop => Action::AclDropped,
        AclAction::Refuse | AclAction::Allow => Action::AclRefused,
    };
    events.emit_with(action, || {
        let event = Event::new(action, purpose.reason()).client(client);
        match guard::question(message) {
            Some((name, qtype, _)) => match NameRef::from_wire(name) {
                Ok(name) => event.question(name, RType(qtype)),
                Err(_) => event,
            },
            None => event,
        }
    });
}
