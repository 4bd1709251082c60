//! ISO 3166-1 alpha-2 codes (what WooCommerce sends) to the Country names
//! ERPNext links by (`Address.country` is a Link to Country, named in full:
//! sending `US` gives "Could not find Country: US").

/// The ERPNext Country name for an ISO-2 code, e.g. `"US"` → `"United States"`.
pub fn name_for_code(code: &str) -> Option<&'static str> {
    let code = code.trim();
    COUNTRIES
        .iter()
        .find(|(iso, _)| iso.eq_ignore_ascii_case(code))
        .map(|(_, name)| *name)
}

/// Every (ISO-2 code, ERPNext Country name) pair this table knows, in a stable order.
pub fn all() -> &'static [(&'static str, &'static str)] {
    COUNTRIES
}

const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("GB", "United Kingdom"),
    ("CA", "Canada"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("IE", "Ireland"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("LU", "Luxembourg"),
    ("CH", "Switzerland"),
    ("AT", "Austria"),
    ("IT", "Italy"),
    ("ES", "Spain"),
    ("PT", "Portugal"),
    ("SE", "Sweden"),
    ("NO", "Norway"),
    ("DK", "Denmark"),
    ("FI", "Finland"),
    ("IS", "Iceland"),
    ("PL", "Poland"),
    ("CZ", "Czech Republic"),
    ("SK", "Slovakia"),
    ("HU", "Hungary"),
    ("RO", "Romania"),
    ("BG", "Bulgaria"),
    ("GR", "Greece"),
    ("HR", "Croatia"),
    ("SI", "Slovenia"),
    ("EE", "Estonia"),
    ("LV", "Latvia"),
    ("LT", "Lithuania"),
    ("MT", "Malta"),
    ("CY", "Cyprus"),
    ("TR", "Turkey"),
    ("RU", "Russian Federation"),
    ("UA", "Ukraine"),
    ("IL", "Israel"),
    ("AE", "United Arab Emirates"),
    ("SA", "Saudi Arabia"),
    ("QA", "Qatar"),
    ("EG", "Egypt"),
    ("ZA", "South Africa"),
    ("NG", "Nigeria"),
    ("KE", "Kenya"),
    ("MA", "Morocco"),
    ("IN", "India"),
    ("PK", "Pakistan"),
    ("BD", "Bangladesh"),
    ("LK", "Sri Lanka"),
    ("CN", "China"),
    ("HK", "Hong Kong"),
    ("TW", "Taiwan"),
    ("JP", "Japan"),
    ("KR", "Korea, Republic of"),
    ("SG", "Singapore"),
    ("MY", "Malaysia"),
    ("TH", "Thailand"),
    ("ID", "Indonesia"),
    ("PH", "Philippines"),
    ("VN", "Viet Nam"),
    ("MX", "Mexico"),
    ("BR", "Brazil"),
    ("AR", "Argentina"),
    ("CL", "Chile"),
    ("CO", "Colombia"),
    ("PE", "Peru"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_common_codes_to_erpnext_names() {
        assert_eq!(name_for_code("US"), Some("United States"));
        assert_eq!(name_for_code("gb"), Some("United Kingdom"));
        assert_eq!(name_for_code("DE"), Some("Germany"));
        assert_eq!(name_for_code("XX"), None);
    }

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<_> = all().iter().map(|(code, _)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all().len());
    }
}
