//! Rebuild when a template pack changes: `include_dir!` (src/agents/template/)
//! embeds templates/ but cannot tell cargo to watch it on stable Rust.

fn main() {
    println!("cargo:rerun-if-changed=templates");
}
