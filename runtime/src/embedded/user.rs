//! The OS user the server runs as: PostgreSQL refuses to run as root, so a root process hands
//! the cluster to an unprivileged user.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::EmbeddedError;

/// Users tried, in order, when this process is root.
const UNPRIVILEGED: [&str; 2] = ["postgres", "nobody"];

/// Client variables that must not steer the binaries we run.
const CLIENT_ENV: [&str; 7] = [
    "PGDATA",
    "PGPORT",
    "PGHOST",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGOPTIONS",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUser {
    name: String,
    uid: u32,
    gid: u32,
    /// True when this process is root and children must switch to `uid`/`gid`.
    switch: bool,
}

impl ServerUser {
    /// This process's user, or an unprivileged one when this process is root.
    pub(crate) fn for_this_process() -> Result<Self, EmbeddedError> {
        // SAFETY: geteuid and getegid cannot fail and touch no memory of ours.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid != 0 {
            return Ok(Self {
                name: std::env::var("USER").unwrap_or_else(|_| format!("uid {euid}")),
                uid: euid,
                gid: egid,
                switch: false,
            });
        }
        UNPRIVILEGED
            .into_iter()
            .find_map(|name| {
                lookup(name).map(|(uid, gid)| Self {
                    name: name.to_owned(),
                    uid,
                    gid,
                    switch: true,
                })
            })
            .filter(|user| user.uid != 0)
            .ok_or(EmbeddedError::NoUnprivilegedUser)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A command running `program` as this user, in `cwd` (a directory this user owns, so the
    /// child can resolve its working directory), with stdin closed and output captured.
    pub(crate) fn command(&self, program: &Path, cwd: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(cwd)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in CLIENT_ENV {
            command.env_remove(name);
        }
        if self.switch {
            // std drops supplementary groups (setgroups(0)) before setuid when groups are not
            // given explicitly, so root's groups do not leak into the server.
            command
                .uid(self.uid)
                .gid(self.gid)
                .env("HOME", cwd)
                .env("USER", &self.name)
                .env("LOGNAME", &self.name);
        }
        command
    }

    /// Gives `path` to this user (a no-op when not switching users).
    pub(crate) fn chown(&self, path: &Path) -> Result<(), EmbeddedError> {
        if !self.switch {
            return Ok(());
        }
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .map_err(|e| EmbeddedError::io("change the owner of", path, e))
    }

    /// Checks that this user can enter `dir` and every directory above it, which the server
    /// needs to reach its data directory.
    pub(crate) fn check_reachable(&self, dir: &Path) -> Result<(), EmbeddedError> {
        if !self.switch {
            return Ok(());
        }
        for ancestor in dir.ancestors() {
            let Ok(meta) = ancestor.metadata() else {
                continue; // not created yet: we create it for this user
            };
            let mode = meta.mode();
            let searchable = if meta.uid() == self.uid {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !searchable {
                return Err(EmbeddedError::Unreachable {
                    dir: ancestor.to_path_buf(),
                    user: self.name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// `(uid, gid)` of the OS user `name`, from the system's user database (NSS included).
fn lookup(name: &str) -> Option<(u32, u32)> {
    let name = CString::new(name).ok()?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: passwd is plain old data; getpwnam_r fills it with pointers into `buf`,
        // which we never read through (only the uid and gid are copied out).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call and `buf.len()` is the
        // real size of `buf`.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        return (rc == 0 && !result.is_null()).then_some((pwd.pw_uid, pwd.pw_gid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_never_chosen() {
        let user = ServerUser::for_this_process().unwrap();
        assert_ne!(user.uid, 0, "{user:?}");
        // SAFETY: no memory involved.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(user.switch, euid == 0);
    }

    #[test]
    fn lookup_finds_root_and_not_nonsense() {
        assert_eq!(lookup("root"), Some((0, 0)));
        assert_eq!(lookup("pgready-no-such-user"), None);
    }
}
