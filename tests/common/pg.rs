//! A PostgreSQL database of its own for each test, on the cluster
//! `PRFLOW_TEST_DATABASE_URL` names (`scripts/start-test-postgres.sh` starts
//! one; `.ci/run` does it in CI). Unset: under `CI=true` a test needing it
//! fails, saying how to set it; elsewhere it is skipped with a printed reason.

use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the test cluster.
pub const VAR: &str = "PRFLOW_TEST_DATABASE_URL";

/// A fresh database's URL, or `None` (skip) when no cluster is configured
/// outside CI. Panics under CI=true without one.
pub async fn fresh_database(test: &str) -> Option<String> {
    let Some(base) = std::env::var(VAR).ok().filter(|u| !u.trim().is_empty()) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{test}: {VAR} is not set, and under CI=true the PostgreSQL tests must run: \
                 .ci/run starts a cluster with scripts/start-test-postgres.sh"
            );
        }
        eprintln!(
            "SKIPPED {test}: {VAR} is not set (eval \"$(bash scripts/start-test-postgres.sh)\" starts a cluster)"
        );
        return None;
    };
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{test}: connecting to {VAR}: {e}"));
    tokio::spawn(conn);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "prflow_t_{}_{:08x}{:08x}",
        test.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase(),
        std::process::id(),
        nanos ^ rand::random::<u32>()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("{test}: CREATE DATABASE {name}: {e}"));
    Some(with_database(&base, &name))
}

/// `url` pointing at database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head,
    };
    format!("{base}/{name}{query}")
}

/// The password in `url` (to check it never shows), if it has one.
pub fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let auth = rest.rsplit_once('@')?.0;
    auth.split_once(':').map(|(_, p)| p.to_string())
}
