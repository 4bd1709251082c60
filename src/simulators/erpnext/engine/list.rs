//! Reading: one document as `GET /api/resource/<doctype>/<name>` answers it, and lists with
//! every filter form, projection and page the API offers, refusing the columns a query may not
//! name as Frappe does.

use std::collections::HashSet;

use serde_json::Value;

use super::storage::Stored;
use super::{Site, STANDARD_FIELDS};
use crate::simulators::erpnext::doctypes;
use crate::simulators::erpnext::error::SiteError;
use crate::simulators::erpnext::query::{self, Condition, ListRequest};
use crate::simulators::erpnext::values::Doc;

fn data_error(field: &str) -> SiteError {
    SiteError::thrown(
        417,
        "DataError",
        format!("Field not permitted in query: {field}"),
    )
}

impl Site {
    /// A document as `GET /api/resource/<doctype>/<name>` answers it.
    pub fn get(&self, doctype: &str, name: &str) -> Result<Doc, SiteError> {
        self.require_doctype(doctype)?;
        self.stored(doctype, name)
            .map(|doc| self.presented(doctype, doc))
            .ok_or_else(|| SiteError::not_found(format!("{doctype} {name} not found")))
    }

    /// A document as the API shows it (its rules hide what Frappe never sends back).
    pub(super) fn presented(&self, doctype: &str, doc: Doc) -> Doc {
        doctypes::rules(doctype).present(doc)
    }

    /// Columns a query may name on `doctype`.
    pub(crate) fn known_fields(&self, doctype: &str) -> HashSet<String> {
        let mut fields: HashSet<String> = STANDARD_FIELDS
            .iter()
            .map(|field| field.to_string())
            .collect();
        if let Some(template) = self.templates.get(doctype) {
            fields.extend(template.keys().cloned());
        }
        // The doctype's real columns (from the ERPNext sources), documents stored or not.
        fields.extend(
            crate::simulators::erpnext::meta::fields(doctype)
                .iter()
                .map(|field| field.fieldname.clone()),
        );
        for (fieldname, _) in doctypes::rules(doctype).child_tables() {
            fields.insert(fieldname.to_string());
        }
        fields.extend(
            self.custom_fields(doctype)
                .iter()
                .map(|f| f.fieldname.clone()),
        );
        if let Some(table) = self.tables.get(doctype) {
            if table.seeded {
                for stored in table.docs.values() {
                    fields.extend(stored.sparse().keys().cloned());
                }
            }
        }
        fields.remove("doctype");
        fields
    }

    fn check_condition_fields(
        &self,
        doctype: &str,
        conditions: &[Condition],
    ) -> Result<(), SiteError> {
        let known = self.known_fields(doctype);
        for condition in conditions {
            let allowed = match &condition.child_doctype {
                None => known.contains(&condition.field),
                Some(child) => self.child_fields(child).contains(&condition.field),
            };
            if !allowed {
                return Err(data_error(&condition.field));
            }
        }
        Ok(())
    }

    fn child_fields(&self, child_doctype: &str) -> HashSet<String> {
        let mut fields: HashSet<String> = STANDARD_FIELDS
            .iter()
            .chain(["parent", "parentfield", "parenttype"].iter())
            .map(|field| field.to_string())
            .collect();
        // The child doctype's real columns (from the ERPNext sources), rows stored or not.
        fields.extend(
            crate::simulators::erpnext::meta::fields(child_doctype)
                .iter()
                .map(|field| field.fieldname.clone()),
        );
        match self.templates.get(child_doctype) {
            Some(template) => fields.extend(template.keys().cloned()),
            None => {
                // Child doctypes without a template: accept what their rows carry.
                for table in self.tables.values() {
                    for stored in table.docs.values().take(200) {
                        let doc = stored.sparse();
                        for row in query::child_rows(&doc, child_doctype) {
                            fields.extend(row.keys().cloned());
                        }
                    }
                }
            }
        }
        fields.extend(
            self.custom_fields(child_doctype)
                .iter()
                .map(|f| f.fieldname.clone()),
        );
        fields
    }

