//! GitHub's pagination of list answers: `per_page` (default 30, at most 100),
//! `page` (from 1), and a `Link` header with `prev`, `next`, `last` and `first`
//! when there is more than one page. Every list route takes a [`Paging`] so
//! clients that follow `Link` (octokit's `paginate`, prflow's `get_all`) see
//! what they would see on GitHub.

use super::http::ApiResult;
use super::Inner;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;

/// GitHub's page size when `per_page` is absent or not a number.
pub const DEFAULT_PER_PAGE: usize = 30;
/// GitHub's largest page.
pub const MAX_PER_PAGE: usize = 100;

/// The page a list request asks for, and how to link to the others.
#[derive(Clone, Debug)]
pub struct Paging {
    pub page: usize,
    pub per_page: usize,
    /// `http://127.0.0.1:PORT/path` of the request, for the `Link` URLs.
    url: String,
    /// The query without `page`, kept in order (filters stay in the links).
    query: Vec<(String, String)>,
}

impl Paging {
    /// Reads `page` and `per_page` from a query string, as GitHub does: numbers
    /// out of range are clamped, anything else means the default.
    pub fn parse(base: &str, path: &str, query: Option<&str>) -> Paging {
        let pairs: Vec<(String, String)> = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let get = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = match get("per_page") {
            Some(0) | None => DEFAULT_PER_PAGE,
            Some(n) => n.min(MAX_PER_PAGE),
        };
        let page = get("page").unwrap_or(1).max(1);
        Paging {
            page,
            per_page,
            url: format!("{base}{path}"),
            query: pairs.into_iter().filter(|(k, _)| k != "page").collect(),
        }
    }

    /// The items of this page out of `all`.
    pub fn slice<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter()
            .skip((self.page - 1).saturating_mul(self.per_page))
            .take(self.per_page)
            .collect()
    }

    /// How many pages `total` items make (at least one).
    pub fn last_page(&self, total: usize) -> usize {
        total.div_ceil(self.per_page).max(1)
    }

    fn url_of(&self, page: usize) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            s.append_pair(k, v);
        }
        s.append_pair("page", &page.to_string());
        format!("{}?{}", self.url, s.finish())
    }

    /// GitHub's `Link` header for a list of `total` items, `None` on a single page.
    pub fn link(&self, total: usize) -> Option<String> {
        let last = self.last_page(total);
        if last <= 1 && self.page <= 1 {
            return None;
        }
        let mut parts = vec![];
        if self.page > 1 {
            let prev = (self.page - 1).min(last);
            parts.push(format!("<{}>; rel=\"prev\"", self.url_of(prev)));
        }
        if self.page < last {
            parts.push(format!("<{}>; rel=\"next\"", self.url_of(self.page + 1)));
            parts.push(format!("<{}>; rel=\"last\"", self.url_of(last)));
        }
        if self.page > 1 {
            parts.push(format!("<{}>; rel=\"first\"", self.url_of(1)));
        }
        Some(parts.join(", "))
    }

    /// A 200 answer holding this page of `all` as a JSON array.
    pub fn array(&self, all: Vec<Value>) -> ApiResult {
        let total = all.len();
        Ok(self.respond(total, Value::Array(self.slice(all))))
    }

    /// A 200 answer `{"total_count": N, key: [this page]}` (check runs, repositories).
    pub fn wrapped(&self, key: &str, all: Vec<Value>) -> ApiResult {
        let total = all.len();
        let mut m = serde_json::Map::new();
        m.insert("total_count".into(), total.into());
        m.insert(key.into(), Value::Array(self.slice(all)));
        Ok(self.respond(total, Value::Object(m)))
    }

    /// `body` (one page already) with the `Link` header for `total` items.
    pub fn respond(&self, total: usize, body: Value) -> Response {
        let mut r = (StatusCode::OK, Json(body)).into_response();
        if let Some(l) = self
            .link(total)
            .and_then(|l| HeaderValue::from_str(&l).ok())
        {
            r.headers_mut().insert("link", l);
        }
        r
    }
}

impl FromRequestParts<Arc<Inner>> for Paging {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        inner: &Arc<Inner>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Paging::parse(
            &inner.base,
            parts.uri.path(),
            parts.uri.query(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_clamps_and_links_like_github() {
        let p = Paging::parse("http://h", "/x", None);
        assert_eq!((p.page, p.per_page), (1, 30));
        assert_eq!(p.link(30), None);
        let p = Paging::parse("http://h", "/x", Some("per_page=500&page=0&state=all"));
        assert_eq!((p.page, p.per_page), (1, 100));
        assert_eq!(
            p.link(250).unwrap(),
            "<http://h/x?per_page=500&state=all&page=2>; rel=\"next\", <http://h/x?per_page=500&state=all&page=3>; rel=\"last\""
        );
        let p = Paging::parse("http://h", "/x", Some("page=3&per_page=100"));
        assert_eq!(p.slice((0..250).collect()), (200..250).collect::<Vec<_>>());
        assert_eq!(
            p.link(250).unwrap(),
            "<http://h/x?per_page=100&page=2>; rel=\"prev\", <http://h/x?per_page=100&page=1>; rel=\"first\""
        );
        let p = Paging::parse("http://h", "/x", Some("per_page=abc"));
        assert_eq!(p.per_page, 30);
    }
}
