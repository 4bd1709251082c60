//! Bootstrap configuration: what the service needs before it can open its
//! database. Everything else (connections, mappings) lives in the database.

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::secrets::SecretKey;

/// Where the service keeps its state. Set by flags or environment variables.
#[derive(Debug, Clone, clap::Args)]
pub struct BootstrapArgs {
    /// Database URL: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`.
    /// Default: a SQLite file `woocommerce-sync.db` in the data dir.
    #[arg(long = "database", env = "WOOCOMMERCE_SYNC_DATABASE", global = true)]
    pub database: Option<String>,

    /// Directory for the SQLite database and the secret key file
    /// [default: ./woocommerce-sync-data].
    #[arg(long = "data-dir", env = "WOOCOMMERCE_SYNC_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

const DEFAULT_DATA_DIR: &str = "./woocommerce-sync-data";

/// The effective configuration, resolved from [`BootstrapArgs`].
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Whether the user named a database or data dir (by flag or environment), rather than
    /// taking the default: `demo` then keeps its data there instead of in a throwaway dir.
    pub chosen: bool,
}

impl Config {
    pub fn resolve(args: &BootstrapArgs) -> anyhow::Result<Config> {
        let data_dir = args
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(Config {
            database_url: match &args.database {
                Some(url) => validate_database_url(url)?,
                None => Config::sqlite_in(&data_dir),
            },
            data_dir,
            chosen: args.database.is_some() || args.data_dir.is_some(),
        })
    }

    /// The configuration of a SQLite database and its key in `data_dir`.
    pub fn in_data_dir(data_dir: PathBuf) -> Config {
        Config {
            database_url: Config::sqlite_in(&data_dir),
            data_dir,
            chosen: true,
        }
    }

    fn sqlite_in(data_dir: &std::path::Path) -> String {
        format!(
            "sqlite://{}",
            data_dir.join("woocommerce-sync.db").display()
        )
    }

    /// Creates the data dir when it is missing (the SQLite file and key file live there).
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "cannot create the data dir {}; choose another with --data-dir",
                self.data_dir.display()
            )
        })
    }

    /// The key that encrypts connection secrets at rest.
    pub fn secret_key(&self) -> anyhow::Result<SecretKey> {
        SecretKey::load_or_create(&self.data_dir)
    }

    /// What `woocommerce-sync config` prints: no password, no key material.
    pub fn describe(&self) -> ConfigReport {
        ConfigReport {
            database: mask_database_password(&self.database_url),
            data_dir: self.data_dir.clone(),
            secret_key: SecretKey::describe_source(&self.data_dir),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ConfigReport {
    pub database: String,
    pub data_dir: PathBuf,
    pub secret_key: String,
}

fn validate_database_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        return Ok(url.to_string());
    }
    anyhow::bail!(
        "--database `{}` is not a database URL we support; use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB",
        mask_database_password(url)
    )
}

/// Replaces the password in `postgres://user:password@host/db` with `***`.
pub fn mask_database_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_database_password() {
        assert_eq!(
            mask_database_password("postgres://sync:hunter2@localhost/sync"),
            "postgres://sync:***@localhost/sync"
        );
        assert_eq!(mask_database_password("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn rejects_an_unknown_database_scheme_with_advice() {
        let args = BootstrapArgs {
            database: Some("mysql://root:pw@db/sync".into()),
            data_dir: Some("d".into()),
        };
        let error = Config::resolve(&args).unwrap_err().to_string();
        assert!(
            error.contains("use sqlite://PATH or postgres://"),
            "{error}"
        );
        assert!(!error.contains("pw@"), "{error}");
    }

    #[test]
    fn defaults_to_sqlite_in_the_data_dir() {
        let args = BootstrapArgs {
            database: None,
            data_dir: Some("/tmp/wcs".into()),
        };
        let config = Config::resolve(&args).unwrap();
        assert_eq!(config.database_url, "sqlite:///tmp/wcs/woocommerce-sync.db");
        assert!(config.chosen);
        let config = Config::resolve(&BootstrapArgs {
            database: None,
            data_dir: None,
        })
        .unwrap();
        assert_eq!(
            (config.database_url.as_str(), config.chosen),
            (
                "sqlite://./woocommerce-sync-data/woocommerce-sync.db",
                false
            )
        );
    }
}
