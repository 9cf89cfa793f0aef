//! Dropping root (`server.user`): a server started as root to bind port 53 switches to an
//! unprivileged user once its sockets are open, so a flaw in the query path cannot be turned
//! into root on the machine.
//!
//! The order matters: supplementary groups first and the group second, while we still may
//! change them, then the user, after which nothing can be changed back. On Linux, `setuid` from
//! root sets the real, effective and saved user IDs together and clears the capabilities, and
//! the C library applies it to every thread of the process. [`drop_privileges`] then checks
//! that root cannot be regained.
//!
//! The supplementary groups are cut to the user's primary group alone: the server needs no
//! other group's files, and none are inherited from the account that started it.

use nix::unistd::{self, Gid, Uid, User};

/// Switches the process to `user`: supplementary groups to the user's primary group alone,
/// then the group, then the user; then checks that root cannot be regained. Every error says
/// which step failed. Call it once the listening sockets are bound.
pub fn drop_privileges(user: &str) -> Result<(), String> {
    let account = User::from_name(user)
        .map_err(|e| format!("cannot look up user `{user}`: {e}"))?
        .ok_or_else(|| format!("no user `{user}` on this system (server.user)"))?;
    let (uid, gid) = (account.uid, account.gid);
    if uid.is_root() {
        return Err(format!(
            "user `{user}` has user ID 0: server.user must name an unprivileged user"
        ));
    }
    if unistd::getuid() == uid && unistd::geteuid() == uid {
        // Already that user: nothing to give up.
        return Ok(());
    }
    let not_root = if unistd::geteuid().is_root() {
        ""
    } else {
        " (the server is not running as root, so it cannot switch users)"
    };
    unistd::setgroups(&[gid])
        .map_err(|e| format!("cannot set the supplementary groups to {gid}: {e}{not_root}"))?;
    unistd::setgid(gid).map_err(|e| format!("cannot set the group ID to {gid}: {e}{not_root}"))?;
    unistd::setuid(uid).map_err(|e| format!("cannot set the user ID to {uid}: {e}{not_root}"))?;
    verify(user, uid, gid)
}

/// Checks that the switch to `uid` and `gid` holds and cannot be undone.
fn verify(user: &str, uid: Uid, gid: Gid) -> Result<(), String> {
    let ids = unistd::getresuid().map_err(|e| format!("cannot read the user IDs back: {e}"))?;
    if ids.real != uid || ids.effective != uid || ids.saved != uid {
        return Err(format!(
            "switched to user `{user}` but the user IDs are real {}, effective {}, saved {}",
            ids.real, ids.effective, ids.saved
        ));
    }
    let gids = unistd::getresgid().map_err(|e| format!("cannot read the group IDs back: {e}"))?;
    if gids.real != gid || gids.effective != gid || gids.saved != gid {
        return Err(format!(
            "switched to user `{user}` but the group IDs are real {}, effective {}, saved {}",
            gids.real, gids.effective, gids.saved
        ));
    }
    if unistd::setuid(Uid::from_raw(0)).is_ok() || unistd::seteuid(Uid::from_raw(0)).is_ok() {
        return Err(format!(
            "switched to user `{user}` but could become root again: refusing to go on"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::process::Command;

    use super::*;

    /// Set in the child process that performs the drop.
    const CHILD: &str = "PORTCULLIS_TEST_DROP_PRIVILEGES";

    #[test]
    fn unknown_user_is_an_error() {
        let e = drop_privileges("no-such-user-portcullis-test").unwrap_err();
        assert!(e.contains("no user `no-such-user-portcullis-test`"), "{e}");
        let e = drop_privileges("root").unwrap_err();
        assert!(e.contains("user ID 0"), "{e}");
    }

    /// Drops to `nobody` in a fresh copy of this test binary (the drop cannot be undone, so it
    /// must not happen in the process running the other tests).
    #[test]
    fn drops_to_nobody_in_a_child_process() {
        if !unistd::geteuid().is_root() {
            println!("note: not running as root; the privilege drop test is skipped");
            return;
        }
        let Some(nobody) = User::from_name("nobody").unwrap() else {
            println!("note: no user `nobody`; the privilege drop test is skipped");
            return;
        };
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "privileges::tests::child_drop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "nobody")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("dropped to uid {} gid {}", nobody.uid, nobody.gid)),
            "{stdout}{stderr}"
        );
    }

    /// The child half of the test above; does nothing unless started by it.
    #[test]
    fn child_drop() {
        let Ok(user) = std::env::var(CHILD) else {
            return;
        };
        drop_privileges(&user).unwrap();
        let nobody = User::from_name(&user).unwrap().unwrap();
        assert_eq!(unistd::getuid(), nobody.uid);
        assert_eq!(unistd::geteuid(), nobody.uid);
        assert_eq!(unistd::getgid(), nobody.gid);
        assert_eq!(unistd::getgroups().unwrap(), [nobody.gid]);
        assert!(unistd::setuid(Uid::from_raw(0)).is_err());
        // Dropping again to the same user is a no-op; to another, an error that says why.
        drop_privileges(&user).unwrap();
        if User::from_name("daemon").unwrap().is_some() {
            let e = drop_privileges("daemon").unwrap_err();
            assert!(e.contains("cannot set the supplementary groups"), "{e}");
            assert!(e.contains("not running as root"), "{e}");
        }
        println!(
            "dropped to uid {} gid {}",
            unistd::getuid(),
            unistd::getgid()
        );
    }
}
