//! Output files written atomically: content goes to a temporary file beside the target, which is
//! renamed into place only once complete, so a failed or interrupted run never leaves half a file.
//! Special targets (FIFOs, devices) are written in place instead, and a killed run's leftover
//! temporary files are cleared by the next write to the same path.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const TMP_MARK: &str = ".tmp.";

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!("{TMP_MARK}{}", std::process::id()));
    path.with_file_name(name)
}

/// Where and how to write `path`.
enum Target {
    /// A regular file, or nothing yet: write a temporary file beside `0` and rename it over.
    /// For a symlink `0` is the file it points to, so the link stays a link and its target is
    /// replaced atomically, which is what a user who linked `trace.jsonl` somewhere expects.
    Replace(PathBuf),
    /// A FIFO, a device (`/dev/null`), a socket or a dangling symlink: renaming over it would
    /// replace the special file itself with a regular one, so it is opened and written in place.
    /// Atomicity means nothing for a stream anyway.
    InPlace,
}

fn target(path: &Path) -> io::Result<Target> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Target::Replace(path.to_path_buf())),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_file() => Ok(Target::Replace(path.to_path_buf())),
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(real) if std::fs::metadata(&real)?.is_file() => Ok(Target::Replace(real)),
            // A link to a special file, or to nothing yet: write through the link.
            _ => Ok(Target::InPlace),
        },
        Ok(m) if m.is_dir() => Err(io::Error::other(format!(
            "{} is a directory, not a file",
            path.display()
        ))),
        Ok(_) => Ok(Target::InPlace),
    }
}

/// Opens a non-regular target for writing without truncating or replacing it (a FIFO blocks
/// here until a reader opens it, as FIFOs do).
fn open_in_place(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Removes temporary files of `path` left by runs that were killed before they could rename or
/// remove them: `NAME.tmp.PID` beside it whose PID is no running process. Another live run's
/// temporary file is never touched, and neither is anything not of our exact pattern. Where
/// process ids cannot be checked (no `/proc`), nothing is removed.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!("{}{TMP_MARK}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if !alive && regular {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn create_parent(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically, creating parent directories. A special file (FIFO,
/// device) is written in place; a symlink's target is replaced, not the link.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_parent(path)?;
    let path = match target(path)? {
        Target::InPlace => {
            let mut f = open_in_place(path)?;
            return f.write_all(bytes).and_then(|_| f.flush());
        }
        Target::Replace(p) => p,
    };
    remove_stale_temps(&path);
    let tmp = tmp_path(&path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A streamed file that appears at its path only when `commit` succeeds (a special file or a
/// link to one is written as the stream goes; see [`write_atomic`]).
pub struct AtomicFile {
    /// `(temporary, final)` paths, or `None` when writing in place.
    rename: Option<(PathBuf, PathBuf)>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<(AtomicFile, BufWriter<File>)> {
        create_parent(path)?;
        let (f, rename) = match target(path)? {
            Target::InPlace => (open_in_place(path)?, None),
            Target::Replace(path) => {
                remove_stale_temps(&path);
                let tmp = tmp_path(&path);
                (File::create(&tmp)?, Some((tmp, path)))
            }
        };
        Ok((AtomicFile { rename }, BufWriter::with_capacity(1 << 20, f)))
    }

    pub fn commit(self) -> io::Result<()> {
        match &self.rename {
            Some((tmp, path)) => std::fs::rename(tmp, path),
            None => Ok(()),
        }
    }

    pub fn abandon(self) {
        if let Some((tmp, _)) = &self.rename {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// A scenario name made safe for a directory name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('.').to_string();
    if s.is_empty() {
        "scenario".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("regionsim-out-{}", std::process::id()));
        let p = dir.join("a/b/summary.json");
        write_atomic(&p, b"{}").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    use std::os::unix::fs::FileTypeExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("regionsim-out-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn mkfifo(p: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Opens a FIFO's read end before any writer, without blocking. A reader thread racing the
    /// writer hung under load: another test's fork could briefly hold a copy of the previous
    /// reader's descriptor, the writer's open paired with that copy, and its data was gone
    /// before the new reader opened. With the read end open first, the writer pairs with it.
    fn reader(p: &Path) -> File {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(p)
            .unwrap()
    }

    /// Reads an opened FIFO to its end once the writer is done (waiting out a forked child that
    /// may still hold a copy of the write end).
    fn read_all(mut f: File) -> Vec<u8> {
        use std::io::Read;
        let (mut out, mut buf) = (Vec::new(), [0u8; 256]);
        loop {
            match f.read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("reading the FIFO: {e}"),
            }
        }
    }

    #[test]
    fn a_fifo_is_written_in_place_not_replaced() {
        let d = scratch("fifo");
        let p = d.join("trace.jsonl");
        mkfifo(&p);
        let r = reader(&p);
        write_atomic(&p, b"one\n").unwrap();
        assert_eq!(read_all(r), b"one\n");
        assert!(std::fs::symlink_metadata(&p).unwrap().file_type().is_fifo());

        let r = reader(&p);
        let (f, mut w) = AtomicFile::create(&p).unwrap();
        w.write_all(b"two\n").unwrap();
        drop(w);
        f.commit().unwrap();
        assert_eq!(read_all(r), b"two\n");
        assert!(std::fs::symlink_metadata(&p).unwrap().file_type().is_fifo());
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temp file beside it"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_replaced() {
        let d = scratch("link");
        let real = d.join("real.jsonl");
        std::fs::write(&real, b"old").unwrap();
        let link = d.join("trace.jsonl");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let (f, mut w) = AtomicFile::create(&link).unwrap();
        w.write_all(b"new").unwrap();
        drop(w);
        f.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_link(&link).unwrap(), real);
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A link to a FIFO (as /dev/stdout is to a pipe) is written through, in place.
        let fifo = d.join("pipe");
        mkfifo(&fifo);
        let to_fifo = d.join("out.json");
        std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
        let r = reader(&fifo);
        write_atomic(&to_fifo, b"{}").unwrap();
        assert_eq!(read_all(r), b"{}");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn stale_temp_files_of_dead_runs_are_removed_live_ones_kept() {
        let d = scratch("stale");
        let mut done = std::process::Command::new("true").spawn().unwrap();
        let dead = done.id();
        done.wait().unwrap();
        let mut live = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let stale = d.join(format!("summary.json.tmp.{dead}"));
        let other_live = d.join(format!("summary.json.tmp.{}", live.id()));
        let other_name = d.join(format!("report.html.tmp.{dead}"));
        let not_ours = d.join("summary.json.tmp.notapid");
        for p in [&stale, &other_live, &other_name, &not_ours] {
            std::fs::write(p, b"half").unwrap();
        }
        write_atomic(&d.join("summary.json"), b"{}").unwrap();
        live.kill().unwrap();
        live.wait().unwrap();
        assert!(!stale.exists(), "a dead run's temp file is removed");
        assert!(other_live.exists(), "a live run's temp file is kept");
        assert!(
            other_name.exists(),
            "only the target's own temp files are touched"
        );
        assert!(not_ours.exists());
        assert_eq!(std::fs::read(d.join("summary.json")).unwrap(), b"{}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("partition heal/1"), "partition-heal-1");
        assert_eq!(slug(".."), "scenario");
    }
}
