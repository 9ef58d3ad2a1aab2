//! The SDK's `init` options on an injected page: the gateway's own (its timeouts, its
//! session and audit endpoints, its sign-in page) plus `--sdk-options FILE`, checked at
//! start with the SDK's own validation (`autologoff::core::config`, the code `init` runs
//! in the browser), so a page never meets options `init` would refuse.

use std::fmt;

use autologoff::core::config::{self, Raw};
use serde_json::{json, Map, Value};

use super::Setup;

/// The options the gateway sets itself: the file may not (they follow its flags).
const OWN: [(&str, &str); 5] = [
    ("idleTimeoutMs", "--idle-secs"),
    ("absoluteTimeoutMs", "--absolute-secs"),
    ("server.url", "the gateway's session endpoint"),
    ("server.signin", "the gateway's sign-in"),
    ("audit", "--audit"),
];

/// Why the options file was refused (the file is named by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OptionsError(pub(super) String);

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The whole `init` options: the gateway's, then the file's merged in.
pub(super) fn init_options(setup: &Setup) -> Result<Value, OptionsError> {
    let mut server = Map::new();
    server.insert("url".into(), json!("/.autologoff/session"));
    let mut own = Map::new();
    own.insert("idleTimeoutMs".into(), json!(setup.idle_ms));
    own.insert("absoluteTimeoutMs".into(), json!(setup.absolute_ms));
    own.insert("server".into(), Value::Object(server));
    if setup.audit {
        own.insert("audit".into(), json!({ "url": "/.autologoff/audit" }));
    }
    let mut options = Value::Object(own);
    if let Some(path) = &setup.flags.options_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| OptionsError(format!("cannot be read: {e}")))?;
        let file: Value =
            serde_json::from_str(&text).map_err(|e| OptionsError(format!("is not JSON: {e}")))?;
        merge(&mut options, file)?;
    }
    check(&options)?;
    // "Sign in again" opens the sign-in in a popup where the SDK has `server.signin`
    // (shared/CONTRACT.md); an SDK without it is left to `auto.js`'s own handler.
    let signin = signin_url(setup);
    let mut with_signin = options.clone();
    with_signin["server"]["signin"] = json!(signin);
    match config::parse(&raw(&with_signin)) {
        Ok(_) => Ok(with_signin),
        Err(_) => Ok(options),
    }
}

/// The sign-in "Sign in again" uses: back at `/.autologoff/done`.
fn signin_url(setup: &Setup) -> String {
    format!("{}?reauth=1&rd=/.autologoff/done", setup.login_page)
}

/// The file's options into the gateway's: objects merged one level (`server.*`,
/// `lock.*`), never one of the gateway's own.
fn merge(options: &mut Value, file: Value) -> Result<(), OptionsError> {
    let Value::Object(file) = file else {
        return Err(OptionsError(format!(
            "must hold a JSON object of init options, got {}",
            short(&file)
        )));
    };
    for (key, value) in file {
        if let Some((_, why)) = OWN.iter().find(|(k, _)| *k == key) {
            return Err(OptionsError(format!(
                "option {key}: set by the gateway ({why})"
            )));
        }
        match (options.get_mut(&key), value) {
            (Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (k, v) in theirs {
                    let path = format!("{key}.{k}");
                    if let Some((_, why)) = OWN.iter().find(|(o, _)| *o == path) {
                        return Err(OptionsError(format!(
                            "option {path}: set by the gateway ({why})"
                        )));
                    }
                    mine.insert(k, v);
                }
            }
            (_, value) => {
                options[&key] = value;
            }
        }
    }
    Ok(())
}

/// The SDK's own validation; its message names the option and the value.
fn check(options: &Value) -> Result<(), OptionsError> {
    config::parse(&raw(options)).map(|_| ()).map_err(|e| {
        let m = e.message();
        let m = m.strip_prefix("autologoff: ").unwrap_or(&m).to_owned();
        OptionsError(format!("option {m}"))
    })
}

