//! The wasm-bindgen surface, kept thin: options in, errors mapped to `TypeError` /
//! `RangeError` once here, a handle out. The JS wrapper (`pkg-template/index.js`) turns
//! the handle into the `EventTarget` session object of the contract.

use crate::prelude::*;
use alloc::rc::Rc;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::config::{self, ErrorClass, Raw};
use crate::core::policy::Reason;
use crate::core::text::{cat, int};
use crate::web::codes;
use crate::web::session::Session;
use crate::web::util::{call, deferred, field, kind, num, Kind};

/// Whether a session is live (wasm32 without threads: plain loads and stores).
static LIVE: AtomicBool = AtomicBool::new(false);
#[cfg(feature = "std")]
static HOOKED: AtomicBool = AtomicBool::new(false);

#[wasm_bindgen(module = "/src/web/glue/lock.js")]
extern "C" {
    fn fail_closed(why: &str);
}

#[wasm_bindgen(module = "/src/web/glue/util.js")]
extern "C" {
    fn selector_ok(sel: &JsValue) -> bool;
    /// `url` resolved against the page's URL when it is of the page's origin, else null.
    fn same_origin_url(url: &JsValue) -> JsValue;
    /// A new `Error`, `TypeError` or `RangeError` (`codes::ERROR`…): one import for the three.
    #[wasm_bindgen(js_name = error)]
    fn error_js(class: f64, msg: &JsValue) -> JsValue;
}

fn error(msg: &str) -> JsValue {
    error_js(codes::ERROR.into(), &JsValue::from_str(msg))
}

fn type_error(msg: &str) -> JsValue {
    error_js(codes::TYPE_ERROR.into(), &JsValue::from_str(msg))
}

fn range_error(msg: &str) -> JsValue {
    error_js(codes::RANGE_ERROR.into(), &JsValue::from_str(msg))
}

/// A panic is a bug: leave the page covered, never open (with std: through its hook).
#[cfg(feature = "std")]
fn install_panic_hook() {
    if !HOOKED.swap(true, Relaxed) {
        std::panic::set_hook(Box::new(|_| fail_closed("internal error (panic)")));
    }
}

#[cfg(not(feature = "std"))]
fn install_panic_hook() {}

/// The shipped (`no_std`) build's panic handler: cover the page, then trap. The message
/// is never formatted, so none of `core::fmt` is linked for it.
#[cfg(not(feature = "std"))]
#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo) -> ! {
    fail_closed("internal error (panic)");
    core::arch::wasm32::unreachable()
}

/// Validate `options` and arm a session; `emit(type, detail)` dispatches its events.
#[wasm_bindgen]
pub fn start(options: JsValue, emit: Function) -> Result<SessionHandle, JsValue> {
    install_panic_hook();
    let raw = to_raw(&options, "options", 0).map_err(|m| type_error(&m))?;
    let mut cfg = config::parse(&raw).map_err(|e| match e.class() {
        ErrorClass::Type => type_error(&e.message()),
        ErrorClass::Range => range_error(&e.message()),
    })?;
    if let Some(bad) = check_selector(&cfg.lock.target) {
        return Err(bad);
    }
    if let Some(signin) = cfg.server.as_mut().and_then(|s| s.signin.as_mut()) {
        match same_origin_url(&JsValue::from_str(signin)).as_string() {
            Some(href) => *signin = href,
            None => {
                return Err(range_error(&cat(&[
                    "autologoff: server.signin (",
                    &config::quote(signin),
                    ") must be a URL of this page's origin",
                ])))
            }
        }
    }
    if LIVE.load(Relaxed) {
        return Err(error(
            "autologoff: a session is already live; call destroy() on it before init() again",
        ));
    }
    LIVE.store(true, Relaxed);
    Ok(SessionHandle {
        s: Some(Session::start(cfg, emit)),
    })
}

