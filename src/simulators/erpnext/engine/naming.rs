//! Names: naming series (`SAL-ORD-.YYYY.-` → `SAL-ORD-2026-00001`, taken only once an insert
//! passes, rolled back when the latest is deleted), amendments of cancelled documents
//! (`-1`, `-2`), and the `-1` suffix of names that clash.

use chrono::Datelike;

use super::Site;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::values::{int_of, text_of, Doc};

impl Site {
    /// Naming series `SAL-ORD-.YYYY.-` → `SAL-ORD-2026-00001`.
    pub(super) fn next_in_series(&mut self, series: &str) -> String {
        let year = self.now().year();
        let prefix = series.replace(".YYYY.", &year.to_string()).replace('.', "");
        let counter = self.series.entry(prefix.clone()).or_insert(0);
        *counter += 1;
        format!("{prefix}{:05}", *counter)
    }

    /// The next name of a series, without taking it.
    pub(crate) fn peek_series(&self, series: &str) -> String {
        let year = self.calendar_today().year();
        let prefix = series.replace(".YYYY.", &year.to_string()).replace('.', "");
        let next = self.series.get(&prefix).copied().unwrap_or(0) + 1;
        format!("{prefix}{next:05}")
    }

    /// Deleting the latest document of a series rolls the series back
    /// (recorded: `SAL-ORD-2026-00004` was issued twice).
    pub(super) fn release_series_number(&mut self, name: &str) {
        if let Some((prefix, number)) = name.rsplit_once('-') {
            let prefix = format!("{prefix}-");
            if let (Some(current), Ok(number)) =
                (self.series.get_mut(&prefix), number.parse::<u64>())
            {
                if *current == number {
                    *current -= 1;
                }
            }
        }
    }

    /// The name a series-named document gets: an amendment's, or the series' next number
    /// (kept in `series` to be taken once the insert passes). Select options, lengths and
    /// unique keys are checked here, where the real site has already named the document.
    pub(super) fn name_from_series(
        &mut self,
        doctype: &str,
        doc: &mut Doc,
        naming: &str,
        series: &mut Option<String>,
    ) -> Result<String, SiteError> {
        let amended = self.amended_name(doctype, doc)?;
        let name = match &amended {
            Some(name) => name.clone(),
            None => self.peek_series(naming),
        };
        self.check_field_values(doctype, &name, doc)?;
        self.check_unique(doctype, None, doc)?;
        if amended.is_none() {
            *series = Some(naming.to_string());
        }
        Ok(name)
    }

    /// An amendment of a cancelled document is named after it, as Frappe does:
    /// `SAL-ORD-2026-00001` → `SAL-ORD-2026-00001-1` → `SAL-ORD-2026-00001-2`.
    fn amended_name(&self, doctype: &str, doc: &Doc) -> Result<Option<String>, SiteError> {
        let amended_from = text_of(doc, "amended_from");
        if amended_from.is_empty() {
            return Ok(None);
        }
        let Some(original) = self.stored(doctype, &amended_from) else {
            return Err(SiteError::link_validation(doctype, &amended_from));
        };
        if int_of(&original, "docstatus") != 2 {
            return Err(SiteError::validation(format!(
                "{doctype} {amended_from} must be cancelled before it can be amended"
            )));
        }
        let (prefix, number) = if text_of(&original, "amended_from").is_empty() {
            (amended_from.clone(), 1)
        } else {
            match amended_from.rsplit_once('-') {
                Some((prefix, number)) => {
                    (prefix.to_string(), number.parse::<u64>().unwrap_or(0) + 1)
                }
                None => (amended_from.clone(), 1),
            }
        };
        let name = format!("{prefix}-{number}");
        if self.exists(doctype, &name) {
            return Err(SiteError::duplicate_entry(doctype, &name));
        }
        Ok(Some(name))
    }

    /// `base`, or `base-1`, `base-2`… when a document already has it.
    pub(crate) fn unique_name(&self, doctype: &str, base: &str) -> String {
        if !self.exists(doctype, base) {
            return base.to_string();
        }
        let mut counter = 1;
        while self.exists(doctype, &format!("{base}-{counter}")) {
            counter += 1;
        }
        format!("{base}-{counter}")
    }
}
