//! The page's `Content-Security-Policy` amended by exactly what the injected loader and
//! the SDK need, and nothing else:
//!
//! - the loader's nonce, in the list that governs `<script>` elements
//!   (`script-src-elem`, else `script-src`, else `default-src`; none of them: scripts are
//!   not restricted and nothing is added). The SDK's own module is imported by the
//!   loader, and module imports carry the loader's nonce, so `'strict-dynamic'` pages
//!   work too;
//! - `'wasm-unsafe-eval'` in the list that governs compiling WebAssembly (`script-src`,
//!   else `default-src`), unless it already allows it (`'unsafe-eval'`);
//! - `'self'` for `connect-src` (the wasm fetch, `/.autologoff/session`, the audit):
//!   added to `connect-src`; with no `connect-src` but a `default-src` that lacks it, a
//!   `connect-src` with `default-src`'s sources and `'self'` is added, so only
//!   connections are widened, not images or styles.
//!
//! Two cases cannot be "exactly a nonce": a list whose only effect would be `'none'`
//! loses `'none'` (a list holding both is ill-formed), and a list that allows inline
//! scripts (`'unsafe-inline'` with no nonce, hash or `'strict-dynamic'`), where a nonce
//! would turn the page's own inline scripts off: there the loader is allowed by `'self'`
//! (added unless `'self'` or `*` is there already) and no nonce is added.
//!
//! Every policy of a header (comma-separated) and every header is amended: each one
//! applies. Directives not changed keep their exact text.

/// `policy` (one header value, possibly several comma-separated policies) amended.
pub(crate) fn amend(policy: &str, nonce: &str) -> String {
    policy
        .split(',')
        .map(|p| amend_one(p, nonce))
        .collect::<Vec<_>>()
        .join(",")
}

struct Directive {
    /// The directive's text as the page sent it (without the `;`).
    text: String,
    name: String,
    changed: bool,
}

impl Directive {
    fn parse(text: &str) -> Directive {
        let name = text
            .split_ascii_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        Directive {
            text: text.to_owned(),
            name,
            changed: false,
        }
    }

    fn sources(&self) -> Vec<&str> {
        self.text.split_ascii_whitespace().skip(1).collect()
    }

    fn has(&self, source: &str) -> bool {
        self.sources()
            .iter()
            .any(|s| s.eq_ignore_ascii_case(source))
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.sources()
            .iter()
            .any(|s| s.len() > prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    }

    /// Whether same-origin URLs are allowed without a nonce (`'self'` or `*`; not under
    /// `'strict-dynamic'`, which turns both off for scripts).
    fn allows_self(&self) -> bool {
        (self.has("'self'") || self.has("*")) && !self.has("'strict-dynamic'")
    }

    /// Whether the list allows inline scripts (a nonce would turn that off).
    fn allows_inline(&self) -> bool {
        self.has("'unsafe-inline'")
            && !self.has_prefix("'nonce-")
            && !self.has_prefix("'sha")
            && !self.has("'strict-dynamic'")
    }

    /// `source` appended; a lone `'none'` dropped (it cannot stand beside a source).
    fn add(&mut self, source: &str) {
        let sources = self.sources();
        if sources.len() == 1 && sources[0].eq_ignore_ascii_case("'none'") {
            let lead = &self.text[..self.text.len() - self.text.trim_start().len()];
            let name = self.text.split_ascii_whitespace().next().unwrap_or("");
            self.text = format!("{lead}{name} {source}");
        } else {
            let kept = self.text.trim_end().len();
            self.text.truncate(kept);
            self.text.push(' ');
            self.text.push_str(source);
        }
        self.changed = true;
    }
}

fn amend_one(policy: &str, nonce: &str) -> String {
    let mut directives: Vec<Directive> = policy.split(';').map(Directive::parse).collect();
    // The first directive of a name is the one in force; later copies are ignored.
    let find = |ds: &[Directive], name: &str| ds.iter().position(|d| d.name == name);
    let elem = find(&directives, "script-src-elem");
    let script = find(&directives, "script-src");
    let default = find(&directives, "default-src");
    let connect = find(&directives, "connect-src");
    let nonce_source = format!("'nonce-{nonce}'");

    if let Some(i) = elem.or(script).or(default) {
        let d = &mut directives[i];
        if d.allows_inline() {
            if !d.allows_self() {
                d.add("'self'");
            }
        } else {
            d.add(&nonce_source);
        }
    }
    if let Some(i) = script.or(default) {
        let d = &mut directives[i];
        if !d.has("'wasm-unsafe-eval'") && !d.has("'unsafe-eval'") {
            d.add("'wasm-unsafe-eval'");
        }
    }
    let mut added = None;
    match (connect, default) {
        (Some(i), _) => {
            let d = &mut directives[i];
            if !d.has("'self'") && !d.has("*") {
                d.add("'self'");
            }
        }
        (None, Some(i)) => {
            let d = &directives[i];
            if !d.has("'self'") && !d.has("*") {
                // The sources that mean something for connections (no keyword other
                // than 'self', no nonce or hash), then 'self'.
                let mut sources: Vec<&str> = d
                    .sources()
                    .into_iter()
                    .filter(|s| !s.starts_with('\''))
                    .collect();
                sources.push("'self'");
                added = Some(format!("connect-src {}", sources.join(" ")));
            }
        }
        (None, None) => {}
    }
    let mut out: Vec<String> = directives.into_iter().map(|d| d.text).collect();
    if let Some(extra) = added {
        // After the last directive, before a trailing `;` where there was one.
        let at = match out.last() {
            Some(t) if t.trim().is_empty() && out.len() > 1 => out.len() - 1,
            _ => out.len(),
        };
        out.insert(at, format!(" {extra}"));
    }
    out.join(";")
}

#[cfg(test)]
mod tests {
    use super::amend;

