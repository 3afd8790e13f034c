// Sign in: the password first (POST /auth/password); when the account has MFA, the answer
// is a CHALLENGE, and a second step redeems it with a code or a backup code (POST /auth/totp).
// When the site requires MFA of an account without it, the answer is SETUP: the Security
// page sets it up, and its enrollment signs the user in.
import {
  accessToken,
  codeBody,
  describeError,
  keepTokens,
  leaveNotice,
  passwordLogin,
  secondFactor,
  showError,
  takeNotice,
  urls,
  when,
  whileBusy,
} from "./api.js";

const title = document.getElementById("page-title");
const notice = document.getElementById("notice");
const passwordForm = document.getElementById("password-form");
const passwordError = document.getElementById("password-error");
const usernameInput = document.getElementById("username");
const passwordInput = document.getElementById("password");
const codeForm = document.getElementById("code-form");
const codeError = document.getElementById("code-error");
const codeInput = document.getElementById("code");
const codeExpiry = document.getElementById("code-expiry");

// The challenge stays in this page's memory only: a reload starts the sign-in again.
let challenge = null;
let username = "";

// Codes that mean "this challenge is over": back to the password, with the API's words.
const CHALLENGE_OVER = new Set(["challenge_invalid", "challenge_used", "challenge_required"]);

if (accessToken()) {
  window.location.replace(urls.securityPage);
}
notice.textContent = takeNotice();

// How the login authenticated (the token's amr claim): "device" for a trusted browser.
function amrOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).amr || [];
  } catch {
    return [];
  }
}

function setTitle(text) {
  title.textContent = text;
  document.title = `${text} · django-mfa-enroll example`;
}

function goIn(answer, message) {
  keepTokens(answer, username);
  leaveNotice(message);
  window.location.assign(urls.securityPage);
}

function askForCode(answer) {
  challenge = answer.token;
  passwordInput.value = "";
  passwordForm.hidden = true;
  codeForm.hidden = false;
  setTitle("Two-step verification");
  const minutes = Math.round((answer.expires_in || 0) / 60);
  codeExpiry.textContent = minutes ? `This step expires in ${minutes} minutes.` : "";
  codeInput.value = "";
  showError(codeError, "", codeInput);
  codeInput.focus();
}

function backToPassword(message) {
  challenge = null;
  codeForm.hidden = true;
  passwordForm.hidden = false;
  setTitle("Sign in");
  passwordError.textContent = message; // the password was right: the challenge is over
  (message ? passwordInput : usernameInput).focus();
}

passwordForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  notice.textContent = "";
  username = usernameInput.value;
  const password = passwordInput.value;
  if (!username || !password) {
    showError(passwordError, "Enter your username and your password.", username ? passwordInput : usernameInput);
    return;
  }
  showError(passwordError, "", passwordInput);
  try {
    const answer = await whileBusy(passwordForm, () => passwordLogin(username, password));
    if (answer.type === "CHALLENGE") askForCode(answer);
    else if (answer.type === "SETUP") {
      goIn(answer, "You are signed in to set up two-step verification, and only for that.");
    } else if (amrOf(answer.token).includes("device")) {
      goIn(answer, "Signed in on a trusted browser: no code needed.");
    } else if (answer.mfa_setup_due) {
      goIn(answer, `Set up two-step verification before ${when(answer.mfa_setup_due)}: after that, you must set it up to sign in.`);
    } else goIn(answer, "");
  } catch (error) {
    showError(passwordError, describeError(error), passwordInput);
  }
});

codeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const typed = codeInput.value;
  if (!typed.trim()) {
    showError(codeError, "Enter the code from your app, or a backup code.", codeInput);
    return;
  }
  const backup = !("token" in codeBody(typed, "backup_code"));
  showError(codeError, ""); // a new answer, a new message (read out again if the same)
  try {
    const remember = Boolean(document.getElementById("remember")?.checked);
    const answer = await whileBusy(codeForm, () => secondFactor(challenge, typed, { remember, username }));
    const words = [];
    if (backup) words.push("You signed in with a backup code. That code cannot be used again.");
    if (answer.device_token) words.push("This browser is trusted: next time your password is enough.");
    goIn(answer, words.join(" "));
  } catch (error) {
    if (CHALLENGE_OVER.has(error.code)) {
      backToPassword(describeError(error));
      return;
    }
    const hints = {
      invalid_code: backup
        ? "Each backup code works once: check it, or use another one."
        : "Check the code your app shows now and try again.",
    };
    showError(codeError, describeError(error, hints), codeInput);
  }
});

document.getElementById("start-over").addEventListener("click", () => backToPassword(""));
