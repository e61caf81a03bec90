//! GitHub's JSON shapes, built from simulator state. Each builder fills every
//! field GitHub's OpenAPI description marks required (tests/sim.rs checks them),
//! so clients that deserialize strictly (octocrab) accept our answers.

use super::state::{Account, CheckRun, Comment, Issue, Repo, Review, ReviewComment, State, Status};
use base64::Engine;
use serde_json::{json, Map, Value};

/// A base64 node id like GitHub's (`MDQ6VXNlcjE=`).
pub fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// The `simple-user` object.
/// Like GitHub, bot logins (`name[bot]`) are percent-encoded in URLs and link to the App.
pub fn user(base: &str, a: &Account) -> Value {
    let esc = a.login.replace('[', "%5B").replace(']', "%5D");
    let u = format!("{base}/users/{esc}");
    let html = match a.login.strip_suffix("[bot]") {
        Some(app) => format!("{base}/apps/{app}"),
        None => format!("{base}/{esc}"),
    };
    json!({
        "login": a.login, "id": a.id, "node_id": node_id(if a.kind == "Bot" { "Bot" } else { "User" }, a.id),
        "avatar_url": format!("{base}/avatars/{esc}"), "gravatar_id": "",
        "url": u, "html_url": html,
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": a.kind, "user_view_type": "public", "site_admin": false,
    })
}

pub fn user_by_login(base: &str, st: &State, login: &str) -> Value {
    user(base, &st.account(login))
}

/// The `repository` / `full-repository` object; `permissions` is what the caller
/// may do (GitHub sends it only to an authenticated caller, never in webhooks).
pub fn repo(
    base: &str,
    st: &State,
    r: &Repo,
    default_branch: &str,
    permissions: Option<Value>,
) -> Value {
    let full = r.full_name();
    let u = format!("{base}/repos/{full}");
    let open = r.issues.values().filter(|i| i.state == "open").count();
    let mut m = Map::new();
    for (k, suffix) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        m.insert(k.into(), json!(format!("{u}{suffix}")));
    }
    let rest = json!({
        "id": r.id, "node_id": node_id("Repository", r.id), "name": r.name, "full_name": full,
        "owner": user_by_login(base, st, &r.owner), "private": false, "visibility": "public",
        "html_url": format!("{base}/{full}"), "description": null, "fork": false, "url": u,
        "clone_url": format!("{base}/{full}.git"), "git_url": format!("{base}/{full}.git"),
        "ssh_url": format!("git@127.0.0.1:{full}.git"), "svn_url": format!("{base}/{full}"),
        "mirror_url": null, "homepage": null, "language": null, "size": 0,
        "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
        "network_count": 0, "subscribers_count": 0,
    });
    let rest2 = json!({
        "open_issues": open, "open_issues_count": open, "default_branch": default_branch,
        "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
        "has_downloads": true, "has_discussions": false, "archived": false, "disabled": false,
        "is_template": false, "topics": [], "license": null, "web_commit_signoff_required": false,
        "custom_properties": {},
        "allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": true,
        "pushed_at": r.pushed_at, "created_at": r.created_at, "updated_at": r.pushed_at,
    });
    for part in [rest, rest2] {
        if let Value::Object(o) = part {
            m.extend(o);
        }
    }
    if let Some(p) = permissions {
        m.insert("permissions".into(), p);
    }
    Value::Object(m)
}

/// The `organization` object of webhooks (sent when the repository's owner is an organization).
pub fn organization(base: &str, a: &Account) -> Value {
    let u = format!("{base}/orgs/{}", a.login);
    json!({
        "login": a.login, "id": a.id, "node_id": node_id("Organization", a.id), "url": u,
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events"), "hooks_url": format!("{u}/hooks"),
        "issues_url": format!("{u}/issues"), "members_url": format!("{u}/members{{/member}}"),
        "public_members_url": format!("{u}/public_members{{/member}}"),
        "avatar_url": format!("{base}/avatars/{}", a.login), "description": null,
    })
}

/// The events the App subscribes to (every event the simulator sends).
pub const EVENTS: [&str; 10] = [
    "check_run",
    "check_suite",
    "create",
    "delete",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "push",
    "status",
];

