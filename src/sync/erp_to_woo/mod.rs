//! ERPNext → WooCommerce: a Sales Order's progress (status, shipments with carrier and tracking,
//! invoices) written back to the WooCommerce order it came from. [`status`] decides, purely;
//! [`write_back`] reads both sides, writes and remembers. Sales Orders born in ERPNext become
//! shop orders: [`shop_order`] builds the order, purely; [`erpnext_orders`] creates it once.

/// The direction this folder's flows write in the sync log.
pub const DIRECTION: &str = "erpnext_to_woocommerce";

pub mod erpnext_orders;
pub mod shop_order;
pub mod status;
pub mod write_back;

/// Where a poll of ERPNext by `modified` resumes: at the oldest document whose failure may pass
/// (the next poll reads it again), else after the newest one handled. A permanent failure does
/// not hold the cursor forever; it is in the sync log.
#[derive(Debug, Default)]
pub(crate) struct PollCursor {
    newest: Option<String>,
    oldest_failed: Option<String>,
}

impl PollCursor {
    pub(crate) fn saw(&mut self, modified: Option<String>, failed_retryably: bool) {
        let Some(modified) = modified else {
            return;
        };
        let slot = if failed_retryably {
            &mut self.oldest_failed
        } else {
            &mut self.newest
        };
        let replace = slot.as_ref().map_or(true, |kept| {
            if failed_retryably {
                modified < *kept
            } else {
                modified > *kept
            }
        });
        if replace {
            *slot = Some(modified);
        }
    }

    pub(crate) fn resume_at(self) -> Option<String> {
        self.oldest_failed.or(self.newest)
    }
}

#[cfg(test)]
mod tests {
    use super::PollCursor;

    #[test]
    fn the_cursor_waits_at_the_oldest_retryable_failure_else_moves_to_the_newest() {
        let mut cursor = PollCursor::default();
        cursor.saw(Some("2026-12-01 10:00".into()), false);
        cursor.saw(Some("2026-12-03 10:00".into()), false);
        cursor.saw(None, true);
        assert_eq!(cursor.resume_at().as_deref(), Some("2026-12-03 10:00"));
        let mut cursor = PollCursor::default();
        cursor.saw(Some("2026-12-03 10:00".into()), false);
        cursor.saw(Some("2026-12-02 10:00".into()), true);
        cursor.saw(Some("2026-12-01 10:00".into()), true);
        assert_eq!(cursor.resume_at().as_deref(), Some("2026-12-01 10:00"));
    }
}
