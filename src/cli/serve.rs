//! `woocommerce-sync serve`: runs the service until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{open_store, CliError};
use crate::app::{Service, ServiceOptions};
use crate::config::Config;
use crate::jobs::QueuePolicy;

pub(super) const ADMIN_PASSWORD_ENV: &str = "WOOCOMMERCE_SYNC_ADMIN_PASSWORD";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the web UI, webhooks, /healthz and /metrics.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Jobs run at once.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// How often every connection is polled for changed orders (the backstop
    /// for lost webhooks): `300`, `90s`, `5m`, `1h`; `0` turns polling off.
    #[arg(long, default_value = "5m", value_parser = parse_interval)]
    pub poll_interval: Duration,
    /// How long a claimed job stays reserved for the instance running it: `300`, `90s`, `5m`.
    /// A live instance renews it as it works, so this is how soon another instance sharing the
    /// database takes over the jobs of one that died.
    #[arg(long, default_value = "5m", value_parser = parse_lease)]
    pub job_lease: Duration,
    /// Mark the web UI's session cookie Secure (browsers then send it over HTTPS only). It is
    /// already when a proxy in front says `X-Forwarded-Proto: https`.
    #[arg(long, env = "WOOCOMMERCE_SYNC_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

/// `90`, `90s`, `5m`, `1h` → a duration.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(index) => text.split_at(index),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an interval; write 300, 90s, 5m or 1h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60,
        "h" => value * 3600,
        _ => {
            return Err(format!(
                "`{text}` is not an interval; write 300, 90s, 5m or 1h"
            ))
        }
    };
    Ok(Duration::from_secs(seconds))
}

/// A lease of at least a second: renewals come a third of a lease apart.
fn parse_lease(text: &str) -> Result<Duration, String> {
    let lease = parse_interval(text)?;
    if lease < Duration::from_secs(1) {
        return Err(format!(
            "`{text}` is too short for a job lease; use 1s or more"
        ));
    }
    Ok(lease)
}

pub async fn run(config: &Config, args: ServeArgs) -> Result<ExitCode, CliError> {
    let store = open_store(config).await?;
    let secret_key = config.secret_key()?;
    let from_environment = std::env::var(ADMIN_PASSWORD_ENV).ok();
    if let Some(generated) =
        crate::web::ensure_admin_password(&store, from_environment.as_deref()).await?
    {
        eprintln!(
            "The web UI's admin password is: {generated}\n\
             (shown this once; it is kept, hashed, in the database. Change it on the UI's Password page,\n\
             or set {ADMIN_PASSWORD_ENV} before `serve`.)"
        );
    }
    let options = ServiceOptions {
        workers: args.workers.max(1),
        poll_interval: (!args.poll_interval.is_zero()).then_some(args.poll_interval),
        secure_cookies: args.secure_cookies,
        queue: QueuePolicy {
            lease: args.job_lease,
            ..QueuePolicy::default()
        },
        ..ServiceOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| {
            CliError::Usage(format!(
                "cannot listen on {}: {error}; choose another --listen address",
                args.listen
            ))
        })?;
    let address = listener.local_addr().map_err(anyhow::Error::from)?;
    let service = Service::new(store, &secret_key, "", options);
    let (shutdown_sender, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing the jobs in flight");
        eprintln!("Shutting down; finishing the jobs in flight…");
        let _ = shutdown_sender.send(true);
    });
    eprintln!("woocommerce-sync is serving on http://{address}/ (webhooks under /webhooks/, health at /healthz, metrics at /metrics)");
    service.run(listener, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn wait_for_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn serve_parses_its_flags_with_defaults() {
        crate::cli::Cli::command().debug_assert();
        let cli = crate::cli::Cli::try_parse_from(["woocommerce-sync", "serve"]).unwrap();
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("not the serve command");
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.poll_interval, Duration::from_secs(300));
        assert_eq!(args.job_lease, Duration::from_secs(300));
        let cli = crate::cli::Cli::try_parse_from([
            "woocommerce-sync",
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--workers",
            "8",
            "--poll-interval",
            "90s",
        ])
        .unwrap();
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("not the serve command");
        };
        assert_eq!(
            (args.listen.port(), args.workers, args.poll_interval),
            (9000, 8, Duration::from_secs(90))
        );
    }

    #[test]
    fn reads_intervals_with_units() {
        assert_eq!(parse_interval("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_interval("5 minutes").is_err());
        assert!(parse_interval("m").is_err());
        assert_eq!(parse_lease("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_lease("0").unwrap_err().contains("1s or more"));
    }
}
