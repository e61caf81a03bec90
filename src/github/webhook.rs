//! Webhook deliveries: signature verification over the raw body and
//! parsing into [`WebhookEvent`]s.
//!
//! Verification is HMAC-SHA256 of the exact bytes received, compared in
//! constant time against every configured secret (several during a secret
//! rotation). Parsing is lenient (GitHub's real payloads are older than its
//! schemas): only the fields prflow uses are read, each optional unless
//! the event is meaningless without it.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::commands::parse_commands;
use super::events::*;

/// `X-Hub-Signature-256`.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// `X-GitHub-Event`.
pub const EVENT_HEADER: &str = "x-github-event";
/// `X-GitHub-Delivery`.
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// Why a delivery's signature was refused. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header: the delivery is unsigned (set the webhook secret in the App or repository settings)")]
    Missing,
    #[error("X-Hub-Signature-256 is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match any configured webhook secret (WEBHOOK_SECRET)")]
    Mismatch,
    #[error("no webhook secret is configured; refusing every delivery")]
    NoSecret,
}

/// Check `header` (`sha256=<hex>`) against HMAC-SHA256(secret, body) for
/// each secret. Every secret is tried (no early exit), so timing does not
/// reveal which one matched or how many there are.
pub fn verify_signature(
    secrets: &[String],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_sig = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    // `verify_slice` compares in constant time; `|` (not `||`) tries every secret.
    let mut matched = false;
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        matched |= mac.verify_slice(&given).is_ok();
    }
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// `sha256=<hex>` for `body` under `secret`: what GitHub sends, and what
/// the simulator and tests sign with.
pub fn sign(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body))
    )
}

fn hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The three headers every delivery carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeaders {
    /// `X-GitHub-Event`: `pull_request_review`, `issue_comment`, …
    pub event: String,
    /// `X-GitHub-Delivery`: a GUID, the same on redelivery.
    pub delivery_id: String,
    /// `X-Hub-Signature-256`, if sent.
    pub signature: Option<String>,
}

impl DeliveryHeaders {
    /// Read the headers; a missing event or delivery id is a 400.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Self, Rejection> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(DeliveryHeaders {
            event: get(EVENT_HEADER).ok_or(Rejection::MissingHeader("X-GitHub-Event"))?,
            delivery_id: get(DELIVERY_HEADER)
                .ok_or(Rejection::MissingHeader("X-GitHub-Delivery"))?,
            signature: get(SIGNATURE_HEADER),
        })
    }
}

/// Why a delivery is refused, with the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("{0}")]
    Parse(#[from] ParseError),
}

impl Rejection {
    /// 401 for signatures (nothing may be queued), 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Signature(_) => 401,
            Rejection::MissingHeader(_) | Rejection::Parse(_) => 400,
        }
    }
}

/// What a webhook endpoint does with one request, in order: read the
/// headers, verify the signature over the raw body, parse. `Ok((headers,
/// None))` = a valid delivery prflow ignores.
pub fn verify_and_parse(
    secrets: &[String],
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(DeliveryHeaders, Option<WebhookEvent>), Rejection> {
    // Signature first: an unsigned request learns nothing, not even
    // which header it forgot.
    verify_signature(
        secrets,
        body,
        headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()),
    )?;
    let h = DeliveryHeaders::from_headers(headers)?;
    let event = parse_event(&h.event, &h.delivery_id, body)?;
    Ok((h, event))
}

/// A delivery whose body could not be read as the event it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook delivery {delivery_id} (`{event}`): {message}")]
pub struct ParseError {
    pub event: String,
    pub delivery_id: String,
    pub message: String,
}