/// The `nullable-integration` object (the App).
pub fn app(base: &str, st: &State) -> Value {
    let owner = st
        .accounts
        .values()
        .find(|a| a.kind == "Organization")
        .cloned()
        .unwrap_or_else(|| st.account("sim"));
    json!({
        "id": st.app_id, "slug": "prflow-sim", "client_id": format!("Iv1.{:016x}", st.app_id),
        "node_id": node_id("App", st.app_id), "owner": user(base, &owner), "name": "prflow (sim)",
        "description": "The App of the prflow GitHub simulator", "external_url": base,
        "html_url": format!("{base}/apps/prflow-sim"), "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "permissions": super::auth::installation_permissions(),
        "events": EVENTS,
        "installations_count": 1,
    })
}

/// The `installation` object.
pub fn installation(base: &str, st: &State) -> Value {
    let account = st
        .accounts
        .values()
        .find(|a| a.kind == "Organization")
        .cloned()
        .unwrap_or_else(|| st.account("sim"));
    let id = st.installation_id;
    json!({
        "id": id, "app_id": st.app_id, "app_slug": "prflow-sim", "client_id": format!("Iv1.{:016x}", st.app_id),
        "node_id": node_id("Installation", id),
        "target_id": account.id, "target_type": account.kind, "account": user(base, &account),
        "repository_selection": "selected", "single_file_name": null, "has_multiple_single_files": false,
        "single_file_paths": [],
        "access_tokens_url": format!("{base}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/settings/installations/{id}"),
        "events": EVENTS,
        "permissions": super::auth::installation_permissions(),
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "suspended_by": null, "suspended_at": null,
    })
}

/// `author_association` of `login` on a repository.
pub fn association(st: &State, r: &Repo, login: &str) -> &'static str {
    if login == r.owner {
        return "OWNER";
    }
    match st.account(login).permission.as_str() {
        "admin" | "write" => "COLLABORATOR",
        _ => "NONE",
    }
}

/// The `label` object of `name` on `r` (GitHub's grey `ededed` when the repository never defined it).
pub fn label(base: &str, r: &Repo, name: &str) -> Value {
    let id = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        % 1_000_000_000;
    let def = r.labels.get(name);
    let url = format!(
        "{base}/repos/{}/labels/{}",
        r.full_name(),
        name.replace(' ', "%20")
    );
    json!({"id": id, "node_id": node_id("Label", id), "url": url,
           "name": name, "description": def.and_then(|d| d.description.clone()),
           "color": def.map(|d| d.color.as_str()).unwrap_or("ededed"), "default": false})
}

pub fn labels(base: &str, r: &Repo, names: &[String]) -> Value {
    Value::Array(names.iter().map(|n| label(base, r, n)).collect())
}

/// The `issue` object (with a `pull_request` key when the issue is a pull request).
pub fn issue(base: &str, st: &State, r: &Repo, i: &Issue) -> Value {
    let full = r.full_name();
    let u = format!("{base}/repos/{full}/issues/{}", i.number);
    let comments = r.comments.iter().filter(|c| c.issue == i.number).count();
    let mut v = json!({
        "id": i.id, "node_id": node_id("Issue", i.id), "url": u, "repository_url": format!("{base}/repos/{full}"),
        "labels_url": format!("{u}/labels{{/name}}"), "comments_url": format!("{u}/comments"),
        "events_url": format!("{u}/events"), "html_url": format!("{base}/{full}/issues/{}", i.number),
        "number": i.number, "state": i.state, "state_reason": null, "title": i.title, "body": i.body,
        "user": user_by_login(base, st, &i.user), "labels": labels(base, r, &i.labels),
        "assignee": null, "assignees": [], "milestone": null, "locked": false, "active_lock_reason": null,
        "comments": comments, "closed_at": i.closed_at, "created_at": i.created_at, "updated_at": i.updated_at,
        "closed_by": null, "author_association": association(st, r, &i.user),
        "reactions": reactions(&format!("{u}/reactions"), &Default::default()),
        "timeline_url": format!("{u}/timeline"), "performed_via_github_app": null,
    });
    if let Some(p) = &i.pull {
        v["pull_request"] = json!({
            "url": format!("{base}/repos/{full}/pulls/{}", i.number),
            "html_url": format!("{base}/{full}/pull/{}", i.number),
            "diff_url": format!("{base}/{full}/pull/{}.diff", i.number),
            "patch_url": format!("{base}/{full}/pull/{}.patch", i.number),
            "merged_at": p.merged_at,
        });
        v["draft"] = json!(p.draft);
    }
    v
}

