//! Cursor pagination for list calls.
//!
//! A page is "the next `size` rows after `after`, in id order". Ids are
//! UUIDv7 behind a fixed prefix, so id order is creation order, and a cursor
//! (the last id of the previous page) stays valid however many rows are
//! added meanwhile, unlike an offset. The page size is bounded so one call
//! cannot read a whole table.

use rampart_kit::ids::MalformedId;

use super::InvalidInput;

/// The page size when a client asks for none (sends 0).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Which page of a list to read: `size` rows (1 to [`MAX_PAGE_SIZE`]) after
/// the id `after`, or from the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<Id> {
    size: u32,
    after: Option<Id>,
}

impl<Id> PageRequest<Id> {
    /// Parses a request's `page_size` and `cursor`; `parse_id` reads the
    /// cursor as the id type of the list.
    pub fn parse(
        page_size: u32,
        cursor: &str,
        parse_id: impl FnOnce(&str) -> Result<Id, MalformedId>,
    ) -> Result<Self, InvalidInput> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(InvalidInput::new("page_size", "must be at most 100"));
            }
            n => n,
        };
        let after = if cursor.is_empty() {
            None
        } else {
            Some(parse_id(cursor).map_err(|_| InvalidInput::new("cursor", "is malformed"))?)
        };
        Ok(Self { size, after })
    }

    /// How many rows the page holds at most.
    #[must_use]
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The id after which the page starts, if not at the beginning.
    #[must_use]
    pub fn after(&self) -> Option<&Id> {
        self.after.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use rampart_kit::ids::{CustomerId, TenantId};

    use super::*;

    #[test]
    fn zero_means_the_default_size() {
        let page = PageRequest::parse(0, "", TenantId::parse).unwrap();
        assert_eq!(page.size(), 50);
        assert_eq!(page.after(), None);
    }

    #[test]
    fn sizes_up_to_the_maximum_are_kept() {
        assert_eq!(
            PageRequest::parse(1, "", TenantId::parse).unwrap().size(),
            1
        );
        assert_eq!(
            PageRequest::parse(100, "", TenantId::parse).unwrap().size(),
            100
        );
    }

    #[test]
    fn larger_sizes_are_refused() {
        for size in [101, 1000, u32::MAX] {
            let error = PageRequest::parse(size, "", TenantId::parse).unwrap_err();
            assert_eq!(error.to_string(), "page_size must be at most 100");
        }
    }

    #[test]
    fn the_cursor_must_be_an_id_of_the_listed_kind() {
        let tenant = TenantId::generate();
        let page = PageRequest::parse(10, tenant.as_str(), TenantId::parse).unwrap();
        assert_eq!(page.after(), Some(&tenant));
        for bad in ["x", "ten_", CustomerId::generate().as_str()] {
            let error = PageRequest::parse(10, bad, TenantId::parse).unwrap_err();
            assert_eq!(error.to_string(), "cursor is malformed", "{bad:?}");
        }
    }
}
