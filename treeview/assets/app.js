// The live supervision-tree view: draws the JSON of the handler (see
// package treeview) and keeps it current from its /events stream. No
// dependencies; every name is set as text, never parsed as HTML.
'use strict';
(() => {
  const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
  const MAX_EVENTS = 500;
  // A restart shown by events lasts at least HOLD_MS on screen, so a
  // person (and a test polling the DOM) sees it even when the runtime
  // restarts the actor within a millisecond.
  const HOLD_MS = 700;
  let snap = null;       // the last snapshot
  let offset = 0;        // browser clock minus server clock, ms
  let tail = [];         // events, oldest first
  let lastSeq = 0;
  let highlight = '';    // the failure ID highlighted, '' for none
  const held = new Map(); // path -> {status, until, next}
  const blocked = new Map(); // pipeline/stage -> {s, t, rate}
  let pending = false;

  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false || v === '') continue;
      if (k === 'class') e.className = v; else e.setAttribute(k, String(v));
    }
    for (const k of kids) {
      if (k === undefined || k === null || k === false || k === '') continue;
      e.append(k instanceof Node ? k : String(k));
    }
    return e;
  }
  const serverNow = () => Date.now() - offset;
  function dur(ms) {
    if (ms < 1000) return Math.round(ms) + 'ms';
    const s = ms / 1000;
    if (s < 60) return s.toFixed(1) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + Math.round(s % 60) + 's';
    return Math.floor(s / 3600) + 'h' + Math.round((s % 3600) / 60) + 'm';
  }
  const clock = (t) => new Date(t).toISOString().slice(11, 23);
  function statusTone(s) {
    if (s === 'running') return 'ok';
    if (s === 'starting' || s === 'restarting' || s === 'backoff') return 'warn';
    return 'off';
  }
  function effective(n) {
    const h = held.get(n.path);
    if (h && (h.until > Date.now()) && (n.status === 'running' || n.status === 'starting')) return h;
    return { status: n.status, next: n.next_start ? Date.parse(n.next_start) : 0 };
  }
  function meter(value, maxv) {
    return el('meter', { min: 0, max: maxv, value: value, low: maxv * 0.5, high: maxv * 0.8, optimum: 0 });
  }

  function renderNode(n) {
    const eff = effective(n);
    const sup = n.supervisor;
    const unresp = sup && sup.unresponsive;
    const t = unresp ? 'bad' : statusTone(eff.status);
    const lf = n.last_failure;
    const li = el('li', {
      class: 'node tone-' + t, 'data-path': n.path, 'data-status': eff.status, 'data-type': n.type, 'data-restarts': String(n.restarts),
      'data-failure': lf && lf.id, 'data-unresponsive': unresp ? 'true' : '',
      'data-held': eff.until ? 'true' : '',
    });
    li.append(el('div', { class: 'row' },
      el('span', { class: 'dot' }), el('span', { class: 'name' }, n.name),
      n.kind && n.kind !== n.type && el('span', { class: 'kind' }, n.kind), el('span', { class: 'badge' }, n.type),
      n.restart && el('span', { class: 'badge' }, n.restart), el('span', { class: 'status' }, eff.status),
      eff.next > 0 && el('span', { class: 'countdown', 'data-next-start': new Date(eff.next).toISOString() }, countdown(eff.next)),
      n.backoff_attempt > 0 && el('span', { class: 'stat' }, 'attempt ' + n.backoff_attempt),
      unresp && el('span', { class: 'badge bad' }, 'unresponsive')));
    const mb = n.mailbox || {};
    const up = n.started && n.status === 'running' && snap ? dur(Date.parse(snap.time) - Date.parse(n.started)) : '';
    li.append(el('div', { class: 'row stats' },
      el('span', { class: 'stat', title: 'restarts' }, '↻ ' + n.restarts),
      el('span', { class: 'stat', title: 'incarnation' }, '#' + n.incarnation),
      up && el('span', { class: 'stat', title: 'uptime' }, 'up ' + up),
      el('span', { class: 'stat mailbox', title: 'mailbox depth / capacity (' + (mb.policy || '') + ')' }, '✉ ',
        mb.capacity ? meter(mb.depth, mb.capacity) : '', mb.capacity ? ' ' + mb.depth + '/' + mb.capacity : mb.depth + '/∞',
        mb.dropped ? el('span', { class: 'bad' }, ' ' + mb.dropped + ' dropped') : ''),
      el('span', { class: 'stat', title: 'messages processed' }, '✓ ' + n.processed),
      n.failures > 0 && el('span', { class: 'stat bad', title: 'failures' }, '✗ ' + n.failures),
      n.dead_lettered > 0 && el('span', { class: 'stat', title: 'dead letters' }, '☠ ' + n.dead_lettered),
      lf && el('button', { type: 'button', class: 'fid', 'data-failure': lf.id, title: 'last failure at ' + clock(lf.time) }, lf.id + ' ' + lf.error_type)));
    if (sup) {
      li.append(el('div', { class: 'row stats sup' },
        el('span', { class: 'badge strategy' }, sup.strategy),
        el('span', { class: 'stat intensity', title: 'restarts in the current period / max restarts' },
          sup.max_restarts ? meter(sup.restarts_in_window, sup.max_restarts) : '',
          ' ' + sup.restarts_in_window + '/' + sup.max_restarts + ' in ' + sup.period_seconds + 's'),
        el('span', { class: 'stat', title: 'active / specs (supervisors, workers)' },
          sup.counts.active + '/' + sup.counts.specs + ' active'),
        sup.gave_up > 0 && el('span', { class: 'stat bad' }, 'gave up ' + sup.gave_up),
        sup.auto_shutdown && el('span', { class: 'stat muted', title: 'auto shutdown' }, 'auto ' + sup.auto_shutdown)));
    }
    if (lf && lf.message) li.append(el('pre', { class: 'msg' }, lf.message + (lf.stack ? '\n' + lf.stack : '')));
    if (n.children && n.children.length) li.append(el('ul', { class: 'tree' }, ...n.children.map(renderNode)));
    return li;
  }

  function countdown(next) {
    const rem = next - serverNow();
    return rem > 0 ? 'in ' + dur(rem) : 'due';
  }

  function renderStage(p, s) {
    const key = p.name + '\u0000' + s.name;
    const b = blocked.get(key);
    const kids = [el('h4', {}, s.name)];
    if (s.inputs && s.inputs.length) kids.push(el('div', { class: 'muted' }, '← ' + s.inputs.join(', ')));
    kids.push(el('div', { class: 'stats' },
      el('span', { class: 'stat', title: 'received' }, 'in ' + s.received),
      el('span', { class: 'stat', title: 'emitted' }, 'out ' + s.emitted),
      s.failures > 0 && el('span', { class: 'stat bad', title: 'failures' }, '✗ ' + s.failures),
      el('span', { class: 'stat', title: 'in flight' }, 'in flight ' + s.in_flight),
      el('span', { class: 'stat blocked', title: 'share of time blocked on a full downstream' },
        b && b.rate !== undefined ? 'blocked ' + Math.round(b.rate * 100) + '%' : 'blocked ' + s.blocked_seconds.toFixed(2) + 's'),
      s.dead_lettered > 0 && el('span', { class: 'stat', title: 'dead letters' }, '☠ ' + s.dead_lettered)));
    if (s.workers && s.workers.length) {
      kids.push(el('table', { class: 'workers' },
        el('thead', {}, el('tr', {}, ...['#', 'status', 'recv', 'done', 'queue', '↻', '✗'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...s.workers.map((w) => el('tr', { class: 'worker tone-' + statusTone(w.status), 'data-path': w.path, 'data-status': w.status },
          el('td', {}, w.index), el('td', {}, el('span', { class: 'dot' }), w.status), el('td', {}, w.received),
          el('td', {}, w.processed), el('td', {}, w.queue), el('td', {}, w.restarts), el('td', {}, w.failures))))));
    }
    return el('div', { class: 'stage', 'data-stage': s.name }, ...kids);
  }

  function renderPipe(p) {
    const stages = [];
    (p.stages || []).forEach((s, i) => {
      if (i) stages.push(el('span', { class: 'arrow' }, '→'));
      stages.push(renderStage(p, s));
    });
    return el('div', { class: 'pipe', 'data-pipeline': p.name, 'data-state': p.state },
      el('h3', {}, p.name + ' ', el('span', { class: 'badge' }, p.state)), el('div', { class: 'stages' }, ...stages));
  }

  function renderEvent(e) {
    const detail = [e.reason, e.error_type !== e.reason && e.error_type, e.delay_seconds ? 'in ' + e.delay_seconds + 's' : ''].filter(Boolean).join(' ');
    return el('tr', { class: 'ev kind-' + e.kind, 'data-seq': e.seq, 'data-kind': e.kind, 'data-path': e.path, 'data-failure': e.failure_id },
      el('td', { class: 'muted' }, clock(e.time)), el('td', { class: 'kind' }, e.kind), el('td', { class: 'path' }, e.path),
      el('td', {}, detail, e.message ? el('span', { class: 'msg' }, ' ' + e.message) : ''),
      el('td', {}, e.failure_id ? el('button', { type: 'button', class: 'fid', 'data-failure': e.failure_id }, e.failure_id) : ''));
  }

  function render() {
    if (!snap) return;
    $('system').textContent = snap.system;
    document.title = 'troupe · ' + snap.system;
    $('snaptime').textContent = 'snapshot ' + clock(snap.time);
    const notes = [];
    if (snap.truncated) notes.push(el('span', { class: 'note warn', id: 'truncated' }, snap.truncated + ' nodes not shown (limit ' + snap.limit + ')'));
    if (snap.timed_out) notes.push(el('span', { class: 'note bad', id: 'timedout' }, 'snapshot timed out'));
    if (snap.events_dropped) notes.push(el('span', { class: 'note', id: 'dropped' }, 'events dropped: ' + snap.events_dropped));
    if (snap.redacted) notes.push(el('span', { class: 'note muted', id: 'redacted' }, 'messages redacted'));
    $('notes').replaceChildren(...notes);
    const nodes = snap.nodes || [];
    $('tree').replaceChildren(...(nodes.length ? nodes.map(renderNode) : [el('li', { class: 'empty muted' }, 'no actors')]));
    const pipes = snap.pipelines || [];
    $('pipes').replaceChildren(...(pipes.length ? pipes.map(renderPipe) : [el('p', { class: 'empty muted' }, 'no pipelines')]));
    $('events').replaceChildren(...tail.slice().reverse().map(renderEvent));
    applyHighlight();
  }
  function scheduleRender() {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; render(); }, 30);
  }

  function applyHighlight() {
    const body = document.body;
    for (const e of document.querySelectorAll('.hl')) e.classList.remove('hl');
    for (const e of document.querySelectorAll('.fid.active')) e.classList.remove('active');
    body.classList.toggle('dim', !!highlight);
    $('highlight').hidden = !highlight;
    if (!highlight) return;
    const paths = new Set(tail.filter((e) => e.failure_id === highlight).map((e) => e.path));
    let nodes = 0, events = 0;
    for (const n of document.querySelectorAll('.node')) {
      if (n.dataset.failure === highlight || paths.has(n.dataset.path)) { n.classList.add('hl'); nodes++; }
    }
    for (const e of document.querySelectorAll('tr.ev')) {
      if (e.dataset.failure === highlight) { e.classList.add('hl'); events++; }
    }
    for (const b of document.querySelectorAll('.fid')) if (b.dataset.failure === highlight) b.classList.add('active');
    $('highlight-text').textContent = 'failure ' + highlight + ': ' + nodes + ' nodes, ' + events + ' events';
  }

  function hold(path, status, next) {
    held.set(path, { status: status, until: Date.now() + HOLD_MS, next: next || 0 });
    setTimeout(scheduleRender, HOLD_MS + 10);
  }
  function onEvent(e) {
    if (e.seq <= lastSeq) return;
    lastSeq = e.seq;
    tail.push(e);
    if (tail.length > MAX_EVENTS) tail.splice(0, tail.length - MAX_EVENTS);
    if (e.kind === 'failed' || e.kind === 'killed') hold(e.path, 'restarting');
    if (e.kind === 'backoff') hold(e.path, 'backoff', Date.parse(e.time) + (e.delay_seconds || 0) * 1000);
    scheduleRender();
  }
  function onSnapshot(p) {
    const t = Date.parse(p.time);
    for (const pl of p.pipelines || []) {
      for (const s of pl.stages || []) {
        const key = pl.name + '\u0000' + s.name;
        const b = blocked.get(key);
        const next = { s: s.blocked_seconds, t: t };
        if (b && t > b.t) next.rate = Math.min(1, Math.max(0, (s.blocked_seconds - b.s) / ((t - b.t) / 1000)));
        else if (b) next.rate = b.rate;
        blocked.set(key, next);
      }
    }
    snap = p;
    offset = Date.now() - t;
    scheduleRender();
  }
  function setConn(state) {
    const c = $('conn');
    c.dataset.state = state;
    c.textContent = state;
  }

  function connect() {
    if (!window.EventSource) { poll(); return; }
    const es = new EventSource(base + 'events');
    // A new connection resumes after Last-Event-ID, or from the start
    // when the server no longer knows it: accept what it sends.
    es.addEventListener('open', () => { lastSeq = 0; setConn('live'); });
    es.addEventListener('error', () => setConn(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
    es.addEventListener('snapshot', (m) => onSnapshot(JSON.parse(m.data)));
    es.addEventListener('event', (m) => onEvent(JSON.parse(m.data)));
    es.addEventListener('end', () => { es.close(); setConn('ended'); });
  }
  async function poll() {
    setConn('polling');
    for (;;) {
      try {
        const r = await fetch(base + '?format=json', { headers: { Accept: 'application/json' }, cache: 'no-store' });
        const p = await r.json();
        for (const e of p.events || []) onEvent(e);
        onSnapshot(p);
      } catch (err) {
        setConn('reconnecting');
      }
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }

  document.addEventListener('click', (ev) => {
    const b = ev.target.closest('.fid');
    if (b) { highlight = highlight === b.dataset.failure ? '' : b.dataset.failure; applyHighlight(); return; }
    if (ev.target.id === 'highlight-clear') { highlight = ''; applyHighlight(); }
  });
  setInterval(() => {
    for (const c of document.querySelectorAll('.countdown[data-next-start]')) c.textContent = countdown(Date.parse(c.dataset.nextStart));
  }, 200);
  const st = $('snaptime');
  if (st && st.dataset.time) offset = Date.now() - Date.parse(st.dataset.time);
  connect();
})();