    const N: &str = "R4nd0m";

    /// (the page's policy, as amended).
    const CASES: &[(&str, &str)] = &[
        // No script or connect restriction: nothing to add.
        ("frame-ancestors 'none'", "frame-ancestors 'none'"),
        ("upgrade-insecure-requests", "upgrade-insecure-requests"),
        (
            "img-src 'self' data:; style-src 'self'",
            "img-src 'self' data:; style-src 'self'",
        ),
        // default-src only.
        (
            "default-src 'self'",
            "default-src 'self' 'nonce-R4nd0m' 'wasm-unsafe-eval'",
        ),
        (
            "default-src 'none'",
            "default-src 'nonce-R4nd0m' 'wasm-unsafe-eval'; connect-src 'self'",
        ),
        (
            "default-src https://cdn.example.org; img-src *",
            "default-src https://cdn.example.org 'nonce-R4nd0m' 'wasm-unsafe-eval'; img-src *; connect-src https://cdn.example.org 'self'",
        ),
        // Google's strict CSP (csp.withgoogle.com).
        (
            "object-src 'none'; script-src 'nonce-abc' 'unsafe-inline' 'unsafe-eval' 'strict-dynamic' https: http:; base-uri 'none'",
            "object-src 'none'; script-src 'nonce-abc' 'unsafe-inline' 'unsafe-eval' 'strict-dynamic' https: http: 'nonce-R4nd0m'; base-uri 'none'",
        ),
        (
            "script-src 'nonce-X' 'strict-dynamic'",
            "script-src 'nonce-X' 'strict-dynamic' 'nonce-R4nd0m' 'wasm-unsafe-eval'",
        ),
        (
            "default-src 'none'; script-src 'nonce-X' 'strict-dynamic'; style-src 'self'",
            "default-src 'none'; script-src 'nonce-X' 'strict-dynamic' 'nonce-R4nd0m' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'",
        ),
        // GitHub-like: many directives, connect-src without 'self'.
        (
            "default-src 'none'; base-uri 'self'; connect-src 'self' api.example.com; img-src 'self' data:; script-src github.githubassets.com; style-src 'unsafe-inline' github.githubassets.com",
            "default-src 'none'; base-uri 'self'; connect-src 'self' api.example.com; img-src 'self' data:; script-src github.githubassets.com 'nonce-R4nd0m' 'wasm-unsafe-eval'; style-src 'unsafe-inline' github.githubassets.com",
        ),
        (
            "default-src 'self'; connect-src https://api.example.com",
            "default-src 'self' 'nonce-R4nd0m' 'wasm-unsafe-eval'; connect-src https://api.example.com 'self'",
        ),
        (
            "script-src 'self'; connect-src 'none'",
            "script-src 'self' 'nonce-R4nd0m' 'wasm-unsafe-eval'; connect-src 'self'",
        ),
        // Already allowed: wasm by 'unsafe-eval' or 'wasm-unsafe-eval', connect by * .
        (
            "script-src 'self' 'unsafe-eval'; connect-src *",
            "script-src 'self' 'unsafe-eval' 'nonce-R4nd0m'; connect-src *",
        ),
        (
            "script-src 'self' 'wasm-unsafe-eval'",
            "script-src 'self' 'wasm-unsafe-eval' 'nonce-R4nd0m'",
        ),
        // Inline scripts allowed: a nonce would turn them off; 'self' allows the loader.
        (
            "script-src 'unsafe-inline' https://cdn.example.org",
            "script-src 'unsafe-inline' https://cdn.example.org 'self' 'wasm-unsafe-eval'",
        ),
        (
            "default-src 'self' 'unsafe-inline'",
            "default-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
        ),
        // script-src-elem governs elements (and the nonce); script-src the wasm.
        (
            "script-src-elem 'self'; script-src 'none'",
            "script-src-elem 'self' 'nonce-R4nd0m'; script-src 'wasm-unsafe-eval'",
        ),
        // The first copy of a directive is the one in force.
        (
            "script-src 'self'; script-src 'none'",
            "script-src 'self' 'nonce-R4nd0m' 'wasm-unsafe-eval'; script-src 'none'",
        ),
        // Spacing, case, a trailing ';' and report directives kept.
        (
            "Default-Src  'SELF' ;report-uri /csp;",
            "Default-Src  'SELF' 'nonce-R4nd0m' 'wasm-unsafe-eval';report-uri /csp;",
        ),
        (
            "default-src 'none'; report-to csp;",
            "default-src 'nonce-R4nd0m' 'wasm-unsafe-eval'; report-to csp; connect-src 'self';",
        ),
        // Two policies in one header: each applies, each amended.
        (
            "script-src 'self', connect-src 'none'",
            "script-src 'self' 'nonce-R4nd0m' 'wasm-unsafe-eval', connect-src 'self'",
        ),
    ];

    #[test]
    fn real_world_policies_get_exactly_what_the_sdk_needs() {
        for (page, want) in CASES {
            assert_eq!(amend(page, N), *want, "page's policy: {page}");
        }
    }

    #[test]
    fn amending_twice_adds_the_nonce_once_more_and_nothing_else() {
        // One answer is amended once; a second pass (another gateway in front) only
        // adds its own nonce.
        let once = amend("default-src 'none'", "A");
        let twice = amend(&once, "B");
        assert_eq!(
            twice,
            "default-src 'nonce-A' 'wasm-unsafe-eval' 'nonce-B'; connect-src 'self'"
        );
    }
}
