//! Compiled components cached on disk, keyed by the component's digest and the engine's
//! compatibility hash (wasmtime version and settings), so a second load maps the machine
//! code instead of compiling again.
//!
//! A cached compilation is native code, so the cache is trusted only as far as it can be
//! checked: the folder (and its subfolders) must belong to this user and be writable by no
//! one else, or it is not used at all; every entry carries an HMAC-SHA256, under a key
//! kept in the folder (mode 0600), of the source's digest, the engine's hash and the code,
//! checked on the bytes read into memory before they are deserialized. A tampered, foreign
//! or truncated entry is compiled again and rewritten, never executed.
//!
//! The digest of a component file is remembered too, by the file's identity (device,
//! inode, size, modification and change times), so that an unchanged 18 MB Python
//! component is not hashed again on every load (SHA-256 costs about 9 ms for it); those
//! entries are signed the same way.
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::Component;
use wasmtime::Engine;

use super::sandbox::describe_error;

/// The compiled-code cache in one folder, with its signing key.
pub struct Cache {
    dir: PathBuf,
    key: [u8; 32],
}

const KEY_FILE: &str = "key";
const MAC_LEN: usize = 32;

impl Cache {
    /// Opens the cache in `dir`, creating it (mode 0700) and its key if needed. Refused,
    /// with the reason, when the folder, a subfolder or the key could be written by
    /// another user: the cache is then not used.
    pub fn open(dir: &Path) -> Result<Cache, String> {
        for sub in [dir.to_path_buf(), dir.join("plugins"), dir.join("plugin-digests")] {
            private_dir(&sub)?;
        }
        let key = read_or_create_key(&dir.join(KEY_FILE))?;
        Ok(Cache { dir: dir.to_path_buf(), key })
    }

    fn mac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }

    fn entry(&self, engine: &Engine, digest: &str) -> (PathBuf, String) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_hash = format!("{:016x}", h.finish());
        (self.dir.join("plugins").join(format!("{digest}-{engine_hash}.cwasm")), engine_hash)
    }

    /// The compiled component, and whether it came from the cache.
    pub fn compile(&self, engine: &Engine, bytes: &[u8], digest: &str) -> Result<(Component, bool), String> {
        let (path, engine_hash) = self.entry(engine, digest);
        if let Some(component) = self.load_signed(engine, &path, digest, &engine_hash) {
            return Ok((component, true));
        }
        let compiled = engine.precompile_component(bytes).map_err(|e| format!("is not a valid component: {}", describe_error(&e)))?;
        let tag = self.mac(&[digest.as_bytes(), engine_hash.as_bytes(), &compiled]).finalize().into_bytes();
        // The cache is an optimisation: failing to write it only costs the next compile.
        let _ = write_atomically(&path, &[&tag, &compiled]);
        // SAFETY: `compiled` was produced just now by this engine's `precompile_component`.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| format!("cannot load its compiled form: {}", describe_error(&e)))?;
        Ok((component, false))
    }

    /// A cached entry whose signature checks, deserialized from the very bytes checked.
    fn load_signed(&self, engine: &Engine, path: &Path, digest: &str, engine_hash: &str) -> Option<Component> {
        let bytes = std::fs::read(path).ok()?;
        let (tag, code) = bytes.split_at_checked(MAC_LEN)?;
        self.mac(&[digest.as_bytes(), engine_hash.as_bytes(), code]).verify_slice(tag).ok()?;
        // SAFETY: these bytes were signed with this user's key (in a folder only they can
        // write) by `compile` above, as the output of `precompile_component` for this
        // source digest and this engine's compatibility hash; wasmtime checks its header
        // and version again. They are the bytes checked, already in memory.
        #[allow(unsafe_code)]
        unsafe { Component::deserialize(engine, code) }.ok()
    }

    fn digest_entry(&self, path: &Path) -> Option<PathBuf> {
        use sha2::Digest;
        let canonical = std::fs::canonicalize(path).ok()?;
        let key: String = Sha256::digest(canonical.as_os_str().as_encoded_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
        Some(self.dir.join("plugin-digests").join(key))
    }

    fn digest_tag(&self, path: &Path, id: &str, digest: &str) -> String {
        let canonical = std::fs::canonicalize(path).unwrap_or_default();
        crate::util::hex(&self.mac(&[canonical.as_os_str().as_encoded_bytes(), id.as_bytes(), digest.as_bytes()]).finalize().into_bytes())
    }

    /// The digest remembered for the file at `path`, if it was remembered (and signed) for
    /// a file of the identity `now` (taken from the open file that was read).
    pub fn known_digest(&self, path: &Path, now: &str) -> Option<String> {
        let entry = std::fs::read_to_string(self.digest_entry(path)?).ok()?;
        let (rest, tag) = entry.trim_end().rsplit_once(' ')?;
        let (id, digest) = rest.rsplit_once(' ')?;
        let valid = id == now && digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) && tag == self.digest_tag(path, id, digest);
        valid.then(|| digest.to_string())
    }

    /// Remembers `digest` for the file at `path` (best effort: it only saves hashing later).
    /// A file changed within the last two seconds is not remembered: a rewrite within the
    /// file system's timestamp resolution could keep the same identity (git's "racily
    /// clean" problem).
    pub fn remember_digest(&self, path: &Path, id: &str, meta: &std::fs::Metadata, digest: &str) {
        let settled = |t: std::io::Result<std::time::SystemTime>| t.ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > std::time::Duration::from_secs(2));
        if !settled(meta.modified()) || !ctime_settled(meta) {
            return;
        }
        let Some(entry) = self.digest_entry(path) else { return };
        let line = format!("{id} {digest} {}\n", self.digest_tag(path, id, digest));
        let _ = write_atomically(&entry, &[line.as_bytes()]);
    }
}

