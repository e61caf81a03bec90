//! When to retry a GitHub API call, and how long to wait first.
//!
//! Pure functions over the status, headers and error message of a response,
//! so the policy is unit-tested without a network. Retried: 5xx, 429, and
//! 403 responses that are rate limits (primary: `x-ratelimit-remaining: 0`;
//! secondary: `retry-after`, or a message saying "rate limit"). Never
//! retried: other 4xx, which cannot succeed by asking again.

use std::time::Duration;

use http::HeaderMap;
use rand::Rng;

/// Retry budget of one [`crate::github::GitHub`] connection.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// First back-off delay; doubled at each attempt, with jitter.
    pub base_delay: Duration,
    /// Cap on one exponential back-off delay.
    pub max_delay: Duration,
    /// Longest wait we accept when GitHub names one (`retry-after`,
    /// `x-ratelimit-reset`). Longer than this and the call fails with
    /// `RateLimited`, so a run reports the limit instead of hanging for an hour.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_wait: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// A policy for tests: same classification, millisecond waits.
    pub fn fast() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_wait: Duration::from_secs(3),
        }
    }
}

/// Overrides the first back-off delay, in milliseconds (tests make a child process's
/// retries fast with it; the waits GitHub names are still honoured).
pub const BASE_MS_ENV: &str = "PRFLOW_GITHUB_RETRY_BASE_MS";
/// Overrides the attempts per call, the first one included (1 = never retry).
pub const ATTEMPTS_ENV: &str = "PRFLOW_GITHUB_MAX_ATTEMPTS";

impl RetryPolicy {
    /// The default policy with what [`BASE_MS_ENV`] and [`ATTEMPTS_ENV`] set in
    /// `lookup` (the process environment, or the Action's); an unusable value is an
    /// error naming the variable and what it takes.
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<RetryPolicy, String> {
        let mut p = RetryPolicy::default();
        let number = |name: &str, min: u64| -> Result<Option<u64>, String> {
            match lookup(name).map(|v| v.trim().to_string()) {
                None => Ok(None),
                Some(v) if v.is_empty() => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n >= min => Ok(Some(n)),
                    _ => Err(format!(
                        "{name}=`{v}`: expected a whole number of at least {min}"
                    )),
                },
            }
        };
        if let Some(ms) = number(BASE_MS_ENV, 0)? {
            p.base_delay = Duration::from_millis(ms);
            p.max_delay = p
                .max_delay
                .min(Duration::from_millis(ms.saturating_mul(64)));
        }
        if let Some(n) = number(ATTEMPTS_ENV, 1)? {
            p.max_attempts = n.min(u64::from(u32::MAX)) as u32;
        }
        Ok(p)
    }
}

/// What kind of failure a response is, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 5xx.
    Server,
    /// 429, or a 403 that is a primary or secondary rate limit.
    RateLimit,
    /// Anything else that is not a success: do not retry.
    Permanent,
}

/// Classify a non-success response.
pub fn classify(status: u16, headers: &HeaderMap, message: &str) -> Failure {
    match status {
        500..=599 => Failure::Server,
        429 => Failure::RateLimit,
        403 if is_rate_limit_403(headers, message) => Failure::RateLimit,
        _ => Failure::Permanent,
    }
}

