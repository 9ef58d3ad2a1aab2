//! Small browser helpers: the clock, RAII event listeners, JS object building.

use crate::prelude::*;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

use super::codes;
use crate::core::policy::Ms;

// The glue's imports take JS values and f64s only where they can: a `bool` or `u32`
// or `&str` parameter makes wasm-bindgen wrap the import in a JS function of its own
// (`b !== 0`, `n >>> 0`, decoding), one more function compiled into the page's heap (and
// baseline-compiled when it runs every second). `JsValue::from_bool` is a fixed table
// slot, no call; `JsValue::from_str` goes through the one wrapper every string shares.
#[wasm_bindgen(module = "/src/web/glue/util.js")]
extern "C" {
    fn timer(cb: &JsValue, ms: f64) -> JsValue;
    fn untimer(id: &JsValue);
    /// The page's window (the SDK only runs in one: `init()` refuses without a document).
    #[wasm_bindgen(js_name = win)]
    pub fn window() -> EventTarget;
    /// The page's document.
    #[wasm_bindgen(js_name = doc)]
    pub fn document() -> web_sys::Document;
    /// `[promise, resolve]`: a new pending promise and the function that resolves it.
    pub fn deferred() -> js_sys::Array;
    /// `f(a, b)`, whatever it throws swallowed.
    #[wasm_bindgen(js_name = call)]
    fn call_js(f: &JsValue, a: &JsValue, b: &JsValue);
    /// `{ [a]: x, [b]: y }` without the undefined keys.
    #[wasm_bindgen(js_name = obj)]
    fn obj_js(a: &JsValue, x: &JsValue, b: &JsValue, y: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = kind)]
    fn kind_js(v: &JsValue) -> i32;
    /// `o[k]`, or undefined when reading it throws (a getter): where js_sys's
    /// `Reflect::get` is a wrapper and a `handleError` closure, both compiled at init.
    pub fn field(o: &JsValue, k: &JsValue) -> JsValue;
    /// `v` as a number: a number as it is, a boolean 1 or 0, anything else NaN. Where
    /// wasm-bindgen's `as_f64` and `is_truthy` are an import and a JS wrapper each (`as_f64`'s
    /// writes its answer through the memory's DataView).
    pub fn num(v: &JsValue) -> f64;
}

/// What a JS value is ([`kind`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `undefined` or `null`
    Null,
    Bool,
    Num,
    Str,
    Array,
    /// any other object (not a function)
    Object,
    Function,
    /// a symbol, a bigint, …
    Other,
}

/// What `v` is, from one glue/util.js call: where wasm-bindgen's `is_undefined`, `is_null`,
/// `as_bool`, `is_function`, `is_object` and `Array::is_array` are an import each.
pub fn kind(v: &JsValue) -> Kind {
    match kind_js(v) {
        codes::KIND_NULL => Kind::Null,
        codes::KIND_BOOLEAN => Kind::Bool,
        codes::KIND_NUMBER => Kind::Num,
        codes::KIND_STRING => Kind::Str,
        codes::KIND_ARRAY => Kind::Array,
        codes::KIND_OBJECT => Kind::Object,
        codes::KIND_FUNCTION => Kind::Function,
        _ => Kind::Other,
    }
}

/// Calls a JS function (a removal, `emit`, a promise's resolve) with up to two arguments,
/// ignoring what it throws: one glue/util.js import for every such call, where js_sys's
/// `call0`/`call1`/`call2` are three, each wrapped in two JS functions of its own.
pub fn call(f: &Function, a: &JsValue, b: &JsValue) {
    call_js(f, a, b);
}

pub fn now() -> Ms {
    js_sys::Date::now() as Ms
}

/// The one closure shape the edge hands to JS: one value in, one value out. Every
/// listener, observer, timer and callback shares it, so the wasm and its glue carry a
/// single invoke shim instead of one per signature.
pub type Callback = Closure<dyn FnMut(JsValue) -> JsValue>;

pub fn callback(f: impl FnMut(JsValue) -> JsValue + 'static) -> Callback {
    Closure::new(f)
}

/// Something the glue (src/web/glue/) installed that calls `cb` (the lifecycle listeners, the request patch,
/// the leader's lock request), undone by calling `off` when this is dropped (gloo's pattern).
#[must_use = "it is undone when this guard is dropped"]
pub struct Installed {
    off: Function,
    _cb: Callback,
}

impl Installed {
    pub fn new(off: Function, cb: Callback) -> Installed {
        Installed { off, _cb: cb }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        call(&self.off, &JsValue::UNDEFINED, &JsValue::UNDEFINED);
    }
}

/// A `setTimeout` that is cleared when dropped.
#[must_use = "the timer is cleared when this guard is dropped"]
pub struct Timer {
    id: JsValue,
    _cb: Callback,
}

impl Timer {
    /// Calls `f` once after `ms`.
    pub fn once(ms: u32, f: impl FnMut() + 'static) -> Timer {
        Timer::boxed(ms, Box::new(f))
    }

    fn boxed(ms: u32, mut f: Box<dyn FnMut()>) -> Timer {
        let cb = callback(move |_| {
            f();
            JsValue::UNDEFINED
        });
        let id = timer(cb.as_ref(), ms.min(i32::MAX as u32) as f64);
        Timer { id, _cb: cb }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        untimer(&self.id);
    }
}

/// `{ k: v, … }` as a plain JS object (an event's detail: at most two fields, checked when
/// compiling), made by one glue/util.js call instead of `Object::new` and a `Reflect::set` per field.
pub fn obj<const N: usize>(pairs: &[(&str, JsValue); N]) -> JsValue {
    const { assert!(N <= 2, "obj: at most two fields") };
    obj_of(pairs)
}

/// [`obj`]'s one body (not one per field count).
fn obj_of(pairs: &[(&str, JsValue)]) -> JsValue {
    let field = |i: usize| {
        pairs
            .get(i)
            .map_or((JsValue::UNDEFINED, JsValue::UNDEFINED), |(k, v)| {
                (JsValue::from_str(k), v.clone())
            })
    };
    let ((a, x), (b, y)) = (field(0), field(1));
    obj_js(&a, &x, &b, &y)
}
