// The review page on the phone: what still stops a submit, worked out from what this phone knows (the last server
// state known here with the changes still waiting on top, so it is right offline too), and the submit itself, which
// goes into the outbox behind every change it depends on: made offline, it is sent once they are through.
import { guardExit, leave, localView, newKey, onOutbox, remember, send } from "./autosave.js";
import { progress } from "./rules.js";

const root = document.getElementById("review");
if (root) start(root);

async function start(root) {
  const state = JSON.parse(document.getElementById("audit-state").textContent);
  const definition = state.definition;
  const home = root.dataset.auditHome;
  const form = root.querySelector("form[data-submit]");
  const button = form?.querySelector("button[type=submit]");
  const message = root.querySelector("[data-submit-status]");
  const local = root.querySelector("[data-local-missing]");
  let submitting = false;
  guardExit({ within: home });

  function say(text, { problem = false, missing = [] } = {}) {
    if (!message) return;
    message.replaceChildren(text);
    message.hidden = !text;
    message.classList.toggle("form-problems", problem);
    if (missing.length) {
      const list = document.createElement("ul");
      for (const gap of missing) {
        const link = document.createElement("a");
        link.href = `${walkUrl(gap.touchpoint_key)}#item-${gap.item_key}`;
        link.textContent = gap.prompt;
        const line = document.createElement("li");
        line.append(link);
        list.append(line);
      }
      message.append(list);
    }
  }

  function walkUrl(touchpointKey) {
    return root.dataset.walkUrl.replace("__touchpoint__", encodeURIComponent(touchpointKey));
  }

  async function show() {
    const view = await localView(state.id);
    if (!view) return;
    const counts = {};
    for (const photo of view.photos) if (photo.item_key) counts[photo.item_key] = (counts[photo.item_key] || 0) + 1;
    const lines = progress(definition, view.answers, counts);
    const rows = root.querySelectorAll("ol.touchpoints > li");
    definition.touchpoints.forEach((touchpoint, position) => {
      const text = rows[position]?.querySelector(".tp-progress");
      if (!text) return;
      const line = lines[touchpoint.key];
      const visit = view.visits[touchpoint.key];
      const strong = document.createElement("strong");
      strong.textContent = `${line.left} required left`;
      text.replaceChildren(`${line.answered} of ${line.visible} answered`);
      if (line.left) text.append(" · ", strong);
      if (visit && (visit.effort !== null || visit.promise_kept !== null)) text.append(" · wrapped up");
      rows[position].classList.toggle("done", line.left === 0 && line.answered > 0);
    });
    const gaps = definition.touchpoints.filter((touchpoint) => lines[touchpoint.key].left);
    if (local) {
      for (const server of root.querySelectorAll("[data-server-missing]")) server.remove();
      local.replaceChildren();
      if (gaps.length) {
        const intro = document.createElement("p");
        intro.textContent = "Before you submit, this is still missing:";
        const list = document.createElement("ul");
        for (const touchpoint of gaps) {
          const link = document.createElement("a");
          link.href = walkUrl(touchpoint.key);
          link.textContent = touchpoint.title;
          const line = document.createElement("li");
          line.append(link, `: ${lines[touchpoint.key].left} required left`);
          list.append(line);
        }
        local.append(intro, list);
        local.className = "form-problems";
      } else {
        local.textContent = "Everything required is answered. Once submitted, the audit is read-only and scored.";
        local.className = "";
      }
      local.hidden = false;
    }
    if (button && !submitting) button.disabled = gaps.length > 0 || view.submitQueued;
    const refusal = view.refused.filter((entry) => entry.kind === "submit").pop();
    if (view.submitQueued) {
      say("Your submit is kept on this phone. It goes to the server right after the changes before it, as soon "
        + "as there is a signal: you may close Shopper meanwhile.");
    } else if (refusal) {
      say(`Not submitted: ${refusal.reason}`, { problem: true, missing: refusal.data?.missing || [] });
    }
  }

  form?.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submitting) return;
    submitting = true;
    button.disabled = true;
    const sending = send({
      method: "POST",
      url: root.dataset.submitUrl,
      headers: { "Idempotency-Key": newKey() },
      label: "Submitting the audit",
    });
    if (await sending.stored) await show();
    const result = await sending;
    submitting = false;
    if (result.ok) {
      say("Submitted. Thank you for walking in your customers' shoes.");
      leave(home);
      return;
    }
    say(`Not submitted: ${result.data.error}`, { problem: true, missing: result.data.missing || [] });
    show();
  });

  onOutbox((event, mine) => {
    if (mine || event.entry?.audit !== state.id) {
      if (event.type === "dismissed") show();
      return;
    }
    if (event.type === "done" && event.entry.kind === "submit") leave(home); // sent by another tab or the worker
    else if (["added", "done", "set-aside"].includes(event.type)) show();
  });

  await remember(state, { home });
  await show();
  root.classList.add("live");
}