/// The caller's options as plain data. Functions, symbols, bigints and cycles are refused
/// with the dotted path of the value (serde-wasm-bindgen did this too, for ~20 KB more wasm).
fn to_raw(v: &JsValue, path: &str, depth: u32) -> Result<Raw, String> {
    let k = kind(v);
    match k {
        Kind::Null => return Ok(Raw::Null),
        Kind::Bool => return Ok(Raw::Bool(num(v) == 1.0)),
        Kind::Num => return Ok(Raw::Num(num(v))),
        Kind::Str => return Ok(Raw::Str(v.as_string().unwrap_or_default())),
        _ => {}
    }
    if depth > 8 || !matches!(k, Kind::Array | Kind::Object) {
        return Err(cat(&[
            "autologoff: ",
            path,
            " must be plain data, got ",
            &describe(v),
        ]));
    }
    if k == Kind::Array {
        let a: &js_sys::Array = v.unchecked_ref();
        let mut items = Vec::new();
        // By index (`Array::get`): the iterator is one more import, `get_unchecked`.
        for i in 0..a.length() {
            let x = a.get(i);
            items.push(to_raw(
                &x,
                &cat(&[path, "[", &int(i as i64), "]"]),
                depth + 1,
            )?);
        }
        return Ok(Raw::Arr(items));
    }
    let o: &js_sys::Object = v.unchecked_ref();
    let mut fields = Vec::new();
    let keys = js_sys::Object::keys(o);
    for i in 0..keys.length() {
        let k = keys.get(i);
        let key = k.as_string().unwrap_or_default();
        let val = field(o, &k);
        let p = if path == "options" {
            key.clone()
        } else {
            cat(&[path, ".", &key])
        };
        fields.push((key, to_raw(&val, &p, depth + 1)?));
    }
    Ok(Raw::Obj(fields))
}

fn describe(v: &JsValue) -> String {
    match kind(v) {
        Kind::Str => cat(&[
            "string ",
            &config::quote(&v.as_string().unwrap_or_default()),
        ]),
        Kind::Num => config::Raw::Num(num(v)).render(),
        Kind::Bool => config::Raw::Bool(num(v) == 1.0).render(),
        Kind::Function => "a function".into(),
        _ => "a value of another type".into(),
    }
}

fn check_selector(sel: &str) -> Option<JsValue> {
    // The default needs no parse: the fragment that glue/util.js tries it on is the only
    // DocumentFragment most pages would ever make (its interface, ~1 KB of JS heap).
    if sel == "body" || selector_ok(&JsValue::from_str(sel)) {
        return None;
    }
    Some(range_error(&cat(&[
        "autologoff: lock.target (",
        &config::quote(sel),
        ") is not a valid CSS selector",
    ])))
}

#[wasm_bindgen]
pub struct SessionHandle {
    s: Option<Rc<Session>>,
}

#[wasm_bindgen]
impl SessionHandle {
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.s
            .as_ref()
            .map_or("active", |s| s.state().as_str())
            .into()
    }

    /// Diagnostics for tests and benchmarks: how many times trusted input reached the
    /// policy core (at most about once a second however many events arrive).
    #[doc(hidden)]
    #[wasm_bindgen(getter = __coreInputs)]
    pub fn core_inputs(&self) -> u32 {
        self.s.as_ref().map_or(0, |s| s.core_inputs())
    }

    /// Self-test of the fail-closed path: panics inside the wasm as a bug would. The panic
    /// hook covers the page and the wrapper then reports every session as locked; nothing
    /// here can uncover a page, so it is safe to ship.
    #[doc(hidden)]
    #[wasm_bindgen(js_name = "__panicForTest")]
    pub fn panic_for_test(&self) {
        panic!("autologoff self-test")
    }

    #[wasm_bindgen(js_name = remainingMs)]
    pub fn remaining_ms(&self) -> f64 {
        self.s.as_ref().map_or(0.0, |s| s.remaining_ms() as f64)
    }

    pub fn extend(&self) {
        if let Some(s) = &self.s {
            s.extend();
        }
    }

    pub fn lock(&self, reason: JsValue) -> Result<(), JsValue> {
        let r = if kind(&reason) == Kind::Null {
            Reason::Manual
        } else {
            match reason.as_string().as_deref().and_then(Reason::parse) {
                Some(r) => r,
                None => return Err(range_error(&cat(&[
                    "autologoff: lock(reason) (",
                    &describe(&reason),
                    ") must be one of \"idle\", \"absolute\", \"server\", \"remote\", \"manual\", \"hidden\", \"screen\"",
                ]))),
            }
        };
        if let Some(s) = &self.s {
            s.lock(r);
        }
        Ok(())
    }

    pub fn unlock(&self) -> Promise {
        match &self.s {
            Some(s) => s.unlock(),
            // (glue/util.js `deferred` and `call`: no wrapper of its own for `Promise.resolve`)
            None => {
                let d = deferred();
                call(
                    d.get(1).unchecked_ref(),
                    &JsValue::FALSE,
                    &JsValue::UNDEFINED,
                );
                d.get(0).unchecked_into()
            }
        }
    }

    pub fn destroy(&mut self) {
        if let Some(s) = self.s.take() {
            s.destroy();
            LIVE.store(false, Relaxed);
        }
    }
}
