//! Storage purge at lock (glue/storage.js `purge`), and sessionStorage opened ahead of it (`warm`).
//! The SDK's own localStorage records are the glue's (glue/audit.js, glue/crosstab.js): the audit queue, the tabs' state.

use crate::core::config::PurgeCfg;
use crate::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/web/glue/storage.js")]
extern "C" {
    #[wasm_bindgen(js_name = purge)]
    fn purge_js(session: &JsValue, keep: &js_sys::Array, local: &js_sys::Array);
    #[wasm_bindgen(js_name = warm)]
    fn warm_js();
}

fn array(items: &[String]) -> js_sys::Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// Erase sessionStorage (minus kept keys) and the named localStorage keys (values are
/// never read; the SDK's own `autologoff:` keys stay). A pattern ending in `*` is a prefix.
pub fn purge(cfg: &PurgeCfg) {
    purge_js(
        &JsValue::from_bool(cfg.session_storage),
        &array(&cfg.keep_session_keys),
        &array(&cfg.local_storage_keys),
    );
}

/// Opens sessionStorage ahead of the lock: the first access of a page loads it from the
/// browser process (a synchronous round trip the lock's task need not wait for).
pub fn warm(cfg: &PurgeCfg) {
    if cfg.session_storage {
        warm_js();
    }
}
