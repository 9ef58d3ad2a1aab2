//! Browser tier: the edges in headless Chromium (wasm-bindgen-test). Time is driven with
//! short real timeouts (≤ 2 s); trusted input and bfcache are in the Playwright tier.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use autologoff::api::{start, SessionHandle};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Defer<F: FnMut()>(F);
impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

type Log = Rc<RefCell<Vec<(String, JsValue)>>>;

fn doc() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn opts(json: &str) -> JsValue {
    JSON::parse(json).unwrap()
}

fn recorder() -> (Function, Log) {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let f = Closure::<dyn FnMut(String, JsValue)>::new(move |t: String, d: JsValue| {
        l.borrow_mut().push((t, d));
    });
    (f.into_js_value().unchecked_into(), log)
}

fn kinds(log: &Log) -> Vec<String> {
    log.borrow()
        .iter()
        .map(|(t, _)| t.clone())
        .filter(|t| t != "audit" && t != "activity")
        .collect()
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

async fn sleep(ms: u32) {
    TimeoutFuture::new(ms).await;
}

fn reset_page() {
    let d = doc();
    // The runner reports through an element in <body>: add our app beside it, never over it.
    if let Some(old) = d.get_element_by_id("app") {
        old.remove();
    }
    let app = d.create_element("main").unwrap();
    app.set_id("app");
    app.set_inner_html("<h1>Patient: Jane Test</h1><input id='f'><button id='b'>Save</button>");
    d.body().unwrap().append_child(&app).unwrap();
    d.set_title("Chart — Jane Test");
    let w = web_sys::window().unwrap();
    w.session_storage().unwrap().unwrap().clear().unwrap();
    w.local_storage().unwrap().unwrap().clear().unwrap();
}

fn arm(json: &str) -> (SessionHandle, Log) {
    let (emit, log) = recorder();
    let h = start(opts(json), emit).unwrap_or_else(|e| panic!("init failed: {:?}", e));
    (h, log)
}

/// What the SDK may touch: html's children, body's attributes, the app, the title.
fn snapshot() -> String {
    let d = doc();
    let body = d.body().unwrap();
    let names = body.get_attribute_names();
    let mut attrs: Vec<String> = names
        .iter()
        .map(|n| {
            let n = n.as_string().unwrap();
            format!("{}={:?}", n, body.get_attribute(&n))
        })
        .collect();
    attrs.sort();
    let root = d.document_element().unwrap();
    let kids: Vec<String> = (0..root.children().length())
        .map(|i| root.children().item(i).unwrap().tag_name())
        .collect();
    format!(
        "{attrs:?}|{}|{kids:?}|{}",
        d.get_element_by_id("app").unwrap().outer_html(),
        d.title()
    )
}

fn overlay() -> Option<web_sys::HtmlDialogElement> {
    doc()
        .get_element_by_id("autologoff-overlay")
        .and_then(|e| e.dyn_into().ok())
}

fn computed(el: &web_sys::Element, prop: &str) -> String {
    web_sys::window()
        .unwrap()
        .get_computed_style(el)
        .unwrap()
        .unwrap()
        .get_property_value(prop)
        .unwrap()
}

#[wasm_bindgen_test]
async fn idle_timeout_warns_then_locks_and_covers_the_page() {
    reset_page();
    let (mut h, log) = arm(r#"{"idleTimeoutMs":1500,"warnBeforeMs":500,"crossTab":false}"#);
    assert_eq!(h.state(), "active");
    sleep(1200).await;
    assert_eq!(h.state(), "warning");
    assert!(
        doc().get_element_by_id("autologoff-warning").is_some(),
        "warning dialog shown"
    );
    sleep(600).await;
    assert_eq!(kinds(&log), vec!["warn", "lock"]);
    let lock = log
        .borrow()
        .iter()
        .find(|(t, _)| t == "lock")
        .unwrap()
        .1
        .clone();
    assert_eq!(get(&lock, "reason").as_string().unwrap(), "idle");
    let warn = log
        .borrow()
        .iter()
        .find(|(t, _)| t == "warn")
        .unwrap()
        .1
        .clone();
    let rem = get(&warn, "remainingMs").as_f64().unwrap();
    assert!((400.0..=500.0).contains(&rem), "remainingMs {rem}");
    assert_eq!(h.state(), "locked");
    assert_eq!(h.remaining_ms(), 0.0);
    // covered: blurred, inert, hidden from AT, overlay modal in the top layer with focus
    let body = doc().body().unwrap();
    assert!(
        computed(&body, "filter").contains("blur"),
        "{}",
        computed(&body, "filter")
    );
    assert!(body.has_attribute("inert"));
    assert_eq!(body.get_attribute("aria-hidden").as_deref(), Some("true"));
    let ov = overlay().expect("overlay");
    assert!(ov.open() && ov.matches(":modal").unwrap());
    assert!(ov.contains(doc().active_element().as_ref().map(|e| e.unchecked_ref())));
    assert!(
        doc().get_element_by_id("autologoff-warning").is_none(),
        "warning gone"
    );
    assert_eq!(doc().title(), "Session locked");
    let audits: Vec<String> = log
        .borrow()
        .iter()
        .filter(|(t, _)| t == "audit")
        .map(|(_, d)| get(d, "type").as_string().unwrap())
        .collect();
    assert_eq!(audits, vec!["warn", "lock", "purge"]);
    h.destroy();
    assert!(overlay().is_none());
    assert_eq!(doc().title(), "Chart — Jane Test");
}

#[wasm_bindgen_test]
async fn bad_options_reject_with_the_right_class_and_message_and_install_nothing() {
    reset_page();
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"5"#,
            "TypeError",
            "options must be an object, got number 5",
        ),
        (
            r#"[]"#,
            "TypeError",
            "options must be an object, got an array of length 0",
        ),
        (
            r#""fast""#,
            "TypeError",
            "options must be an object, got string \"fast\"",
        ),
        (
            r#"{"idleTimeoutMs":500}"#,
            "RangeError",
            "idleTimeoutMs (500)",
        ),
        (
            r#"{"idleTimeoutMs":86400001}"#,
            "RangeError",
            "idleTimeoutMs (86400001)",
        ),
        (
            r#"{"idleTimeoutMs":"900000"}"#,
            "TypeError",
            "idleTimeoutMs must be a number of milliseconds, got string \"900000\"",
        ),
        (
            r#"{"idleTimout":1000}"#,
            "TypeError",
            "unknown option idleTimout (given 1000)",
        ),
        (
            r#"{"warnBeforeMs":900000}"#,
            "RangeError",
            "warnBeforeMs (900000) must be less than idleTimeoutMs (900000)",
        ),
        (r#"{"warnBeforeMs":-5}"#, "RangeError", "warnBeforeMs (-5)"),
        (
            r#"{"hiddenTimeoutMs":-1}"#,
            "RangeError",
            "hiddenTimeoutMs (-1) must be a finite number between 0 and 86400000",
        ),
        (
            r#"{"hiddenTimeoutMs":86400001}"#,
            "RangeError",
            "hiddenTimeoutMs (86400001)",
        ),
        (
            r#"{"hiddenTimeoutMs":"5"}"#,
            "TypeError",
            "hiddenTimeoutMs must be a number of milliseconds, got string \"5\"",
        ),
        (
            r#"{"screenLock":"yes"}"#,
            "TypeError",
            "screenLock must be a boolean, got string \"yes\"",
        ),
        (
            r#"{"lock":{"mode":"shred"}}"#,
            "RangeError",
            "lock.mode (\"shred\") must be one of \"blur\", \"hide\", \"detach\"",
        ),
        (
            r#"{"absoluteTimeoutMs":604800001}"#,
            "RangeError",
            "absoluteTimeoutMs (604800001)",
        ),
        (
            r#"{"activityEvents":"keydown"}"#,
            "TypeError",
            "activityEvents must be an array of strings, got string \"keydown\"",
        ),
        (
            r#"{"activityEvents":["clik"]}"#,
            "RangeError",
            "activityEvents[0] (\"clik\")",
        ),
        (
            r#"{"requests":{"track":"yes"}}"#,
            "TypeError",
            "requests.track must be a boolean, got string \"yes\"",
        ),
        (
            r#"{"server":{"pollIntervalMs":5000}}"#,
            "TypeError",
            "server.url is required",
        ),
        (
            r#"{"server":{"url":"/s","pollIntervalMs":10}}"#,
            "RangeError",
            "server.pollIntervalMs (10)",
        ),
        (
            r#"{"server":{"url":"/s","credentials":"all"}}"#,
            "RangeError",
            "server.credentials (\"all\")",
        ),
        (
            r#"{"lock":{"mode":"fade"}}"#,
            "RangeError",
            "lock.mode (\"fade\")",
        ),
        (
            r###"{"lock":{"target":"##bad"}}"###,
            "RangeError",
            "lock.target (\"##bad\") is not a valid CSS selector",
        ),
        (
            r#"{"lock":{"colour":"red"}}"#,
            "TypeError",
            "unknown option lock.colour (given \"red\")",
        ),
        (
            r#"{"purge":{"keepSessionKeys":[1]}}"#,
            "TypeError",
            "purge.keepSessionKeys[0] must be a string, got number 1",
        ),
        (
            r#"{"crossTab":1}"#,
            "TypeError",
            "crossTab must be a boolean, got number 1",
        ),
        (r#"{"audit":{}}"#, "TypeError", "audit.url is required"),
        (
            r#"{"server":{"url":"/s","signin":5}}"#,
            "TypeError",
            "server.signin must be a string, got number 5",
        ),
        (
            r#"{"server":{"url":"/s","signin":"https://elsewhere.example/login"}}"#,
            "RangeError",
            "server.signin (\"https://elsewhere.example/login\") must be a URL of this page's origin",
        ),
        (
            r#"{"server":{"url":"/s","signin":"http://[::1"}}"#,
            "RangeError",
            "server.signin (\"http://[::1\") must be a URL of this page's origin",
        ),
    ];
    let html_before = snapshot();
    for (json, class, msg) in cases {
        let (emit, _log) = recorder();
        let err = match start(opts(json), emit) {
            Ok(_) => panic!("{json} was accepted"),
            Err(e) => e,
        };
        let name = get(&err, "name").as_string().unwrap();
        let message = get(&err, "message").as_string().unwrap();
        assert_eq!(&name, class, "{json}: {message}");
        assert!(message.starts_with("autologoff: "), "{message}");
        assert!(message.contains(msg), "{json}: {message:?} lacks {msg:?}");
    }
    // NaN and Infinity cannot be written in JSON: build them in JS
    for (v, shown) in [(f64::NAN, "NaN"), (f64::INFINITY, "Infinity")] {
        let o = js_sys::Object::new();
        Reflect::set(&o, &"idleTimeoutMs".into(), &v.into()).unwrap();
        let (emit, _log) = recorder();
        let err = start(o.into(), emit).err().expect("rejected");
        assert_eq!(get(&err, "name").as_string().unwrap(), "RangeError");
        assert!(get(&err, "message")
            .as_string()
            .unwrap()
            .contains(&format!("idleTimeoutMs ({shown})")));
    }
    // a function value is refused with its path
    let o = opts(r#"{"lock":{}}"#);
    Reflect::set(
        &get(&o, "lock"),
        &"target".into(),
        &Function::new_no_args(""),
    )
    .unwrap();
    let (emit, _log) = recorder();
    let err = start(o, emit).err().expect("rejected");
    assert_eq!(get(&err, "name").as_string().unwrap(), "TypeError");
    assert!(get(&err, "message")
        .as_string()
        .unwrap()
        .contains("lock.target must be"));
    // nothing was installed: the DOM is untouched and a valid init still works
    assert_eq!(snapshot(), html_before);
    let (mut h, _) = arm(r#"{"crossTab":false}"#);
    h.destroy();
}

#[wasm_bindgen_test]
async fn null_and_undefined_mean_defaults_and_a_second_init_rejects() {
    reset_page();
    let (emit, _l) = recorder();
    let mut h = start(JsValue::UNDEFINED, emit).unwrap();
    assert!((899_000.0..=900_000.0).contains(&h.remaining_ms()));
    let (emit, _l) = recorder();
    let err = start(JsValue::NULL, emit)
        .err()
        .expect("second init must reject");
    assert!(get(&err, "message")
        .as_string()
        .unwrap()
        .contains("already live"));
    h.destroy();
    let (emit, _l) = recorder();
    let mut h = start(JsValue::NULL, emit).expect("after destroy a new init works");
    h.destroy();
}

#[wasm_bindgen_test]
async fn lock_purges_storage_except_kept_keys_and_restores_everything_at_unlock() {
    reset_page();
    let w = web_sys::window().unwrap();
    let ss = w.session_storage().unwrap().unwrap();
    let ls = w.local_storage().unwrap().unwrap();
    ss.set_item("patient", "Jane Test, MRN 123").unwrap();
    ss.set_item("csrf", "keep-me").unwrap();
    ss.set_item("ui:theme", "dark").unwrap();
    ls.set_item("draft:note", "PHI draft").unwrap();
    ls.set_item("draft:other", "PHI").unwrap();
    ls.set_item("prefs", "kept").unwrap();
    // prior attribute values that must come back exactly
    let body = doc().body().unwrap();
    body.set_attribute("aria-hidden", "false").unwrap();
    let _restore_body = Defer(|| {
        let b = doc().body().unwrap();
        b.remove_attribute("aria-hidden").unwrap();
    });
    let app = doc().get_element_by_id("app").unwrap();
    app.set_attribute("inert", "").unwrap();
    let before = snapshot();
    let (mut h, log) = arm(
        r#"{"crossTab":false,"purge":{"keepSessionKeys":["csrf","ui:*"],"localStorageKeys":["draft:*"]}}"#,
    );
    h.lock(JsValue::UNDEFINED).unwrap();
    h.lock("manual".into()).unwrap(); // twice = once
    assert_eq!(ss.length().unwrap(), 2);
    assert!(ss.get_item("patient").unwrap().is_none());
    assert_eq!(ss.get_item("csrf").unwrap().as_deref(), Some("keep-me"));
    assert!(
        ls.get_item("draft:note").unwrap().is_none()
            && ls.get_item("draft:other").unwrap().is_none()
    );
    assert_eq!(ls.get_item("prefs").unwrap().as_deref(), Some("kept"));
    assert_eq!(body.get_attribute("aria-hidden").as_deref(), Some("true"));
    assert!(
        h.lock("sleepy".into()).is_err(),
        "unknown reason is a RangeError"
    );
    let ok = JsFuture::from(h.unlock()).await.unwrap();
    assert_eq!(ok, JsValue::TRUE);
    sleep(10).await;
    assert_eq!(kinds(&log), vec!["lock", "unlock"]);
    assert_eq!(snapshot(), before, "DOM restored exactly");
    assert!(!body.has_attribute("style"), "no style=\"\" left behind");
    h.destroy();
}

#[wasm_bindgen_test]
async fn tampering_is_undone_and_audited() {
    reset_page();
    let (mut h, log) = arm(r##"{"crossTab":false,"lock":{"target":"#app","mode":"hide"}}"##);
    h.lock("manual".into()).unwrap();
    let app: web_sys::HtmlElement = doc().get_element_by_id("app").unwrap().dyn_into().unwrap();
    assert_eq!(computed(&app, "visibility"), "hidden");
    overlay().unwrap().remove();
    doc().body().unwrap().remove_attribute("inert").unwrap();
    app.style().set_property("visibility", "visible").unwrap();
    sleep(0).await;
    assert!(overlay().is_some_and(|o| o.open()), "overlay back");
    assert!(doc().body().unwrap().has_attribute("inert"));
    assert_eq!(computed(&app, "visibility"), "hidden");
    overlay().unwrap().close();
    sleep(0).await;
    assert!(
        overlay().is_some_and(|o| o.open() && o.matches(":modal").unwrap()),
        "close() undone"
    );
    let tampers = log
        .borrow()
        .iter()
        .filter(|(t, d)| t == "audit" && get(d, "type").as_string().unwrap() == "tamper")
        .count();
    assert!(tampers >= 2, "{tampers} tamper records");
    h.destroy();
    assert_eq!(computed(&app, "visibility"), "visible");
    assert!(!app.has_attribute("style") || app.get_attribute("style").unwrap().contains("visible"));
}

#[wasm_bindgen_test]
async fn synthetic_events_never_count_as_activity() {
    reset_page();
    let (mut h, log) = arm(r#"{"idleTimeoutMs":1000,"warnBeforeMs":0,"crossTab":false}"#);
    let target: web_sys::EventTarget = doc().body().unwrap().into();
    for _ in 0..20 {
        sleep(50).await;
        for ty in ["pointermove", "keydown", "pointerdown"] {
            target
                .dispatch_event(&web_sys::Event::new(ty).unwrap())
                .unwrap();
        }
    }
    sleep(200).await;
    assert_eq!(h.state(), "locked");
    assert!(kinds(&log).contains(&"lock".to_string()));
    assert!(!log.borrow().iter().any(|(t, _)| t == "activity"));
    h.destroy();
}

#[wasm_bindgen_test]
async fn extend_ends_the_warning_and_moves_the_deadline() {
    reset_page();
    let (mut h, log) = arm(r#"{"idleTimeoutMs":1200,"warnBeforeMs":800,"crossTab":false}"#);
    sleep(600).await;
    assert_eq!(h.state(), "warning");
    h.extend();
    assert_eq!(h.state(), "active");
    assert!(h.remaining_ms() > 1100.0);
    assert!(doc().get_element_by_id("autologoff-warning").is_none());
    sleep(10).await;
    assert!(log
        .borrow()
        .iter()
        .any(|(t, d)| t == "audit" && get(d, "type").as_string().unwrap() == "extend"));
    h.destroy();
}

#[wasm_bindgen_test]
async fn destroy_leaves_the_page_as_before_init() {
    reset_page();
    let w = web_sys::window().unwrap();
    let fetch_before = get(&w, "fetch");
    let xhr_send_before = get(&get(&get(&w, "XMLHttpRequest"), "prototype"), "send");
    let html_before = snapshot();
    let title_before = doc().title();
    // Count live listeners on every EventTarget (window, document, body, the overlay, ...).
    js(r#"
        const add = EventTarget.prototype.addEventListener, rem = EventTarget.prototype.removeEventListener;
        const live = (window.__live = []);
        const cap = (o) => (typeof o === "boolean" ? o : !!(o && o.capture));
        const at = (t, ty, f, o) => live.findIndex((e) => e[0] === t && e[1] === ty && e[2] === f && e[3] === cap(o));
        window.__undoCount = () => { EventTarget.prototype.addEventListener = add; EventTarget.prototype.removeEventListener = rem; };
        EventTarget.prototype.addEventListener = function (ty, f, o) {
            if (f && at(this, ty, f, o) < 0) live.push([this, ty, f, cap(o)]);
            return add.call(this, ty, f, o);
        };
        EventTarget.prototype.removeEventListener = function (ty, f, o) {
            const i = at(this, ty, f, o);
            if (i >= 0) live.splice(i, 1);
            return rem.call(this, ty, f, o);
        };
    "#)
    .await;
    let listeners = || async { js("return window.__live.length").await.as_f64().unwrap() };
    let before = listeners().await;
    let (mut h, log) = arm(r#"{"idleTimeoutMs":1000,"warnBeforeMs":500}"#);
    assert!(get(&w, "fetch") != fetch_before, "fetch patched while live");
    h.lock("manual".into()).unwrap();
    let while_locked = listeners().await;
    assert!(
        while_locked >= before + 10.0,
        "activity, lifecycle and overlay listeners are live ({while_locked})"
    );
    h.destroy();
    let after = listeners().await;
    js("window.__undoCount()").await;
    assert_eq!(
        after, before,
        "every listener added by init was removed by destroy"
    );
    assert_eq!(snapshot(), html_before);
    assert_eq!(doc().title(), title_before);
    assert!(get(&w, "fetch") == fetch_before, "fetch restored");
    assert!(get(&get(&get(&w, "XMLHttpRequest"), "prototype"), "send") == xhr_send_before);
    let n = log.borrow().len();
    sleep(1500).await; // no timer survives
    assert_eq!(log.borrow().len(), n);
    assert!(overlay().is_none());
}

async fn js(body: &str) -> JsValue {
    let f = Function::new_no_args(&format!("return (async () => {{ {body} }})()"));
    JsFuture::from(
        f.call0(&JsValue::NULL)
            .unwrap()
            .dyn_into::<js_sys::Promise>()
            .unwrap(),
    )
    .await
    .unwrap()
}

#[wasm_bindgen_test]
async fn the_fetch_and_xhr_patch_is_transparent() {
    reset_page();
    let (mut h, _log) = arm(r#"{"crossTab":false}"#);
    // streaming body, Request objects, aborts and errors pass through untouched
    let out = js(r#"
        const blob = new Blob(["chunk-1|", "chunk-2"], { type: "text/plain" });
        const url = URL.createObjectURL(blob);
        const r = await fetch(new Request(url));
        const reader = r.body.getReader();
        let text = ""; for (;;) { const { done, value } = await reader.read(); if (done) break; text += new TextDecoder().decode(value); }
        const ac = new AbortController(); ac.abort();
        let aborted = "";
        try { await fetch(url, { signal: ac.signal }); } catch (e) { aborted = e.name; }
        let failed = "";
        try { await fetch("http://127.0.0.1:1/nothing"); } catch (e) { failed = e.name; }
        const same = (await fetch(url)) instanceof Response;
        const xhr = await new Promise((res) => {
            const x = new XMLHttpRequest(); const seen = [];
            x.onprogress = () => seen.push("progress");
            x.onload = () => res({ status: x.status, body: x.responseText, seen: seen.length > 0 });
            x.open("GET", url); x.send();
        });
        return JSON.stringify({ text, aborted, failed, same, xhr });
    "#).await;
    let v = JSON::parse(&out.as_string().unwrap()).unwrap();
    assert_eq!(get(&v, "text").as_string().unwrap(), "chunk-1|chunk-2");
    assert_eq!(get(&v, "aborted").as_string().unwrap(), "AbortError");
    assert_eq!(get(&v, "failed").as_string().unwrap(), "TypeError");
    assert_eq!(get(&v, "same"), JsValue::TRUE);
    let xhr = get(&v, "xhr");
    assert_eq!(get(&xhr, "status").as_f64(), Some(200.0));
    assert_eq!(get(&xhr, "body").as_string().unwrap(), "chunk-1|chunk-2");
    assert_eq!(get(&xhr, "seen"), JsValue::TRUE);
    h.destroy();
}

#[wasm_bindgen_test]
async fn detach_moves_the_targets_nodes_out_and_the_same_ones_back() {
    reset_page();
    let d = doc();
    let app = d.get_element_by_id("app").unwrap();
    let field: web_sys::HtmlInputElement = d.get_element_by_id("f").unwrap().unchecked_into();
    field.set_value("draft for Jane Test");
    field.focus().unwrap();
    let before = snapshot();
    let (mut h, _log) = arm(r##"{"crossTab":false,"lock":{"mode":"detach","target":"#app"}}"##);
    h.lock("manual".into()).unwrap();
    assert_eq!(
        app.has_child_nodes(),
        false,
        "the target is empty while locked"
    );
    assert!(!d
        .document_element()
        .unwrap()
        .outer_html()
        .contains("Jane Test"));
    assert!(d.get_element_by_id("f").is_none());
    // the app renders into the target while locked: held back before the next paint
    let late = d.create_element("p").unwrap();
    late.set_text_content(Some("Result for Jane Test"));
    app.append_child(&late).unwrap();
    sleep(0).await;
    assert_eq!(
        app.has_child_nodes(),
        false,
        "an inserted node is held back"
    );
    // Save and Print shortcuts are swallowed while locked
    let key = |k: &str| {
        let init = web_sys::KeyboardEventInit::new();
        init.set_key(k);
        init.set_ctrl_key(true);
        init.set_cancelable(true);
        let e =
            web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        web_sys::window().unwrap().dispatch_event(&e).unwrap();
        e.default_prevented()
    };
    assert!(key("s") && key("p") && !key("a"));
    assert!(h.unlock().as_string().is_none()); // a Promise
    sleep(0).await;
    assert_eq!(h.state(), "active");
    // the same input element, its value and focus are back, then the held-back node
    let again: web_sys::HtmlInputElement = d.get_element_by_id("f").unwrap().unchecked_into();
    assert!(again == field, "the same node");
    assert_eq!(again.value(), "draft for Jane Test");
    assert!(d
        .active_element()
        .is_some_and(|e| &e == again.as_ref() as &web_sys::Element));
    assert!(app
        .last_child()
        .is_some_and(|n| &n == late.as_ref() as &web_sys::Node));
    assert!(!key("s"), "shortcuts work again");
    // lock again, destroy while locked: the page as before init (plus the late node)
    h.lock("manual".into()).unwrap();
    h.destroy();
    late.remove();
    assert_eq!(snapshot(), before);
    assert_eq!(
        d.adopted_style_sheets().length(),
        0,
        "the print sheet is gone"
    );
}

#[wasm_bindgen_test]
async fn a_lock_after_the_warning_gives_focus_to_the_overlay_and_back_at_unlock() {
    reset_page();
    let d = doc();
    let field: web_sys::HtmlInputElement = d.get_element_by_id("f").unwrap().unchecked_into();
    field.focus().unwrap();
    let (mut h, log) = arm(
        r##"{"idleTimeoutMs":1200,"warnBeforeMs":800,"crossTab":false,"lock":{"mode":"detach","target":"#app"}}"##,
    );
    sleep(700).await;
    let warning = d
        .get_element_by_id("autologoff-warning")
        .expect("the warning");
    assert!(warning.contains(d.active_element().as_ref().map(|e| e.as_ref())));
    sleep(900).await;
    assert_eq!(kinds(&log), ["warn", "lock"]);
    assert!(d.get_element_by_id("autologoff-warning").is_none());
    let overlay = d.get_element_by_id("autologoff-overlay").unwrap();
    assert!(overlay.contains(d.active_element().as_ref().map(|e| e.as_ref())));
    assert!(h.unlock().as_string().is_none());
    sleep(0).await;
    // the field the warning took focus from, as the lock recorded it
    assert!(d
        .active_element()
        .is_some_and(|e| &e == field.as_ref() as &web_sys::Element));
    h.destroy();
}
