//! Counting API calls by phase label (reads, writes, retries, answers served
//! from the ETag cache), for reports, metrics and the benchmarks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Calls made under one label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// GET requests.
    pub reads: u64,
    /// Every other method.
    pub writes: u64,
    /// How many of the above were retries of an earlier attempt.
    pub retries: u64,
    /// Reads answered 304 Not Modified (served from the ETag cache); GitHub
    /// does not count them against the rate limit.
    #[serde(default)]
    pub not_modified: u64,
}

impl LabelCounts {
    pub fn total(&self) -> u64 {
        self.reads + self.writes
    }
    /// What these calls cost of the rate limit: every call but a 304.
    pub fn points(&self) -> u64 {
        self.total() - self.not_modified.min(self.total())
    }
}

/// API calls by phase label, as counted by one connection and every
/// connection derived from it (`with_phase`, `installation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    pub by_label: BTreeMap<String, LabelCounts>,
}

impl CallCounts {
    pub fn label(&self, label: &str) -> LabelCounts {
        self.by_label.get(label).copied().unwrap_or_default()
    }
    pub fn reads(&self) -> u64 {
        self.by_label.values().map(|c| c.reads).sum()
    }
    pub fn writes(&self) -> u64 {
        self.by_label.values().map(|c| c.writes).sum()
    }
    pub fn total(&self) -> u64 {
        self.reads() + self.writes()
    }
    /// Reads answered 304 (free of rate limit).
    pub fn not_modified(&self) -> u64 {
        self.by_label.values().map(|c| c.not_modified).sum()
    }
    /// Rate-limit points spent: every call but the 304s.
    pub fn points(&self) -> u64 {
        self.total() - self.not_modified().min(self.total())
    }
    /// What was counted after `earlier` was taken.
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        let mut by_label = BTreeMap::new();
        for (label, now) in &self.by_label {
            let before = earlier.label(label);
            let diff = LabelCounts {
                reads: now.reads - before.reads.min(now.reads),
                writes: now.writes - before.writes.min(now.writes),
                retries: now.retries - before.retries.min(now.retries),
                not_modified: now.not_modified - before.not_modified.min(now.not_modified),
            };
            if diff != LabelCounts::default() {
                by_label.insert(label.clone(), diff);
            }
        }
        CallCounts { by_label }
    }
}

impl fmt::Display for CallCounts {
    /// One line per label: `phase-1: 7 calls (3 reads, 4 writes)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, c) in &self.by_label {
            write!(
                f,
                "{label}: {} calls ({} reads, {} writes",
                c.total(),
                c.reads,
                c.writes
            )?;
            if c.retries > 0 {
                write!(f, ", {} retries", c.retries)?;
            }
            if c.not_modified > 0 {
                write!(f, ", {} not modified", c.not_modified)?;
            }
            writeln!(f, ")")?;
        }
        write!(
            f,
            "total: {} calls ({} reads, {} writes)",
            self.total(),
            self.reads(),
            self.writes()
        )
    }
}
