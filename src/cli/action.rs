//! `prflow action`: the entry point of the GitHub Action (`action/action.yml`).
//! Everything it reads comes from the runner's environment; see `crate::action`.

use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Reads GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, \
GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_WORKSPACE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and the \
action's inputs as INPUT_* (workflow, token, api-url, reviewers, allow-self-approval, dry-run). \
See docs/action.md."
)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    // One thread: an event from a fork removes secrets from the environment
    // before the flow starts, and no other thread may read it meanwhile.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            println!("::error title=prflow::cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(crate::action::run())
}