fn reactions(url: &str, r: &std::collections::BTreeMap<String, Vec<String>>) -> Value {
    let n = |k: &str| r.get(k).map(|v| v.len()).unwrap_or(0);
    let total: usize = r.values().map(|v| v.len()).sum();
    json!({"url": url, "total_count": total, "+1": n("+1"), "-1": n("-1"), "laugh": n("laugh"),
           "confused": n("confused"), "heart": n("heart"), "hooray": n("hooray"), "eyes": n("eyes"), "rocket": n("rocket")})
}

pub fn comment(base: &str, st: &State, r: &Repo, c: &Comment) -> Value {
    let full = r.full_name();
    let u = format!("{base}/repos/{full}/issues/comments/{}", c.id);
    json!({
        "id": c.id, "node_id": node_id("IssueComment", c.id), "url": u,
        "html_url": format!("{base}/{full}/issues/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{base}/repos/{full}/issues/{}", c.issue), "body": c.body,
        "user": user_by_login(base, st, &c.user), "created_at": c.created_at, "updated_at": c.updated_at,
        "author_association": association(st, r, &c.user), "performed_via_github_app": null,
        "reactions": reactions(&format!("{u}/reactions"), &c.reactions),
    })
}

/// The `pull-request` object. `git` facts (shas, mergeability, diff stats) are passed in.
pub struct PullFacts {
    pub base_sha: String,
    pub mergeable: Option<bool>,
    pub commits: usize,
    pub additions: usize,
    pub deletions: usize,
    pub changed_files: usize,
}

pub fn pull(
    base: &str,
    st: &State,
    r: &Repo,
    i: &Issue,
    f: &PullFacts,
    default_branch: &str,
) -> Value {
    let p = i
        .pull
        .as_ref()
        .expect("pull() needs an issue that is a pull request");
    let full = r.full_name();
    let n = i.number;
    let u = format!("{base}/repos/{full}/pulls/{n}");
    let html = format!("{base}/{full}/pull/{n}");
    let issue_u = format!("{base}/repos/{full}/issues/{n}");
    let repo_v = repo(base, st, r, default_branch, None);
    let owner = user_by_login(base, st, &r.owner);
    let reviewers: Vec<Value> = p
        .requested_reviewers
        .iter()
        .map(|l| user_by_login(base, st, l))
        .collect();
    let review_comments = r.review_comments.iter().filter(|c| c.pull == n).count();
    let comments = r.comments.iter().filter(|c| c.issue == n).count();
    let (mergeable, state) = match (p.merged || i.state == "closed", f.mergeable) {
        (true, _) => (Value::Null, "unknown"),
        (false, Some(true)) => (json!(true), if p.draft { "draft" } else { "clean" }),
        (false, Some(false)) => (json!(false), "dirty"),
        (false, None) => (Value::Null, "unknown"),
    };
    let a = json!({
        "url": u, "id": p.id, "node_id": node_id("PullRequest", p.id), "html_url": html,
        "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"), "issue_url": issue_u,
        "commits_url": format!("{u}/commits"), "review_comments_url": format!("{u}/comments"),
        "review_comment_url": format!("{base}/repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{issue_u}/comments"),
        "statuses_url": format!("{base}/repos/{full}/statuses/{}", p.head_sha),
    });
    let b = json!({
        "number": n, "state": i.state, "locked": false, "title": i.title, "body": i.body,
        "user": user_by_login(base, st, &i.user), "labels": labels(base, r, &i.labels),
        "milestone": null, "active_lock_reason": null,
        "created_at": i.created_at, "updated_at": i.updated_at, "closed_at": i.closed_at,
        "merged_at": p.merged_at, "merge_commit_sha": p.merge_commit_sha,
        "assignee": null, "assignees": [], "requested_reviewers": reviewers, "requested_teams": [],
        "head": {"label": format!("{}:{}", r.owner, p.head_ref), "ref": p.head_ref, "sha": p.head_sha,
                 "user": owner, "repo": repo_v},
        "base": {"label": format!("{}:{}", r.owner, p.base_ref), "ref": p.base_ref, "sha": f.base_sha,
                 "user": owner, "repo": repo_v},
        "_links": {
            "self": {"href": u}, "html": {"href": html}, "issue": {"href": issue_u},
            "comments": {"href": format!("{issue_u}/comments")},
            "review_comments": {"href": format!("{u}/comments")},
            "review_comment": {"href": format!("{base}/repos/{full}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{u}/commits")},
            "statuses": {"href": format!("{base}/repos/{full}/statuses/{}", p.head_sha)},
        },
    });
    let c = json!({
        "author_association": association(st, r, &i.user), "auto_merge": null, "draft": p.draft,
        "merged": p.merged, "mergeable": mergeable, "rebaseable": mergeable, "mergeable_state": state,
        "merged_by": p.merged_by.as_ref().map(|l| user_by_login(base, st, l)),
        "comments": comments, "review_comments": review_comments, "maintainer_can_modify": false,
        "commits": f.commits, "additions": f.additions, "deletions": f.deletions, "changed_files": f.changed_files,
    });
    merge(vec![a, b, c])
}

