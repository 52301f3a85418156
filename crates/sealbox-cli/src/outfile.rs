//! Writing a command's result where `-o PATH` leads, without ever replacing what is there
//! (`sealbox inject`).
//!
//! - `-` (or no `-o`) and any path that is sealbox's own standard output (`/dev/stdout`,
//!   `/dev/fd/1`, a link to them): written to standard output as it is, so `> file`, `>> file`
//!   and pipes behave as the shell set them up.
//! - A symbolic link: written through (opened like the shell's `>` would, so the kernel's own
//!   symlink protections apply); the link stays a link. A new target is created with mode 0600.
//! - A device, pipe or socket: written into.
//! - A regular file, or nothing yet: written beside the target under a fresh name (mode 0600,
//!   created exclusively so nothing planted there is followed), synced, then renamed over it, so
//!   a reader never sees half a file and nobody else can read it even for a moment.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::AsFd as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Where the bytes went.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Sealbox's standard output.
    Stdout,
    /// Into what was there (a link's target, a device, a pipe).
    Through(PathBuf),
    /// A regular file, replaced atomically with mode 0600.
    File(PathBuf),
}

/// `-` means standard output.
pub fn is_stdio(path: &Path) -> bool {
    path == Path::new("-")
}

/// Writes `bytes` where `path` leads (see the module comment); `None` or `-` is standard output.
pub fn write(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<Written> {
    let Some(path) = path.filter(|p| !is_stdio(p)) else {
        return to_stdout(bytes);
    };
    if is_own_stdout(path) {
        return to_stdout(bytes);
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => anyhow::bail!("{} is a directory; give a file name with -o", path.display()),
        Ok(m) if m.is_file() => replace_atomically(path, bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => replace_atomically(path, bytes),
        // A symbolic link, device, pipe or socket.
        Ok(_) => write_through(path, bytes),
        Err(e) => Err(e).with_context(|| format!("cannot write {}", path.display())),
    }
}

fn to_stdout(bytes: &[u8]) -> anyhow::Result<Written> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(Written::Stdout)
}

/// True when `path` leads to the very file sealbox's standard output is (same device and inode).
/// Reopening it would lose the shell's append mode and offset, so it is written as stdout.
fn is_own_stdout(path: &Path) -> bool {
    let Ok(target) = fs::metadata(path) else {
        return false;
    };
    let stdout = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(|fd| fs::File::from(fd).metadata());
    stdout.is_ok_and(|stdout| target.dev() == stdout.dev() && target.ino() == stdout.ino())
}

fn write_through(path: &Path, bytes: &[u8]) -> anyhow::Result<Written> {
    let mut target = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    target.write_all(bytes)?;
    target.flush()?;
    Ok(Written::Through(path.to_owned()))
}

fn replace_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<Written> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("{} does not name a file", path.display()))?;
    let partial = dir.join(format!(".{name}.{}.sealbox-partial", std::process::id()));
    let written = (|| -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)?;
        // The mode given to open is reduced by the umask; 0600 is what it must be.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&partial, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&partial);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(Written::File(path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt as _, symlink};

    #[test]
    fn a_new_file_is_private_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("app.conf");
        assert_eq!(write(Some(&out), b"x=1\n").unwrap(), Written::File(out.clone()));
        assert_eq!(fs::read_to_string(&out).unwrap(), "x=1\n");
        assert_eq!(fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_link_to_a_file_stays_a_link_and_its_target_gets_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.conf");
        fs::write(&target, "old content, longer than the new one\n").unwrap();
        let link = dir.path().join("link.conf");
        symlink(&target, &link).unwrap();
        assert_eq!(write(Some(&link), b"new\n").unwrap(), Written::Through(link.clone()));
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
    }

    #[test]
    fn a_dangling_link_creates_its_target_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("made.conf");
        let link = dir.path().join("link.conf");
        symlink(&target, &link).unwrap();
        write(Some(&link), b"v\n").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "v\n");
        assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = write(Some(dir.path()), b"v").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn a_fifo_is_still_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write(Some(&fifo), b"through\n").unwrap();
        assert_eq!(reader.join().unwrap(), "through\n");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
