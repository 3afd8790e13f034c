// The security page's password change: POST /users/me/secrets {"type": "password"}, with
// a current code when two-step verification is on. Every sign-in ends, this one included.
import {
  accessToken,
  ApiError,
  describeError,
  secrets,
  setupOnly,
  showError,
  signOut,
  whileBusy,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const form = $("password-form");
const codeField = $("password-code-field");

async function needsCode() {
  try {
    const list = await secrets.list();
    codeField.hidden = !list.some((secret) => secret.type === "mfa" && secret.status === "active");
  } catch {
    codeField.hidden = false; // the server says so if a code is needed
  }
}

function listProblems(problems) {
  $("new-password-problems").replaceChildren(
    ...problems.map((problem) => {
      const item = document.createElement("li");
      item.textContent = problem;
      return item;
    }),
  );
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("new-password");
  const error = $("new-password-error");
  listProblems([]);
  if (!input.value) {
    showError(error, "Enter the new password.", input);
    return;
  }
  showError(error, "");
  const code = codeField.hidden ? "" : $("password-code").value.trim();
  try {
    await whileBusy(form, () => secrets.setPassword(input.value, code));
    input.value = "";
    signOut("Your password is changed and you are signed out everywhere: sign in with the new one.");
  } catch (failure) {
    if (failure instanceof ApiError && failure.code === "password_invalid") {
      showError(error, failure.message, input);
      listProblems((failure.body.errors && failure.body.errors.secret) || []);
      return;
    }
    if (failure instanceof ApiError && failure.code === "code_required") codeField.hidden = false;
    const target = failure instanceof ApiError && /code/.test(failure.code) ? $("password-code") : input;
    showError(error, describeError(failure), target);
  }
});

$("password-section").hidden = setupOnly(); // after MFA is on, under a full sign-in
if (accessToken() && !setupOnly()) needsCode();
