// The sandbox page: a small Slack look-alike over the sandbox's JSON API (bot/sandbox/web.py).
// Everything shown comes from what the real bot sent to the Slack stand-in; every click and
// message goes back to the bot as the signed request Slack would send.
"use strict";

const state = { data: null, me: null, pane: null, version: -1, openThreads: new Set() };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => ({ ok: false, error: "bad response" }));
  if (!response.ok || payload.ok === false) {
    toast(payload.error || `request failed (${response.status})`);
  }
  return payload;
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 5000);
}

// -- Slack text --------------------------------------------------------------------------------

function userName(id) {
  const user = (state.data?.users || []).find((u) => u.id === id);
  return user ? user.name : id;
}

function channelName(id) {
  const channel = (state.data?.channels || []).find((c) => c.id === id);
  return channel ? channel.name : id;
}

// Slack's mrkdwn, enough of it: *bold*, _italic_, ~strike~, `code`, ```blocks```, > quotes,
// <url|label> links, <@U…> and <#C…> mentions, entities.
function mrkdwn(text) {
  const out = el("span", { class: "mrkdwn" });
  const lines = String(text || "").split("\n");
  let inCode = false;
  let code = [];
  lines.forEach((line, index) => {
    if (line.trim().startsWith("```")) {
      if (inCode) {
        out.append(el("pre", {}, code.join("\n")));
        code = [];
      }
      inCode = !inCode;
      return;
    }
    if (inCode) {
      code.push(decode(line));
      return;
    }
    let target = out;
    if (line.startsWith("&gt; ") || line.startsWith("> ")) {
      target = el("blockquote");
      out.append(target);
      line = line.replace(/^(&gt;|>) /, "");
    }
    inline(line, target);
    if (index < lines.length - 1 && target === out) out.append(el("br"));
  });
  if (code.length) out.append(el("pre", {}, code.join("\n")));
  return out;
}

