//! DNS cookies as a server (RFC 7873), with the interoperable server cookie of RFC 9018.
//!
//! A client puts a COOKIE option in its query: an 8-byte *client cookie*, and once it has one
//! from us, our *server cookie*. We answer every such query with the client cookie and a server
//! cookie of our own. A client that sends back a server cookie we made for its address proves
//! that it receives what we send to that address: its source address is not forged. The
//! transports use that to exempt it from response rate limiting, and a server that *requires*
//! cookies answers UDP queries without a valid one with BADCOOKIE and nothing else (RFC 7873
//! section 5.2.3), which stops reflection through it.
//!
//! # The server cookie (RFC 9018 section 4)
//!
//! ```text
//! | Version (1) | Reserved (3) | Timestamp (4) | Hash (8) |
//! ```
//!
//! Version 1, three reserved bytes (zero when we make one), the time it was made in Unix
//! seconds (compared in serial arithmetic, RFC 1982, so it survives 2106), and SipHash-2-4
//! keyed by a 16-byte server secret over
//! `Client Cookie | Version | Reserved | Timestamp | Client-IP` (4 bytes for IPv4, 16 for IPv6;
//! an IPv4 client seen through an IPv4-mapped IPv6 address hashes as IPv4). Every server that
//! knows the secret, whatever its implementation, makes and accepts the same cookies: servers
//! behind one anycast address share the secret.
//!
//! A cookie is valid when it is 16 bytes long, of version 1, its timestamp at most an hour old
//! ([`LIFETIME`]) and at most five minutes ahead ([`MAX_SKEW`]), and its hash matches under the
//! current secret or the previous one (kept while a new one spreads, RFC 9018 section 5). The
//! reply carries the client's own server cookie back while it is fresh, and a new one (with
//! the current secret and time) once it is older than half an hour ([`RENEW_AFTER`]) or was
//! made with the previous secret (section 4.3).
//!
//! # Sharing
//!
//! [`Cookies`] holds the two secrets behind an [`ArcSwap`]: every worker checks cookies
//! against one view without a lock or an allocation, and a rotation ([`Cookies::rotate`]) or a
//! new configuration ([`Cookies::set`]) swaps both at once. Where secrets come from (the
//! configuration, or the OS random generator, rotated on a timer) is the caller's business:
//! nothing here reads a clock or a random source.

use core::fmt;
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use siphasher::sip::SipHasher24;

/// Bytes in a client cookie (RFC 7873 section 4.1).
pub const CLIENT_COOKIE_LEN: usize = 8;
/// Bytes in the server cookies we make (RFC 9018 section 4).
pub const SERVER_COOKIE_LEN: usize = 16;
/// Bytes in a server secret (a SipHash-2-4 key).
pub const SECRET_LEN: usize = 16;
/// The server cookie version we make and accept.
pub const VERSION: u8 = 1;
/// Seconds a server cookie stays valid after it was made (RFC 9018 section 4.3).
pub const LIFETIME: u32 = 3600;
/// Seconds after which a valid server cookie is replaced by a new one in the reply.
pub const RENEW_AFTER: u32 = 1800;
/// Seconds a timestamp may be ahead of our clock (servers of one anycast set disagree a little).
pub const MAX_SKEW: u32 = 300;

// ---------------------------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------------------------

/// A server secret: the 16-byte SipHash-2-4 key cookies are made with. Its `Debug` form does not
/// show it, so it never reaches a log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret([u8; SECRET_LEN]);

impl Secret {
    /// The secret of these bytes.
    pub const fn new(bytes: [u8; SECRET_LEN]) -> Secret {
        Secret(bytes)
    }