/// Writes `parts` to a temporary file of a unique name beside `path`, then renames it over.
fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = crate::util::temp_beside(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        parts.iter().try_for_each(|p| f.write_all(p))?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Compiles without the cache.
pub fn compile_uncached(engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
    Component::new(engine, bytes).map_err(|e| format!("is not a valid component: {}", describe_error(&e)))
}

/// Creates `dir` (0700) if missing; refuses it unless this user owns it and no one else
/// may write it.
#[cfg(unix)]
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is {}: compiled plugins there could be replaced by someone else, so they are compiled every time instead (make it yours with chmod go-w, or set $AUTOML_CACHE_DIR)",
            dir.display(),
            if !meta.is_dir() { "not a folder".to_string() } else if meta.uid() != me { format!("owned by another user (uid {})", meta.uid()) } else { format!("writable by other users (mode {:o})", meta.mode() & 0o777) }
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(_dir: &Path) -> Result<(), String> {
    Err("the compiled-plugin cache is only used on Unix, where its folder's owner and permissions can be checked".into())
}

/// The 32-byte key in `path`: created (mode 0600, linked in place so that concurrent
/// runs agree on one) when missing, refused when it is not this user's alone.
#[cfg(unix)]
fn read_or_create_key(path: &Path) -> Result<[u8; 32], String> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    if !path.exists() {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let tmp = crate::util::temp_beside(path);
        let made = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).and_then(|mut f| f.write_all(&key).and_then(|_| f.sync_all()));
        // Another run may have linked its key first: then both use that one.
        let linked = made.and_then(|_| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        if let Err(e) = linked {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(format!("cannot create the cache key {}: {e}", path.display()));
            }
        }
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() || meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o077 != 0 {
        return Err(format!("the cache key {} is not a file readable by this user alone (chmod 600 it, or delete it)", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    bytes.try_into().map_err(|_| format!("the cache key {} is damaged (delete it)", path.display()))
}

#[cfg(not(unix))]
fn read_or_create_key(_path: &Path) -> Result<[u8; 32], String> {
    Err("no cache key outside Unix".into())
}

/// The file's identity: what changes when its content may have.
#[cfg(unix)]
pub fn identity(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!("{} {} {} {}.{} {}.{}", meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec()))
}

#[cfg(not(unix))]
pub fn identity(_meta: &std::fs::Metadata) -> Option<String> {
    None
}

#[cfg(unix)]
fn ctime_settled(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(i64::MAX);
    now - meta.ctime() > 2
}

#[cfg(not(unix))]
fn ctime_settled(_meta: &std::fs::Metadata) -> bool {
    false
}


#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_remembered_digest_holds_only_while_the_file_is_unchanged_and_signed() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::open(&dir.path().join("cache")).expect("cache");
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, b"first").expect("write");
        let meta = std::fs::metadata(&file).expect("meta");
        let id = identity(&meta).expect("id");
        // Just written: not settled, so not remembered (a rewrite in the same timestamp
        // tick could keep its identity).
        cache.remember_digest(&file, &id, &meta, &"a".repeat(64));
        assert_eq!(cache.known_digest(&file, &id), None);
        // A signed entry for the file as it is now is used...
        let entry = cache.digest_entry(&file).expect("entry");
        let signed = |digest: &str| format!("{id} {digest} {}\n", cache.digest_tag(&file, &id, digest));
        std::fs::write(&entry, signed(&"b".repeat(64))).expect("entry");
        assert_eq!(cache.known_digest(&file, &id), Some("b".repeat(64)));
        // ...an unsigned or wrongly signed one is not...
        std::fs::write(&entry, format!("{id} {} {}\n", "c".repeat(64), "0".repeat(64))).expect("entry");
        assert_eq!(cache.known_digest(&file, &id), None);
        std::fs::write(&entry, signed(&"b".repeat(64))).expect("entry");
        // ...nor is any once the file changes.
        std::fs::write(&file, b"second, longer").expect("rewrite");
        let changed = identity(&std::fs::metadata(&file).expect("meta")).expect("id");
        assert_ne!(changed, id);
        assert_eq!(cache.known_digest(&file, &changed), None);
        // A damaged entry is ignored.
        std::fs::write(&entry, "garbage").expect("entry");
        assert_eq!(cache.known_digest(&file, &id), None);
    }

    #[test]
    fn a_cache_folder_other_users_can_write_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let e = Cache::open(&shared).err().expect("a world-writable cache is refused");
        assert!(e.contains("writable by other users") && e.contains("compiled every time"), "{e}");
        // A subfolder counts too.
        let nested = dir.path().join("nested");
        Cache::open(&nested).expect("a fresh private cache");
        std::fs::set_permissions(nested.join("plugins"), std::fs::Permissions::from_mode(0o775)).expect("chmod");
        assert!(Cache::open(&nested).is_err());
        // A key others can read is refused.
        let fresh = dir.path().join("fresh");
        Cache::open(&fresh).expect("cache");
        std::fs::set_permissions(fresh.join(KEY_FILE), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(Cache::open(&fresh).err().expect("refused").contains("readable by this user alone"));
    }
}