fn is_rate_limit_403(headers: &HeaderMap, message: &str) -> bool {
    if headers.contains_key("retry-after") {
        return true;
    }
    if header_str(headers, "x-ratelimit-remaining") == Some("0") {
        return true;
    }
    let m = message.to_ascii_lowercase();
    m.contains("rate limit") || m.contains("abuse detection")
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The wait GitHub asks for, if it names one: `retry-after` (seconds), or
/// `x-ratelimit-reset` (epoch seconds) when the remaining quota is zero.
pub fn requested_wait(headers: &HeaderMap, now_epoch_secs: u64) -> Option<Duration> {
    if let Some(secs) = header_str(headers, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if header_str(headers, "x-ratelimit-remaining") == Some("0") {
        if let Some(reset) =
            header_str(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())
        {
            // One extra second: the reset is rounded down to the second.
            return Some(Duration::from_secs(
                reset.saturating_sub(now_epoch_secs) + 1,
            ));
        }
    }
    None
}

/// Exponential back-off for `attempt` (1 = first retry), jittered between half and
/// all of the delay ("equal jitter"): retries from parallel runs spread out, and none
/// is ever immediate.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(policy.max_delay);
    let millis = capped.as_millis() as u64;
    if millis == 0 {
        return capped;
    }
    // Jitter between half and all of the delay: spread retries from
    // parallel runs without ever retrying immediately.
    let jittered = rand::thread_rng().gen_range(millis / 2..=millis);
    Duration::from_millis(jittered)
}

/// How long to wait before attempt number `attempt + 1`, or `None` to give up.
pub fn next_wait(
    policy: &RetryPolicy,
    failure: Failure,
    headers: &HeaderMap,
    attempt: u32,
    now_epoch_secs: u64,
) -> Option<Duration> {
    if failure == Failure::Permanent || attempt >= policy.max_attempts {
        return None;
    }
    match requested_wait(headers, now_epoch_secs) {
        Some(wait) if wait > policy.max_wait => None,
        Some(wait) => Some(wait),
        None if failure == Failure::RateLimit => {
            // Secondary limit without a retry-after: GitHub asks for at
            // least a minute; our budget decides whether we can afford it.
            let wait = Duration::from_secs(60).min(policy.max_wait);
            Some(wait.max(backoff(policy, attempt)))
        }
        None => Some(backoff(policy, attempt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn classifies_statuses() {
        let none = HeaderMap::new();
        assert_eq!(classify(502, &none, ""), Failure::Server);
        assert_eq!(classify(500, &none, ""), Failure::Server);
        assert_eq!(classify(429, &none, ""), Failure::RateLimit);
        assert_eq!(classify(404, &none, ""), Failure::Permanent);
        assert_eq!(classify(422, &none, ""), Failure::Permanent);
        assert_eq!(
            classify(403, &none, "Resource not accessible by integration"),
            Failure::Permanent
        );
        assert_eq!(
            classify(403, &headers(&[("retry-after", "3")]), ""),
            Failure::RateLimit
        );
        assert_eq!(
            classify(403, &none, "You have exceeded a secondary rate limit"),
            Failure::RateLimit
        );
        assert_eq!(
            classify(403, &headers(&[("x-ratelimit-remaining", "0")]), ""),
            Failure::RateLimit
        );
    }

    #[test]
    fn honours_retry_after_and_reset() {
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(requested_wait(&h, 100), Some(Duration::from_secs(2)));
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "110")]);
        assert_eq!(requested_wait(&h, 100), Some(Duration::from_secs(11)));
        // Remaining quota: the reset time is not a wait.
        let h = headers(&[
            ("x-ratelimit-remaining", "12"),
            ("x-ratelimit-reset", "110"),
        ]);
        assert_eq!(requested_wait(&h, 100), None);
    }

    #[test]
    fn gives_up_when_told_to_wait_too_long_or_out_of_attempts() {
        let p = RetryPolicy::fast();
        let long = headers(&[("retry-after", "3600")]);
        assert_eq!(next_wait(&p, Failure::RateLimit, &long, 1, 0), None);
        let none = HeaderMap::new();
        assert!(next_wait(&p, Failure::Server, &none, 1, 0).is_some());
        assert_eq!(
            next_wait(&p, Failure::Server, &none, p.max_attempts, 0),
            None
        );
        assert_eq!(next_wait(&p, Failure::Permanent, &none, 1, 0), None);
    }

    #[test]
    fn the_environment_may_shorten_the_policy_and_bad_values_are_named() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let p = RetryPolicy::from_env(&env(&[])).unwrap();
        assert_eq!(p.base_delay, RetryPolicy::default().base_delay);
        let p = RetryPolicy::from_env(&env(&[(BASE_MS_ENV, "5"), (ATTEMPTS_ENV, "2")])).unwrap();
        assert_eq!(
            (p.base_delay, p.max_attempts),
            (Duration::from_millis(5), 2)
        );
        assert!(backoff(&p, 10) <= Duration::from_millis(320));
        let e = RetryPolicy::from_env(&env(&[(ATTEMPTS_ENV, "0")])).unwrap_err();
        assert!(e.contains(ATTEMPTS_ENV) && e.contains("at least 1"), "{e}");
        let e = RetryPolicy::from_env(&env(&[(BASE_MS_ENV, "fast")])).unwrap_err();
        assert!(e.contains("`fast`"), "{e}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let d = backoff(&p, attempt);
            assert!(d <= p.max_delay);
            assert!(d >= p.base_delay / 2);
        }
        assert!(backoff(&p, 6) >= Duration::from_secs(8));
    }
}
