// The security page's trusted browsers: listed (GET /users/me/devices, never a token) and
// revoked (DELETE .../{id}). Shown only when the user has some.
import { accessToken, describeError, devices, setupOnly, when } from "./api.js";

const $ = (id) => document.getElementById(id);

function render(list) {
  $("devices").replaceChildren(
    ...list.map((device) => {
      const item = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = device.agent || "A browser";
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "danger";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke ${name.textContent}, trusted ${when(device.created_at)}`);
      revoke.addEventListener("click", async () => {
        revoke.disabled = true;
        try {
          await devices.revoke(device.id);
          $("notice").textContent = `${name.textContent} is no longer trusted: its next sign-in asks for a code.`;
        } catch (error) {
          $("devices-error").textContent = describeError(error);
        }
        await load();
      });
      item.append(name, ` — trusted ${when(device.created_at)}, until ${when(device.expires_at)} `, revoke);
      return item;
    }),
  );
  $("devices-section").hidden = list.length === 0;
}

async function load() {
  try {
    render(await devices.list());
  } catch (error) {
    $("devices-error").textContent = describeError(error);
  }
}

if (accessToken() && !setupOnly()) load();
