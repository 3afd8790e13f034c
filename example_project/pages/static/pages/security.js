// The security page: MFA status (GET /users/me/secrets), setting it up (POST, the QR code,
// PUT .../enroll), the backup codes shown once, new codes (POST .../codes) and turning it
// off (DELETE .../{id}), each of the last two with a current code.
import {
  accessToken,
  describeError,
  history,
  initNav,
  leaveNotice,
  SIGNED_OUT_BECAUSE,
  secrets,
  setupOnly,
  showError,
  signedInAs,
  keepTokens,
  signOut,
  takeNotice,
  urls,
  when,
  whileBusy,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const notice = $("notice");
const pageError = $("page-error");
const state = $("mfa-state");
const offPanel = $("mfa-off");
const setupPanel = $("mfa-setup");
const onPanel = $("mfa-on");
const codesPanel = $("backup-codes-panel");
const qrCode = $("qr-code");
const manualSecret = $("manual-secret");

let mfa = null; // the user's MFA secret as the API lists it, or null
let pending = null; // the secret being set up, with its key (shown while pending only)
let shownCodes = [];
let justEnrolled = false; // the sign-in that set MFA up ends once its codes are saved
let setupDone = false; // MFA set up under a SETUP sign-in: the enrollment signed the user in

if (!accessToken()) {
  leaveNotice("Sign in to see your security settings.");
  window.location.replace(urls.signinPage);
}
initNav();
notice.textContent = takeNotice();

function say(text) {
  notice.textContent = text;
}

// The key in groups of four, as authenticator apps print it; they ignore the spaces.
function grouped(base32) {
  return base32.match(/.{1,4}/g).join(" ");
}

function render() {
  const active = mfa !== null && mfa.status === "active";
  if (active) {
    const left = mfa.backup_codes_remaining;
    const parts = [`On since ${when(mfa.enrolled_at)}.`];
    parts.push(`${left} backup code${left === 1 ? "" : "s"} left.`);
    if (mfa.last_used_at) parts.push(`Last used ${when(mfa.last_used_at)}.`);
    if (left <= 3) parts.push("You are running out of backup codes: make new ones below.");
    state.textContent = parts.join(" ");
  } else if (mfa !== null && !pending) {
    state.textContent =
      "Off. A setup was started but not finished: setting up again starts it over.";
  } else if (setupOnly()) {
    state.textContent =
      "This site requires two-step verification for your account: set it up to go on.";
  } else {
    state.textContent = "Off: your password alone signs you in.";
  }
  const showingCodes = shownCodes.length > 0;
  codesPanel.hidden = !showingCodes;
  setupPanel.hidden = pending === null;
  offPanel.hidden = active || pending !== null;
  onPanel.hidden = !active || showingCodes;
}

// What each security event is called on this page.
const EVENT_NAMES = {
  enrolled: "Two-step verification turned on",
  method_added: "A second factor added",
  method_removed: "A second factor removed",
  codes_regenerated: "New backup codes made",
  codes_revoked: "Backup codes revoked by an administrator",
  backup_code_used: "Signed in with a backup code",
  login: "Signed in with a code from your app",
  wrong_code: "A wrong code was entered",
  locked: "Locked after too many wrong codes",
  unlocked: "Unlocked by an administrator",
  reset: "Two-step verification reset by an administrator",
  reauthenticated: "Signed in again",
  device_added: "A device trusted",
  device_revoked: "A trusted device revoked",
  apikey_created: "An API key created",
  apikey_used: "An API key used from a new address",
  apikey_revoked: "An API key revoked",
  password_changed: "Password changed",
};

function renderEvents(events) {
  const list = $("events");
  list.replaceChildren(
    ...events.map((event) => {
      const item = document.createElement("li");
      const what = document.createElement("strong");
      const byDevice = event.type === "login" && event.detail && event.detail.method === "device";
      what.textContent = byDevice ? "Signed in on a trusted browser" : EVENT_NAMES[event.type] || event.type;
      const details = [when(event.at)];
      if (event.agent) details.push(event.agent);
      if (event.ip) details.push(event.ip);
      if (event.detail && event.detail.codes_left !== undefined) {
        details.push(`${event.detail.codes_left} backup codes left`);
      }
      item.append(what, ` — ${details.join(", ")}`);
      return item;
    }),
  );
  $("events-empty").hidden = events.length > 0;
}

async function load() {
  try {
    const list = await secrets.list();
    mfa = list.find((secret) => secret.type === "mfa") || null;
    // A sign-in for setting MFA up reaches the secrets only (the history answers 403).
    $("events-section").hidden = setupOnly();
    if (!setupOnly()) renderEvents((await history.recent()).results);
    pageError.textContent = "";
  } catch (error) {
    pageError.textContent = describeError(error);
  }
  render();
}

function forgetPending() {
  pending = null;
  manualSecret.textContent = "";
  $("otpauth-link").href = "#";
  if (qrCode.src.startsWith("blob:")) URL.revokeObjectURL(qrCode.src);
  qrCode.removeAttribute("src");
  $("setup-code").value = "";
}

function showCodes(codes, message) {
  shownCodes = codes;
  const list = $("backup-codes");
  list.replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement("li");
      const text = document.createElement("code");
      text.textContent = code;
      item.append(text);
      return item;
    }),
  );
  $("codes-notice").textContent = "";
  say(message);
  render();
  $("backup-codes-heading").focus();
}

