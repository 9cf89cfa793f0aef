//! What the process itself costs, read at scrape time: resident memory and uptime.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The process's resident set size in bytes, from the `VmRSS` line of `/proc/self/status`
/// (in KiB there, so no page size is needed); `None` where there is no such file.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Time since `start` (since the Unix epoch), saturating at zero for a clock set back.
pub fn uptime(start: Duration) -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tportcullis\nVmPeak:\t  100 kB\nVmRSS:\t    2048 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }
}
