//! Template packs: a folder with a `pack.yaml` manifest and template files.
//!
//! This module reads packs (from the binary or from a repository's
//! `.prflow/templates/`) into [`Pack`] values and checks their manifests. Every
//! problem is reported as `FILE:LINE: message` so a pack author can fix it without
//! reading Rust. The format is documented in templates/README.md.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a pack was read from; repository packs win over embedded ones of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary from templates/.
    Embedded,
    /// A repository's own pack folder (`<repo>/.prflow/templates/<name>`).
    Repo(PathBuf),
}

impl Origin {
    /// How a pack file is named in messages: `templates/<pack>/<file>` or the real path.
    pub fn display_path(&self, pack: &str, rel: &str) -> String {
        match self {
            Origin::Embedded => format!("templates/{pack}/{rel}"),
            Origin::Repo(dir) => dir.join(rel).display().to_string(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded"),
            Origin::Repo(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// One file of a pack folder, as read.
#[derive(Debug, Clone)]
pub struct Source {
    pub bytes: Vec<u8>,
    /// The file's executable bit (repository packs only; the binary keeps no modes).
    pub executable: bool,
}

/// The `match:` rules of a manifest. Every listed criterion must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchRules {
    pub agent_type: Vec<String>,
    pub capabilities: Vec<String>,
    pub task_type: Vec<String>,
    pub task_id: Vec<String>,
    /// For each key: when the task input has it, its value (or every element) is one of these.
    pub input: Vec<(String, Vec<String>)>,
    pub requires_input: Vec<String>,
    /// What the system model makes of the task: `backend`, `auth` (the backend that
    /// issues tokens), `gateway` or `frontend` (templates/README.md, "The render context").
    pub service: Vec<String>,
}

impl MatchRules {
    /// True when the pack matches every task (no criterion listed).
    pub fn is_empty(&self) -> bool {
        *self == MatchRules::default()
    }

    /// A one-line human summary, e.g. `agent_type=architect, task_type=design`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let list = |name: &str, v: &[String], parts: &mut Vec<String>| {
            if !v.is_empty() {
                parts.push(format!("{name}={}", v.join("|")));
            }
        };
        list("agent_type", &self.agent_type, &mut parts);
        list("capabilities", &self.capabilities, &mut parts);
        list("task_type", &self.task_type, &mut parts);
        list("task_id", &self.task_id, &mut parts);
        list("service", &self.service, &mut parts);
        for (k, v) in &self.input {
            parts.push(format!("input.{k}={}", v.join("|")));
        }
        if !self.requires_input.is_empty() {
            parts.push(format!("requires_input={}", self.requires_input.join(",")));
        }
        if parts.is_empty() {
            "any task".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// A documented pack variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub default: Value,
    pub description: Option<String>,
}

/// One `files:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSpec {
    /// Relative to the pack folder; a directory is rendered recursively.
    pub src: String,
    /// A template string; for a directory `src`, the target folder.
    pub dest: String,
    /// An optional minijinja expression; the entry is skipped when it is false.
    pub when: Option<String>,
    /// `"0755"` (or any mode with an execute bit) marks outputs executable.
    pub executable: bool,
    /// 1-based line of this entry in pack.yaml, for messages.
    pub line: usize,
}

/// A loaded, checked pack.
#[derive(Debug, Clone)]
pub struct Pack {
    pub name: String,
    pub description: String,
    pub priority: i64,
    /// The `match:` rule sets; the pack matches when any one of them holds (a
    /// manifest with a single mapping has one).
    pub rules: Vec<MatchRules>,
    /// Keys whose task input values must be in the list, in manifest order.
    pub supports: Vec<(String, Vec<String>)>,
    pub variables: Vec<Variable>,
    pub files: Vec<FileSpec>,
    /// Output key → template string, in manifest order.
    pub outputs: Vec<(String, String)>,
    pub origin: Origin,
    /// Every file of the pack folder by relative path (`/`-separated), sorted.
    pub sources: BTreeMap<String, Source>,
    /// The manifest text, for line lookups in messages.
    pub(crate) manifest_text: String,
}

impl Pack {
    /// The match rules on one line; alternatives joined with ` OR `.
    pub fn rules_summary(&self) -> String {
        let parts: Vec<String> = self.rules.iter().map(|r| r.summary()).collect();
        if parts.len() > 1 {
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" OR ")
        } else {
            parts.join("")
        }
    }

    /// `templates/<name>/pack.yaml` or the repository path of the manifest.
    pub fn manifest_path(&self) -> String {
        self.origin.display_path(&self.name, "pack.yaml")
    }

    /// The pack files an entry renders: `(relative source path, path below dest)`.
    /// A file `src` gives one item with an empty suffix.
    pub fn entry_sources(&self, spec: &FileSpec) -> Vec<(&str, String)> {
        if let Some((k, _)) = self.sources.get_key_value(&spec.src) {
            return vec![(k.as_str(), String::new())];
        }
        let prefix = format!("{}/", spec.src.trim_end_matches('/'));
        self.sources
            .keys()
            .filter_map(|k| {
                k.strip_prefix(&prefix)
                    .map(|rest| (k.as_str(), rest.to_string()))
            })
            .collect()
    }

    /// 1-based line of the first manifest line containing `needle` (0 when absent).
    pub(crate) fn line_of(&self, needle: &str) -> usize {
        line_of(&self.manifest_text, needle)
    }
}

/// The line of the key a deserialization error names (`unknown field `agnet_type``):
/// the values carry no positions, so the key is looked up in the text; 0 if none.
fn key_line(text: &str, message: &str) -> usize {
    message
        .split('`')
        .nth(1)
        .map(|key| line_of(text, &format!("{key}:")))
        .unwrap_or(0)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Manifest (serde) types.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: i64,
    /// One rule set (a mapping) or several (a list: any of them may hold).
    #[serde(default, rename = "match")]
    rules: Value,
    #[serde(default)]
    supports: Map<String, Value>,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    files: Vec<ManifestFile>,
    #[serde(default)]
    outputs: Map<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ManifestMatch {
    #[serde(default)]
    agent_type: OneOrMany,
    #[serde(default)]
    capabilities: OneOrMany,
    #[serde(default)]
    task_type: OneOrMany,
    #[serde(default)]
    task_id: OneOrMany,
    #[serde(default)]
    input: Map<String, Value>,
    #[serde(default)]
    requires_input: OneOrMany,
    #[serde(default)]
    service: OneOrMany,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    src: String,
    dest: String,
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    mode: Option<String>,
}

/// A list, or a single scalar standing for a list of one.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    Many(Vec<Value>),
    One(Value),
}

impl OneOrMany {
    fn strings(self) -> Vec<String> {
        match self {
            OneOrMany::None => vec![],
            OneOrMany::One(v) => vec![scalar(&v)],
            OneOrMany::Many(v) => v.iter().map(scalar).collect(),
        }
    }
}

/// A YAML scalar as the text a task input would carry (`3001`, `true`, `express`).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A pack problem: the file, the line (0 = unknown) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

impl std::error::Error for PackError {}

/// Parses and checks a pack from its folder name, origin and files.
pub fn load_pack(
    folder: &str,
    origin: Origin,
    sources: BTreeMap<String, Source>,
) -> Result<Pack, PackError> {
    let manifest_file = origin.display_path(folder, "pack.yaml");
    let err = |line: usize, message: String| PackError {
        file: manifest_file.clone(),
        line,
        message,
    };
    let Some(manifest) = sources.get("pack.yaml") else {
        return Err(err(
            0,
            "missing: every pack folder needs a pack.yaml manifest".into(),
        ));
    };
    let text = String::from_utf8(manifest.bytes.clone())
        .map_err(|_| err(0, "pack.yaml is not UTF-8 text".into()))?;
    // The workflow files' YAML reader: one YAML dialect in prflow, aliases on a budget.
    let (doc, positions) = crate::workflow::yaml::parse(&text).map_err(|e| {
        if e.message.starts_with("the file is empty") {
            err(0, "is empty: a manifest needs at least `name: <folder name>` (see templates/README.md for the format)".into())
        } else {
            err(
                e.pos.line,
                format!("{} (see templates/README.md for the format)", e.message),
            )
        }
    })?;
    if let Some((pointer, pos)) = positions.duplicate_keys().into_iter().next() {
        return Err(err(
            pos.line,
            format!("`{pointer}` appears twice: only the last one would count, remove one"),
        ));
    }
    let m: Manifest = serde_json::from_value(doc).map_err(|e| {
        let msg = e.to_string();
        err(
            key_line(&text, &msg),
            format!("{msg} (see templates/README.md for the format)"),
        )
    })?;
    if m.name != folder {
        return Err(err(
            line_of(&text, "name:"),
            format!(
                "name `{}` differs from its folder `{folder}`: rename one so they are equal",
                m.name
            ),
        ));
    }
    if m.name.is_empty() || m.name.contains(['/', '\\', '@']) || m.name.starts_with('.') {
        return Err(err(
            line_of(&text, "name:"),
            format!("`{}` is not a usable pack name", m.name),
        ));
    }

    let map_of_lists =
        |map: Map<String, Value>, what: &str| -> Result<Vec<(String, Vec<String>)>, PackError> {
            let mut out = Vec::new();
            for (key, v) in map {
                let values = match v {
                    Value::Array(items) => items.iter().map(scalar).collect(),
                    Value::Object(_) => {
                        return Err(err(
                            line_of(&text, &format!("{key}:")),
                            format!("{what}.{key} must be a list of values, not a mapping"),
                        ))
                    }
                    other => vec![scalar(&other)],
                };
                out.push((key, values));
            }
            Ok(out)
        };

    let groups = match m.rules {
        Value::Null => vec![],
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut rules = Vec::new();
    for group in groups {
        let g: ManifestMatch = serde_json::from_value(group).map_err(|e| {
            let msg = e.to_string();
            let line = Some(key_line(&text, &msg))
                .filter(|l| *l > 0)
                .unwrap_or_else(|| line_of(&text, "match:"));
            err(line, format!("match: {msg}"))
        })?;
        rules.push(MatchRules {
            agent_type: g.agent_type.strings(),
            capabilities: g.capabilities.strings(),
            task_type: g.task_type.strings(),
            task_id: g.task_id.strings(),
            input: map_of_lists(g.input, "match.input")?,
            requires_input: g.requires_input.strings(),
            service: g.service.strings(),
        });
    }
    if rules.is_empty() {
        rules.push(MatchRules::default());
    }
    let supports = map_of_lists(m.supports, "supports")?;

    let mut variables = Vec::new();
    for (name, v) in m.variables {
        let (default, description) = match v {
            Value::Object(map)
                if map
                    .keys()
                    .all(|k| matches!(k.as_str(), "default" | "description")) =>
            {
                let default = map.get("default").cloned().unwrap_or(Value::Null);
                let description = map.get("description").map(scalar);
                (default, description)
            }
            other => (other, None),
        };
        variables.push(Variable {
            name,
            default,
            description,
        });
    }

    let mut files = Vec::new();
    let mut search_from = 0usize;
    for (i, f) in m.files.into_iter().enumerate() {
        // Entries are listed in order, so search for each `src:` after the previous one.
        let line = text
            .lines()
            .enumerate()
            .skip(search_from)
            .find(|(_, l)| l.contains("src:") && l.contains(f.src.as_str()))
            .map(|(n, _)| n + 1)
            .unwrap_or(0);
        if line > 0 {
            search_from = line;
        }
        let src = f
            .src
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let here = |msg: String| err(line, format!("files[{i}]: {msg}"));
        if src.is_empty() || src.starts_with('/') || src.split('/').any(|s| s == "..") {
            return Err(here(format!(
                "src `{}` must be a path inside the pack folder",
                f.src
            )));
        }
        let prefix = format!("{src}/");
        // `@other-pack/path` names files of another pack; resolved once every pack is
        // loaded (TemplateRunner::from_packs), so shared files live in one place.
        if !src.starts_with('@')
            && !sources.contains_key(&src)
            && !sources.keys().any(|k| k.starts_with(&prefix))
        {
            return Err(here(format!(
                "src `{src}` does not exist in the pack folder (files there: {})",
                preview(sources.keys().filter(|k| k.as_str() != "pack.yaml"))
            )));
        }
        if f.dest.trim().is_empty() {
            return Err(here("dest is empty".into()));
        }
        let executable = match f.mode.as_deref() {
            None => false,
            Some(mode) => {
                let bits = u32::from_str_radix(mode.trim_start_matches("0o"), 8).map_err(|_| {
                    here(format!(
                        "mode `{mode}` is not an octal file mode such as \"0755\""
                    ))
                })?;
                bits & 0o111 != 0
            }
        };
        files.push(FileSpec {
            src,
            dest: f.dest,
            when: f.when,
            executable,
            line,
        });
    }

    let mut outputs = Vec::new();
    for (key, v) in m.outputs {
        let template = match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        outputs.push((key, template));
    }

    Ok(Pack {
        name: m.name,
        description: m.description,
        priority: m.priority,
        rules,
        supports,
        variables,
        files,
        outputs,
        origin,
        sources,
        manifest_text: text,
    })
}

fn preview<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(|s| s.as_str()).collect();
    if names.is_empty() {
        return "none".into();
    }
    let shown: Vec<&str> = names.iter().take(8).copied().collect();
    if names.len() > shown.len() {
        format!("{} … {} more", shown.join(", "), names.len() - shown.len())
    } else {
        shown.join(", ")
    }
}

/// Reads every file below `dir` into a sorted map of relative paths.
pub fn read_dir_sources(dir: &Path) -> Result<BTreeMap<String, Source>, PackError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| PackError {
            file: d.display().to_string(),
            line: 0,
            message: format!("cannot read the folder: {e}"),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| PackError {
                file: d.display().to_string(),
                line: 0,
                message: format!("cannot read the folder: {e}"),
            })?;
            let path = entry.path();
            // Not `metadata`: a symlink must not pull files from outside the pack
            // (a pull request could otherwise point one at a server's secrets).
            let meta = std::fs::symlink_metadata(&path).map_err(|e| PackError {
                file: path.display().to_string(),
                line: 0,
                message: format!("cannot read: {e}"),
            })?;
            if meta.file_type().is_symlink() {
                return Err(PackError {
                    file: path.display().to_string(),
                    line: 0,
                    message: "is a symbolic link; template packs may hold only regular files and folders (copy the file instead)".into(),
                });
            }
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(&path).map_err(|e| PackError {
                file: path.display().to_string(),
                line: 0,
                message: format!("cannot read: {e}"),
            })?;
            out.insert(
                rel,
                Source {
                    bytes,
                    executable: is_executable(&meta),
                },
            );
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Reads every file of an embedded pack folder into a sorted map of relative paths.
pub fn embedded_sources(dir: &include_dir::Dir<'static>) -> BTreeMap<String, Source> {
    fn walk(d: &include_dir::Dir<'static>, root: &Path, out: &mut BTreeMap<String, Source>) {
        for f in d.files() {
            let rel = f.path().strip_prefix(root).unwrap_or(f.path());
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(
                rel,
                Source {
                    bytes: f.contents().to_vec(),
                    executable: false,
                },
            );
        }
        for sub in d.dirs() {
            walk(sub, root, out);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir.path(), &mut out);
    out
}
