/*
 * status.js -- the live status page of a jetway process. Polls status.json
 * (same origin, relative URL so a path-prefixing proxy works), derives rates
 * and windowed latency quantiles from two consecutive documents, and draws
 * the topology as inline SVG. Every text from the server goes through
 * textContent / createTextNode, never innerHTML.
 */
'use strict';
(function () {
  const POLL_MS = 1500;
  const NS = 'http://www.w3.org/2000/svg';
  let prev = null;

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function s(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function num(x) {
    if (x === null || x === undefined || !isFinite(x)) return '—';
    if (Math.abs(x) >= 1e6) return (x / 1e6).toFixed(1) + 'M';
    if (Math.abs(x) >= 1e4) return (x / 1e3).toFixed(1) + 'k';
    return String(Math.round(x));
  }

  function rate(x) {
    if (x === null || x === undefined || !isFinite(x)) return '—';
    if (x === 0) return '0';
    if (x < 10) return x.toFixed(1);
    return num(x);
  }

  function dur(sec) {
    if (sec === null || sec === undefined || !isFinite(sec)) return '—';
    if (sec < 1e-3) return (sec * 1e6).toFixed(0) + ' µs';
    if (sec < 1) return (sec * 1e3).toFixed(sec < 0.01 ? 2 : 1) + ' ms';
    return sec.toFixed(2) + ' s';
  }

  function bytes(b) {
    if (!(b >= 0)) return '—';
    if (b >= 1 << 30) return (b / (1 << 30)).toFixed(2) + ' GiB';
    if (b >= 1 << 20) return (b / (1 << 20)).toFixed(1) + ' MiB';
    return (b / 1024).toFixed(0) + ' KiB';
  }

  function ago(sec) {
    if (sec < 60) return Math.round(sec) + ' s';
    if (sec < 3600) return Math.round(sec / 60) + ' min';
    if (sec < 86400) return (sec / 3600).toFixed(1) + ' h';
    return (sec / 86400).toFixed(1) + ' d';
  }

  /* Quantile q of per-bucket counts (last = +Inf), linear within a bucket. */
  function quantile(bounds, counts, q) {
    let total = 0;
    for (const c of counts) total += c;
    if (!(total > 0)) return null;
    const rank = q * total;
    let cum = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] > 0 && cum + counts[i] >= rank) {
        if (i >= bounds.length) return bounds[bounds.length - 1]; /* beyond the last bound */
        const lo = i === 0 ? 0 : bounds[i - 1];
        return lo + (bounds[i] - lo) * ((rank - cum) / counts[i]);
      }
      cum += counts[i];
    }
    return bounds[bounds.length - 1];
  }

  /* Per consumer: rates and latency since the previous document. */
  function derive(doc, old) {
    const byName = {};
    if (old) for (const c of old.consumers) byName[c.name] = c;
    const dt = old ? (doc.now_ms - old.now_ms) / 1000 : 0;
    const out = {};
    for (const c of doc.consumers) {
      const p = byName[c.name];
      const r = { window: false };
      if (p && dt > 0) {
        const d = (a, b) => Math.max(0, a - b) / dt;
        r.in = d(c.received, p.received);
        r.out = d(c.publishes, p.publishes);
        r.ack = d(c.settled.ack, p.settled.ack);
        r.retry = d(c.settled.retry + c.settled.busy, p.settled.retry + p.settled.busy);
        r.reject = d(c.settled.reject, p.settled.reject);
        r.dl = d(c.settled.dead_letter, p.settled.dead_letter);
        r.dup = d(c.settled.duplicate, p.settled.duplicate);
        const win = c.handler_seconds.buckets.map((v, i) =>
          Math.max(0, v - p.handler_seconds.buckets[i]));
        if (win.some(v => v > 0)) {
          r.window = true;
          r.p50 = quantile(doc.bucket_bounds_s, win, 0.5);
          r.p99 = quantile(doc.bucket_bounds_s, win, 0.99);
        }
      }
      if (!r.window) { /* nothing handled in the window: since start */
        r.p50 = quantile(doc.bucket_bounds_s, c.handler_seconds.buckets, 0.5);
        r.p99 = quantile(doc.bucket_bounds_s, c.handler_seconds.buckets, 0.99);
      }
      out[c.name] = r;
    }
    return out;
  }

  function card(cls, k, v, d) {
    const e = h('div', { class: 'card ' + cls });
    e.appendChild(h('div', { class: 'k' }, k));
    e.appendChild(h('div', { class: 'v' }, v));
    if (d) e.appendChild(h('div', { class: 'd' }, d));
    return e;
  }

  function renderCards(doc, old) {
    const cards = $('cards');
    cards.replaceChildren();
    const ready = card(doc.ready ? 'ok' : 'bad', 'readiness', doc.ready ? 'ready' : 'not ready',
      doc.ready ? (doc.draining ? 'draining' : 'taking work') : doc.reason);
    ready.id = 'ready';
    cards.appendChild(ready);
    cards.appendChild(card(doc.nats.connected ? 'ok' : 'bad', 'NATS',
      doc.nats.connected ? 'connected' : 'disconnected', doc.nats.reconnects + ' reconnects'));
    if (doc.redis.needed || doc.redis.connected)
      cards.appendChild(card(doc.redis.connected ? 'ok' : 'bad', 'Redis',
        doc.redis.connected ? 'connected' : 'unreachable',
        doc.redis.reconnects + ' reconnects, ' + doc.redis.timeouts + ' timeouts'));
    else
      cards.appendChild(card('', 'Redis', 'not used', 'no consumer dedups'));
    const rl = doc.reload;
    let rv = 'none yet', rcls = '', rd = 'config ' + (rl.digest || '').slice(0, 12);
    if (rl.last_ts > 0) {
      rv = (rl.last_ok ? 'ok' : 'failed') + ', ' + ago(doc.now_ms / 1000 - rl.last_ts) + ' ago';
      rcls = rl.last_ok ? 'ok' : 'bad';
    }
    if (rl.error) rd += ' — ' + rl.error;
    rd += ' (' + rl.ok + ' ok, ' + rl.failed + ' failed)';
    const rc = card(rcls, 'last reload', rv, rd);
    rc.id = 'reload';
    cards.appendChild(rc);
    const p = doc.process;
    let cpu = '';
    if (old && old.process && doc.now_ms > old.now_ms)
      cpu = (100 * (p.cpu_seconds - old.process.cpu_seconds) / ((doc.now_ms - old.now_ms) / 1000))
        .toFixed(0) + '% CPU, ';
    cards.appendChild(card('', 'process', bytes(p.rss_bytes) + ' RSS',
      cpu + p.open_fds + '/' + p.max_fds + ' fds, pid ' + p.pid + ', up ' +
      ago(doc.now_ms / 1000 - doc.start_ts)));
  }

  function cell(tr, text, cls, key) {
    const td = h('td', {}, text);
    if (cls) td.className = cls;
    if (key) td.dataset.k = key;
    tr.appendChild(td);
    return td;
  }

  function renderConsumers(doc, rates) {
    const tb = $('consumers').tBodies[0];
    tb.replaceChildren();
    for (const c of doc.consumers) {
      const r = rates[c.name] || {};
      const tr = h('tr');
      tr.dataset.consumer = c.name;
      if (!c.active) tr.className = 'inactive';
      cell(tr, c.name, '', 'name');
      cell(tr, c.stream);
      cell(tr, c.handler);
      if (!c.active) cell(tr, 'removed', '', 'state');
      else cell(tr, c.bound ? 'bound' : 'unbound', c.bound ? 'good' : 'bad', 'state');
      cell(tr, rate(r.in), '', 'in');
      cell(tr, rate(r.out), '', 'out');
      cell(tr, rate(r.ack), '', 'ack');
      cell(tr, rate(r.retry), r.retry > 0 ? 'hot' : '', 'retry');
      cell(tr, rate(r.reject), r.reject > 0 ? 'bad' : '', 'reject');
      cell(tr, rate(r.dl), r.dl > 0 ? 'bad' : '', 'dl');
      cell(tr, rate(r.dup), '', 'dup');
      cell(tr, c.active ? num(c.pending) : '—', '', 'pending');
      cell(tr, c.active ? num(c.ack_pending) : '—', '', 'ack_pending');
      cell(tr, num(c.in_flight), '', 'in_flight');
      cell(tr, dur(r.p50) + (r.window ? '' : '*'), '', 'p50');
      cell(tr, dur(r.p99) + (r.window ? '' : '*'), '', 'p99');
      cell(tr, num(c.received), '', 'received').title = String(c.received);
      cell(tr, num(c.dedup.duplicate), '', 'dedup_duplicate');
      tb.appendChild(tr);
    }
  }

  function renderTables(doc) {
    const t = doc.topology || { services: [], plugins: [] };
    const sb = $('services').tBodies[0];
    sb.replaceChildren();
    for (const sv of t.services || []) {
      const tr = h('tr');
      tr.dataset.service = sv.name;
      cell(tr, sv.name); cell(tr, sv.subject); cell(tr, sv.queue); cell(tr, sv.handler);
      sb.appendChild(tr);
    }
    if (!(t.services || []).length) {
      const tr = h('tr'); cell(tr, 'none'); sb.appendChild(tr);
    }
    const files = {};
    for (const p of t.plugins || []) files[p.name] = p.file;
    const pb = $('plugins').tBodies[0];
    pb.replaceChildren();
    for (const p of doc.plugins) {
      const tr = h('tr');
      tr.dataset.plugin = p.instance;
      cell(tr, p.instance); cell(tr, p.plugin); cell(tr, p.version); cell(tr, p.abi);
      cell(tr, files[p.instance] || '');
      pb.appendChild(tr);
    }
  }

  /* ---- topology ---------------------------------------------------------------- */

  const COLS = [20, 290, 560, 830];
  const NODE_W = 220, NODE_H = 44, ROW = 60;

  function node(svg, cls, x, y, title, sub, name) {
    const g = s('g', { class: 'node-g ' + cls, transform: 'translate(' + x + ',' + y + ')' });
    if (name !== undefined) g.setAttribute('data-name', name);
    g.appendChild(s('rect', { class: 'node', width: NODE_W, height: NODE_H, rx: 5 }));
    const t = s('text', { x: 10, y: 18 }, title);
    g.appendChild(t);
    if (sub) g.appendChild(s('text', { class: 'sub', x: 10, y: 35 }, sub));
    g.appendChild(s('title', {}, title + (sub ? '\n' + sub : '')));
    svg.appendChild(g);
    return { x: x, y: y };
  }

  /* Edges go into the first group of the picture, so nodes are drawn over them. */
  function edge(svg, a, b, cls, width) {
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
    const mx = (x1 + x2) / 2;
    svg.firstChild.appendChild(s('path', {
      class: 'edge ' + (cls || ''),
      d: 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2,
      'stroke-width': width || 1.5,
    }));
  }

  function clip(str, n) { str = String(str || ''); return str.length > n ? str.slice(0, n - 1) + '…' : str; }

  function renderTopology(doc, rates) {
    const t = doc.topology || { streams: [], consumers: [], services: [], plugins: [] };
    const live = {};
    for (const c of doc.consumers) live[c.name] = c;
    const versions = {};
    for (const p of doc.plugins) versions[p.instance] = p.plugin + ' ' + p.version;
    const cons = t.consumers || [], svcs = t.services || [];
    const rows = Math.max(1, cons.length + svcs.length);
    const height = 30 + rows * ROW + (svcs.length && cons.length ? 16 : 0);
    const svg = s('svg', { viewBox: '0 0 1070 ' + height, role: 'img',
      'aria-label': 'topology of this process' });
    svg.appendChild(s('g', { class: 'edges' }));
    ['streams / subjects', 'consumers / services', 'handlers', 'dead letters'].forEach((l, i) =>
      svg.appendChild(s('text', { class: 'col', x: COLS[i], y: 14 }, l)));

    const streamPos = {}, handlerPos = {}, streamYs = {}, handlerYs = {};
    const consumerPos = [];
    cons.forEach((c, i) => {
      const y = 26 + i * ROW;
      consumerPos.push(y);
      (streamYs[c.stream] = streamYs[c.stream] || []).push(y);
      (handlerYs[c.handler] = handlerYs[c.handler] || []).push(y);
    });
    const svcY = [];
    svcs.forEach((sv, i) => {
      const y = 26 + (cons.length + i) * ROW + (cons.length ? 16 : 0);
      svcY.push(y);
      (handlerYs[sv.handler] = handlerYs[sv.handler] || []).push(y);
    });
    const mean = ys => ys.reduce((a, b) => a + b, 0) / ys.length;
    const streamSubjects = {};
    for (const st of t.streams || []) streamSubjects[st.name] = (st.subjects || []).join(' ');
    /* Handlers and streams sit at the mean height of what they connect to. */
    for (const name in streamYs)
      streamPos[name] = node(svg, 'stream', COLS[0], mean(streamYs[name]), clip(name, 30),
        clip(streamSubjects[name], 34), name);
    for (const name in handlerYs)
      handlerPos[name] = node(svg, 'handler', COLS[2], mean(handlerYs[name]), clip(name, 30),
        clip(versions[name] || '', 34), name);

    const maxIn = Math.max(1, ...cons.map(c => (rates[c.name] || {}).in || 0));
    cons.forEach((c, i) => {
      const lc = live[c.name] || {};
      const r = rates[c.name] || {};
      const state = lc.bound ? 'bound' : 'unbound';
      const sub = rate(r.in) + ' in/s · ' + rate(r.out) + ' out/s · ' + num(lc.pending) + ' pending';
      const pos = node(svg, 'consumer ' + state, COLS[1], consumerPos[i],
        clip(c.name + (c.filter ? '  ' + c.filter : ''), 32), sub, c.name);
      const w = 1.5 + 5 * ((r.in || 0) / maxIn);
      edge(svg, streamPos[c.stream], pos, '', w);
      edge(svg, pos, handlerPos[c.handler], '', w);
      if (c.dead_letter) {
        const dlr = (r.dl || 0) + (r.reject || 0);
        const lcs = lc.settled || {};
        const dl = node(svg, 'deadletter' + (dlr > 0 ? ' active' : ''), COLS[3], consumerPos[i],
          clip(c.dead_letter, 30), rate(dlr) + '/s · ' + num((lcs.dead_letter || 0) +
            (lcs.reject || 0)) + ' total', c.dead_letter);
        edge(svg, pos, dl, 'dl', 1.5);
      }
    });
    svcs.forEach((sv, i) => {
      const subj = node(svg, 'subject', COLS[0], svcY[i], clip(sv.subject, 30), 'request/reply');
      const pos = node(svg, 'service', COLS[1], svcY[i], clip(sv.name, 30),
        'queue ' + clip(sv.queue, 26), sv.name);
      edge(svg, subj, pos, 'req');
      edge(svg, pos, handlerPos[sv.handler], 'req');
    });
    $('topology').replaceChildren(svg);
  }

  function render(doc, old) {
    const rates = derive(doc, old);
    $('service').textContent = doc.service;
    document.title = 'jetway ' + doc.service;
    $('meta').textContent = 'jetway ' + doc.version + ' · plugin ABI ' + doc.abi;
    renderCards(doc, old);
    renderTopology(doc, rates);
    renderConsumers(doc, rates);
    renderTables(doc);
    const conn = $('conn');
    conn.className = 'conn';
    conn.textContent = 'updated ' + new Date(doc.now_ms).toLocaleTimeString() + ' · every ' +
      (POLL_MS / 1000) + ' s';
    document.body.dataset.samples = String((+document.body.dataset.samples || 0) + 1);
  }

  async function tick() {
    try {
      const res = await fetch('status.json', { cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const doc = await res.json();
      render(doc, prev);
      prev = doc;
    } catch (e) {
      const conn = $('conn');
      conn.className = 'conn lost';
      conn.textContent = 'connection lost: ' + e.message + ' (retrying)';
    } finally {
      setTimeout(tick, POLL_MS);
    }
  }

  tick();
})();
