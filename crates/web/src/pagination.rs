//! Pagination of lists: `?page=&per_page=` in, `{"items": [...], "page", "per_page", "total"}`
//! out. Pages count from 1; `per_page` is 50 unless asked, at most 500.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Items per page when the request does not say.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// The most items one page may hold.
pub const MAX_PER_PAGE: u32 = 500;

/// Which page of a list to answer.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page, in the list's order.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: u32,
    /// The page size asked for (the last page may hold fewer items).
    pub per_page: u32,
    /// How many items the whole list holds.
    pub total: u64,
}

impl PageQuery {
    /// Cuts the page out of `all`, converting each item kept. Out-of-range parameters are
    /// refused rather than silently changed, so a client never misreads what it got.
    pub fn paginate<S, T>(
        self,
        all: Vec<S>,
        convert: impl FnMut(S) -> T,
    ) -> Result<Page<T>, ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(ApiError::invalid("page numbers start at 1"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::invalid(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        let total = all.len() as u64;
        let skip = (u64::from(page) - 1).saturating_mul(u64::from(per_page));
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let items = all
            .into_iter()
            .skip(skip)
            .take(per_page as usize)
            .map(convert)
            .collect();
        Ok(Page {
            items,
            page,
            per_page,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: Option<u32>, per_page: Option<u32>) -> PageQuery {
        PageQuery { page, per_page }
    }

    #[test]
    fn defaults_to_the_first_fifty() {
        let page = query(None, None)
            .paginate((0..120).collect(), |n: i32| n)
            .unwrap();
        assert_eq!((page.page, page.per_page, page.total), (1, 50, 120));
        assert_eq!(page.items, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn the_last_page_holds_the_rest_and_beyond_it_is_empty() {
        let last = query(Some(3), Some(50))
            .paginate((0..120).collect(), |n: i32| n)
            .unwrap();
        assert_eq!(last.items, (100..120).collect::<Vec<_>>());
        let beyond = query(Some(4), Some(50))
            .paginate((0..120).collect(), |n: i32| n)
            .unwrap();
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total, 120);
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        for (page, per_page) in [(Some(0), None), (None, Some(0)), (None, Some(501))] {
            let refused = query(page, per_page).paginate(vec![1], |n: i32| n);
            assert_eq!(
                refused.map(|p| p.items).map_err(|e| e.code()),
                Err("invalid"),
                "{page:?} {per_page:?}"
            );
        }
        let most = query(Some(u32::MAX), Some(MAX_PER_PAGE))
            .paginate(vec![1], |n: i32| n)
            .unwrap();
        assert!(most.items.is_empty());
    }
}
