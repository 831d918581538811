//! Pagination once: "fetch one page for this cursor" into a lazy stream.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;

use futures::stream::{self, StreamExt};

use crate::error::{Error, Result};
use crate::provider::Pages;

/// One page as a provider fetched it: the items and the cursor of the next
/// page, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// The items on this page (may be empty: an empty page with a next cursor
    /// is followed, not taken as the end).
    pub items: Vec<T>,
    /// The cursor for the next page; `None` on the last page.
    pub next: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page with the given items and next cursor.
    pub fn new(items: Vec<T>, next: Option<C>) -> Self {
        Self { items, next }
    }
}

/// How many empty pages in a row a stream follows before it decides the
/// server is looping with fresh cursors and ends with an error. Real APIs
/// send an empty page now and then (Graph delta rounds, a filter that
/// matched nothing on one page), never hundreds in a row.
pub const MAX_EMPTY_PAGES_IN_A_ROW: usize = 100;

/// How many times in a row a stream accepts a page that repeats the one
/// before it (same length, same first and last item) under a new cursor,
/// before it ends with an error instead of collecting the same items forever.
pub const MAX_REPEATED_PAGES: usize = 10;

/// Turns `fetch(cursor) -> Page` into a lazy `'static` stream of pages.
///
/// The first call gets `first`. The stream ends after the page with no next
/// cursor, or after the first error. A next cursor that was already fetched
/// (a server that loops) ends the stream with an
/// [`crate::ErrorKind::InvalidResponse`] error instead of looping forever,
/// and so do more than [`MAX_EMPTY_PAGES_IN_A_ROW`] empty pages in a row
/// (a server handing out fresh cursors for nothing) and more than
/// [`MAX_REPEATED_PAGES`] repeats of the same page under fresh cursors.
/// `fetch` usually owns an `Arc` of the client.
pub fn paginate<T, C, F, Fut>(first: C, fetch: F) -> Pages<T>
where
    T: Clone + PartialEq + Send + 'static,
    C: Clone + Eq + Hash + Send + Sync + std::fmt::Debug + 'static,
    F: FnMut(C) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T, C>>> + Send + 'static,
{
    struct State<T, C, F> {
        next: Option<C>,
        seen: HashSet<C>,
        empty_in_a_row: usize,
        last_page: Option<(usize, T, T)>,
        repeats: usize,
        fetch: F,
    }
    let state = State {
        next: Some(first),
        seen: HashSet::new(),
        empty_in_a_row: 0,
        last_page: None,
        repeats: 0,
        fetch,
    };
    stream::unfold(state, |mut st| async move {
        let cursor = st.next.take()?;
        if !st.seen.insert(cursor.clone()) {
            let err = Error::invalid_response(format!(
                "the server's next-page cursor repeats an earlier page ({cursor:?}); \
                 stopping instead of looping"
            ));
            return Some((Err(err), st));
        }
        match (st.fetch)(cursor).await {
            Ok(page) => {
                st.empty_in_a_row = if page.items.is_empty() {
                    st.empty_in_a_row + 1
                } else {
                    0
                };
                if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
                    let signature = (page.items.len(), first.clone(), last.clone());
                    st.repeats = if st.last_page.as_ref() == Some(&signature) {
                        st.repeats + 1
                    } else {
                        0
                    };
                    st.last_page = Some(signature);
                }
                if st.repeats > MAX_REPEATED_PAGES && page.next.is_some() {
                    let err = Error::invalid_response(format!(
                        "the server sent the same page {} times in a row under new next-page \
                         cursors; stopping instead of collecting it forever",
                        st.repeats + 1
                    ));
                    return Some((Err(err), st));
                }
                if st.empty_in_a_row > MAX_EMPTY_PAGES_IN_A_ROW && page.next.is_some() {
                    let err = Error::invalid_response(format!(
                        "the server sent {} empty pages in a row, each with a new next-page \
                         cursor; stopping instead of following it forever",
                        st.empty_in_a_row
                    ));
                    return Some((Err(err), st));
                }
                st.next = page.next;
                Some((Ok(page.items), st))
            }
            Err(e) => Some((Err(e), st)),
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn follows_cursors_to_the_end() {
        let pages = paginate(0u32, |c| async move {
            Ok(Page::new(vec![c], if c < 3 { Some(c + 1) } else { None }))
        });
        let all: Vec<Vec<u32>> = pages.try_collect().await.unwrap();
        assert_eq!(all, vec![vec![0], vec![1], vec![2], vec![3]]);
    }

    #[tokio::test]
    async fn empty_page_in_the_middle_is_followed() {
        let pages = paginate(0u32, |c| async move {
            let items = if c == 1 { vec![] } else { vec![c] };
            Ok(Page::new(items, if c < 2 { Some(c + 1) } else { None }))
        });
        let all: Vec<u32> = pages.try_concat().await.unwrap();
        assert_eq!(all, vec![0, 2]);
    }

    #[tokio::test]
    async fn repeated_cursor_is_an_error_not_a_loop() {
        let pages = paginate("a".to_string(), |c| async move {
            let next = if c == "a" { "b" } else { "a" };
            Ok(Page::new(vec![1], Some(next.to_string())))
        });
        let err = pages.try_concat().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.message().contains("repeats"));
    }

    #[tokio::test]
    async fn endless_empty_pages_with_fresh_cursors_end_with_an_error() {
        let pages = paginate(0u64, |c| async move {
            Ok(Page::<u8, u64>::new(vec![], Some(c + 1)))
        });
        let err = pages.try_concat().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.message().contains("empty pages in a row"), "{err}");
    }

    #[tokio::test]
    async fn a_page_repeated_under_fresh_cursors_ends_with_an_error() {
        let pages = paginate(0u64, |c| async move {
            Ok(Page::new(vec![1u8, 2, 3], Some(c + 1)))
        });
        let err = pages.try_concat().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.message().contains("same page"), "{err}");
    }

    #[tokio::test]
    async fn pages_that_only_look_alike_are_fine() {
        // Same length and first item, different last item: real paging.
        let pages = paginate(0u8, |c| async move {
            Ok(Page::new(vec![0u8, c], (c < 50).then_some(c + 1)))
        });
        assert_eq!(pages.try_concat().await.unwrap().len(), 102);
    }

    #[tokio::test]
    async fn many_empty_pages_then_items_are_fine() {
        let pages = paginate(0usize, |c| async move {
            let items = if c == MAX_EMPTY_PAGES_IN_A_ROW {
                vec![c]
            } else {
                vec![]
            };
            Ok(Page::new(
                items,
                (c < MAX_EMPTY_PAGES_IN_A_ROW).then_some(c + 1),
            ))
        });
        assert_eq!(
            pages.try_concat().await.unwrap(),
            vec![MAX_EMPTY_PAGES_IN_A_ROW]
        );
    }

    #[tokio::test]
    async fn error_ends_the_stream() {
        let mut pages = paginate(0u32, |c| async move {
            if c == 1 {
                Err(Error::new(ErrorKind::Transient, "boom"))
            } else {
                Ok(Page::new(vec![c], Some(c + 1)))
            }
        });
        assert!(pages.next().await.unwrap().is_ok());
        assert!(pages.next().await.unwrap().is_err());
        assert!(pages.next().await.is_none());
    }
}