function codesAsText() {
  return [
    `Backup codes for ${signedInAs() || "your account"} on the django-mfa-enroll example site`,
    `Made ${new Date().toLocaleString()}. Each code signs you in once.`,
    "",
    ...shownCodes,
    "",
  ].join("\n");
}

$("setup-start").addEventListener("click", async () => {
  say("");
  pageError.textContent = "";
  try {
    pending = await whileBusy(offPanel, () => secrets.create());
  } catch (error) {
    pageError.textContent = describeError(error);
    await load();
    return;
  }
  manualSecret.textContent = grouped(pending.secret.secret);
  $("otpauth-link").href = pending.secret.otpauth_url;
  showError($("setup-error"), "", $("setup-code"));
  render();
  $("setup-heading").focus();
  try {
    qrCode.src = await secrets.qrCode(pending.id);
  } catch (error) {
    showError($("setup-error"), `No QR code: ${describeError(error)} Enter the key by hand.`);
  }
});

$("setup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("setup-code");
  const error = $("setup-error");
  const code = input.value.replace(/\s+/g, "");
  if (!code) {
    showError(error, "Enter the code your authenticator app shows.", input);
    return;
  }
  showError(error, "");
  try {
    const enrolled = await whileBusy(event.target, () => secrets.enroll(pending.id, code));
    forgetPending();
    mfa = enrolled;
    if (enrolled.access) {
      // Set up under a SETUP sign-in: the answer signs the user in with the new factor.
      keepTokens(enrolled.access);
      setupDone = true;
    } else {
      justEnrolled = true;
    }
    showError(error, "", input);
    showCodes(enrolled.codes, "Two-step verification is on.");
  } catch (failure) {
    const hints = {
      invalid_code: "Enter the code the app shows now; if it keeps failing, check the phone's clock.",
    };
    showError(error, describeError(failure, hints), input);
  }
});

$("setup-cancel").addEventListener("click", async () => {
  const id = pending.id;
  forgetPending();
  try {
    await secrets.remove(id); // a pending secret goes without a code
  } catch {
    // Already gone, or replaced: the list below says what is left.
  }
  say("Setup cancelled.");
  await load();
});

$("copy-codes").addEventListener("click", async () => {
  const done = $("codes-notice");
  try {
    await navigator.clipboard.writeText(shownCodes.join("\n"));
    done.textContent = "Copied the codes to the clipboard.";
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("backup-codes"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    done.textContent = "This browser blocked copying: the codes are selected, press Ctrl+C (⌘C).";
  }
});

$("download-codes").addEventListener("click", () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([codesAsText()], { type: "text/plain" }));
  link.download = "backup-codes.txt";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  $("codes-notice").textContent = "Downloaded backup-codes.txt.";
});

$("codes-saved").addEventListener("click", async () => {
  if (setupDone) {
    leaveNotice("Two-step verification is on, and you are signed in.");
    window.location.reload(); // the whole page, now that the sign-in reaches it
    return;
  }
  if (justEnrolled) {
    // A password-only sign-in ends when MFA goes on: the next one proves the new factor.
    signOut(SIGNED_OUT_BECAUSE.mfa_required);
    return;
  }
  shownCodes = [];
  $("backup-codes").replaceChildren();
  say("");
  await load();
  $("mfa-heading").focus();
});

$("regenerate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("regenerate-code");
  const error = $("regenerate-error");
  const code = input.value.replace(/\s+/g, "");
  if (!code) {
    showError(error, "Enter the code your authenticator app shows now.", input);
    return;
  }
  showError(error, "");
  try {
    const answer = await whileBusy(event.target, () => secrets.regenerateCodes(mfa.id, code));
    input.value = "";
    showError(error, "", input);
    showCodes(answer.codes, "New backup codes made: the old ones no longer work.");
  } catch (failure) {
    showError(error, describeError(failure), input);
  }
});

$("disable-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("disable-code");
  const error = $("disable-error");
  const typed = input.value.trim();
  if (!typed) {
    showError(error, "Enter a current code from your app, or a backup code.", input);
    return;
  }
  showError(error, "");
  try {
    await whileBusy(event.target, () => secrets.remove(mfa.id, typed));
    // The sign-in that used the removed factor ends with it.
    signOut("Two-step verification is off and your backup codes no longer work. Sign in with your password.");
  } catch (failure) {
    showError(error, describeError(failure), input);
  }
});

if (accessToken()) load();