function decode(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function inline(text, target) {
  // Emphasis only at word boundaries, as in Slack: OPENAI_API_KEY stays as it is.
  const pattern = /<([^>|]+)(?:\|([^>]+))?>|`([^`]+)`|(?<!\w)\*([^*\n]+)\*(?!\w)|(?<!\w)_([^_\n]+)_(?!\w)|(?<!\w)~([^~\n]+)~(?!\w)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    target.append(decode(text.slice(last, match.index)));
    last = match.index + match[0].length;
    if (match[1] !== undefined) {
      const ref = match[1];
      if (ref.startsWith("@")) target.append(el("span", { class: "mention" }, "@" + userName(ref.slice(1))));
      else if (ref.startsWith("#")) target.append(el("span", { class: "mention" }, "#" + (match[2] || channelName(ref.slice(1)))));
      else if (ref.startsWith("!")) target.append(el("span", { class: "mention" }, "@" + (match[2] || ref.slice(1))));
      else target.append(el("a", { href: ref, target: "_blank", rel: "noopener" }, decode(match[2] || ref)));
    } else if (match[3] !== undefined) target.append(el("code", {}, decode(match[3])));
    else if (match[4] !== undefined) target.append(el("b", {}, decode(match[4])));
    else if (match[5] !== undefined) target.append(el("i", {}, decode(match[5])));
    else if (match[6] !== undefined) target.append(el("s", {}, decode(match[6])));
  }
  target.append(decode(text.slice(last)));
}

function textObject(obj) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text) : el("span", {}, obj.text);
}

// -- Block Kit ---------------------------------------------------------------------------------

// ``where``: {kind: "message", channel, ts} or {kind: "view", view} — where a click comes from.
function renderBlocks(blocks, where) {
  return el("div", { class: "blocks" }, (blocks || []).map((b) => renderBlock(b, where)));
}

function renderBlock(block, where) {
  switch (block.type) {
    case "header":
      return el("div", { class: "bk-header" }, block.text?.text || "");
    case "divider":
      return el("hr", { class: "bk-divider" });
    case "section":
      return el(
        "div",
        { class: "bk-section" },
        el(
          "div",
          { class: "bk-section-body" },
          block.text ? el("div", {}, textObject(block.text)) : null,
          block.fields ? el("div", { class: "bk-fields" }, block.fields.map((f) => el("div", {}, textObject(f)))) : null,
        ),
        block.accessory ? renderElement(block.accessory, block, where) : null,
      );
    case "context":
      return el(
        "div",
        { class: "bk-context" },
        (block.elements || []).map((e) =>
          e.type === "image" ? el("a", { href: e.image_url, target: "_blank" }, `[${e.alt_text || "image"}]`) : textObject(e),
        ),
      );
    case "actions":
      return el("div", { class: "bk-actions" }, (block.elements || []).map((e) => renderElement(e, block, where)));
    case "image":
      return el("div", { class: "bk-image" }, el("a", { href: block.image_url, target: "_blank" }, `Image: ${block.alt_text || block.image_url}`));
    case "rich_text":
      return el("div", { class: "bk-rich" }, richText(block));
    case "input":
      return renderInput(block, where);
    default:
      return el("div", { class: "bk-unknown" }, `(${block.type} block)`);
  }
}

function richText(block) {
  const parts = [];
  const walk = (node) => {
    if (node.type === "text") parts.push(node.text);
    else if (node.type === "link") parts.push(node.text || node.url);
    else if (node.type === "user") parts.push("@" + userName(node.user_id));
    for (const child of node.elements || []) walk(child);
  };
  walk(block);
  return parts.join("");
}

function renderElement(element, block, where) {
  if (element.type === "button") {
    return el(
      "button",
      {
        class: `bk-button ${element.style || ""}`,
        "data-action-id": element.action_id,
        onclick: () => act(where, block, element, { value: element.value || "" }),
      },
      element.text?.text || "Button",
    );
  }
  if (element.type === "overflow" || element.type === "static_select") {
    const select = el(
      "select",
      {
        class: "bk-select",
        "data-action-id": element.action_id,
        onchange: (event) => {
          const option = (element.options || []).find((o) => o.value === event.target.value);
          if (option) act(where, block, element, { selected_option: option });
        },
      },
      el("option", { value: "" }, element.placeholder?.text || "…"),
      (element.options || []).map((o) => el("option", { value: o.value }, o.text?.text || o.value)),
    );
    return select;
  }
  if (element.type === "image") {
    return el("a", { href: element.image_url, target: "_blank" }, `[${element.alt_text || "image"}]`);
  }
  return el("span", { class: "bk-unknown" }, `(${element.type})`);
}

async function act(where, block, element, extra) {
  const body = {
    user: state.me,
    action_id: element.action_id,
    block_id: block.block_id || "",
    type: element.type,
    ...extra,
  };
  if (where.kind === "message") Object.assign(body, { channel: where.channel, message_ts: where.ts });
  else body.view_id = where.view.id;
  await api("/api/action", body);
  refresh();
}

// -- modals ------------------------------------------------------------------------------------

function renderInput(block, where) {
  const element = block.element || {};
  const id = `in-${block.block_id}-${element.action_id}`;
  const error = where.errors?.[block.block_id];
  let control;
  const users = state.data?.users || [];
  const channels = state.data?.channels || [];
  switch (element.type) {
    case "plain_text_input":
      control = element.multiline
        ? el("textarea", { id, rows: 6 }, element.initial_value || "")
        : el("input", { id, type: "text", value: element.initial_value || "" });
      break;
    case "url_text_input":
      control = el("input", { id, type: "url", value: element.initial_value || "" });
      break;
    case "number_input":
      control = el("input", { id, type: "number", step: element.is_decimal_allowed ? "any" : "1", value: element.initial_value || "" });
      break;
    case "static_select":
      control = el(
        "select",
        { id },
        el("option", { value: "" }, element.placeholder?.text || "Choose…"),
        (element.options || []).map((o) =>
          el("option", { value: o.value, selected: element.initial_option?.value === o.value }, o.text?.text),
        ),
      );
      break;
    case "radio_buttons":
    case "checkboxes": {
      const kind = element.type === "radio_buttons" ? "radio" : "checkbox";
      const initial = kind === "radio" ? [element.initial_option?.value] : (element.initial_options || []).map((o) => o.value);
      control = el(
        "div",
        { id, class: "bk-choices" },
        (element.options || []).map((o) =>
          el(
            "label",
            {},
            el("input", { type: kind, name: id, value: o.value, checked: initial.includes(o.value) }),
            " ",
            textObject(o.text),
          ),
        ),
      );
      break;
    }
    case "users_select":
    case "multi_users_select": {
      const initial = element.initial_users || (element.initial_user ? [element.initial_user] : []);
      control = el(
        "select",
        { id, multiple: element.type === "multi_users_select" },
        element.type === "users_select" ? el("option", { value: "" }, "Choose…") : null,
        users.map((u) => el("option", { value: u.id, selected: initial.includes(u.id) }, u.name)),
      );
      break;
    }
    case "conversations_select":
    case "multi_conversations_select": {
      const initial = element.initial_conversations || (element.initial_conversation ? [element.initial_conversation] : []);
      control = el(
        "select",
        { id, multiple: element.type === "multi_conversations_select" },
        element.type === "conversations_select" ? el("option", { value: "" }, "Choose…") : null,
        channels.map((c) => el("option", { value: c.id, selected: initial.includes(c.id) }, "#" + c.name)),
      );
      break;
    }
    default:
      control = el("span", { class: "bk-unknown" }, `(${element.type} input)`);
  }
  return el(
    "div",
    { class: "bk-input", "data-block-id": block.block_id, "data-action-id": element.action_id, "data-type": element.type },
    el("label", { for: id }, block.label?.text || "", block.optional ? el("span", { class: "optional" }, " (optional)") : null),
    control,
    block.hint ? el("div", { class: "hint" }, block.hint.text) : null,
    error ? el("div", { class: "error" }, error) : null,
  );
}

function readInputs(form, view) {
  const values = {};
  for (const box of form.querySelectorAll(".bk-input")) {
    const block = box.dataset.blockId;
    const action = box.dataset.actionId;
    const type = box.dataset.type;
    const control = box.querySelector("input, textarea, select, .bk-choices");
    let entry = { type };
    if (["plain_text_input", "url_text_input", "number_input"].includes(type)) {
      entry.value = control.value === "" ? null : control.value;
    } else if (type === "static_select" || type === "radio_buttons") {
      const chosen = type === "static_select" ? control.value : control.querySelector("input:checked")?.value;
      const element = findElement(view, block);
      const option = (element?.options || []).find((o) => o.value === chosen);
      entry.selected_option = option || null;
    } else if (type === "checkboxes") {
      const chosen = [...control.querySelectorAll("input:checked")].map((i) => i.value);
      const element = findElement(view, block);
      entry.selected_options = (element?.options || []).filter((o) => chosen.includes(o.value));
    } else if (type === "users_select") {
      entry.selected_user = control.value || null;
    } else if (type === "multi_users_select") {
      entry.selected_users = [...control.selectedOptions].map((o) => o.value);
    } else if (type === "conversations_select") {
      entry.selected_conversation = control.value || null;
    } else if (type === "multi_conversations_select") {
      entry.selected_conversations = [...control.selectedOptions].map((o) => o.value);
    }
    values[block] = { ...(values[block] || {}), [action]: entry };
  }
  return values;
}

function findElement(view, blockId) {
  return (view.blocks || []).find((b) => b.block_id === blockId)?.element;
}

function renderModal(modal) {
  const view = modal.view;
  const form = el("form", {
    class: "modal",
    "data-view-id": view.id,
    onsubmit: async (event) => {
      event.preventDefault();
      // Errors, if any, come back with the next state and are shown under their inputs.
      await api("/api/submit", { user: state.me, view_id: view.id, values: readInputs(form, view) });
      refresh(true);
    },
  });
  form.append(
    el("div", { class: "modal-title" }, view.title?.text || "Modal"),
    el("div", { class: "modal-body" }, renderBlocks(view.blocks, { kind: "view", view, errors: modal.errors })),
    el(
      "div",
      { class: "modal-buttons" },
      el("button", { type: "button", class: "bk-button", onclick: async () => { await api("/api/close", { user: state.me, view_id: view.id }); refresh(true); } }, view.close?.text || "Cancel"),
      view.submit ? el("button", { type: "submit", class: "bk-button primary" }, view.submit.text) : null,
    ),
  );
  return el("div", { class: "modal-backdrop" }, form);
}

// -- panes -------------------------------------------------------------------------------------

// The emoji the page offers; the support team's commands first (``/support reactions``).
const EMOJI = { ticket: "🎫", eyes: "👀", white_check_mark: "✅", "+1": "👍", tada: "🎉", pray: "🙏" };

function emoji(name) {
  return EMOJI[name.split("::")[0]] || `:${name}:`;
}

function renderReactions(message, channel) {
  const chips = (message.reactions || []).map((r) => {
    const mine = r.users.includes(state.me);
    return el(
      "button",
      {
        class: `reaction ${mine ? "mine" : ""}`,
        "data-reaction": r.name,
        title: r.users.map(userName).join(", ") + ` reacted with :${r.name}:`,
        onclick: () => react(channel, message.ts, r.name, mine),
      },
      `${emoji(r.name)} ${r.count}`,
    );
  });
  const picker = el(
    "select",
    {
      class: "react-picker",
      "data-ts": message.ts,
      title: "Add a reaction",
      onchange: (event) => {
        if (event.target.value) react(channel, message.ts, event.target.value, false);
      },
    },
    el("option", { value: "" }, "☺︎+"),
    Object.keys(EMOJI).map((name) => el("option", { value: name }, `${EMOJI[name]} :${name}:`)),
  );
  return el("div", { class: "reactions" }, chips, picker);
}

async function react(channel, ts, name, remove) {
  await api("/api/react", { user: state.me, channel, ts, name, remove });
  refresh(true);
}

function renderMessage(message, channel) {
  const author = message.bot_id ? "Support bot" : userName(message.user);
  const body = message.blocks && message.blocks.length ? renderBlocks(message.blocks, { kind: "message", channel, ts: message.ts }) : mrkdwn(message.text);
  const files = (message.files || []).map((f) => el("div", { class: "file" }, `📎 ${f.name} (${sizeText(f.size || 0)})`));
  return el(
    "div",
    { class: `message ${message.bot_id ? "bot" : ""}`, "data-ts": message.ts },
    el("div", { class: "author" }, author, el("span", { class: "when" }, new Date(parseFloat(message.ts) * 1000).toLocaleTimeString())),
    body,
    files,
    renderReactions(message, channel),
  );
}

function sizeText(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${Math.round(size / 1024)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

// Files picked in a composer, by its key, until the message is sent: {name, mimetype, data}.
const attached = new Map();

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve({ name: file.name, mimetype: file.type || "application/octet-stream", data: String(reader.result).split(",", 2)[1] || "", size: file.size });
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function renderEphemeral(note) {
  return el(
    "div",
    { class: "message ephemeral" },
    el("div", { class: "author" }, "Support bot", el("span", { class: "when" }, "Only visible to you")),
    note.blocks && note.blocks.length ? renderBlocks(note.blocks, { kind: "message", channel: note.channel, ts: note.message_ts }) : mrkdwn(note.text),
  );
}

function composer(key, placeholder, onSend) {
  const input = el("textarea", { class: "composer-input", rows: 2, placeholder, "data-key": key });
  const chips = el("div", { class: "attached" }, (attached.get(key) || []).map((f) => `📎 ${f.name} (${sizeText(f.size)})`));
  const picker = el("input", {
    type: "file",
    multiple: true,
    hidden: true,
    "data-attach": key,
    onchange: async (event) => {
      const files = await Promise.all([...event.target.files].map(readFile));
      attached.set(key, [...(attached.get(key) || []), ...files]);
      render();
    },
  });
  const send = async () => {
    const text = input.value.trim();
    const files = attached.get(key) || [];
    if (!text && !files.length) return;
    input.value = "";
    attached.delete(key);
    await onSend(text, files.map(({ name, mimetype, data }) => ({ name, mimetype, data })));
    refresh(true);
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });
  const attach = el("button", { class: "bk-button attach", title: "Attach a file", onclick: () => picker.click() }, "📎");
  return el("div", { class: "composer" }, el("div", { class: "composer-box" }, input, chips), attach, picker, el("button", { class: "bk-button primary", onclick: send }, "Send"));
}

function renderChannel(channel) {
  const data = state.data;
  const messages = data.messages.filter((m) => m.channel === channel.id);
  const roots = messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const mine = data.ephemerals.filter((e) => e.user === state.me && e.channel === channel.id);
  const pane = el("div", { class: "pane" }, el("div", { class: "pane-title" }, "#" + channel.name, el("span", { class: "pane-note" }, channel.note)));
  const list = el("div", { class: "messages" });
  for (const root of roots) {
    const replies = messages.filter((m) => m.thread_ts === root.ts && m.ts !== root.ts);
    const thread = el("div", { class: "thread" }, renderMessage(root, channel.id));
    const open = state.openThreads.has(root.ts) || replies.length > 0;
    if (open) {
      const box = el("div", { class: "replies" }, replies.map((r) => renderMessage(r, channel.id)));
      for (const note of mine.filter((e) => e.thread_ts === root.ts)) box.append(renderEphemeral(note));
      box.append(composer(`thread-${root.ts}`, "Reply in thread…", (text, files) => say(channel.id, text, root.ts, files)));
      thread.append(box);
    } else {
      thread.append(el("button", { class: "link", onclick: () => { state.openThreads.add(root.ts); render(); } }, "Reply in thread"));
    }
    list.append(thread);
  }
  for (const note of mine.filter((e) => !e.thread_ts)) list.append(renderEphemeral(note));
  if (!roots.length) list.append(el("div", { class: "empty" }, channel.empty || "No messages yet."));
  pane.append(list, composer(`channel-${channel.id}`, `Message #${channel.name} (or type /support …)`, (text, files) => say(channel.id, text, null, files)));
  return pane;
}

