//! Cursor pagination: `?limit=N&cursor=C` in, `next_cursor` out.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::Deserialize;

use crate::Gateway;
use crate::problem::ApiError;

/// Cursor pagination parameters: `?limit=N&cursor=C`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size, 1 to 100; the service's default when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    pub cursor: Option<String>,
}

impl Page {
    /// The page size for a backend: 0 lets the service pick its default.
    pub fn size(&self) -> u32 {
        self.limit.unwrap_or(0)
    }

    /// The cursor for a backend: empty for the first page.
    pub fn cursor(&self) -> String {
        self.cursor.clone().unwrap_or_default()
    }
}

/// A backend's next cursor for JSON: `null` on the last page rather than "".
pub fn next_cursor(wire: String) -> Option<String> {
    non_empty(wire)
}

/// A wire string that means "none" when empty, as JSON's absent field.
pub fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|text| !text.is_empty())
}

/// Refuses a page size outside 1 to 100; the backend's default when absent.
pub fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        Some(limit) if !(1..=100).contains(&limit) => Err(ApiError::invalid(
            "limit must be a whole number from 1 to 100",
        )),
        limit => Ok(limit.unwrap_or(0)),
    }
}

impl FromRequestParts<Arc<Gateway>> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Gateway>) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_page(query)
    }
}

fn serde_urlencoded_page(query: &str) -> Result<Page, ApiError> {
    let mut page = Page::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => {
                page.limit = Some(value.parse().map_err(|_| {
                    ApiError::invalid("limit must be a whole number from 1 to 100")
                })?);
            }
            "cursor" => {
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(ApiError::invalid("malformed cursor"));
                }
                page.cursor = Some(value.to_owned());
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "unknown query parameter {name:?}"
                )));
            }
        }
    }
    page_size(page.limit)?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters_parse() {
        let page = serde_urlencoded_page("limit=10&cursor=cus_abc").unwrap();
        assert_eq!(page.limit, Some(10));
        assert_eq!(page.cursor.as_deref(), Some("cus_abc"));
        assert!(serde_urlencoded_page("").unwrap().limit.is_none());
    }

    #[test]
    fn bad_page_parameters_are_refused() {
        for query in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=a%27b",
            "sort=name",
            "limit=-1",
        ] {
            assert!(serde_urlencoded_page(query).is_err(), "{query}");
        }
    }
}
