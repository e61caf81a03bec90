//! The template runner: renders template packs (embedded under templates/, plus a
//! repository's own `.prflow/templates/`).
//!
//! It is the default runner because it needs nothing but the binary: offline,
//! deterministic and fast. A pack is a folder with a `pack.yaml` manifest and
//! minijinja templates; templates/README.md is the format's reference. Packs are
//! read and every template compiled once, in [`TemplateRunner::new`], so a broken
//! pack is reported (file and line) before a run writes anything.

pub mod context;
pub mod pack;
pub mod render;
pub mod select;
pub mod system;

pub use pack::{FileSpec, MatchRules, Origin, Pack, PackError, Variable};

use super::{AgentError, AgentOutput, Runner, TaskRequest};
use crate::workflow::{Task, Workflow};
use include_dir::{include_dir, Dir};
use minijinja::Environment;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// templates/ of this repository, compiled into the binary.
static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Renders template packs; see the module docs.
pub struct TemplateRunner {
    packs: Vec<Pack>,
    env: Environment<'static>,
    origins: HashMap<String, Origin>,
    /// The workflow-level context of the last workflow rendered, by fingerprint:
    /// building it is O(tasks), so rebuilding it per task would make a run O(tasks²).
    shared: Mutex<Option<(context::WorkflowIdentity, Arc<context::Shared>)>>,
}

impl std::fmt::Debug for TemplateRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateRunner")
            .field(
                "packs",
                &self.packs.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The embedded packs, before any repository pack is added.
pub fn embedded_packs() -> Result<Vec<Pack>, PackError> {
    let mut packs = Vec::new();
    for dir in EMBEDDED.dirs() {
        let folder = dir.path().to_string_lossy().into_owned();
        if folder.starts_with('.') {
            continue;
        }
        packs.push(pack::load_pack(
            &folder,
            Origin::Embedded,
            pack::embedded_sources(dir),
        )?);
    }
    Ok(packs)
}

/// The packs of a `.prflow/templates/` folder (none when it does not exist).
pub fn repo_packs(dir: &Path) -> Result<Vec<Pack>, PackError> {
    let mut packs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(packs),
        Err(e) => {
            return Err(PackError {
                file: dir.display().to_string(),
                line: 0,
                message: format!("cannot read the template folder: {e}"),
            })
        }
    };
    refuse_symlink(dir)?;
    let mut folders = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        // A pack comes from the repository: a link could pull in a folder (or a
        // file) from anywhere on the machine that renders it.
        refuse_symlink(&path)?;
        if path.is_dir() {
            folders.push(path);
        }
    }
    folders.sort();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sources = pack::read_dir_sources(&folder)?;
        packs.push(pack::load_pack(
            &name,
            Origin::Repo(folder.clone()),
            sources,
        )?);
    }
    Ok(packs)
}

/// Refuses `path` when it is a symbolic link, naming it.
fn refuse_symlink(path: &Path) -> Result<(), PackError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(PackError {
            file: path.display().to_string(),
            line: 0,
            message: "is a symbolic link; template packs are read from the repository only: \
                      make it a real folder or file (copy it instead of linking)"
                .into(),
        }),
        _ => Ok(()),
    }
}

impl TemplateRunner {
    /// Embedded packs plus, when given, a repository's own packs from
    /// `<repo_packs>` (normally `<repo>/.prflow/templates/`); a repository pack replaces
    /// the embedded pack of the same name. Fails on the first broken pack, naming
    /// its file and line.
    pub fn new(repo_packs: Option<&Path>) -> anyhow::Result<TemplateRunner> {
        let mut packs = embedded_packs()?;
        if let Some(dir) = repo_packs {
            for p in self::repo_packs(dir)? {
                packs.retain(|e| e.name != p.name);
                packs.push(p);
            }
        }
        Ok(Self::from_packs(packs)?)
    }

    /// A runner over exactly these packs (compiles every template).
    pub fn from_packs(mut packs: Vec<Pack>) -> Result<TemplateRunner, PackError> {
        packs.sort_by(|a, b| a.name.cmp(&b.name));
        resolve_borrowed_sources(&mut packs)?;
        let mut env = render::new_environment();
        let origins: HashMap<String, Origin> = packs
            .iter()
            .map(|p| (p.name.clone(), p.origin.clone()))
            .collect();
        for p in &packs {
            for (rel, src) in &p.sources {
                if !rel.ends_with(".j2") {
                    continue;
                }
                let file = p.origin.display_path(&p.name, rel);
                let text = String::from_utf8(src.bytes.clone()).map_err(|_| PackError {
                    file: file.clone(),
                    line: 0,
                    message: "a .j2 template must be UTF-8 text".into(),
                })?;
                env.add_template_owned(render::template_name(&p.name, rel), text)
                    .map_err(|e| PackError {
                        file: file.clone(),
                        line: e.line().unwrap_or(0),
                        message: format!(
                            "{}{}",
                            e.kind(),
                            e.detail().map(|d| format!(": {d}")).unwrap_or_default()
                        ),
                    })?;
            }
            // Check the syntax of every expression in the manifest now, not mid-run.
            for (i, f) in p.files.iter().enumerate() {
                let manifest_err = |what: &str, e: minijinja::Error| PackError {
                    file: p.manifest_path(),
                    line: f.line,
                    message: format!(
                        "files[{i}].{what}: {}{}",
                        e.kind(),
                        e.detail().map(|d| format!(": {d}")).unwrap_or_default()
                    ),
                };
                if let Some(when) = &f.when {
                    env.compile_expression(when)
                        .map_err(|e| manifest_err("when", e))?;
                }
                env.template_from_str(&f.dest)
                    .map_err(|e| manifest_err("dest", e))?;
            }
            for (key, t) in &p.outputs {
                env.template_from_str(t).map_err(|e| PackError {
                    file: p.manifest_path(),
                    line: p.line_of(&format!("{key}:")),
                    message: format!(
                        "outputs.{key}: {}{}",
                        e.kind(),
                        e.detail().map(|d| format!(": {d}")).unwrap_or_default()
                    ),
                })?;
            }
        }
        Ok(TemplateRunner {
            packs,
            env,
            origins,
            shared: Mutex::new(None),
        })
    }

