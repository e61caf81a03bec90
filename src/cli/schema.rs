//! `prflow schema`: print the JSON Schema of the workflow format.
//!
//! Point an editor at it (`"$schema"` in the file, or the editor's schema mapping)
//! to get completion and type checks while writing a workflow; `prflow validate`
//! remains the full check (ids, cycles, references, with lines and columns).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    let text = serde_json::to_string_pretty(&crate::workflow::schema::json_schema())
        .expect("the schema is plain JSON");
    println!("{text}");
    ExitCode::SUCCESS
}
