// A small client of django-mfa-enroll's JSON API, shared by the example pages.
//
// The access token lives in sessionStorage (gone when the tab closes) and goes out as
// "Authorization: jwt <token>". Requests carry no cookies: the pages are a token client
// like any other, so a Django session (the admin's) never stands in for the token.

export const urls = JSON.parse(document.getElementById("urls").textContent);

const ACCESS = "mfaExample.access";
const REFRESH = "mfaExample.refresh";
const USERNAME = "mfaExample.username";
const SETUP_ONLY = "mfaExample.setupOnly";
// A trusted browser's device token, per username, kept across sign-outs (localStorage).
const DEVICE = "mfaExample.device.";
const NOTICE = "mfaExample.notice"; // a message for the next page (signed out, session ended)

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `The server answered HTTP ${status}.`);
    this.status = status;
    this.body = body || {};
    this.code = this.body.code || "";
    this.retryAfter = retryAfter;
  }
}

export class NetworkError extends Error {}

// A time the API sends (ISO 8601), as the reader's locale writes a date and time.
export function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function accessToken() {
  return sessionStorage.getItem(ACCESS);
}

export function signedInAs() {
  return sessionStorage.getItem(USERNAME) || "";
}

// A SETUP answer (the site requires MFA) signs in for setting it up only; an ACCESS one
// (a login, a refresh, the enrollment under SETUP) for everything.
export function keepTokens(answer, username) {
  sessionStorage.setItem(ACCESS, answer.token);
  if (answer.refresh) sessionStorage.setItem(REFRESH, answer.refresh);
  if (answer.type === "SETUP") sessionStorage.setItem(SETUP_ONLY, "1");
  else sessionStorage.removeItem(SETUP_ONLY);
  if (username !== undefined) sessionStorage.setItem(USERNAME, username);
}

// Whether this sign-in may only set two-step verification up.
export function setupOnly() {
  return sessionStorage.getItem(SETUP_ONLY) === "1";
}

export function signOut(notice) {
  for (const key of [ACCESS, REFRESH, USERNAME, SETUP_ONLY]) sessionStorage.removeItem(key);
  leaveNotice(notice);
  window.location.assign(urls.signinPage);
}

export function leaveNotice(notice) {
  if (notice) sessionStorage.setItem(NOTICE, notice);
}

export function takeNotice() {
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  return notice || "";
}

async function send(method, url, { body, bearer } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (bearer) headers.Authorization = `jwt ${bearer}`;
  try {
    return await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new NetworkError("Could not reach the server. Check your connection and try again.");
  }
}

async function answerOf(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, body, response.headers.get("Retry-After"));
  return body;
}

// The access token lives minutes; the refresh token renews it once, then the user signs in.
async function renewAccessToken() {
  const refresh = sessionStorage.getItem(REFRESH);
  if (!refresh) return false;
  try {
    keepTokens(await answerOf(await send("POST", urls.refresh, { body: { refresh } })));
    return true;
  } catch (error) {
    if (error instanceof NetworkError) throw error;
    return false;
  }
}

// What a 401 says to do, by its code: every credential follows the user's MFA state, and
// changing it needs a recent sign-in; a refresh helps with neither.
export const SIGNED_OUT_BECAUSE = {
  reauthentication_required: "For your security, sign in again to change two-step verification.",
  mfa_required: "Two-step verification is on: sign in with your password and a code from your app.",
  mfa_reset: "Your two-step verification changed: please sign in again.",
  password_changed: "Your password was changed: sign in with the new one.",
};

async function errorCodeOf(response) {
  const body = await response.clone().json().catch(() => null);
  return (body && body.code) || "";
}

async function authorized(method, url, body) {
  let response = await send(method, url, { body, bearer: accessToken() });
  let code = response.status === 401 ? await errorCodeOf(response) : "";
  if (response.status === 401 && !(code in SIGNED_OUT_BECAUSE) && (await renewAccessToken())) {
    response = await send(method, url, { body, bearer: accessToken() });
    code = response.status === 401 ? await errorCodeOf(response) : "";
  }
  if (response.status === 401) {
    signOut(SIGNED_OUT_BECAUSE[code] || "Your session has ended. Please sign in again.");
    await answerOf(response); // throws: the page is leaving
  }
  return response;
}

// Signing in: no access token yet; the second step sends the challenge as the token.
// With this browser's device token for the user, if it was trusted: no code asked then.
export async function passwordLogin(username, password) {
  const body = { username, password };
  const device = localStorage.getItem(DEVICE + username);
  if (device) body.device_token = device;
  const answer = await answerOf(await send("POST", urls.password, { body }));
  if (device && answer.type === "CHALLENGE") localStorage.removeItem(DEVICE + username);
  return answer;
}

