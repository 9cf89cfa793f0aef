//! What an event says.

use std::net::IpAddr;

use wire::{Name, NameRef, RType};

/// Which policy acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A blocklist or response policy zone answered instead of the real data.
    Blocked,
    /// Response rate limiting dropped or slipped a response.
    RateLimited,
    /// A dynamic block rule started blocking a client prefix, or acted on it.
    DynamicBlock,
    /// An access-control list refused a request.
    AclRefused,
    /// An access-control list dropped a request.
    AclDropped,
    /// A client presented a bad server cookie, or was sent BADCOOKIE.
    CookieFailure,
    /// The resolver rejected an upstream answer as spoofed (address, port, ID, case, cookie).
    SpoofRejected,
    /// A resolver work limit ended a question, or an upstream cap held.
    ResolverLimit,
    /// The detector found a domain used as a DNS tunnel (or acted on its verdict), or the
    /// operator allowed a domain again.
    Tunnel,
    /// The detector found traffic unlike this server's learned baseline.
    Anomaly,
    /// An operator acted through the dashboard's API or the control socket (flush, reload,
    /// block, allow): the command as reason, who and what as detail.
    Control,
}

impl Action {
    /// How many actions there are.
    pub const COUNT: usize = 11;

    /// Every action, in counter order.
    pub const ALL: [Action; Action::COUNT] = [
        Action::Blocked,
        Action::RateLimited,
        Action::DynamicBlock,
        Action::AclRefused,
        Action::AclDropped,
        Action::CookieFailure,
        Action::SpoofRejected,
        Action::ResolverLimit,
        Action::Tunnel,
        Action::Anomaly,
        Action::Control,
    ];

    /// The action's name in events and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Action::Blocked => "blocked",
            Action::RateLimited => "rate_limited",
            Action::DynamicBlock => "dynamic_block",
            Action::AclRefused => "acl_refused",
            Action::AclDropped => "acl_dropped",
            Action::CookieFailure => "cookie_failure",
            Action::SpoofRejected => "spoof_rejected",
            Action::ResolverLimit => "resolver_limit",
            Action::Tunnel => "tunnel",
            Action::Anomaly => "anomaly",
            Action::Control => "control",
        }
    }

    /// The position in [`Action::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The syslog severity (RFC 5424): warning for what suggests an attack on this server or
    /// through it, notice for policy doing its ordinary work.
    pub(crate) fn severity(self) -> u8 {
        match self {
            Action::Blocked | Action::AclRefused | Action::AclDropped | Action::Control => 5,
            _ => 4,
        }
    }
}

/// One policy action, as an IDS reads it. Built where the action is taken, written later by
/// the writer thread: nothing is formatted on the caller's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What acted.
    pub action: Action,
    /// The client it acted on (for resolver events, none).
    pub client: Option<IpAddr>,
    /// The question's name, when one was read.
    pub qname: Option<Name>,
    /// The question's type.
    pub qtype: Option<RType>,
    /// A short fixed phrase saying which rule: "rrl-drop", "acl query", "rpz qname"...
    pub reason: &'static str,
    /// More detail when there is some: a list's name, an upstream address, a limit.
    pub detail: Option<Box<str>>,
    /// The syslog severity when it is not the action's own: the detector's findings in log
    /// mode are notices (5), in alert and block mode warnings (4).
    pub severity: Option<u8>,
}

impl Event {
    /// An event with only its action and reason.
    pub fn new(action: Action, reason: &'static str) -> Event {
        Event {
            action,
            client: None,
            qname: None,
            qtype: None,
            reason,
            detail: None,
            severity: None,
        }
    }

    /// The event, about `name` (a domain rather than a question: no type).
    pub fn name(mut self, name: Name) -> Event {
        self.qname = Some(name);
        self
    }

    /// The event, at syslog `severity` rather than its action's.
    pub fn with_severity(mut self, severity: u8) -> Event {
        self.severity = Some(severity);
        self
    }

    /// The syslog severity it is written with (RFC 5424).
    pub(crate) fn syslog_severity(&self) -> u8 {
        self.severity.unwrap_or(self.action.severity())
    }

    /// The event, about `client`.
    pub fn client(mut self, client: IpAddr) -> Event {
        self.client = Some(client);
        self
    }

    /// The event, about the question `qname`/`qtype`.
    pub fn question(mut self, qname: NameRef<'_>, qtype: RType) -> Event {
        self.qname = Some(Name::from(qname));
        self.qtype = Some(qtype);
        self
    }

    /// The event, with `detail`.
    pub fn detail(mut self, detail: impl Into<Box<str>>) -> Event {
        self.detail = Some(detail.into());
        self
    }
}