async function say(channel, text, threadTs, files) {
  if (text.startsWith("/") && !(files && files.length)) {
    const [command, ...rest] = text.split(" ");
    return api("/api/command", { user: state.me, channel, command, text: rest.join(" ") });
  }
  return api("/api/message", { user: state.me, channel, text, thread_ts: threadTs || null, files: files && files.length ? files : undefined });
}

function renderHome() {
  const view = state.data.home[state.me];
  const pane = el("div", { class: "pane" }, el("div", { class: "pane-title" }, "Support bot · Home"));
  pane.append(view ? el("div", { class: "home" }, renderBlocks(view.blocks, { kind: "view", view })) : el("div", { class: "empty" }, "Opening the Home tab…"));
  return pane;
}

function render() {
  const data = state.data;
  if (!data) return;
  const me = data.users.find((u) => u.id === state.me);
  const visible = data.channels.filter((c) => c.members.includes(state.me));
  if (!state.pane || (state.pane !== "home" && !visible.some((c) => c.id === state.pane))) {
    state.pane = visible[0]?.id || "home";
  }
  const nav = el(
    "nav",
    {},
    el("div", { class: "nav-title" }, "Channels"),
    visible.map((c) =>
      el("button", { class: `nav-item ${state.pane === c.id ? "active" : ""}`, "data-pane": c.id, onclick: () => { state.pane = c.id; render(); } }, "#" + c.name),
    ),
    el("div", { class: "nav-title" }, "Apps"),
    el("button", { class: `nav-item ${state.pane === "home" ? "active" : ""}`, "data-pane": "home", onclick: openHome }, "Support bot · Home"),
    el("div", { class: "nav-title" }, "Issue tracker"),
    (data.issues || []).length
      ? data.issues.map((issue) =>
          el(
            "div",
            { class: "nav-issue", "data-issue": issue.number },
            el("a", { href: issue.url, target: "_blank", rel: "noopener" }, `#${issue.number}`),
            " " + issue.title + " ",
            issue.state === "open"
              ? el("button", { class: "link nav-close", onclick: async () => { await api("/api/close-issue", { number: issue.number }); refresh(true); } }, "Close")
              : el("span", { class: "nav-closed" }, "closed"),
          ),
        )
      : el("div", { class: "nav-issue empty-issues" }, "No issues yet: use Create issue on a card."),
  );
  const main = state.pane === "home" ? renderHome() : renderChannel(data.channels.find((c) => c.id === state.pane));
  const roles = el(
    "select",
    { id: "who", onchange: (event) => { state.me = event.target.value; state.pane = null; localStorage.setItem("sandbox-me", state.me); render(); } },
    data.users.filter((u) => u.playable).map((u) => el("option", { value: u.id, selected: u.id === state.me }, `${u.role}: ${u.name} (${u.company})`)),
  );
  const app = document.getElementById("app");
  // Keep the caret where it was: an empty composer that had focus gets it back.
  const focusKey = document.activeElement?.dataset?.key;
  const kept = state.modalNode;
  app.replaceChildren(
    el("header", {}, el("div", { class: "brand" }, "Support bot sandbox"), el("div", { class: "mode" }, data.mode), el("label", { class: "who" }, "You are ", roles)),
    el("div", { class: "body" }, nav, main),
  );
  const modal = data.modals[state.me];
  state.modalNode = null;
  if (modal) {
    // The same form (same view, same version, same errors) keeps what was typed into it.
    const signature = JSON.stringify([state.me, modal.view.id, modal.view.hash, modal.errors]);
    const node = kept && kept.dataset.signature === signature ? kept : renderModal({ view: modal.view, errors: modal.errors });
    node.dataset.signature = signature;
    state.modalNode = node;
    app.append(node);
  }
  if (focusKey) app.querySelector(`[data-key="${focusKey}"]`)?.focus();
  document.title = `Sandbox · ${me ? me.name : ""}`;
}

async function openHome() {
  state.pane = "home";
  render();
  await api("/api/home", { user: state.me });
  refresh(true);
}

async function refresh(force) {
  const data = await fetch(`/api/state`).then((r) => r.json()).catch(() => null);
  if (!data) return;
  // Half-typed text outside a form would be lost by a re-render: wait until it is sent.
  const focused = document.activeElement;
  const inForm = focused && focused.closest && focused.closest(".modal");
  const typing = focused && !inForm && focused.dataset?.key && focused.value !== "";
  const changed = data.version !== state.version;
  state.data = data;
  state.version = data.version;
  if (!state.me) {
    const saved = localStorage.getItem("sandbox-me");
    state.me = data.users.some((u) => u.id === saved && u.playable) ? saved : data.users.find((u) => u.playable).id;
  }
  // Re-render on change, but never under someone's fingers (a half-typed message or form).
  if (force || (changed && !typing)) render();
}

refresh(true);
setInterval(refresh, 700);