/// Concatenates JSON objects (json! has a recursion limit on big literals).
fn merge(parts: Vec<Value>) -> Value {
    let mut m = Map::new();
    for p in parts {
        if let Value::Object(o) = p {
            m.extend(o);
        }
    }
    Value::Object(m)
}

pub fn review(base: &str, st: &State, r: &Repo, rv: &Review) -> Value {
    let full = r.full_name();
    let html = format!("{base}/{full}/pull/{}#pullrequestreview-{}", rv.pull, rv.id);
    let pu = format!("{base}/repos/{full}/pulls/{}", rv.pull);
    json!({
        "id": rv.id, "node_id": node_id("PullRequestReview", rv.id), "user": user_by_login(base, st, &rv.user),
        "body": rv.body.clone().unwrap_or_default(), "state": rv.state, "html_url": html, "pull_request_url": pu,
        "_links": {"html": {"href": html}, "pull_request": {"href": pu}},
        "submitted_at": rv.submitted_at, "commit_id": rv.commit_id, "author_association": association(st, r, &rv.user),
    })
}

/// The review in a `pull_request_review` webhook: state in lowercase, like GitHub sends it.
pub fn review_hook(base: &str, st: &State, r: &Repo, rv: &Review) -> Value {
    let mut v = review(base, st, r, rv);
    v["state"] = json!(rv.state.to_lowercase());
    v["body"] = json!(rv.body);
    v
}

/// The `pull-request-review-comment` object. Comments never go outdated here, so
/// `position`/`line` stay what they were when written (`original_*`).
pub fn review_comment(base: &str, st: &State, r: &Repo, c: &ReviewComment) -> Value {
    let full = r.full_name();
    let u = format!("{base}/repos/{full}/pulls/comments/{}", c.id);
    let html = format!("{base}/{full}/pull/{}#discussion_r{}", c.pull, c.id);
    let pu = format!("{base}/repos/{full}/pulls/{}", c.pull);
    let file = c.line.is_none();
    let mut v = json!({
        "url": u, "id": c.id, "node_id": node_id("PullRequestReviewComment", c.id),
        "pull_request_review_id": c.review_id, "diff_hunk": c.diff_hunk, "path": c.path,
        "position": c.position, "original_position": c.position,
        "commit_id": c.commit_id, "original_commit_id": c.commit_id, "user": user_by_login(base, st, &c.user),
        "body": c.body, "created_at": c.created_at, "updated_at": c.created_at, "html_url": html,
        "pull_request_url": pu, "author_association": association(st, r, &c.user),
        "_links": {"self": {"href": u}, "html": {"href": html}, "pull_request": {"href": pu}},
        "line": c.line, "original_line": c.line, "side": c.side,
        "start_line": c.start_line, "original_start_line": c.start_line, "start_side": c.start_side,
        "subject_type": if file { "file" } else { "line" },
        "reactions": reactions(&format!("{u}/reactions"), &Default::default()),
    });
    if let Some(to) = c.in_reply_to {
        v["in_reply_to_id"] = json!(to);
    }
    if file {
        // GitHub's description has no null for these: a file comment leaves them out.
        if let Some(m) = v.as_object_mut() {
            for k in ["line", "original_line", "position", "original_position"] {
                m.remove(k);
            }
        }
    }
    v
}