    /// `GET /api/resource/<doctype>` and `frappe.client.get_list`.
    pub fn list(&self, doctype: &str, request: &ListRequest) -> Result<Vec<Value>, SiteError> {
        self.require_doctype(doctype)?;
        let known = self.known_fields(doctype);
        let fields: Vec<(Option<String>, String)> = if request.fields.is_empty() {
            vec![(None, "name".to_string())]
        } else {
            request
                .fields
                .iter()
                .map(|field| {
                    let (table, column) = query::split_field(field);
                    match table {
                        Some(table) if table == doctype => (None, column),
                        other => (other, column),
                    }
                })
                .collect()
        };
        for (child, column) in &fields {
            if column == "*" {
                continue;
            }
            let allowed = match child {
                None => known.contains(column),
                Some(child) => self.child_fields(child).contains(column),
            };
            if !allowed {
                return Err(data_error(column));
            }
        }
        self.check_condition_fields(doctype, &request.filters)?;
        self.check_condition_fields(doctype, &request.or_filters)?;
        let Some(table) = self.tables.get(doctype) else {
            return Ok(Vec::new());
        };

        // Rows name their child doctype only once restored from the parent.
        let child_conditions = request
            .filters
            .iter()
            .chain(&request.or_filters)
            .any(|condition| condition.child_doctype.is_some());
        if child_conditions {
            if let Some(column) = request
                .order_by
                .as_deref()
                .and_then(|order_by| query::ambiguous_order_column(order_by, STANDARD_FIELDS))
            {
                let mut failure = SiteError::bare(
                    500,
                    "OperationalError",
                    Some(&format!(
                        "(1052, \"Column '{column}' in ORDER BY is ambiguous\")"
                    )),
                );
                failure.module = Some("pymysql.err");
                return Err(failure);
            }
        }
        // Polls filter and sort on a few fields (`modified`, `docstatus`, keys):
        // those are kept unpacked, so scanning 100,000 orders parses none of them.
        let order_keys = request
            .order_by
            .as_deref()
            .map(query::parse_order_by)
            .unwrap_or_default();
        let use_hot = !child_conditions
            && request
                .filters
                .iter()
                .chain(&request.or_filters)
                .map(|condition| &condition.field)
                .chain(order_keys.iter().map(|(field, _)| field))
                .all(|field| self.is_hot_field(doctype, field));
        let candidates: Vec<&Stored> = match self.indexed_candidate(doctype, &request.filters) {
            Some(found) => found
                .and_then(|name| table.docs.get(&name))
                .into_iter()
                .collect(),
            None => table.docs.values().collect(),
        };
        let filters: Vec<query::Prepared> =
            request.filters.iter().map(query::Prepared::new).collect();
        let or_filters: Vec<query::Prepared> = request
            .or_filters
            .iter()
            .map(query::Prepared::new)
            .collect();
        let wanted = |doc: &Doc| {
            filters.iter().all(|c| c.matches(doc))
                && (or_filters.is_empty() || or_filters.iter().any(|c| c.matches(doc)))
        };
        let mut matched: Vec<(&Stored, Doc)> = if use_hot {
            // Filtered in place; only the matches are copied.
            candidates
                .into_iter()
                .filter(|stored| wanted(&stored.hot))
                .map(|stored| (stored, stored.hot.clone()))
                .collect()
        } else {
            candidates
                .into_iter()
                .map(|stored| {
                    let view = if child_conditions {
                        self.full(doctype, stored)
                    } else {
                        stored.sparse()
                    };
                    (stored, view)
                })
                .filter(|(_, doc)| wanted(doc))
                .collect()
        };
        if !order_keys.is_empty() {
            matched.sort_by(|(a_stored, a), (b_stored, b)| {
                for (field, descending) in &order_keys {
                    let ordering = query::order(
                        a.get(field).unwrap_or(&Value::Null),
                        b.get(field).unwrap_or(&Value::Null),
                    );
                    let ordering = if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    };
                    if ordering != std::cmp::Ordering::Equal {
                        return ordering;
                    }
                }
                let tie = a_stored.sequence.cmp(&b_stored.sequence);
                if order_keys[0].1 {
                    tie.reverse()
                } else {
                    tie
                }
            });
        } else if table.seeded {
            matched.sort_by_key(|(stored, _)| stored.sequence);
        }
        let wildcard = fields.iter().any(|(_, column)| column == "*");
        // Child columns give one row per child row, and pages count those rows.
        let projects_children = fields.iter().any(|(child, _)| child.is_some());
        let selected: Vec<(&Stored, Doc)> = if projects_children {
            matched
        } else {
            let start = request.limit_start.min(matched.len());
            let rows = matched.into_iter().skip(start);
            if request.limit_page_length > 0 {
                rows.take(request.limit_page_length).collect()
            } else {
                rows.collect()
            }
        };
        // Columns of the parent only need its own defaults back, not every
        // child row restored (listing 100,000 orders' names and keys).
        let child_tables = doctypes::rules(doctype).child_tables();
        let needs_rows = wildcard
            || projects_children
            || fields.iter().any(|(_, column)| {
                child_tables
                    .iter()
                    .any(|(table_field, _)| table_field == column)
            });
        let mut rows_out = Vec::new();
        for (stored, _) in selected {
            let mut doc = if needs_rows {
                self.full(doctype, stored)
            } else {
                let mut doc = stored.sparse();
                self.expand(doctype, &mut doc);
                doc
            };
            if wildcard {
                doc.retain(|_, value| !value.is_array());
                rows_out.push(Value::Object(doc));
            } else {
                rows_out.extend(query::project(&doc, &fields));
            }
        }
        if !projects_children {
            return Ok(rows_out);
        }
        let start = request.limit_start.min(rows_out.len());
        let mut page: Vec<Value> = rows_out.split_off(start);
        if request.limit_page_length > 0 {
            page.truncate(request.limit_page_length);
        }
        Ok(page)
    }

    pub fn count(&self, doctype: &str, filters: &[Condition]) -> Result<usize, SiteError> {
        let request = ListRequest {
            fields: vec!["name".into()],
            filters: filters.to_vec(),
            ..ListRequest::default()
        };
        Ok(self.list(doctype, &request)?.len())
    }
}