    /// Every pack, sorted by name.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// The pack named `name`.
    pub fn pack(&self, name: &str) -> Option<&Pack> {
        self.packs.iter().find(|p| p.name == name)
    }

    /// The pack that carries out `task`; the error lists the packs that exist and what
    /// the task asked for, or the input values the chosen pack does not support.
    pub fn select(&self, workflow: &Workflow, task: &Task) -> Result<&Pack, String> {
        select::select(&self.packs, workflow, task)
    }

    /// Why the pack for `task` refuses one of its input values, if it does
    /// (see [`select::refusal`]).
    pub fn refusal(&self, workflow: &Workflow, task: &Task) -> Option<String> {
        select::refusal(&self.packs, workflow, task)
    }

    /// The workflow-level context for `w`, from the cache when `w` is the same value.
    fn shared_context(&self, w: &Workflow) -> Arc<context::Shared> {
        let key = context::identity(w);
        let mut cache = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, shared)) = cache.as_ref() {
            if *k == key {
                return shared.clone();
            }
        }
        let shared = Arc::new(context::Shared::new(w));
        *cache = Some((key, shared.clone()));
        shared
    }

    /// Renders the pack chosen for `req.task`.
    pub fn render(&self, req: &TaskRequest<'_>) -> Result<AgentOutput, AgentError> {
        let pack = self
            .select(req.workflow, req.task)
            .map_err(AgentError::Unservable)?;
        let ci = context::ContextInput {
            workflow: req.workflow,
            task: req.task,
            agent: req.agent,
            run_id: req.run_id,
            phase: req.phase,
            feedback: req.feedback,
            output_dir: req.output_dir,
        };
        let shared = self.shared_context(req.workflow);
        let out = render::render(&self.env, &self.origins, pack, &ci, &shared)
            .map_err(AgentError::Failed)?;
        let summary = format!(
            "rendered template pack `{}` ({} files)",
            pack.name,
            out.files.len()
        );
        Ok(AgentOutput {
            files: out.files,
            outputs: out.outputs,
            summary: Some(summary),
        })
    }
}

impl Runner for TemplateRunner {
    fn kind(&self) -> &'static str {
        "template"
    }

    fn needs_workdir(&self) -> bool {
        false
    }

    fn check(&self, workflow: &Workflow, task: &Task) -> Result<(), String> {
        if let Some(problem) = system::problem_of(workflow, &task.id) {
            return Err(format!("task `{}`: {problem}", task.id));
        }
        self.select(workflow, task).map(|_| ())
    }

    fn run(&self, req: &TaskRequest<'_>) -> Result<AgentOutput, AgentError> {
        self.render(req)
    }
}

/// Copies the files a pack borrows with `src: "@other-pack/path"` into its sources
/// (under that same `@other-pack/path…` name), so rendering treats them like its own.
fn resolve_borrowed_sources(packs: &mut [Pack]) -> Result<(), PackError> {
    let mut borrowed: Vec<(usize, String, pack::Source)> = Vec::new();
    for (i, p) in packs.iter().enumerate() {
        for spec in &p.files {
            let Some(reference) = spec.src.strip_prefix('@') else {
                continue;
            };
            let (other, path) = reference.split_once('/').unwrap_or((reference, ""));
            let problem = |message: String| PackError {
                file: p.origin.display_path(&p.name, "pack.yaml"),
                line: spec.line,
                message,
            };
            let lender = packs.iter().find(|o| o.name == other).ok_or_else(|| {
                problem(format!(
                    "src `{}` names pack `{other}`, which does not exist",
                    spec.src
                ))
            })?;
            let prefix = format!("{path}/");
            let mut found = false;
            for (rel, source) in &lender.sources {
                if rel == path || rel.starts_with(&prefix) {
                    borrowed.push((i, format!("@{other}/{rel}"), source.clone()));
                    found = true;
                }
            }
            if !found {
                return Err(problem(format!(
                    "src `{}`: pack `{other}` has no file `{path}`",
                    spec.src
                )));
            }
        }
    }
    for (i, name, source) in borrowed {
        packs[i].sources.insert(name, source);
    }
    Ok(())
}
