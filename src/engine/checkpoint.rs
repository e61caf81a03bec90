//! The checkpoint rules: which reviews on a phase's pull request count, and what they
//! decide. A pure function of facts the caller gathered (the reviews, who may write,
//! which required gates fail, which change requests a revision already answered), so
//! every rule is a unit test and no front end decides anything of its own.
//!
//! The rules (docs/architecture.md, "Checkpoints"): each reviewer's latest approving,
//! change-requesting or dismissed review counts (GitHub's rule); an approval counts when
//! it is on the PR's current head, its author has write access, is not the person who
//! started the run (unless self-approval is allowed) and every required gate passed.
//! A change request on the current head from someone with write access makes the
//! agents revise the phase, once per review.

use std::collections::HashSet;

/// What a review says, as far as checkpoints care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    ChangesRequested,
    Dismissed,
    /// A comment-only or pending review: never counts.
    Other,
}

/// One submitted review.
#[derive(Debug, Clone)]
pub struct Review {
    pub id: u64,
    pub user: String,
    pub verdict: Verdict,
    /// The commit the review was given on.
    pub commit: String,
}

/// What the rules need besides the reviews.
pub struct Facts<'a> {
    /// False for a phase without a checkpoint: it needs no review.
    pub has_checkpoint: bool,
    /// A person merged the PR: the final word, whatever the reviews say (the merge
    /// may have come after a restack asked for a new review).
    pub merged: bool,
    /// The PR's current head.
    pub head: &'a str,
    /// Who started the run.
    pub starter: Option<&'a str>,
    pub allow_self_approval: bool,
    /// Check names of required gates that did not pass on the head.
    pub required_failing: &'a [String],
    /// Reviewers with write access (only those [`permission_needed`] names are asked).
    pub writers: &'a HashSet<String>,
    /// Change requests a revision has already answered.
    pub answered: &'a HashSet<u64>,
}

/// What the reviews decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approved {
        reviewer: String,
    },
    ChangesRequested {
        review_id: u64,
        reviewer: String,
        /// The commit the reviewer saw, for the "what changed since" comment.
        commit: String,
    },
    Wait {
        /// Why nothing counts yet, one sentence each, for the status comment.
        reasons: Vec<String>,
    },
}

/// Each reviewer's latest counting review, newest first (GitHub's rule).
pub fn latest_per_reviewer(reviews: &[Review]) -> Vec<&Review> {
    let mut latest: Vec<&Review> = Vec::new();
    for r in reviews.iter().filter(|r| r.verdict != Verdict::Other) {
        latest.retain(|l| l.user != r.user);
        latest.push(r);
    }
    latest.sort_by_key(|r| std::cmp::Reverse(r.id));
    latest
}

fn self_approval(r: &Review, facts: &Facts<'_>) -> bool {
    !facts.allow_self_approval && facts.starter == Some(r.user.as_str())
}

/// The reviewers whose write access the decision depends on (ask the API for these).
pub fn permission_needed(reviews: &[Review], facts: &Facts<'_>) -> Vec<String> {
    latest_per_reviewer(reviews)
        .into_iter()
        .filter(|r| r.commit == facts.head)
        .filter(|r| match r.verdict {
            Verdict::Approved => !self_approval(r, facts),
            Verdict::ChangesRequested => true,
            _ => false,
        })
        .map(|r| r.user.clone())
        .collect()
}