// ``remember``: trust this browser (the answer's device_token stays in localStorage).
export async function secondFactor(challenge, typed, { remember = false, username = "" } = {}) {
  const body = codeBody(typed, "backup_code");
  if (remember) body.remember = true;
  const answer = await answerOf(await send("POST", urls.totp, { body, bearer: challenge }));
  if (answer.device_token) localStorage.setItem(DEVICE + username, answer.device_token);
  return answer;
}

// The signed-in user's trusted browsers (never a token), and forgetting one.
export const devices = {
  list: async () => answerOf(await authorized("GET", urls.devices)),
  revoke: async (id) => answerOf(await authorized("DELETE", `${urls.devices}/${id}`)),
};

// The signed-in user's security history, newest first (one page of it).
export const history = {
  recent: async () => answerOf(await authorized("GET", urls.events)),
};

// The signed-in user's secrets ("me").
export const secrets = {
  list: async () => answerOf(await authorized("GET", urls.secrets)),
  create: async () => answerOf(await authorized("POST", urls.secrets, { type: "mfa" })),
  // An API key: the answer holds the key this once ("secret").
  createKey: async (description, expiresIn) => {
    const body = { type: "apikey", description };
    if (expiresIn) body.expires_in = expiresIn;
    return answerOf(await authorized("POST", urls.secrets, body));
  },
  // The password: every sign-in of the user ends with it, this one included.
  setPassword: async (password, code) => {
    const body = { type: "password", secret: password };
    if (code) body.token = code;
    return answerOf(await authorized("POST", urls.secrets, body));
  },
  enroll: async (id, code) =>
    answerOf(await authorized("PUT", `${urls.secrets}/${id}/enroll`, { token: code })),
  regenerateCodes: async (id, code) =>
    answerOf(await authorized("POST", `${urls.secrets}/${id}/codes`, { token: code })),
  remove: async (id, code) =>
    answerOf(
      await authorized("DELETE", `${urls.secrets}/${id}`, code === undefined ? undefined : { token: code }),
    ),
  // An <img> cannot send the Authorization header: fetch the PNG, show it from memory.
  qrCode: async (id) => {
    const response = await authorized("GET", `${urls.secrets}/${id}/qrcode`);
    if (!response.ok) await answerOf(response);
    return URL.createObjectURL(await response.blob());
  },
};

// What the user typed: digits are a TOTP code ("token"), anything else a backup code.
export function codeBody(typed, otherField) {
  const compact = typed.replace(/\s+/g, "");
  return /^\d{1,8}$/.test(compact) ? { token: compact } : { [otherField]: typed.trim() };
}

function inWords(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds)));
  if (s < 120) return `${s} second${s === 1 ? "" : "s"}`;
  if (s < 7200) return `${Math.ceil(s / 60)} minutes`;
  return `${Math.ceil(s / 3600)} hours`;
}

// The API's own words (its "message"), with what to do next where the code says more.
export function describeError(error, hints = {}) {
  if (!(error instanceof ApiError)) return error.message || String(error);
  const words = [error.message];
  if (hints[error.code]) words.push(hints[error.code]);
  if (error.retryAfter && /^\d+$/.test(error.retryAfter)) {
    words.push(`You can try again in ${inWords(error.retryAfter)}.`);
  }
  return words.join(" ");
}

// A form's request: busy while it runs (no double submit: a code is accepted once).
export async function whileBusy(form, work) {
  const controls = form.querySelectorAll("button, input");
  form.setAttribute("aria-busy", "true");
  controls.forEach((control) => (control.disabled = true));
  try {
    return await work();
  } finally {
    controls.forEach((control) => (control.disabled = false));
    form.removeAttribute("aria-busy");
  }
}

export function showError(element, text, input) {
  element.textContent = text;
  if (input) {
    input.setAttribute("aria-invalid", text ? "true" : "false");
    if (text) {
      input.focus();
      input.select();
    }
  }
}

export function initNav() {
  const nav = document.getElementById("account-nav");
  if (!accessToken()) return;
  nav.hidden = false;
  document.getElementById("signed-in-as").textContent = signedInAs()
    ? `Signed in as ${signedInAs()}`
    : "Signed in";
  document.getElementById("sign-out").addEventListener("click", () => signOut("You have signed out."));
}
