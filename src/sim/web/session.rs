//! Who the person at the browser acts as. Picking a simulated user creates a
//! personal access token for them that stays on the server; the browser holds
//! only a random session id (an `HttpOnly`, `SameSite=Strict` cookie). Every
//! form POST must come from the simulator's own pages: its `Origin` (or
//! `Sec-Fetch-Site`) must be this origin and it must carry the session's CSRF
//! token, so another site open in the same browser cannot act for the user.

use super::super::state::Token;
use super::super::Inner;
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;

pub const COOKIE: &str = "prflow_sim_session";

#[derive(Clone, Debug)]
pub struct Session {
    pub login: String,
    /// The user's personal access token, used for the REST calls a form makes.
    pub token: String,
    pub csrf: String,
}

/// Sessions of one simulator (in memory: a restart asks the user to pick again).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// The session named by the request's cookie, if any.
    pub fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        self.map.lock().unwrap().get(&id).cloned()
    }

    /// Starts a session acting as `login` (a person known to the simulator) and
    /// returns its id for the cookie.
    pub fn start(&self, inner: &Inner, login: &str) -> Result<String, String> {
        let token = {
            let mut st = inner.st.lock().unwrap();
            match st.accounts.get(login) {
                Some(a) if a.kind == "User" => {}
                _ => return Err(format!("there is no simulated person called {login:?}")),
            }
            let token = super::super::auth::new_token("ghp");
            st.tokens.insert(
                token.clone(),
                Token::User {
                    login: login.to_string(),
                },
            );
            token
        };
        inner.persist();
        let id = super::super::auth::new_token("sess");
        let s = Session {
            login: login.to_string(),
            token,
            csrf: super::super::auth::new_token("csrf"),
        };
        self.map.lock().unwrap().insert(id.clone(), s);
        Ok(id)
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a POST comes from a page of this simulator (`base` is `http://host:port`).
pub fn same_origin(headers: &HeaderMap, base: &str) -> bool {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    match (h("origin"), h("sec-fetch-site")) {
        (Some(o), _) => o == base || o == base.replace("127.0.0.1", "localhost"),
        (None, Some(site)) => site == "same-origin",
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        assert!(!same_origin(&h, "http://127.0.0.1:1"));
        h.insert("origin", "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h, "http://127.0.0.1:1"));
        h.insert("origin", "http://127.0.0.1:1".parse().unwrap());
        assert!(same_origin(&h, "http://127.0.0.1:1"));
        h.insert("cookie", "a=b; prflow_sim_session=s1".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("s1"));
    }
}