/// `pull-request-minimal` entries of open pulls whose head is `sha`.
pub fn pulls_minimal(base: &str, r: &Repo, sha: &str) -> Value {
    let full = r.full_name();
    let repo_min = json!({"id": r.id, "url": format!("{base}/repos/{full}"), "name": r.name});
    Value::Array(
        r.issues
            .values()
            .filter_map(|i| i.pull.as_ref().filter(|p| i.state == "open" && p.head_sha == sha).map(|p| (i, p)))
            .map(|(i, p)| json!({
                "url": format!("{base}/repos/{full}/pulls/{}", i.number), "id": p.id, "number": i.number,
                "head": {"ref": p.head_ref, "sha": p.head_sha, "repo": repo_min},
                "base": {"ref": p.base_ref, "sha": "", "repo": repo_min},
            }))
            .collect(),
    )
}

pub fn check_run(base: &str, st: &State, r: &Repo, c: &CheckRun) -> Value {
    let full = r.full_name();
    let u = format!("{base}/repos/{full}/check-runs/{}", c.id);
    json!({
        "id": c.id, "node_id": node_id("CheckRun", c.id), "head_sha": c.head_sha, "name": c.name,
        "external_id": c.external_id.clone().unwrap_or_default(), "url": u,
        "html_url": format!("{base}/{full}/runs/{}", c.id), "details_url": c.details_url.clone().unwrap_or_else(|| base.to_string()),
        "status": c.status, "conclusion": c.conclusion, "started_at": c.started_at, "completed_at": c.completed_at,
        "output": {"title": c.title, "summary": c.summary, "text": c.text, "annotations_count": c.annotations.len(),
                   "annotations_url": format!("{u}/annotations")},
        "check_suite": {"id": c.suite_id}, "app": app(base, st),
        "pull_requests": pulls_minimal(base, r, &c.head_sha),
    })
}

/// The `check_suite` object of webhooks.
pub fn check_suite(base: &str, st: &State, r: &Repo, suite_id: u64) -> Value {
    let s = r.check_suites.iter().find(|s| s.id == suite_id);
    let runs: Vec<&CheckRun> = r
        .check_runs
        .iter()
        .filter(|c| c.suite_id == suite_id)
        .collect();
    let done = !runs.is_empty() && runs.iter().all(|c| c.status == "completed");
    let conclusion = if !done {
        Value::Null
    } else if runs
        .iter()
        .any(|c| c.conclusion.as_deref() == Some("failure"))
    {
        json!("failure")
    } else {
        json!("success")
    };
    let head_sha = s.map(|s| s.head_sha.clone()).unwrap_or_default();
    json!({
        "id": suite_id, "node_id": node_id("CheckSuite", suite_id),
        "head_branch": s.and_then(|s| s.head_branch.clone()), "head_sha": head_sha,
        "status": if done { "completed" } else { "queued" }, "conclusion": conclusion,
        "url": format!("{base}/repos/{}/check-suites/{suite_id}", r.full_name()),
        "before": null, "after": head_sha, "pull_requests": pulls_minimal(base, r, &head_sha),
        "app": app(base, st), "created_at": s.map(|s| s.created_at.clone()), "updated_at": s.map(|s| s.created_at.clone()),
        "latest_check_runs_count": runs.len(),
        "check_runs_url": format!("{base}/repos/{}/check-suites/{suite_id}/check-runs", r.full_name()),
        "rerequestable": true, "runs_rerequestable": true,
    })
}

pub fn status(base: &str, st: &State, r: &Repo, s: &Status) -> Value {
    json!({
        "url": format!("{base}/repos/{}/statuses/{}", r.full_name(), s.sha),
        "avatar_url": format!("{base}/avatars/{}", s.creator.replace('[', "%5B").replace(']', "%5D")), "id": s.id, "node_id": node_id("StatusContext", s.id),
        "state": s.state, "description": s.description, "target_url": s.target_url, "context": s.context,
        "created_at": s.created_at, "updated_at": s.created_at, "creator": user_by_login(base, st, &s.creator),
    })
}