/// Applies the rules. The newest counting review that decides something wins.
pub fn decide(reviews: &[Review], facts: &Facts<'_>) -> Decision {
    if !facts.has_checkpoint {
        return Decision::Approved {
            reviewer: "(no checkpoint)".into(),
        };
    }
    if facts.merged {
        return Decision::Approved {
            reviewer: "(merged)".into(),
        };
    }
    let latest = latest_per_reviewer(reviews);
    let mut reasons = Vec::new();
    for r in &latest {
        let on_head = r.commit == facts.head;
        let writes = facts.writers.contains(&r.user);
        match r.verdict {
            Verdict::Approved => {
                if !on_head {
                    reasons.push(format!(
                        "@{}'s approval is on an older commit; approve the current head",
                        r.user
                    ));
                } else if self_approval(r, facts) {
                    reasons.push(format!(
                        "@{} started this run and may not approve it (set `allowSelfApproval`)",
                        r.user
                    ));
                } else if !writes {
                    reasons.push(format!(
                        "@{} has no write access, so the approval does not count",
                        r.user
                    ));
                } else if !facts.required_failing.is_empty() {
                    reasons.push(format!(
                        "required gates did not pass: {}",
                        facts.required_failing.join(", ")
                    ));
                } else {
                    return Decision::Approved {
                        reviewer: r.user.clone(),
                    };
                }
            }
            Verdict::ChangesRequested if on_head => {
                if !writes {
                    reasons.push(format!(
                        "@{} has no write access; the change request is not acted on",
                        r.user
                    ));
                } else if !facts.answered.contains(&r.id) {
                    return Decision::ChangesRequested {
                        review_id: r.id,
                        reviewer: r.user.clone(),
                        commit: r.commit.clone(),
                    };
                }
            }
            _ => {}
        }
    }
    if latest.is_empty() {
        reasons.push("no review yet".into());
    }
    Decision::Wait { reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "head";

    fn review(id: u64, user: &str, verdict: Verdict, commit: &str) -> Review {
        Review {
            id,
            user: user.into(),
            verdict,
            commit: commit.into(),
        }
    }

    struct World {
        writers: HashSet<String>,
        answered: HashSet<u64>,
        failing: Vec<String>,
        allow_self: bool,
        checkpoint: bool,
        merged: bool,
    }

    impl World {
        fn new() -> World {
            World {
                writers: ["bob", "carol", "alice"].map(String::from).into(),
                answered: HashSet::new(),
                failing: Vec::new(),
                allow_self: false,
                checkpoint: true,
                merged: false,
            }
        }
        fn facts(&self) -> Facts<'_> {
            Facts {
                has_checkpoint: self.checkpoint,
                merged: self.merged,
                head: HEAD,
                starter: Some("alice"),
                allow_self_approval: self.allow_self,
                required_failing: &self.failing,
                writers: &self.writers,
                answered: &self.answered,
            }
        }
        fn decide(&self, reviews: &[Review]) -> Decision {
            decide(reviews, &self.facts())
        }
    }

    fn waits(d: Decision) -> Vec<String> {
        match d {
            Decision::Wait { reasons } => reasons,
            other => panic!("expected to wait, got {other:?}"),
        }
    }

    #[test]
    fn an_approval_on_the_head_by_a_writer_continues() {
        let d = World::new().decide(&[review(1, "bob", Verdict::Approved, HEAD)]);
        assert_eq!(
            d,
            Decision::Approved {
                reviewer: "bob".into()
            }
        );
    }

    #[test]
    fn no_review_waits_and_says_so() {
        assert_eq!(waits(World::new().decide(&[])), ["no review yet"]);
    }

    #[test]
    fn a_phase_without_checkpoint_needs_no_review() {
        let mut w = World::new();
        w.checkpoint = false;
        assert!(matches!(w.decide(&[]), Decision::Approved { .. }));
    }

    #[test]
    fn a_merged_pr_is_approved_whatever_its_reviews_say() {
        let mut w = World::new();
        w.merged = true;
        let stale = review(1, "bob", Verdict::Approved, "old");
        assert_eq!(
            w.decide(&[stale]),
            Decision::Approved {
                reviewer: "(merged)".into()
            }
        );
        assert!(matches!(w.decide(&[]), Decision::Approved { .. }));
    }

    #[test]
    fn an_approval_of_an_older_commit_does_not_count() {
        let r = waits(World::new().decide(&[review(1, "bob", Verdict::Approved, "old")]));
        assert_eq!(
            r,
            ["@bob's approval is on an older commit; approve the current head"]
        );
    }

    #[test]
    fn the_starter_may_not_approve_unless_allowed() {
        let reviews = [review(1, "alice", Verdict::Approved, HEAD)];
        let r = waits(World::new().decide(&reviews));
        assert!(r[0].contains("@alice started this run"), "{r:?}");
        let mut w = World::new();
        w.allow_self = true;
        assert!(matches!(w.decide(&reviews), Decision::Approved { .. }));
    }

    #[test]
    fn reviewers_without_write_access_neither_approve_nor_request_changes() {
        let reviews = [
            review(1, "mallory", Verdict::Approved, HEAD),
            review(2, "eve", Verdict::ChangesRequested, HEAD),
        ];
        let r = waits(World::new().decide(&reviews));
        assert_eq!(
            r,
            [
                "@eve has no write access; the change request is not acted on",
                "@mallory has no write access, so the approval does not count"
            ]
        );
    }

    #[test]
    fn failing_required_gates_hold_an_approval() {
        let mut w = World::new();
        w.failing = vec!["prflow/lint".into()];
        let r = waits(w.decide(&[review(1, "bob", Verdict::Approved, HEAD)]));
        assert_eq!(r, ["required gates did not pass: prflow/lint"]);
    }

    #[test]
    fn a_change_request_is_acted_on_once() {
        let reviews = [review(7, "bob", Verdict::ChangesRequested, HEAD)];
        let mut w = World::new();
        assert_eq!(
            w.decide(&reviews),
            Decision::ChangesRequested {
                review_id: 7,
                reviewer: "bob".into(),
                commit: HEAD.into()
            }
        );
        w.answered.insert(7);
        assert_eq!(waits(w.decide(&reviews)), Vec::<String>::new());
    }

    #[test]
    fn each_reviewers_latest_review_counts_and_the_newest_decides() {
        let reviews = [
            review(1, "bob", Verdict::ChangesRequested, HEAD),
            review(2, "carol", Verdict::Approved, HEAD),
            review(3, "bob", Verdict::Approved, HEAD),
            review(4, "carol", Verdict::Other, HEAD),
        ];
        // Bob's change request is replaced by his approval; Carol's comment does not count.
        assert_eq!(
            World::new().decide(&reviews),
            Decision::Approved {
                reviewer: "bob".into()
            }
        );
        let dismissed = [
            review(1, "bob", Verdict::Approved, HEAD),
            review(2, "bob", Verdict::Dismissed, HEAD),
        ];
        assert_eq!(waits(World::new().decide(&dismissed)), Vec::<String>::new());
    }

    #[test]
    fn only_the_reviewers_that_matter_are_asked_about_access() {
        let w = World::new();
        let reviews = [
            review(1, "alice", Verdict::Approved, HEAD),
            review(2, "bob", Verdict::Approved, "old"),
            review(3, "carol", Verdict::ChangesRequested, HEAD),
            review(4, "dan", Verdict::Approved, HEAD),
        ];
        assert_eq!(permission_needed(&reviews, &w.facts()), ["dan", "carol"]);
    }
}
