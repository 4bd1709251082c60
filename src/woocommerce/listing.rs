//! Reading a listing that may change while it is read, without losing an order.
//!
//! WooCommerce pages with `LIMIT`/`OFFSET`. Over a sort key with ties (`modified`, `date`) MariaDB
//! orders the tied rows differently from one page to the next, so a page boundary inside a tie
//! repeats some orders and never shows others (seen on a real store: 3 of 109 orders twice, 3
//! never). And an order that leaves the listing while it is read shifts every later offset by one.
//!
//! So a poll lists a fixed window (`modified_after` .. `modified_before`) ordered by `id`, which is
//! unique, and checks each pass with a [`PassCheck`]: every page reported the same `X-WP-Total`,
//! the pages' id ranges follow one another, and their sizes add up to that total. A pass that
//! fails the check is read again; an order inside a range an earlier pass read was seen then.

/// What the pages of one pass over a listing held, page by page (a few numbers per page, not the orders).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassCheck {
    pages: Vec<PageSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageSpan {
    number: u32,
    /// `X-WP-Total` as this page reported it.
    total: u64,
    count: u64,
    /// Lowest and highest id on the page (`None` for an empty page).
    ids: Option<(u64, u64)>,
    ascending: bool,
}

impl PassCheck {
    /// Records page `number` (1-based), its `X-WP-Total` and its ids in the order they came.
    pub fn record(&mut self, number: u32, total: u64, ids: impl IntoIterator<Item = u64>) {
        let mut span = PageSpan {
            number,
            total,
            count: 0,
            ids: None,
            ascending: true,
        };
        let mut previous: Option<u64> = None;
        for id in ids {
            span.count += 1;
            if previous.is_some_and(|previous| previous >= id) {
                span.ascending = false;
            }
            previous = Some(id);
            span.ids = Some(match span.ids {
                None => (id, id),
                Some((low, high)) => (low.min(id), high.max(id)),
            });
        }
        self.pages.push(span);
    }

    /// How many orders the pass read, when its pages add up to every order of the listing exactly
    /// once; otherwise why they do not.
    pub fn verdict(&self) -> Result<u64, String> {
        let mut pages = self.pages.clone();
        pages.sort_by_key(|page| page.number);
        let Some(first) = pages.first() else {
            return Err("no page was read".into());
        };
        let total = first.total;
        let mut read = 0;
        let mut last_id: Option<u64> = None;
        for (index, page) in pages.iter().enumerate() {
            if page.number as usize != index + 1 {
                return Err(format!("page {} was not read", index + 1));
            }
            if page.total != total {
                return Err(format!(
                    "the listing changed while it was read (page 1 counted {total} orders, page {} counted {})",
                    page.number, page.total
                ));
            }
            if !page.ascending {
                return Err(format!("page {} is not in id order", page.number));
            }
            if let Some((low, high)) = page.ids {
                if last_id.is_some_and(|last| last >= low) {
                    return Err(format!(
                        "page {} repeats orders of the page before it",
                        page.number
                    ));
                }
                last_id = Some(high);
            }
            read += page.count;
        }
        if read != total {
            return Err(format!(
                "the pages held {read} orders but the listing counted {total}"
            ));
        }
        Ok(total)
    }

    /// Whether this pass saw `id` if the listing held it: it lies within the id range of a page.
    pub fn covers(&self, id: u64) -> bool {
        self.pages
            .iter()
            .filter_map(|page| page.ids)
            .any(|(low, high)| (low..=high).contains(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_that_follow_one_another_and_add_up_are_complete() {
        let mut check = PassCheck::default();
        check.record(2, 5, [40, 41]);
        check.record(1, 5, [3, 7, 20]);
        check.record(3, 5, []);
        assert_eq!(check.verdict(), Ok(5));
        assert!(check.covers(7) && check.covers(10) && check.covers(41));
        assert!(!check.covers(30) && !check.covers(2));
    }

    #[test]
    fn a_shrunken_listing_a_repeat_a_gap_or_a_missing_page_is_not_complete() {
        let mut shrunk = PassCheck::default();
        shrunk.record(1, 4, [1, 2]);
        shrunk.record(2, 3, [4]);
        assert!(shrunk
            .verdict()
            .unwrap_err()
            .contains("changed while it was read"));

        let mut repeated = PassCheck::default();
        repeated.record(1, 4, [1, 2]);
        repeated.record(2, 4, [2, 3]);
        assert!(repeated.verdict().unwrap_err().contains("repeats"));

        let mut short = PassCheck::default();
        short.record(1, 5, [1, 2]);
        short.record(2, 5, [3, 4]);
        assert!(short.verdict().unwrap_err().contains("held 4 orders"));

        let mut missing = PassCheck::default();
        missing.record(1, 4, [1, 2]);
        missing.record(3, 4, [5, 6]);
        assert!(missing
            .verdict()
            .unwrap_err()
            .contains("page 2 was not read"));

        let mut unordered = PassCheck::default();
        unordered.record(1, 2, [9, 3]);
        assert!(unordered.verdict().unwrap_err().contains("not in id order"));
    }
}
