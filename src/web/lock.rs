//! The DOM lock: blur or hide the target, make the page inert, open the top-layer overlay,
//! replace the title. Every change is recorded and undone exactly (focus-trap's pattern);
//! applying twice is applying once; a MutationObserver re-applies anything removed while
//! locked and reports it as tampering.

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{HtmlElement, MutationObserver};

use super::detach::{Detached, Guards};
use super::util::{callback, document, Callback};
use crate::core::config::{LockCfg, LockMode};

struct Covered {
    target: HtmlElement,
    /// The style and attributes as they were before the lock (`cover` in glue/lock.js).
    cover: JsValue,
    prev_title: String,
    overlay: Option<Overlay>,
    detached: Option<Detached>,
    _guards: Guards,
    _observer: Option<Observer>,
}

/// The overlay's elements as built (`overlay` in glue/lock.js), for `heal_overlay`.
struct Overlay {
    saved: JsValue,
    _signin: Callback,
}

#[wasm_bindgen(module = "/src/web/glue/lock.js")]
extern "C" {
    fn overlay(title: &str, signin: &JsValue) -> JsValue;
    fn prepare(title: Option<&str>);
    fn heal_overlay(saved: &JsValue) -> bool;
    fn release_overlay(saved: &JsValue);
    fn cover(target: &HtmlElement, body: &HtmlElement, blur: bool, overlay: bool) -> JsValue;
    fn recover(cover: &JsValue) -> bool;
    fn uncover(cover: &JsValue);
    fn observe(cb: &JsValue, full: bool) -> Option<MutationObserver>;
    /// The first element matching `sel` when it is an HTMLElement, else null; throws
    /// (a SyntaxError) for an invalid selector.
    #[wasm_bindgen(catch)]
    fn select(sel: &str) -> Result<Option<HtmlElement>, JsValue>;
}

struct Observer {
    mo: MutationObserver,
    _cb: Callback,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.mo.disconnect();
    }
}

pub struct DomLock {
    cfg: LockCfg,
    on_signin: Rc<dyn Fn()>,
    on_tamper: Rc<dyn Fn()>,
    covered: Option<Covered>,
    /// Locked before the parser reached `<body>` (init from a `<head>` script, the origin
    /// already locked): covers when `<body>` is inserted, before it can be painted.
    waiting: Option<Observer>,
    /// Locked for real (not only covered at pagehide): `detach` mode detaches.
    deep: bool,
    me: Weak<RefCell<DomLock>>,
}

impl DomLock {
    pub fn new(
        cfg: LockCfg,
        on_signin: Rc<dyn Fn()>,
        on_tamper: Rc<dyn Fn()>,
    ) -> Rc<RefCell<DomLock>> {
        Rc::new_cyclic(|me| {
            RefCell::new(DomLock {
                cfg,
                on_signin,
                on_tamper,
                covered: None,
                waiting: None,
                deep: false,
                me: me.clone(),
            })
        })
    }

    /// The lock: cover the page and, in `detach` mode, take the target's content out. (A
    /// page leaving at pagehide is only covered: the app's own pagehide handlers that run
    /// after ours may still read it.)
    pub fn lock(&mut self) {
        self.deep = self.cfg.mode == LockMode::Detach;
        self.apply();
    }

    /// Shortly before a lock deadline: the overlay built ahead (out of the document) and the
    /// cover's script compiled, so the lock's task only applies them. Changes nothing visible.
    pub fn prepare(&self) {
        if self.covered.is_none() {
            prepare(self.cfg.overlay.then_some(self.cfg.title.as_str()));
        }
    }