/// Turn a verified delivery into a domain event. `Ok(None)`: an event or
/// action prflow does not act on (acknowledge it and do nothing).
pub fn parse_event(
    event_name: &str,
    delivery_id: &str,
    body: &[u8],
) -> Result<Option<WebhookEvent>, ParseError> {
    let err = |message: String| ParseError {
        event: event_name.to_string(),
        delivery_id: delivery_id.to_string(),
        message,
    };
    const HANDLED: &[&str] = &[
        "ping",
        "pull_request_review",
        "issue_comment",
        "pull_request",
        "check_run",
        "push",
        "installation",
        "installation_repositories",
        "repository_dispatch",
        "workflow_dispatch",
    ];
    let handled = HANDLED.contains(&event_name);
    let not_json = |e: serde_json::Error| {
        err(format!(
            "the body is not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    };
    // GitHub sends an object; a struct would also accept a JSON array
    // (positionally), so look at the first byte before anything else.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some() && first != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
        return Err(err("the body is not a JSON object".into()));
    }
    if !handled {
        // Still refuse a malformed body (400), without building it.
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(not_json)?;
        return Ok(None);
    }
    // Straight into the few fields prflow reads: the rest of a 30 KB
    // payload is skipped, never allocated (this is most of the webhook
    // endpoint's CPU time).
    let p: Payload = serde_json::from_slice(body).map_err(|e| {
        // Tell "not JSON" apart from "JSON of the wrong shape".
        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Err(syntax) => not_json(syntax),
            Ok(_) => err(e.to_string()),
        }
    })?;
    let need = |what: &str| err(format!("the payload has no `{what}`"));
    let action = p.action.as_deref().unwrap_or("");
    let installation_id = p.installation.as_ref().map(|i| i.id);
    let sender = p
        .sender
        .as_ref()
        .map(|s| s.login.clone())
        .unwrap_or_default();

    let event = match event_name {
        "ping" => WebhookEvent::Ping {
            zen: p.zen.unwrap_or_default(),
            hook_id: p.hook_id,
            app_id: p.hook.and_then(|h| h.app_id),
        },
        "pull_request_review" => {
            if action != "submitted" {
                return Ok(None);
            }
            let review = p.review.ok_or_else(|| need("review"))?;
            let verdict = match review.state.to_ascii_lowercase().as_str() {
                "approved" => Verdict::Approved,
                "changes_requested" => Verdict::ChangesRequested,
                _ => return Ok(None), // plain comments are not verdicts
            };
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            let pull = p.pull_request.ok_or_else(|| need("pull_request"))?;
            WebhookEvent::CheckpointReviewed(CheckpointReviewed {
                from_fork: is_fork(&pull, &repo),
                fork_repo: fork_repo(&pull, &repo),
                installation_id,
                pull_number: pull.number,
                head_ref: pull.head.git_ref,
                head_sha: pull.head.sha,
                base_ref: pull.base.git_ref,
                review_id: review.id,
                verdict,
                reviewer: review.user.map(|u| u.login).unwrap_or(sender),
                commit_id: review.commit_id.unwrap_or_default(),
                body: review.body.unwrap_or_default(),
                inline_comments: vec![],
                repo,
            })
        }
        "issue_comment" => {
            if action != "created" {
                return Ok(None);
            }
            let comment = p.comment.ok_or_else(|| need("comment"))?;
            let user = comment.user.unwrap_or_default();
            // Bots (ours included) never command prflow: our own status
            // comment quotes commands.
            if user.kind.as_deref() == Some("Bot") {
                return Ok(None);
            }
            let commands = parse_commands(comment.body.as_deref().unwrap_or(""));
            if commands.is_empty() {
                return Ok(None);
            }
            let issue = p.issue.ok_or_else(|| need("issue"))?;
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::CommentCommand(CommentCommand {
                repo,
                installation_id,
                issue_number: issue.number,
                is_pull_request: issue.pull_request.is_some(),
                comment_id: comment.id,
                author: user.login,
                author_association: comment.author_association.unwrap_or_default(),
                commands,
            })
        }
        "pull_request" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            let pull = p.pull_request.ok_or_else(|| need("pull_request"))?;
            match action {
                "closed" => WebhookEvent::PullClosed(PullClosed {
                    installation_id,
                    number: pull.number,
                    head_ref: pull.head.git_ref,
                    head_sha: pull.head.sha,
                    base_ref: pull.base.git_ref,
                    merged: pull.merged.unwrap_or(false) || pull.merged_at.is_some(),
                    body: pull.body.unwrap_or_default(),
                    sender,
                    repo,
                }),
                "synchronize" => WebhookEvent::PullSynchronize(PullSynchronize {
                    from_fork: is_fork(&pull, &repo),
                    fork_repo: fork_repo(&pull, &repo),
                    installation_id,
                    number: pull.number,
                    head_ref: pull.head.git_ref,
                    before: p.before.unwrap_or_default(),
                    after: p.after.unwrap_or(pull.head.sha),
                    body: pull.body.unwrap_or_default(),
                    sender,
                    repo,
                }),
                _ => return Ok(None),
            }
        }
        "check_run" => {
            if action != "rerequested" {
                return Ok(None);
            }
            let run = p.check_run.ok_or_else(|| need("check_run"))?;
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::CheckRunRerequested(CheckRunRerequested {
                repo,
                installation_id,
                check_run_id: run.id,
                name: run.name,
                head_sha: run.head_sha,
                head_branch: run.check_suite.and_then(|s| s.head_branch),
                external_id: run.external_id.filter(|s| !s.is_empty()),
                sender,
            })
        }
        "push" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            let mut changed: Vec<String> = Vec::new();
            for c in p.commits.iter().chain(p.head_commit.iter()) {
                for path in c.added.iter().chain(&c.modified).chain(&c.removed) {
                    if !changed.contains(path) {
                        changed.push(path.clone());
                    }
                }
            }
            WebhookEvent::Push(Push {
                repo,
                installation_id,
                git_ref: p.git_ref.ok_or_else(|| need("ref"))?,
                before: p.before.unwrap_or_default(),
                after: p.after.unwrap_or_default(),
                created: p.created.unwrap_or(false),
                deleted: p.deleted.unwrap_or(false),
                forced: p.forced.unwrap_or(false),
                changed_paths: changed,
                sender: if sender.is_empty() {
                    p.pusher.and_then(|u| u.name).unwrap_or_default()
                } else {
                    sender
                },
            })
        }
        "installation" | "installation_repositories" => {
            let inst = p.installation.ok_or_else(|| need("installation"))?;
            let action = match (event_name, action) {
                ("installation", "created") => InstallationAction::Created,
                ("installation", "deleted") => InstallationAction::Deleted,
                ("installation", "suspend") => InstallationAction::Suspended,
                ("installation", "unsuspend") => InstallationAction::Unsuspended,
                ("installation", "new_permissions_accepted") => {
                    InstallationAction::NewPermissionsAccepted
                }
                ("installation_repositories", "added") => InstallationAction::RepositoriesAdded,
                ("installation_repositories", "removed") => InstallationAction::RepositoriesRemoved,
                _ => return Ok(None),
            };
            let names = |v: &[MiniRepo]| v.iter().map(|r| r.full_name.clone()).collect::<Vec<_>>();
            let mut added = names(&p.repositories_added);
            if action == InstallationAction::Created {
                added.extend(names(&p.repositories));
            }
            let mut removed = names(&p.repositories_removed);
            if action == InstallationAction::Deleted {
                removed.extend(names(&p.repositories));
            }
            WebhookEvent::Installation(Installation {
                action,
                installation_id: inst.id,
                account: inst.account.map(|a| a.login).unwrap_or_default(),
                repositories_added: added,
                repositories_removed: removed,
            })
        }
        "repository_dispatch" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::RepositoryDispatch(RepositoryDispatch {
                repo,
                installation_id,
                event_type: action.to_string(),
                branch: p.branch,
                client_payload: p.client_payload.unwrap_or(Value::Null),
                sender,
            })
        }
        "workflow_dispatch" => {
            let repo = event_repo(p.repository.as_ref()).ok_or_else(|| need("repository"))?;
            WebhookEvent::WorkflowDispatch(WorkflowDispatch {
                repo,
                installation_id,
                git_ref: p.git_ref.unwrap_or_default(),
                workflow: p.workflow.unwrap_or_default(),
                inputs: p.inputs.unwrap_or(Value::Null),
                sender,
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn event_repo(r: Option<&PRepo>) -> Option<EventRepo> {
    let r = r?;
    let (owner, name) = match (&r.owner, &r.full_name) {
        (Some(o), _) if !o.login.is_empty() || o.name.is_some() => (
            if o.login.is_empty() {
                o.name.clone().unwrap_or_default()
            } else {
                o.login.clone()
            },
            r.name.clone(),
        ),
        (_, Some(full)) => {
            let (o, n) = full.split_once('/')?;
            (o.to_string(), n.to_string())
        }
        _ => return None,
    };
    Some(EventRepo {
        owner,
        name,
        default_branch: r
            .default_branch
            .clone()
            .or_else(|| r.master_branch.clone())
            .unwrap_or_else(|| "main".into()),
        private: r.private.unwrap_or(false),
        fork: r.fork.unwrap_or(false),
    })
}

fn is_fork(pull: &PPull, repo: &EventRepo) -> bool {
    match pull.head.repo.as_ref().and_then(|r| r.full_name.as_deref()) {
        Some(head) => !head.eq_ignore_ascii_case(&repo.full_name()),
        // A deleted fork leaves `head.repo` null: treat it as a fork.
        None => pull.head.repo_is_null,
    }
}

/// The head repository's name when the pull comes from a fork.
fn fork_repo(pull: &PPull, repo: &EventRepo) -> Option<String> {
    let head = pull.head.repo.as_ref()?.full_name.as_deref()?;
    (!head.eq_ignore_ascii_case(&repo.full_name())).then(|| head.to_string())
}

// ---- lenient payload shapes ---------------------------------------------

#[derive(Deserialize)]
struct Payload {
    action: Option<String>,
    installation: Option<PInstallation>,
    sender: Option<PUser>,
    repository: Option<PRepo>,
    zen: Option<String>,
    hook_id: Option<u64>,
    hook: Option<PHook>,
    review: Option<PReview>,
    pull_request: Option<PPull>,
    comment: Option<PComment>,
    issue: Option<PIssue>,
    check_run: Option<PCheckRun>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    created: Option<bool>,
    deleted: Option<bool>,
    forced: Option<bool>,
    #[serde(default)]
    commits: Vec<PCommit>,
    head_commit: Option<PCommit>,
    pusher: Option<PPusher>,
    #[serde(default)]
    repositories: Vec<MiniRepo>,
    #[serde(default)]
    repositories_added: Vec<MiniRepo>,
    #[serde(default)]
    repositories_removed: Vec<MiniRepo>,
    branch: Option<String>,
    workflow: Option<String>,
    client_payload: Option<Value>,
    inputs: Option<Value>,
}

#[derive(Deserialize)]
struct PInstallation {
    id: u64,
    account: Option<PUser>,
}

#[derive(Deserialize, Default)]
struct PUser {
    #[serde(default)]
    login: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct PRepo {
    #[serde(default)]
    name: String,
    full_name: Option<String>,
    owner: Option<PUser>,
    default_branch: Option<String>,
    master_branch: Option<String>,
    private: Option<bool>,
    fork: Option<bool>,
}

#[derive(Deserialize)]
struct PHook {
    app_id: Option<u64>,
}

#[derive(Deserialize)]
struct PReview {
    id: u64,
    #[serde(default)]
    state: String,
    user: Option<PUser>,
    commit_id: Option<String>,
    body: Option<String>,
}

#[derive(Deserialize)]
struct PPull {
    number: u64,
    head: PBranch,
    base: PBranch,
    merged: Option<bool>,
    merged_at: Option<String>,
    body: Option<String>,
}

#[derive(Default)]
struct PBranch {
    git_ref: String,
    sha: String,
    repo: Option<MiniRepoOpt>,
    repo_is_null: bool,
}

impl<'de> Deserialize<'de> for PBranch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "ref", default)]
            git_ref: String,
            #[serde(default)]
            sha: String,
            /// Absent = `None`, `null` = `Some(None)`.
            #[serde(default, deserialize_with = "present")]
            repo: Option<Option<MiniRepoOpt>>,
        }
        let raw = Raw::deserialize(d)?;
        Ok(PBranch {
            git_ref: raw.git_ref,
            sha: raw.sha,
            repo_is_null: matches!(raw.repo, Some(None)),
            repo: raw.repo.flatten(),
        })
    }
}

