// The security page's API keys: create one (POST /users/me/secrets {"type": "apikey"}),
// show it this once, list them (prefix and dates only) and revoke one (DELETE .../{id}).
import { accessToken, describeError, secrets, setupOnly, showError, when, whileBusy } from "./api.js";

const $ = (id) => document.getElementById(id);
const form = $("key-form");
const newKeyPanel = $("new-key-panel");

function describeKey(key) {
  const parts = [`created ${when(key.created_at)}`];
  parts.push(key.last_used_at ? `last used ${when(key.last_used_at)}` : "never used");
  parts.push(key.expires_at ? `expires ${when(key.expires_at)}` : "never expires");
  return parts.join(", ");
}

function renderKeys(keys) {
  $("keys").replaceChildren(
    ...keys.map((key) => {
      const item = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = key.description || "API key";
      const prefix = document.createElement("code");
      prefix.textContent = `mfak_${key.prefix}_…`;
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "danger";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke ${name.textContent} (${prefix.textContent})`);
      revoke.addEventListener("click", () => revokeKey(key, revoke));
      item.append(name, " ", prefix, ` — ${describeKey(key)} `, revoke);
      return item;
    }),
  );
  $("keys-empty").hidden = keys.length > 0;
}

async function loadKeys() {
  try {
    renderKeys((await secrets.list()).filter((secret) => secret.type === "apikey"));
  } catch (error) {
    showError($("key-error"), describeError(error));
  }
}

async function revokeKey(key, button) {
  button.disabled = true;
  try {
    await secrets.remove(key.id);
    $("notice").textContent = `Revoked ${key.description || "the key"}: it no longer works.`;
  } catch (error) {
    showError($("key-error"), describeError(error));
  }
  await loadKeys();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("key-error");
  showError(error, "");
  const description = $("key-description").value.trim();
  const expiresIn = Number($("key-expiry").value) || undefined;
  try {
    const made = await whileBusy(form, () => secrets.createKey(description, expiresIn));
    $("new-key").textContent = made.secret;
    $("key-description").value = "";
    newKeyPanel.hidden = false;
    form.hidden = true;
    $("new-key-heading").focus();
  } catch (failure) {
    const hints = {
      mfa_required: "Sign out and in again with your code, then create the key.",
      api_key_limit: "Revoke a key below first.",
    };
    showError(error, describeError(failure, hints), $("key-description"));
  }
  await loadKeys();
});

$("copy-key").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("new-key").textContent);
    $("key-notice").textContent = "Copied the key to the clipboard.";
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("new-key"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("key-notice").textContent = "This browser blocked copying: the key is selected, press Ctrl+C (⌘C).";
  }
});

$("key-saved").addEventListener("click", () => {
  $("new-key").textContent = ""; // gone from the page: it is never shown again
  $("key-notice").textContent = "";
  newKeyPanel.hidden = true;
  form.hidden = false;
  $("keys-heading").focus();
});

// A sign-in for setting MFA up only reaches the MFA secret: no keys until it is on.
$("keys-section").hidden = setupOnly();
if (accessToken() && !setupOnly()) loadKeys();