fn raw(v: &Value) -> Raw {
    match v {
        Value::Null => Raw::Null,
        Value::Bool(b) => Raw::Bool(*b),
        Value::Number(n) => Raw::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Raw::Str(s.clone()),
        Value::Array(a) => Raw::Arr(a.iter().map(raw).collect()),
        Value::Object(o) => Raw::Obj(o.iter().map(|(k, v)| (k.clone(), raw(v))).collect()),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

/// `/.autologoff/sdk/auto.js`: imports the SDK and calls `init`. If the SDK cannot
/// start, the page's content is removed and a notice shown (failure closes).
pub(super) fn auto_js(options: &Value, index_url: &str) -> String {
    let options = serde_json::to_string(options).expect("a JSON value serialises");
    let index_url = serde_json::to_string(index_url).expect("a string serialises");
    format!(
        r#"// autologoff, added by the gateway (--inject-sdk). The page's own code is unchanged.
const options = {options};
const closed = (e) => {{
  console.error("autologoff: the automatic logoff could not start; the page is hidden", e);
  try {{ sessionStorage.clear(); }} catch {{}}
  const p = document.createElement("p");
  p.textContent = "This page is hidden: its automatic logoff could not start. Reload to try again.";
  document.documentElement.replaceChildren(document.createElement("head"), document.createElement("body"));
  document.body.append(p);
}};
try {{
  const {{ init }} = await import({index_url});
  const session = await init(options);
  // This page came through the gateway, so its session is live (a new sign-in): a lock
  // remembered from before (crossTab) is lifted once the server confirms it.
  if (session.state === "locked") await session.unlock();
  if (!options.server.signin) {{
    // The session has ended: reloading leads through the gateway's sign-in and back.
    session.addEventListener("signin", () => location.reload());
  }}
}} catch (e) {{
  closed(e);
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::inject::Inject;

    fn setup(file: Option<&str>) -> Result<Value, OptionsError> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = file.map(|text| {
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "autologoff-sdk-options-{}-{n}.json",
                std::process::id()
            ));
            std::fs::write(&p, text).unwrap();
            p
        });
        let s = Setup {
            flags: Inject {
                sdk_dir: "pkg".into(),
                options_file: path.clone(),
            },
            idle_ms: 120_000,
            absolute_ms: 3_600_000,
            login_page: "/login".into(),
            audit: true,
        };
        let out = init_options(&s);
        if let Some(p) = path {
            let _ = std::fs::remove_file(p);
        }
        out
    }

    #[test]
    fn the_gateways_own_options_follow_its_flags() {
        let o = setup(None).unwrap();
        assert_eq!(o["idleTimeoutMs"], 120_000);
        assert_eq!(o["absoluteTimeoutMs"], 3_600_000);
        assert_eq!(o["server"]["url"], "/.autologoff/session");
        assert_eq!(o["audit"]["url"], "/.autologoff/audit");
    }

    #[test]
    fn the_files_options_are_merged_and_checked_by_the_sdks_rules() {
        let o = setup(Some(
            r#"{"warnBeforeMs": 30000, "server": {"pollIntervalMs": 5000}, "lock": {"mode": "hide"}}"#,
        ))
        .unwrap();
        assert_eq!(o["warnBeforeMs"], 30_000);
        assert_eq!(o["server"]["pollIntervalMs"], 5000);
        assert_eq!(o["server"]["url"], "/.autologoff/session");
        let refused = [
            ("{", "is not JSON"),
            ("[1]", "must hold a JSON object"),
            (
                r#"{"idleTimeoutMs": 5000}"#,
                "option idleTimeoutMs: set by the gateway",
            ),
            (
                r#"{"server": {"url": "/x"}}"#,
                "option server.url: set by the gateway",
            ),
            (r#"{"audit": null}"#, "option audit: set by the gateway"),
            (r#"{"idelTimeoutMs": 5000}"#, "idelTimeoutMs"),
            (r#"{"warnBeforeMs": 999999999}"#, "warnBeforeMs"),
            (r#"{"lock": {"mode": "fade"}}"#, "lock.mode"),
            (
                r#"{"server": {"pollIntervalMs": 10}}"#,
                "server.pollIntervalMs",
            ),
        ];
        for (file, want) in refused {
            let e = setup(Some(file)).expect_err(file);
            assert!(e.0.contains(want), "{file}: {e}");
        }
    }
}