/// Tell a field that is `null` from one that is absent (with `default`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct MiniRepoOpt {
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct MiniRepo {
    #[serde(default)]
    full_name: String,
}

#[derive(Deserialize)]
struct PComment {
    id: u64,
    body: Option<String>,
    user: Option<PUser>,
    author_association: Option<String>,
}

#[derive(Deserialize)]
struct PIssue {
    number: u64,
    pull_request: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct PCheckRun {
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    head_sha: String,
    external_id: Option<String>,
    check_suite: Option<PCheckSuite>,
}

#[derive(Deserialize)]
struct PCheckSuite {
    head_branch: Option<String>,
}

#[derive(Deserialize)]
struct PCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

#[derive(Deserialize)]
struct PPusher {
    name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_accepts_any_configured_secret() {
        let body = br#"{"zen":"hi"}"#;
        let secrets = vec!["old".to_string(), "new".to_string()];
        assert_eq!(
            verify_signature(&secrets, body, Some(&sign("new", body))),
            Ok(())
        );
        assert_eq!(
            verify_signature(&secrets, body, Some(&sign("old", body))),
            Ok(())
        );
        assert_eq!(
            verify_signature(&secrets, body, Some(&sign("other", body))),
            Err(SignatureError::Mismatch)
        );
        // One byte changed in the body.
        assert_eq!(
            verify_signature(&secrets, br#"{"zen":"ho"}"#, Some(&sign("new", body))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn signature_header_shapes() {
        let s = vec!["k".to_string()];
        assert_eq!(
            verify_signature(&s, b"x", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(&s, b"x", Some("sha1=abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&s, b"x", Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&s, b"x", Some("sha256=abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(&[], b"x", Some(&sign("k", b"x"))),
            Err(SignatureError::NoSecret)
        );
        assert_eq!(
            verify_signature(&[String::new()], b"x", Some(&sign("", b"x"))),
            Err(SignatureError::NoSecret)
        );
    }

    #[test]
    fn github_documented_example() {
        // From GitHub's "Validating webhook deliveries" page.
        let sig = sign("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            sig,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn endpoint_rejections_carry_their_status() {
        let secrets = vec!["s".to_string()];
        let body = br#"{"zen":"z","hook_id":1}"#;
        let mut h = http::HeaderMap::new();
        assert_eq!(
            verify_and_parse(&secrets, &h, body).unwrap_err().status(),
            401
        );
        h.insert(SIGNATURE_HEADER, sign("s", body).parse().unwrap());
        let e = verify_and_parse(&secrets, &h, body).unwrap_err();
        assert_eq!(
            (e.status(), e.to_string().as_str()),
            (400, "missing X-GitHub-Event header")
        );
        h.insert(EVENT_HEADER, "ping".parse().unwrap());
        h.insert(DELIVERY_HEADER, "guid-1".parse().unwrap());
        let (d, ev) = verify_and_parse(&secrets, &h, body).unwrap();
        assert_eq!(d.delivery_id, "guid-1");
        assert!(matches!(ev, Some(WebhookEvent::Ping { .. })));
        let bad = b"{oops";
        h.insert(SIGNATURE_HEADER, sign("s", bad).parse().unwrap());
        assert_eq!(
            verify_and_parse(&secrets, &h, bad).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn malformed_json_is_a_parse_error_naming_the_delivery() {
        let e = parse_event("push", "d-1", b"{not json").unwrap_err();
        assert!(e.to_string().contains("d-1"), "{e}");
        assert_eq!(parse_event("star", "d-2", b"{}").unwrap(), None);
        // Unknown events are still checked for JSON (400, not 202).
        assert!(parse_event("star", "d-3", b"{nope").is_err());
        let e = parse_event("ping", "d-4", b" [1, 2]").unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{e}");
        let e = parse_event("ping", "d-5", b"[1, ").unwrap_err();
        assert!(e.message.contains("not JSON"), "{e}");
        // Valid JSON of the wrong shape says what is wrong, not "not JSON".
        let e = parse_event("ping", "d-6", br#"{"hook_id": "seven"}"#).unwrap_err();
        assert!(!e.message.contains("not JSON"), "{e}");
    }

    fn review_with_head_repo(repo: &str) -> Option<WebhookEvent> {
        let body = format!(
            r#"{{"action":"submitted","review":{{"id":1,"state":"approved","user":{{"login":"bob"}}}},
            "pull_request":{{"number":3,"head":{{"ref":"prflow/r/01-a","sha":"abc"{repo}}},"base":{{"ref":"main","sha":"def"}}}},
            "repository":{{"name":"app","full_name":"acme/app","owner":{{"login":"acme"}}}}}}"#
        );
        parse_event("pull_request_review", "d", body.as_bytes()).unwrap()
    }

    #[test]
    fn forks_are_told_by_the_head_repository() {
        let fork = |ev: Option<WebhookEvent>| {
            let ev = ev.expect("a review");
            let why = ev.untrusted_because();
            match ev {
                WebhookEvent::CheckpointReviewed(r) => assert_eq!(r.from_fork, why.is_some()),
                other => panic!("{other:?}"),
            }
            why.is_some()
        };
        let why = review_with_head_repo(r#","repo":{"full_name":"eve/app"}"#)
            .unwrap()
            .untrusted_because()
            .unwrap();
        assert_eq!(
            why,
            "pull request #3 comes from the fork eve/app, not from acme/app"
        );
        let why = review_with_head_repo(r#","repo":null"#)
            .unwrap()
            .untrusted_because()
            .unwrap();
        assert!(why.contains("deleted fork"), "{why}");
        assert!(!fork(review_with_head_repo(
            r#","repo":{"full_name":"acme/app"}"#
        )));
        assert!(!fork(review_with_head_repo(
            r#","repo":{"full_name":"ACME/App"}"#
        )));
        assert!(fork(review_with_head_repo(
            r#","repo":{"full_name":"eve/app"}"#
        )));
        // A deleted fork leaves `head.repo` null.
        assert!(fork(review_with_head_repo(r#","repo":null"#)));
        // No `head.repo` at all (a trimmed payload): not evidence of a fork.
        assert!(!fork(review_with_head_repo("")));
    }
}
