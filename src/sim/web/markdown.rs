//! GitHub-flavoured Markdown to HTML for the simulator's pages: tables, task
//! lists, strikethrough, fenced code, footnotes. Like GitHub, raw HTML is
//! filtered (a few attribute-less tags such as `<details>` survive, comments are
//! dropped, everything else is shown as text), links keep only http(s), mailto
//! and relative targets, and a ```` ```mermaid ```` block becomes a
//! `<pre class="mermaid">` that the page's embedded Mermaid script draws.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};
use std::sync::OnceLock;

/// Tags GitHub keeps that prflow's own Markdown uses (folded diffs, code, emphasis).
const ALLOWED_TAGS: &[&str] = &[
    "details", "summary", "code", "br", "b", "i", "em", "strong", "sub", "sup", "kbd", "p", "hr",
    "ins", "del", "s",
];

/// Renders `md` as safe HTML.
pub fn render(md: &str) -> String {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut out = Vec::new();
    let mut mermaid: Option<String> = None;
    for ev in Parser::new_ext(md, opts) {
        if let Some(src) = mermaid.as_mut() {
            match ev {
                Event::Text(t) => src.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let html = format!(
                        "<div class=\"mermaid-box\"><pre class=\"mermaid\">{}</pre></div>",
                        escape(src)
                    );
                    out.push(Event::Html(html.into()));
                    mermaid = None;
                }
                _ => {}
            }
            continue;
        }
        match ev {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(ref lang)))
                if lang.as_ref() == "mermaid" =>
            {
                mermaid = Some(String::new());
            }
            Event::Html(h) => out.push(Event::Html(sanitize(&h).into())),
            Event::InlineHtml(h) => out.push(Event::InlineHtml(sanitize(&h).into())),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => out.push(Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            })),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => out.push(Event::Start(Tag::Image {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            })),
            other => out.push(other),
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    html
}

/// `javascript:`, `data:` and other schemes become `#`, as GitHub's sanitizer does.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains('/') && !s.contains('?') && !s.contains('#'));
    match scheme {
        None | Some("http") | Some("https") | Some("mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

/// Keeps attribute-less allowed tags, drops comments, escapes the rest.
fn sanitize(html: &str) -> String {
    static TAG: OnceLock<regex::Regex> = OnceLock::new();
    let re = TAG.get_or_init(|| {
        regex::Regex::new(r"(?s)<!--.*?-->|<(/?)([a-zA-Z][a-zA-Z0-9]*)\s*(/?)>")
            .expect("a valid regex")
    });
    let mut out = String::new();
    let mut last = 0;
    for m in re.captures_iter(html) {
        let whole = m.get(0).expect("group 0 always matches");
        out.push_str(&escape(&html[last..whole.start()]));
        last = whole.end();
        let Some(name) = m.get(2) else {
            continue; // a comment: dropped, like GitHub
        };
        let name = name.as_str().to_ascii_lowercase();
        if ALLOWED_TAGS.contains(&name.as_str()) {
            out.push_str(&format!("<{}{name}>", &m[1]));
        } else {
            out.push_str(&escape(whole.as_str()));
        }
    }
    out.push_str(&escape(&html[last..]));
    out
}

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_task_lists_and_code() {
        let h = render("| a | b |\n|---|---|\n| `x` | 2 |\n\n- [x] done\n- [ ] todo\n\n```rust\nfn main() {}\n```\n");
        assert!(
            h.contains("<table>") && h.contains("<td><code>x</code></td>"),
            "{h}"
        );
        assert!(h.contains("type=\"checkbox\""), "{h}");
        assert!(h.contains("checked"), "{h}");
        assert!(h.contains("language-rust"), "{h}");
    }

    #[test]
    fn mermaid_blocks_become_diagrams() {
        let h = render("```mermaid\ngraph TD\n  a-->b\n```\n");
        assert!(
            h.contains("<pre class=\"mermaid\">graph TD\n  a--&gt;b\n</pre>"),
            "{h}"
        );
    }

    #[test]
    fn raw_html_is_filtered() {
        let h = render(
            "<!-- prflow:run=x -->\n<script>alert(1)</script>\n\n<details><summary>s</summary>\n\nbody\n</details>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        );
        assert!(!h.contains("prflow:run"), "{h}");
        assert!(
            !h.contains("<script>") && h.contains("&lt;script&gt;"),
            "{h}"
        );
        assert!(h.contains("<details><summary>s</summary>"), "{h}");
        assert!(h.contains("href=\"#\""), "{h}");
        assert!(!h.contains("<img src=x"), "{h}");
    }
}