    /// Reads 32 hexadecimal digits (either case), as configuration files hold a secret.
    pub fn from_hex(text: &str) -> Result<Secret, SecretError> {
        let digits = text.as_bytes();
        if digits.len() != 2 * SECRET_LEN {
            return Err(SecretError::Length(digits.len()));
        }
        let mut bytes = [0u8; SECRET_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(SecretError::NotHex);
            };
            *byte = hi << 4 | lo;
        }
        Ok(Secret(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Why a secret's text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretError {
    /// Not 32 characters long (the length found).
    Length(usize),
    /// A character that is no hexadecimal digit.
    NotHex,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Length(n) => write!(
                f,
                "a secret is {} hexadecimal digits ({SECRET_LEN} bytes), not {n}",
                2 * SECRET_LEN
            ),
            SecretError::NotHex => f.write_str("a secret holds hexadecimal digits only"),
        }
    }
}

impl std::error::Error for SecretError {}

// ---------------------------------------------------------------------------------------------
// Making and checking one cookie
// ---------------------------------------------------------------------------------------------

/// The server cookie for a client that sent `client` from `ip`, made with `secret` at
/// `timestamp` (Unix seconds, modulo 2^32): version 1, reserved zero.
pub fn server_cookie(
    secret: &Secret,
    client: &[u8; CLIENT_COOKIE_LEN],
    ip: IpAddr,
    timestamp: u32,
) -> [u8; SERVER_COOKIE_LEN] {
    let mut cookie = [0u8; SERVER_COOKIE_LEN];
    cookie[0] = VERSION;
    cookie[4..8].copy_from_slice(&timestamp.to_be_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&cookie[..8]);
    cookie[8..].copy_from_slice(&hash(secret, client, &head, ip));
    cookie
}

/// SipHash-2-4 of `client | head | ip` under `secret`, where `head` is the version, reserved
/// bytes and timestamp as the cookie holds them. Built on the stack.
fn hash(secret: &Secret, client: &[u8; CLIENT_COOKIE_LEN], head: &[u8; 8], ip: IpAddr) -> [u8; 8] {
    let mut input = [0u8; CLIENT_COOKIE_LEN + 8 + 16];
    input[..8].copy_from_slice(client);
    input[8..16].copy_from_slice(head);
    let len = match ip.to_canonical() {
        IpAddr::V4(a) => {
            input[16..20].copy_from_slice(&a.octets());
            20
        }
        IpAddr::V6(a) => {
            input[16..32].copy_from_slice(&a.octets());
            32
        }
    };
    let mut h = SipHasher24::new_with_key(&secret.0);
    h.write(&input[..len]);
    h.finish().to_le_bytes()
}

/// What a query's server cookie is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The client sent its client cookie alone: it has no server cookie from us yet.
    ClientOnly,
    /// A server cookie we made for this client and address, still within its lifetime.
    Valid,
    /// A server cookie we do not accept.
    Invalid(Invalid),
}

/// Why a server cookie is not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not 16 bytes: not an RFC 9018 cookie (maybe another server's own format).
    Length,
    /// A version other than 1.
    Version,
    /// Made more than [`LIFETIME`] seconds ago.
    Expired,
    /// Made more than [`MAX_SKEW`] seconds in the future.
    Future,
    /// Made with neither of our secrets, or for another client cookie or address.
    Hash,
}

/// The verdict on a query's cookie and the server cookie to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// What the query's server cookie is worth.
    pub verdict: Verdict,
    /// The server cookie for the reply: the client's own while it is fresh, else a new one.
    pub reply: [u8; SERVER_COOKIE_LEN],
}

// ---------------------------------------------------------------------------------------------
// Cookies: the shared secrets
// ---------------------------------------------------------------------------------------------

/// The current and previous server secrets, shared by every worker; see the
/// [module docs](self).
#[derive(Debug)]
pub struct Cookies {
    keys: ArcSwap<Keys>,
}

#[derive(Debug)]
struct Keys {
    current: Secret,
    previous: Option<Secret>,
}

impl Cookies {
    /// Cookies made with `current`, accepting those of `previous` too.
    pub fn new(current: Secret, previous: Option<Secret>) -> Cookies {
        Cookies {
            keys: ArcSwap::from_pointee(Keys { current, previous }),
        }
    }

