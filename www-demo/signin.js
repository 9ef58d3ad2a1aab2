// The demo's sign-in page for the SDK's popup (server.signin). It signs in through the
// demo server's POST /login, then tells the page that opened it, which asks the server
// itself before it uncovers anything: this message alone unlocks nothing.
const form = document.getElementById("signin-form");
const field = document.getElementById("signin-user");
const err = document.getElementById("signin-error");

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  err.hidden = true;
  const user = field.value.trim();
  if (!user) {
    err.textContent = "Enter your user name.";
    err.hidden = false;
    return;
  }
  const r = await fetch("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user }),
    credentials: "same-origin",
  }).catch(() => null);
  if (!r?.ok) {
    err.textContent = `Sign-in failed${r ? ` (HTTP ${r.status})` : ""}.`;
    err.hidden = false;
    return;
  }
  if (window.opener) {
    // Same origin only: the SDK checks the origin and that the message came from its popup.
    window.opener.postMessage({ autologoff: "signed-in" }, location.origin);
    form.hidden = true;
    document.getElementById("signin-done").hidden = false;
  } else {
    // Opened without a popup (the browser blocked it): back to the app.
    location.assign("/");
  }
});
field.focus();
