//! The App's own webhook deliveries (App JWT): listing them a page at a time
//! (`GET /app/hook/deliveries`, newest first, paged by an opaque `cursor`) and
//! asking GitHub to send one again (`POST /app/hook/deliveries/{id}/attempts`).
//! What to redeliver is decided in `server::redeliver`, not here.

use http::{HeaderMap, Method};

use super::super::error::{GithubError, RequestLine};
use super::super::types::{HookDelivery, HookDeliveryPage};
use super::{enc_query, GitHub};

impl GitHub {
    /// One page (at most `per_page`, 1–100) of the App's webhook deliveries,
    /// newest first, starting at `cursor` (from the previous page; `None` = the newest).
    pub async fn hook_deliveries(
        &self,
        per_page: u8,
        cursor: Option<&str>,
    ) -> Result<HookDeliveryPage, GithubError> {
        let app = self.as_app()?;
        let mut path = format!("/app/hook/deliveries?per_page={}", per_page.clamp(1, 100));
        if let Some(c) = cursor {
            path.push_str("&cursor=");
            path.push_str(&enc_query(c));
        }
        let resp = app.request(Method::GET, &path, None).await?;
        let deliveries: Vec<HookDelivery> = resp.json(&RequestLine("GET", &path).to_string())?;
        Ok(HookDeliveryPage {
            deliveries,
            next_cursor: next_cursor(&resp.headers),
        })
    }

    /// Ask GitHub to send delivery `id` again (same `guid`, a new delivery id).
    /// A redelivery that arrives twice is harmless: the journal knows the guid.
    pub async fn redeliver_hook_delivery(&self, id: u64) -> Result<(), GithubError> {
        let app = self.as_app()?;
        let path = format!("/app/hook/deliveries/{id}/attempts");
        app.request(Method::POST, &path, Some(&serde_json::json!({})))
            .await?;
        Ok(())
    }
}

/// The `cursor` of the `rel="next"` URL in GitHub's `Link` header.
fn next_cursor(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rels) = part.split_once(';')?;
        if !rels.split(';').any(|p| p.trim() == "rel=\"next\"") {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let query = url.split_once('?')?.1;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_is_read_from_githubs_link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            "<https://api.github.com/app/hook/deliveries?per_page=2&cursor=v1_12077215967>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_cursor(&h).as_deref(), Some("v1_12077215967"));
        h.insert(
            "link",
            "<https://x/app/hook/deliveries?cursor=v1_1>; rel=\"prev\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_cursor(&h), None);
        assert_eq!(next_cursor(&HeaderMap::new()), None);
    }
}
