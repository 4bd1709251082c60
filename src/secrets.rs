//! Secrets at rest: connection credentials are encrypted with XChaCha20-Poly1305
//! under a key kept outside the database (a 0600 key file in the data dir, or
//! `WOOCOMMERCE_SYNC_SECRET_KEY`), so a copied database file reveals nothing.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const KEY_ENV: &str = "WOOCOMMERCE_SYNC_SECRET_KEY";
const KEY_FILE: &str = "secret.key";
const SEALED_PREFIX: &str = "xchacha20poly1305:";

/// The 32-byte key and where it came from (so a wrong key can be named). Its Debug output
/// never shows the bytes.
#[derive(Clone)]
pub struct SecretKey {
    bytes: [u8; 32],
    source: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// The key from the environment, else from the data dir's key file, which is
    /// created (mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<SecretKey> {
        if let Ok(text) = std::env::var(KEY_ENV) {
            return SecretKey::from_base64(&text)
                .map(|key| key.read_from(format!("the key in {KEY_ENV}")))
                .with_context(|| format!("{KEY_ENV} must be 32 bytes in base64 (make one with `openssl rand -base64 32`)"));
        }
        let path = data_dir.join(KEY_FILE);
        let source = format!("the key file {}", path.display());
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
            return SecretKey::from_base64(&text)
                .map(|key| key.read_from(source))
                .with_context(|| {
                    format!(
                        "the secret key file {} is damaged: it must hold 32 bytes in base64",
                        path.display()
                    )
                });
        }
        let key = SecretKey {
            bytes: XChaCha20Poly1305::generate_key(&mut OsRng).into(),
            source,
        };
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
        write_private_file(&path, &BASE64.encode(key.bytes))?;
        Ok(key)
    }

    fn read_from(self, source: String) -> SecretKey {
        SecretKey { source, ..self }
    }

    pub fn from_base64(text: &str) -> anyhow::Result<SecretKey> {
        let bytes = BASE64.decode(text.trim()).context("not valid base64")?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| anyhow::anyhow!("{} bytes instead of 32", bytes.len()))?;
        Ok(SecretKey {
            bytes: array,
            source: "the key given".into(),
        })
    }

    /// Where the key comes from, for `config`: never the key itself.
    pub fn describe_source(data_dir: &Path) -> String {
        if std::env::var_os(KEY_ENV).is_some() {
            format!("from {KEY_ENV} (hidden)")
        } else {
            format!("file {} (hidden)", data_dir.join(KEY_FILE).display())
        }
    }

    /// A separate 32-byte key for one `purpose` (e.g. signing session cookies),
    /// so the sealing key itself is used for nothing else.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.bytes)
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Encrypts `plain` with a fresh random nonce.
    pub fn seal(&self, plain: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.bytes).into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("encryption with a valid key cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", BASE64.encode(bytes))
    }

    /// Decrypts what [`seal`](Self::seal) produced.
    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .context("the stored secrets are not in the expected sealed form")?;
        let bytes = BASE64
            .decode(encoded)
            .context("the stored secrets are not valid base64")?;
        if bytes.len() < 24 {
            anyhow::bail!("the stored secrets are truncated");
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.bytes).into());
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| {
                anyhow::anyhow!(
                    "its secrets were written with another secret key than {}; use the data dir \
                     (or {KEY_ENV}) whose key wrote this database",
                    self.source
                )
            })?;
        String::from_utf8(plain).context("the decrypted secrets are not UTF-8")
    }
}

/// A new webhook secret: 32 random bytes, URL-safe base64 (43 characters), strong enough that
/// no one can forge a signature, short enough to paste into WooCommerce's webhook form.
pub fn new_webhook_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates a new file only its owner can read (0600): the key file, a SQLite database.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = create_private_file(path)
        .with_context(|| format!("cannot create the secret key file {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("cannot write the secret key file {}", path.display()))
}

/// Shows the start of an identifier-like credential (a consumer key, an API
/// key) so a person can tell two apart, and hides the rest.
pub fn mask(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let visible: String = value.chars().take(4).collect();
    if value.chars().count() <= 8 {
        return "***".to_string();
    }
    format!("{visible}***")
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SecretKey {
        fn fixed(byte: u8) -> SecretKey {
            SecretKey {
                bytes: [byte; 32],
                source: format!("test key {byte}"),
            }
        }
    }

    #[test]
    fn seals_and_opens_and_never_shows_the_plain_text() {
        let key = SecretKey::fixed(7);
        let sealed = key.seal("cs_very_secret");
        assert!(!sealed.contains("cs_very_secret"));
        assert_ne!(
            sealed,
            key.seal("cs_very_secret"),
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed).unwrap(), "cs_very_secret");
    }

    #[test]
    fn another_key_cannot_open_and_says_why() {
        let sealed = SecretKey::fixed(7).seal("x");
        let error = SecretKey::fixed(8).open(&sealed).unwrap_err().to_string();
        assert!(
            error.contains("another secret key than test key 8"),
            "{error}"
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load_or_create(dir.path()).unwrap();
        let second = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.bytes, second.bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{first:?}"), "SecretKey(***)");
    }

    #[test]
    fn masks_identifiers() {
        assert_eq!(
            mask("ck_4b5fbd6e7a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"),
            "ck_4***"
        );
        assert_eq!(mask("short"), "***");
        assert_eq!(mask(""), "");
    }
}
