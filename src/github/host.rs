//! Where git lives for a GitHub API: the one mapping from an API base URL to the
//! base of clone URLs, used by every front end (`run --github`, `serve`, `action`).

/// The base of clone URLs for the API at `api_url`: github.com
/// (`https://api.github.com` → `https://github.com`), an Enterprise Server
/// (`https://HOST/api/v3` → `https://HOST`), or the simulator (the same origin).
pub fn git_base(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if api == "https://api.github.com" {
        "https://github.com".into()
    } else if let Some(host) = api.strip_suffix("/api/v3") {
        host.to_string()
    } else {
        api.to_string()
    }
}

/// The clone URL of `owner/repo` under a git base (see [`git_base`]).
pub fn git_url(git_base: &str, owner: &str, repo: &str) -> String {
    format!("{}/{owner}/{repo}.git", git_base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_map_to_their_git_hosts() {
        assert_eq!(git_base("https://api.github.com/"), "https://github.com");
        assert_eq!(
            git_base("https://ghe.example/api/v3"),
            "https://ghe.example"
        );
        assert_eq!(git_base("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            git_url(&git_base("https://api.github.com"), "acme", "shop"),
            "https://github.com/acme/shop.git"
        );
        assert_eq!(
            git_url("http://127.0.0.1:8080/", "o", "r"),
            "http://127.0.0.1:8080/o/r.git"
        );
    }
}
