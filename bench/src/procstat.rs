//! CPU time and memory of a server under test (and of the loader itself), read from Linux's
//! `/proc`. A server's figure is the sum over its process and all its descendants (Apache's
//! worker processes are children of the pid in its PidFile).
//!
//! `utime`/`stime` are in clock ticks of `USER_HZ`, which the kernel ABI fixes at 100 on every
//! architecture Linux exports it for (`sysconf(_SC_CLK_TCK)`); over a run of seconds the 10 ms
//! resolution is well under the figures we compare.

use std::collections::HashMap;
use std::io;

const USER_HZ: f64 = 100.0;

/// One line of `/proc/<pid>/stat`, the fields we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The process id.
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
    /// User plus system CPU time, in ticks.
    pub ticks: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself hold
/// spaces and parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let (head, rest) = line.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    // After ")": state(3) ppid(4) ... utime(14) stime(15).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        pid,
        ppid,
        ticks: utime.saturating_add(stime),
    })
}

fn read_stat(pid: &str) -> Option<Stat> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .as_deref()
        .and_then(parse_stat)
}

/// `pid` and its descendants, from a snapshot of every process's parent.
pub fn tree(root: u32, all: &[Stat]) -> Vec<Stat> {
    let mut children: HashMap<u32, Vec<&Stat>> = HashMap::new();
    for s in all {
        children.entry(s.ppid).or_default().push(s);
    }
    let mut out: Vec<Stat> = all.iter().filter(|s| s.pid == root).copied().collect();
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i].pid) {
            out.extend(c.iter().map(|s| **s));
        }
        i += 1;
    }
    out
}

fn all_processes() -> io::Result<Vec<Stat>> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.bytes().all(|b| b.is_ascii_digit()) {
            // A process may end between the listing and the read: skip it.
            if let Some(s) = read_stat(name) {
                all.push(s);
            }
        }
    }
    Ok(all)
}

/// `pid` and its living descendants, now.
fn living_tree(pid: u32) -> io::Result<Vec<Stat>> {
    let t = tree(pid, &all_processes()?);
    if t.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no process {pid}"),
        ));
    }
    Ok(t)
}

/// CPU seconds used so far by `pid` and its living descendants.
pub fn tree_cpu_seconds(pid: u32) -> io::Result<f64> {
    Ok(living_tree(pid)?.iter().map(|s| s.ticks).sum::<u64>() as f64 / USER_HZ)
}

/// CPU seconds used so far by this process.
pub fn self_cpu_seconds() -> f64 {
    read_stat("self").map_or(0.0, |s| s.ticks as f64 / USER_HZ)
}

/// `VmRSS` of a `/proc/<pid>/status`, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident memory of `pid` and its living descendants, in bytes.
pub fn tree_rss_bytes(pid: u32) -> io::Result<u64> {
    Ok(living_tree(pid)?
        .iter()
        .filter_map(|s| std::fs::read_to_string(format!("/proc/{}/status", s.pid)).ok())
        .filter_map(|s| parse_rss(&s))
        .sum())
}

/// The soft limit on open files of this process (`Max open files` in `/proc/self/limits`).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_the_name() {
        // A real line of /proc/<pid>/stat (proc(5)), command name "a b) c".
        let line = "4242 (a b) c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 4 0 \
                    100 1000000 300 18446744073709551615";
        let s = parse_stat(line).expect("parses");
        assert_eq!(
            s,
            Stat {
                pid: 4242,
                ppid: 1,
                ticks: 325
            }
        );
        assert_eq!(parse_stat("12 (x) S"), None);
    }

    #[test]
    fn tree_follows_children_only() {
        let st = |pid, ppid, ticks| Stat { pid, ppid, ticks };
        let all = [
            st(1, 0, 1),
            st(10, 1, 5),
            st(11, 10, 7),
            st(12, 10, 9),
            st(20, 1, 100),
        ];
        let t = tree(10, &all);
        assert_eq!(t.iter().map(|s| s.ticks).sum::<u64>(), 21);
        assert!(tree(99, &all).is_empty());
    }

    #[test]
    fn this_process_is_measured() {
        let me = std::process::id();
        assert!(tree_cpu_seconds(me).is_ok());
        assert!(tree_rss_bytes(me).expect("rss") > 1024 * 1024);
        assert!(parse_rss("Name:\tx\nVmRSS:\t  2048 kB\n") == Some(2_097_152));
        assert!(open_files_limit().expect("limit") > 0);
    }
}
