//! `woocommerce-sync products link`, `sync stock` and `sync prices`: the catalogue from ERPNext
//! to the shop.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::sync::{context, progress_bar};
use super::{print_json, CliError};
use crate::store::Store;
use crate::sync::catalogue::flow::{describe_prices, CatalogueFlow, StockOptions};
use crate::sync::catalogue::links::LinkReport;
use crate::sync::context::ConnectionContext;

#[derive(Debug, Subcommand)]
pub enum ProductsCommand {
    /// Match the shop's products and variations with ERPNext Items by SKU (= item code), store
    /// the links, and report what matched, what did not, duplicate SKUs and non-stock items.
    Link(ProductsLinkArgs),
}

#[derive(Debug, Args)]
pub struct ProductsLinkArgs {
    #[arg(long)]
    pub connection: String,
    /// Report what would be linked, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SyncStockArgs {
    #[arg(long)]
    pub connection: String,
    /// Print the quantities that would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write every linked stock item's quantity, not only those that changed since the last
    /// push.
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SyncPricesArgs {
    #[arg(long)]
    pub connection: String,
    /// Print the prices that would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write every linked product's prices, not only those that changed since the last push.
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

/// Lines of each list shown in text; `--json` shows all.
const SHOWN: usize = 20;

pub async fn run_products(store: &Store, command: ProductsCommand) -> Result<ExitCode, CliError> {
    let ProductsCommand::Link(args) = command;
    let ctx = context(store, &args.connection, 1).await?;
    let report = CatalogueFlow::new(&ctx)
        .link_products(args.dry_run)
        .await
        .map_err(anyhow::Error::from)?;
    if args.json {
        print_json(&report)?;
    } else {
        print_link_report(&report, args.dry_run);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_link_report(report: &LinkReport, dry_run: bool) {
    println!(
        "{} {} products: {} non-stock; unmatched in the shop {}, in ERPNext {}; duplicate SKUs {}",
        if dry_run { "would link" } else { "linked" },
        report.matched.len(),
        report.non_stock_items.len(),
        report.unmatched_in_shop.len(),
        report.unmatched_in_erpnext.len(),
        report.duplicate_skus.len()
    );
    let more = |count: usize| {
        if count > SHOWN {
            println!("  … and {} more (--json lists all)", count - SHOWN);
        }
    };
    if !report.duplicate_skus.is_empty() {
        println!("SKUs on more than one shop product (linked to none; give each its own SKU):");
        for duplicate in report.duplicate_skus.iter().take(SHOWN) {
            let ids: Vec<String> = duplicate
                .products
                .iter()
                .map(|product| shop_name(product.product_id, product.variation_id))
                .collect();
            println!("  {}: {}", duplicate.sku, ids.join(", "));
        }
        more(report.duplicate_skus.len());
    }
    if !report.unmatched_in_shop.is_empty() {
        println!("In the shop without an ERPNext Item of their SKU:");
        for product in report.unmatched_in_shop.iter().take(SHOWN) {
            let sku = if product.sku.trim().is_empty() {
                "no SKU".to_string()
            } else {
                format!("SKU {}", product.sku)
            };
            println!(
                "  {} {} ({sku})",
                shop_name(product.product_id, product.variation_id),
                product.name
            );
        }
        more(report.unmatched_in_shop.len());
    }
    if !report.unmatched_in_erpnext.is_empty() {
        println!("ERPNext Items no shop product sells:");
        for code in report.unmatched_in_erpnext.iter().take(SHOWN) {
            println!("  {code}");
        }
        more(report.unmatched_in_erpnext.len());
    }
    if !report.non_stock_items.is_empty() {
        println!("Linked Items ERPNext keeps no stock of (no stock is pushed for them):");
        for code in report.non_stock_items.iter().take(SHOWN) {
            println!("  {code}");
        }
        more(report.non_stock_items.len());
    }
}

fn shop_name(product_id: u64, variation_id: u64) -> String {
    if variation_id == 0 {
        format!("product {product_id}")
    } else {
        format!("variation {variation_id} of product {product_id}")
    }
}

/// The connection's context, or bad input when it has no links to push to.
async fn linked_context(store: &Store, name: &str) -> Result<ConnectionContext, CliError> {
    let ctx = context(store, name, 1).await?;
    if store.product_links(ctx.connection_id).await?.is_empty() {
        return Err(CliError::Usage(format!(
            "connection `{name}` has no product links yet; link the shop's products to ERPNext Items first (products link)"
        )));
    }
    Ok(ctx)
}

fn product_bar(quiet: bool) -> ProgressBar {
    let bar = progress_bar(quiet);
    bar.set_style(
        ProgressStyle::with_template("{spinner} products {pos}/{len} [{bar:40}] eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// `sync prices`: exit codes as `sync stock`.
pub async fn run_sync_prices(store: &Store, args: SyncPricesArgs) -> Result<ExitCode, CliError> {
    let ctx = linked_context(store, &args.connection).await?;
    let bar = product_bar(args.json);
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = CatalogueFlow::new(&ctx)
        .push_prices(
            StockOptions {
                dry_run: args.dry_run,
                all: args.all,
            },
            &on_progress,
        )
        .await
        .map_err(anyhow::Error::from)?;
    bar.finish_and_clear();
    if args.json {
        print_json(&summary)?;
    } else {
        if args.dry_run {
            for write in &summary.writes {
                println!(
                    "  {} ({}): {}",
                    write.item_code,
                    shop_name(write.product_id, write.variation_id),
                    describe_prices(&write.prices)
                );
            }
        }
        println!(
            "linked products {}: {} {}, unchanged or without a price {}, failed {} ({} batch requests)",
            summary.linked,
            if args.dry_run { "would write" } else { "written" },
            if args.dry_run {
                summary.to_write
            } else {
                summary.written
            },
            summary.linked.saturating_sub(summary.to_write),
            summary.failed,
            summary.write_calls
        );
        for (code, reason) in &summary.failures {
            println!("  {code}: {reason}");
        }
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// `sync stock`: exit 0 when every quantity was written, 3 when the shop refused some (logged;
/// the next push tries them again), 1 when a side could not be read.
pub async fn run_sync_stock(store: &Store, args: SyncStockArgs) -> Result<ExitCode, CliError> {
    let ctx = linked_context(store, &args.connection).await?;
    let bar = product_bar(args.json);
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let summary = CatalogueFlow::new(&ctx)
        .push_stock(
            StockOptions {
                dry_run: args.dry_run,
                all: args.all,
            },
            &on_progress,
        )
        .await
        .map_err(anyhow::Error::from)?;
    bar.finish_and_clear();
    if args.json {
        print_json(&summary)?;
    } else {
        if args.dry_run {
            for write in &summary.writes {
                println!(
                    "  {} ({}): {} → {}",
                    write.item_code,
                    shop_name(write.product_id, write.variation_id),
                    write
                        .previous
                        .map_or("never pushed".to_string(), |quantity| quantity.to_string()),
                    write.quantity
                );
            }
        }
        println!(
            "stock items {}: {} {}, unchanged {}, failed {} ({} batch requests)",
            summary.stock_items,
            if args.dry_run {
                "would write"
            } else {
                "written"
            },
            if args.dry_run {
                summary.to_write
            } else {
                summary.written
            },
            summary.stock_items.saturating_sub(summary.to_write),
            summary.failed,
            summary.write_calls
        );
        for (code, reason) in &summary.failures {
            println!("  {code}: {reason}");
        }
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