    /// Cover the page (idempotent: a second call only repairs).
    pub fn apply(&mut self) {
        if self.covered.is_some() {
            self.heal();
            return;
        }
        let doc = document();
        let Some(body) = doc.body() else {
            if self.waiting.is_none() {
                // Mutation callbacks run before the parser's task ends, so before a paint.
                self.waiting = self.watch(false, |me| {
                    if let Ok(mut l) = me.try_borrow_mut() {
                        if document().body().is_some() {
                            l.apply();
                        }
                    }
                });
            }
            return;
        };
        self.waiting = None; // covered from here on: the tamper observer takes over
        let target = self.find_target(&body);
        // Before the overlay takes focus: the focused field is recorded for the unlock.
        let detached = self.deep.then(|| Detached::new(&target));
        // The overlay opens before the cover is applied, in the same task (no frame between):
        // `showModal()` makes the rest of the document inert at once, and its focusing step
        // brings style up to date, which after the cover means restyling the whole inert,
        // blurred page (7-9 ms on a 200-row table); after, that restyle is left to the frame.
        let overlay = if self.cfg.overlay {
            self.build_overlay()
        } else {
            None
        };
        let cover = cover(
            &target,
            &body,
            self.cfg.mode == LockMode::Blur,
            self.cfg.overlay,
        );
        let prev_title = doc.title();
        doc.set_title(&self.cfg.title);

        self.covered = Some(Covered {
            target,
            cover,
            prev_title,
            overlay,
            detached,
            _guards: Guards::new(),
            _observer: None,
        });
        let observer = self.observe();
        if let Some(c) = self.covered.as_mut() {
            c._observer = observer;
        }
    }

    /// Uncover the page and restore every attribute, style and the title exactly.
    pub fn release(&mut self) {
        self.waiting = None;
        self.deep = false;
        let Some(c) = self.covered.take() else { return };
        drop(c._observer);
        if let Some(o) = c.overlay {
            release_overlay(&o.saved);
        }
        let doc = document();
        doc.set_title(&c.prev_title);
        uncover(&c.cover);
        if let Some(d) = c.detached {
            d.restore();
        }
    }

    /// Re-apply whatever was undone while locked. Returns true when something was.
    pub fn heal(&mut self) -> bool {
        let Some(c) = self.covered.as_mut() else {
            return false;
        };
        let mut fixed = false;
        if self.deep {
            // Nodes the app added are held back too (not tampering: apps render while locked).
            match &c.detached {
                Some(d) => d.hold_back(),
                None => c.detached = Some(Detached::new(&c.target)),
            }
        }
        fixed |= recover(&c.cover);
        if let Some(o) = &c.overlay {
            // Hidden, moved, restyled (inline, class, stylesheet), covered or closed.
            fixed |= heal_overlay(&o.saved);
        }
        let doc = document();
        if doc.title() != self.cfg.title {
            doc.set_title(&self.cfg.title);
            fixed = true;
        }
        fixed
    }

    fn find_target(&self, body: &HtmlElement) -> HtmlElement {
        if self.cfg.target == "body" {
            return body.clone();
        }
        select(&self.cfg.target)
            .ok()
            .flatten()
            .unwrap_or_else(|| body.clone())
    }

    fn build_overlay(&self) -> Option<Overlay> {
        let on_signin = self.on_signin.clone();
        let signin = callback(move |_| {
            on_signin();
            JsValue::UNDEFINED
        });
        let saved = overlay(&self.cfg.title, signin.as_ref());
        if saved.is_null() {
            return None;
        }
        Some(Overlay {
            saved,
            _signin: signin,
        })
    }

    /// A MutationObserver on `<html>` calling `f` with this lock: with `full`, on every
    /// change the tamper check must see; without, on children only.
    fn watch(&self, full: bool, f: fn(&Rc<RefCell<DomLock>>)) -> Option<Observer> {
        let me = self.me.clone();
        let cb = callback(move |_records| {
            if let Some(me) = me.upgrade() {
                f(&me);
            }
            JsValue::UNDEFINED
        });
        let mo = observe(cb.as_ref(), full)?;
        Some(Observer { mo, _cb: cb })
    }

    fn observe(&self) -> Option<Observer> {
        self.watch(true, heal_and_report)
    }
}

fn heal_and_report(me: &Rc<RefCell<DomLock>>) {
    let (fixed, report) = match me.try_borrow_mut() {
        Ok(mut l) => (l.heal(), l.on_tamper.clone()),
        Err(_) => return,
    };
    if fixed {
        report();
    }
}

impl Drop for DomLock {
    fn drop(&mut self) {
        self.release();
    }
}
