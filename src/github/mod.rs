//! Everything that talks to GitHub, and the only code that touches octocrab.
//!
//! The engine and the front ends (`serve`, `action`, `run --github`) see only
//! the small types defined here: a [`GitHub`] connection with its own retries,
//! typed errors and call counts; a [`RepoClient`] whose writes are all
//! *ensures* (read first, skip what would change nothing); App authentication;
//! webhook verification and parsing into domain [`events`]; and the
//! markdown-aware `/prflow` comment [`commands`] parser.
//!
//! octocrab's own retry layer is compiled out (see Cargo.toml) because a
//! second, hidden retry loop would break call counting and double the waits.

pub mod auth;
pub mod body;
pub mod client;
pub mod commands;
pub mod ensure;
pub mod error;
pub mod events;
pub mod host;
pub mod manifest;
pub mod retry;
pub mod types;
pub mod webhook;

pub use auth::{needed_permissions, AppAuth, Auth, InstallationToken, Permissions};
pub use client::{CallCounts, GitHub, GitHubConfig, LabelCounts, RepoClient};
pub use commands::{help_text, parse_commands, Command};
pub use ensure::{Change, ANNOTATION_BATCH};
pub use error::GithubError;
pub use events::WebhookEvent;
pub use retry::RetryPolicy;
pub use types::*;
pub use webhook::{
    parse_event, verify_and_parse, verify_signature, DeliveryHeaders, ParseError, Rejection,
    SignatureError,
};
