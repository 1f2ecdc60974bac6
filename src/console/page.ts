import { escapeHtml } from './render-html.ts';

/**
 * The console's one page: HTML with its CSS and JavaScript inline, no framework and nothing fetched
 * from elsewhere (these machines may have no network). A TypeScript module, so that `tsc` carries it
 * into dist/ with the code.
 *
 * The script only places what the server sends: message bodies arrive as HTML already escaped by
 * render-html.ts; everything the script writes itself (names, times, typed commands, dialog texts)
 * goes in through textContent. The page runs under a Content-Security-Policy that allows only its own
 * nonce'd script and style.
 */

export interface PageOptions {
  readonly nonce: string;
  readonly demo: false | { readonly recordedAt: string };
  /** The demo alert control: a recorded Alertmanager notification through the bot's own receiver. */
  readonly demoAlert?: boolean;
  readonly channel: { readonly id: string; readonly name: string };
  readonly users: readonly { readonly id: string; readonly name: string; readonly realName: string }[];
  readonly services: readonly string[];
  /** The per-process secret every state-changing request must carry (x-aegis-console-secret). */
  readonly secret: string;
}

/** JSON for inside a <script> element: no "</script>" or "<!--" can form. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export function consolePage(o: PageOptions): string {
  const nonce = escapeHtml(o.nonce);
  const demoBanner = o.demo
    ? `<div class="banner demo" id="demo-banner" role="status"><strong>DEMO — recorded incident, no live systems.</strong> Every answer is a recording captured from the test bed (Prometheus, pprof, PostgreSQL); remediation changes an in-memory stand-in of the cluster. Recorded ${escapeHtml(o.demo.recordedAt.slice(0, 16).replace('T', ' '))} UTC, times shifted to now.</div>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>#${escapeHtml(o.channel.name)} — aegis-bot local console</title>
<style nonce="${nonce}">${CSS}</style>
</head>
<body>
<header class="top">
  <div class="brand">aegis-bot <span class="sub">local console</span></div>
  <div class="chan"># ${escapeHtml(o.channel.name)}</div>
  <div class="conn" id="conn" title="connection to the console server">connecting…</div>
  <label class="who">Acting as
    <select id="user" aria-label="acting as">${o.users
      .map(
        (u) =>
          `<option value="${escapeHtml(u.id)}">${escapeHtml(u.name)} — ${escapeHtml(u.realName)} (${escapeHtml(u.id)})</option>`,
      )
      .join('')}</select>
  </label>
</header>
${demoBanner}
<div class="banner note" role="note">Local console: no authentication, one person at a time, this machine only. Whoever can open this page acts as the user chosen above.</div>
<main id="channel" aria-label="#${escapeHtml(o.channel.name)}" aria-live="polite"></main>
<form id="composer" autocomplete="off">
  <input id="command" name="command" placeholder="/aegis latency" aria-label="slash command" spellcheck="false">
  <button type="submit" id="send">Send</button>
  <div class="hint">Try: <button type="button" class="try">/aegis latency</button> <button type="button" class="try">/aegis db</button> <button type="button" class="try">/aegis help</button></div>
${o.demoAlert ? '<div class="hint demo-alert" id="demo-alert"><strong>DEMO alert (no Alertmanager):</strong> <button type="button" id="demo-alert-fire" data-phase="fire">Send a recorded alert notification</button> <button type="button" id="demo-alert-resolve" data-phase="resolve">Send its resolution</button> — through the bot\'s own <code>POST /alertmanager</code>, as Alertmanager would.</div>' : ''}
</form>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-text"></p>
    <div class="dialog-buttons">
      <button value="deny" id="confirm-deny" class="bk-button"></button>
      <button value="confirm" id="confirm-ok" class="bk-button"></button>
    </div>
  </form>
</dialog>
<script type="application/json" id="boot" nonce="${nonce}">${scriptJson({ demo: o.demo, channel: o.channel, users: o.users, services: o.services, secret: o.secret })}</script>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d1c1d;background:#fff;display:flex;flex-direction:column;height:100vh}
.top{display:flex;align-items:center;gap:16px;padding:8px 16px;background:#3f0e40;color:#fff}
.brand{font-weight:700}.brand .sub{font-weight:400;opacity:.75;margin-left:4px}
.chan{font-weight:700;font-size:17px}
.conn{font-size:12px;opacity:.8;margin-left:auto}.conn.ok{color:#9fe6b8}.conn.bad{color:#ffb3b3}
.who{font-size:13px}.who select{margin-left:6px}
.banner{padding:6px 16px;font-size:13px;border-bottom:1px solid #e0e0e0}
.banner.demo{background:#fff4c2;color:#5a4300;font-size:14px}
.banner.note{background:#f4f4f4;color:#555}
main{flex:1;overflow-y:auto;padding:12px 0}
.msg{display:grid;grid-template-columns:40px 1fr;column-gap:10px;padding:6px 16px}
.msg:hover{background:#f8f8f8}
.msg>.avatar{width:36px;height:36px;border-radius:6px;background:#1264a3;color:#fff;font-weight:700;display:flex;align-items:center;justify-content:center;grid-row:span 3}
.msg.command>.avatar{background:#7a7a7a}
.meta{font-size:13px;color:#616061}.meta .author{font-weight:700;color:#1d1c1d;margin-right:6px}.meta .app{font-size:10px;background:#e8e8e8;border-radius:3px;padding:0 3px;margin-right:6px;color:#555}
.meta .edited{margin-left:6px;color:#888}.meta .only{margin-left:8px;color:#1264a3;font-weight:600}
.meta .dismiss{margin-left:8px;border:0;background:none;color:#1264a3;cursor:pointer;font-size:12px;text-decoration:underline}
.msg.ephemeral,.msg.notice{background:#eef6fc}
.msg.command .body{font-family:Menlo,Consolas,monospace;color:#555}
.hidden{display:none!important}
.body{min-width:0;overflow-wrap:anywhere}
.bk-header{font-size:18px;font-weight:700;margin:2px 0 4px}
.bk-section{display:flex;gap:12px;margin:4px 0}.bk-main{flex:1;min-width:0}
.bk-fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin-top:4px}
.bk-context{font-size:12.5px;color:#616061;margin:4px 0;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.bk-context img{width:16px;height:16px}
.bk-divider{border:0;border-top:1px solid #e3e3e3;margin:8px 0}
.bk-actions{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.bk-button{font:inherit;font-size:14px;font-weight:600;padding:4px 12px;border-radius:4px;border:1px solid #bbb;background:#fff;color:#1d1c1d;cursor:pointer}
.bk-button:hover{background:#f4f4f4}.bk-button.primary{background:#007a5a;border-color:#007a5a;color:#fff}.bk-button.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.bk-button.sent{opacity:.6}
.bk-image img,.file.image img{max-width:min(100%,720px);border:1px solid #e3e3e3;border-radius:4px;display:block}
.bk-image-title,.file figcaption{font-size:13px;color:#616061;margin-bottom:2px}
figure{margin:6px 0}
pre{background:#f8f8f8;border:1px solid #e3e3e3;border-radius:4px;padding:8px;margin:4px 0;overflow-x:auto;font:12.5px/1.4 Menlo,Consolas,monospace;white-space:pre}
code{background:#f3f3f3;border:1px solid #e3e3e3;border-radius:3px;padding:0 3px;font:12.5px Menlo,Consolas,monospace;color:#c01343}
.quote{display:block;border-left:4px solid #ddd;padding-left:8px;color:#555}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
a{color:#1264a3}
.dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;vertical-align:-.05em;border:1px solid rgba(0,0,0,.15)}
.dot.red{background:#e01e5a}.dot.orange{background:#f2952f}.dot.yellow{background:#ecb22e}.dot.green{background:#2eb67d}.dot.blue{background:#1264a3}.dot.white{background:#fff}
.unsupported{color:#888;font-style:italic;font-size:13px}
.files{display:flex;flex-direction:column;gap:6px;margin-top:4px}
.file{font-size:14px}.file .size{color:#888;font-size:12px}
.thread{grid-column:2;margin-top:6px;border-left:3px solid #e3e3e3;padding-left:8px}
.thread>.toggle{border:0;background:none;color:#1264a3;font-weight:600;cursor:pointer;padding:2px 0;font-size:13px}
.thread .msg{padding:4px 0;grid-template-columns:32px 1fr}.thread .msg>.avatar{width:28px;height:28px;font-size:13px}
.placeholder .body{color:#888;font-style:italic}
#composer{display:flex;flex-wrap:wrap;gap:8px;padding:10px 16px;border-top:1px solid #ddd;background:#fafafa}
#command{flex:1;font:15px Menlo,Consolas,monospace;padding:8px 10px;border:1px solid #bbb;border-radius:6px}
#send{font:inherit;font-weight:600;padding:6px 16px;border-radius:6px;border:0;background:#007a5a;color:#fff;cursor:pointer}
.hint{width:100%;font-size:12px;color:#777}.hint .try{font:12px Menlo,Consolas,monospace;border:1px solid #ccc;background:#fff;border-radius:4px;cursor:pointer;padding:1px 6px}
dialog{border:0;border-radius:8px;box-shadow:0 10px 40px rgba(0,0,0,.35);padding:20px 24px;max-width:520px}
dialog::backdrop{background:rgba(0,0,0,.4)}
dialog h2{margin:0 0 10px;font-size:20px}dialog p{white-space:pre-wrap}
.dialog-buttons{display:flex;justify-content:flex-end;gap:8px;margin-top:16px}
`;

/** The page's behaviour; plain ES2020 for any current browser. */
const SCRIPT = `
(() => {
  'use strict';
  const boot = JSON.parse(document.getElementById('boot').textContent);
  const list = document.getElementById('channel');
  const userSelect = document.getElementById('user');
  const conn = document.getElementById('conn');
  const form = document.getElementById('composer');
  const input = document.getElementById('command');
  const dialog = document.getElementById('confirm');
  const names = Object.fromEntries(boot.users.map((u) => [u.id, u.name]));
  const items = new Map();
  const history = [];
  let historyAt = 0;
  let localSeq = 0;
  let user = localStorage.getItem('aegis-console-user');
  if (!names[user]) user = boot.users[0].id;
  userSelect.value = user;

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const timeOf = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  const visible = (item) => !(item.kind === 'ephemeral' || item.kind === 'command' || item.kind === 'notice') || item.user === user;

  function rootOf(ts) {
    for (const node of list.children) if (node.dataset.ts === ts) return node;
    const root = el('div', 'msg placeholder');
    root.dataset.ts = ts;
    root.append(el('div', 'avatar', '?'), el('div', 'body', 'A thread whose first message is not in this channel'));
    list.append(root);
    return root;
  }

  function threadOf(root) {
    let thread = root.querySelector(':scope > .thread');
    if (!thread) {
      thread = el('div', 'thread');
      const toggle = el('button', 'toggle');
      toggle.type = 'button';
      const replies = el('div', 'replies');
      toggle.addEventListener('click', () => {
        replies.classList.toggle('hidden');
        countReplies(root);
      });
      thread.append(toggle, replies);
      root.append(thread);
    }
    return thread;
  }

  function countReplies(root) {
    const thread = root.querySelector(':scope > .thread');
    if (!thread) return;
    const replies = thread.querySelector('.replies');
    const n = [...replies.children].filter((c) => !c.classList.contains('hidden')).length;
    const open = !replies.classList.contains('hidden');
    thread.querySelector('.toggle').textContent = (open ? '▾ ' : '▸ ') + n + (n === 1 ? ' reply' : ' replies');
  }

  function render(item, node) {
    const avatar = el('div', 'avatar', item.kind === 'command' ? (names[item.user] || '?')[0].toUpperCase() : 'A');
    const meta = el('div', 'meta');
    meta.append(el('span', 'author', item.author));
    if (item.kind !== 'command') meta.append(el('span', 'app', 'APP'));
    meta.append(el('time', '', timeOf(item.time)));
    if (item.edited) meta.append(el('span', 'edited', '(edited)'));
    if (item.kind === 'ephemeral' || item.kind === 'command' || item.kind === 'notice') {
      meta.append(el('span', 'only', 'Only visible to you'));
      const dismiss = el('button', 'dismiss', 'Dismiss');
      dismiss.type = 'button';
      dismiss.addEventListener('click', () => node.classList.add('hidden'));
      meta.append(dismiss);
    }
    const body = el('div', 'body');
    if (item.kind === 'command' || item.kind === 'notice') body.textContent = item.text;
    else body.innerHTML = item.html; // escaped by the server's Block Kit renderer
    const thread = node.querySelector(':scope > .thread');
    node.replaceChildren(avatar, meta, body, ...(thread ? [thread] : []));
  }

  function upsert(item) {
    const known = items.get(item.key);
    if (known && known.item.version >= item.version) return;
    const stick = nearBottom();
    const node = known ? known.node : el('div');
    node.className = 'msg ' + item.kind;
    node.dataset.key = item.key;
    if (item.ts) node.dataset.ts = item.ts;
    render(item, node);
    if (!visible(item)) node.classList.add('hidden');
    items.set(item.key, { item, node });
    if (!known) {
      const reply = item.threadTs && item.threadTs !== item.ts;
      if (reply) {
        const root = rootOf(item.threadTs);
        threadOf(root).querySelector('.replies').append(node);
        countReplies(root);
      } else {
        const placeholder = item.ts && [...list.children].find((c) => c.dataset.ts === item.ts && c.classList.contains('placeholder'));
        if (placeholder) {
          const thread = placeholder.querySelector(':scope > .thread');
          if (thread) node.append(thread);
          placeholder.replaceWith(node);
        } else list.append(node);
      }
    }
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function notice(text, threadTs) {
    localSeq += 1;
    upsert({ key: 'local:' + localSeq, version: 1, kind: 'notice', user, author: 'console', time: new Date().toISOString(), edited: false, text, ...(threadTs ? { threadTs } : {}) });
  }

  userSelect.addEventListener('change', () => {
    user = userSelect.value;
    localStorage.setItem('aegis-console-user', user);
    for (const { item, node } of items.values()) node.classList.toggle('hidden', !visible(item));
    for (const root of list.children) countReplies(root);
  });

  async function post(path, body) {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-aegis-console-secret': boot.secret }, body: JSON.stringify(body) });
    let answer = {};
    try { answer = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error(answer.error || 'HTTP ' + res.status);
    return answer;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let text = input.value.trim();
    if (!text) return;
    if (!text.startsWith('/')) text = '/aegis ' + text;
    history.push(text);
    historyAt = history.length;
    input.value = '';
    try {
      await post('/console/command', { text, user });
    } catch (err) {
      notice('Could not send ' + text + ': ' + err.message);
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowUp' && historyAt > 0) { historyAt -= 1; input.value = history[historyAt]; e.preventDefault(); }
    if (e.key === 'ArrowDown' && historyAt < history.length) { historyAt += 1; input.value = history[historyAt] || ''; e.preventDefault(); }
  });
  for (const b of document.querySelectorAll('#demo-alert button')) {
    b.addEventListener('click', async () => {
      try {
        const answer = await post('/console/demo-alert', { phase: b.dataset.phase });
        if (answer.status !== 200) notice('The receiver answered HTTP ' + answer.status + ' to the demo notification');
      } catch (err) {
        notice('Could not send the demo notification: ' + err.message);
      }
    });
  }
  for (const b of document.querySelectorAll('.hint .try')) {
    b.addEventListener('click', () => { input.value = b.textContent; input.focus(); });
  }

  let confirmed = null;
  function askConfirm(c, then) {
    document.getElementById('confirm-title').textContent = c.title || 'Are you sure?';
    document.getElementById('confirm-text').textContent = c.text || '';
    const ok = document.getElementById('confirm-ok');
    ok.textContent = c.confirm || 'Yes';
    ok.className = 'bk-button ' + (c.style === 'danger' ? 'danger' : 'primary');
    document.getElementById('confirm-deny').textContent = c.deny || 'Cancel';
    confirmed = then;
    dialog.returnValue = '';
    dialog.showModal();
  }
  dialog.addEventListener('close', () => {
    const then = confirmed;
    confirmed = null;
    if (dialog.returnValue === 'confirm' && then) then();
  });

  list.addEventListener('click', (e) => {
    const button = e.target.closest('button.bk-button');
    if (!button || !list.contains(button)) return;
    const msg = button.closest('.msg');
    if (!msg || !msg.dataset.key) return;
    if (button.dataset.url) window.open(button.dataset.url, '_blank', 'noopener');
    const threadTs = items.get(msg.dataset.key) && items.get(msg.dataset.key).item.threadTs;
    const send = async () => {
      button.classList.add('sent');
      try {
        await post('/console/click', {
          key: msg.dataset.key,
          action_id: button.dataset.actionId,
          block_index: Number(button.dataset.blockIndex),
          block_id: button.dataset.blockId,
          user,
        });
      } catch (err) {
        notice('The click did not reach the bot: ' + err.message, threadTs);
      } finally {
        setTimeout(() => button.classList.remove('sent'), 600);
      }
    };
    if (button.dataset.confirm) askConfirm(JSON.parse(button.dataset.confirm), send);
    else send();
  });

  const events = new EventSource('/console/events');
  events.addEventListener('item', (e) => upsert(JSON.parse(e.data)));
  events.onopen = () => { conn.textContent = 'connected'; conn.className = 'conn ok'; };
  events.onerror = () => { conn.textContent = 'reconnecting…'; conn.className = 'conn bad'; };
  input.focus();
})();
`;