    /// Replaces both secrets (a configuration that names them was loaded).
    pub fn set(&self, current: Secret, previous: Option<Secret>) {
        self.keys.store(Arc::new(Keys { current, previous }));
    }

    /// Makes `next` the current secret; the current one becomes the previous one, still
    /// accepted, and the previous one is forgotten.
    pub fn rotate(&self, next: Secret) {
        let previous = self.keys.load().current;
        self.set(next, Some(previous));
    }

    /// Whether `secret` is the current secret.
    pub fn is_current(&self, secret: &Secret) -> bool {
        self.keys.load().current == *secret
    }

    /// Checks the server cookie `server` (empty when the client sent none) that came with
    /// `client` from `ip`, at `now` (Unix seconds, modulo 2^32), and chooses the reply's server
    /// cookie. Takes no lock and allocates nothing.
    pub fn check(
        &self,
        client: &[u8; CLIENT_COOKIE_LEN],
        server: &[u8],
        ip: IpAddr,
        now: u32,
    ) -> Checked {
        let keys = self.keys.load();
        let fresh = || server_cookie(&keys.current, client, ip, now);
        let verdict = match verify(&keys, client, server, ip, now) {
            Ok(Kept::Echo(cookie)) => {
                return Checked {
                    verdict: Verdict::Valid,
                    reply: cookie,
                };
            }
            Ok(Kept::Renew) => Verdict::Valid,
            Err(None) => Verdict::ClientOnly,
            Err(Some(invalid)) => Verdict::Invalid(invalid),
        };
        Checked {
            verdict,
            reply: fresh(),
        }
    }
}

/// A valid cookie: sent back as it is, or replaced.
enum Kept {
    Echo([u8; SERVER_COOKIE_LEN]),
    Renew,
}

/// Checks `server`; `Err(None)` when it is empty.
fn verify(
    keys: &Keys,
    client: &[u8; CLIENT_COOKIE_LEN],
    server: &[u8],
    ip: IpAddr,
    now: u32,
) -> Result<Kept, Option<Invalid>> {
    if server.is_empty() {
        return Err(None);
    }
    let cookie: [u8; SERVER_COOKIE_LEN] = server.try_into().map_err(|_| Some(Invalid::Length))?;
    if cookie[0] != VERSION {
        return Err(Some(Invalid::Version));
    }
    // The time first: it is cheaper than a hash, and made-up cookies rarely get it right.
    let timestamp = u32::from_be_bytes([cookie[4], cookie[5], cookie[6], cookie[7]]);
    let age = now.wrapping_sub(timestamp) as i32;
    if age > LIFETIME as i32 {
        return Err(Some(Invalid::Expired));
    }
    if age < -(MAX_SKEW as i32) {
        return Err(Some(Invalid::Future));
    }
    let mut head = [0u8; 8];
    head.copy_from_slice(&cookie[..8]);
    let matches = |secret: &Secret| same(&hash(secret, client, &head, ip), &cookie[8..]);
    if matches(&keys.current) {
        if age > RENEW_AFTER as i32 {
            Ok(Kept::Renew)
        } else {
            Ok(Kept::Echo(cookie))
        }
    } else if keys.previous.as_ref().is_some_and(matches) {
        Ok(Kept::Renew)
    } else {
        Err(Some(Invalid::Hash))
    }
}

/// Compares two hashes in time that does not depend on where they differ.
fn same(a: &[u8; 8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn client(s: &str) -> [u8; 8] {
        hex(s).try_into().unwrap()
    }

    fn secret(s: &str) -> Secret {
        Secret::from_hex(s).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    // RFC 9018 appendix A.

    const SECRET_A: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

    /// A.1: learning a new server cookie.
    #[test]
    fn rfc9018_a1_new_cookie() {
        let cookies = Cookies::new(secret(SECRET_A), None);
        let c = client("2464c4abcf10c957");
        let checked = cookies.check(&c, &[], ip("198.51.100.100"), 1559731985);
        assert_eq!(checked.verdict, Verdict::ClientOnly);
        assert_eq!(
            checked.reply.to_vec(),
            hex("010000005cf79f111f8130c3eee29480")
        );
    }

    /// A.2: the same client, 40 minutes later, gets a renewed cookie.
    #[test]
    fn rfc9018_a2_renewed_cookie() {
        let cookies = Cookies::new(secret(SECRET_A), None);
        let c = client("2464c4abcf10c957");
        let sent = hex("010000005cf79f111f8130c3eee29480");
        let checked = cookies.check(&c, &sent, ip("198.51.100.100"), 1559734385);
        assert_eq!(checked.verdict, Verdict::Valid);
        assert_eq!(
            checked.reply.to_vec(),
            hex("010000005cf7a871d4a564a1442aca77")
        );
    }

    /// A.3: another client, whose cookie came from another implementation (reserved bytes set,
    /// which the hash covers) 1 h 52 min earlier: the hash matches, but the cookie is past our
    /// one-hour lifetime; the reply is the vector's fresh cookie.
    #[test]
    fn rfc9018_a3_other_client() {
        let cookies = Cookies::new(secret(SECRET_A), None);
        let c = client("fc93fc62807ddb86");
        let sent = hex("01abcdef5cf78f71a314227b6679ebf5");
        let addr = ip("203.0.113.203");
        let checked = cookies.check(&c, &sent, addr, 1559734700);
        assert_eq!(checked.verdict, Verdict::Invalid(Invalid::Expired));
        assert_eq!(
            checked.reply.to_vec(),
            hex("010000005cf7a9acf73a7810aca2381e")
        );
        // Within its lifetime the same bytes are valid: the reserved bytes are hashed as sent.
        let keys = Keys {
            current: secret(SECRET_A),
            previous: None,
        };
        let head: [u8; 8] = sent[..8].try_into().unwrap();
        assert_eq!(hash(&keys.current, &c, &head, addr).to_vec(), sent[8..]);
        let soon = 0x5cf78f71 + 60;
        assert!(matches!(
            verify(&keys, &c, &sent, addr, soon),
            Ok(Kept::Echo(_))
        ));
        // From another address it is not ours.
        assert_eq!(
            cookies.check(&c, &sent, ip("203.0.113.204"), soon).verdict,
            Verdict::Invalid(Invalid::Hash)
        );
    }

    /// A.4: an IPv6 client whose cookie was made with the previous secret gets one made with
    /// the new secret.
    #[test]
    fn rfc9018_a4_rolled_secret_ipv6() {
        let old = secret("dd3bdf9344b678b185a6f5cb60fca715");
        let new = secret("445536bcd2513298075a5d379663c962");
        let cookies = Cookies::new(old, None);
        cookies.rotate(new);
        assert!(cookies.is_current(&new));
        let c = client("22681ab97d52c298");
        let sent = hex("010000005cf7c57926556bd0934c72f8");
        let addr = ip("2001:db8:220:1:59de:d0f4:8769:82b8");
        let checked = cookies.check(&c, &sent, addr, 1559741961);
        assert_eq!(checked.verdict, Verdict::Valid);
        assert_eq!(
            checked.reply.to_vec(),
            hex("010000005cf7c609a6bb79d16625507a")
        );
        // Without the previous secret the old cookie is refused.
        cookies.set(new, None);
        assert_eq!(
            cookies.check(&c, &sent, addr, 1559741961).verdict,
            Verdict::Invalid(Invalid::Hash)
        );
    }

    #[test]
    fn fresh_cookies_are_echoed_and_old_ones_renewed() {
        let cookies = Cookies::new(secret(SECRET_A), None);
        let c = [7u8; 8];
        let addr = ip("192.0.2.1");
        let made = server_cookie(&secret(SECRET_A), &c, addr, 1000);
        for (now, echoed) in [(1000, true), (1000 + RENEW_AFTER, true), (2801, false)] {
            let checked = cookies.check(&c, &made, addr, now);
            assert_eq!(checked.verdict, Verdict::Valid, "at {now}");
            assert_eq!(checked.reply == made, echoed, "at {now}");
        }
        let checked = cookies.check(&c, &made, addr, 1000 + LIFETIME);
        assert_eq!(checked.verdict, Verdict::Valid);
        assert_eq!(
            cookies.check(&c, &made, addr, 1001 + LIFETIME).verdict,
            Verdict::Invalid(Invalid::Expired)
        );
        assert_eq!(
            cookies.check(&c, &made, addr, 1000 - MAX_SKEW).verdict,
            Verdict::Valid
        );
        assert_eq!(
            cookies.check(&c, &made, addr, 999 - MAX_SKEW).verdict,
            Verdict::Invalid(Invalid::Future)
        );
    }

    #[test]
    fn timestamps_use_serial_arithmetic() {
        let cookies = Cookies::new(secret(SECRET_A), None);
        let c = [1u8; 8];
        let addr = ip("192.0.2.1");
        // Made just before the 32-bit wrap, checked just after it: 100 seconds old.
        let made = server_cookie(&secret(SECRET_A), &c, addr, u32::MAX - 49);
        assert_eq!(cookies.check(&c, &made, addr, 50).verdict, Verdict::Valid);
    }

    #[test]
    fn malformed_cookies_are_invalid() {
        let cookies = Cookies::new(secret(SECRET_A), None);
        let c = [1u8; 8];
        let addr = ip("192.0.2.1");
        let made = server_cookie(&secret(SECRET_A), &c, addr, 5000);
        assert_eq!(
            cookies.check(&c, &made[..8], addr, 5000).verdict,
            Verdict::Invalid(Invalid::Length)
        );
        let mut v2 = made;
        v2[0] = 2;
        assert_eq!(
            cookies.check(&c, &v2, addr, 5000).verdict,
            Verdict::Invalid(Invalid::Version)
        );
        let mut flipped = made;
        flipped[15] ^= 1;
        assert_eq!(
            cookies.check(&c, &flipped, addr, 5000).verdict,
            Verdict::Invalid(Invalid::Hash)
        );
        assert_eq!(
            cookies.check(&[2u8; 8], &made, addr, 5000).verdict,
            Verdict::Invalid(Invalid::Hash)
        );
    }

    #[test]
    fn ipv4_mapped_clients_hash_as_ipv4() {
        let s = secret(SECRET_A);
        let c = [3u8; 8];
        assert_eq!(
            server_cookie(&s, &c, ip("::ffff:192.0.2.1"), 9),
            server_cookie(&s, &c, ip("192.0.2.1"), 9)
        );
    }

    #[test]
    fn rotation_keeps_one_previous_secret() {
        let a = Secret::new([1; 16]);
        let b = Secret::new([2; 16]);
        let d = Secret::new([3; 16]);
        let cookies = Cookies::new(a, None);
        let c = [4u8; 8];
        let addr = ip("192.0.2.1");
        let made = server_cookie(&a, &c, addr, 100);
        cookies.rotate(b);
        assert_eq!(cookies.check(&c, &made, addr, 100).verdict, Verdict::Valid);
        cookies.rotate(d);
        assert_eq!(
            cookies.check(&c, &made, addr, 100).verdict,
            Verdict::Invalid(Invalid::Hash)
        );
    }

    #[test]
    fn secrets_parse_and_hide() {
        assert_eq!(
            Secret::from_hex("E5E973E5A6B2A43F48E7DC849E37BFCF"),
            Ok(secret(SECRET_A))
        );
        assert_eq!(Secret::from_hex("e5e9"), Err(SecretError::Length(4)));
        assert_eq!(
            Secret::from_hex("g5e973e5a6b2a43f48e7dc849e37bfcf"),
            Err(SecretError::NotHex)
        );
        assert_eq!(format!("{:?}", secret(SECRET_A)), "Secret(..)");
        let cookies = format!("{:?}", Cookies::new(secret(SECRET_A), None));
        assert!(
            !cookies.contains("e5") && !cookies.contains("229"),
            "{cookies}"
        );
    }
}
