// The worker's dashboard: a client of the worker's own REST API (Kafka Connect's paths), served
// with the binary and fetching nothing from elsewhere. Hash routes: #/ (connectors), #/new,
// #/connectors/NAME, #/connectors/NAME/edit, #/cluster, #/plugins, #/plugins/NAME.
'use strict';

const REFRESH_MS = 2000;
const HISTORY = 30;
const SECRET_KEY = /password|secret|token|credential|api[._-]?key|private[._-]?key/i;

const session = {
  credentials: sessionStorage.getItem('connect-credentials'),
  // Records moved per connector at the last reading of /metrics, and the rates since.
  moved: null,
  rates: {},
  history: {},
  lags: {},
  // Per source connector: how far behind its upstream it is (CDC sources report it).
  freshness: {},
  timer: null,
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const enc = encodeURIComponent;

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (session.credentials) {
    headers.Authorization = session.credentials.includes(':') ? 'Basic ' + btoa(session.credentials) : 'Bearer ' + session.credentials;
  }
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (response.status === 401) {
    showLogin();
    throw new ApiError(401, 'this worker needs credentials');
  }
  if (!response.ok) throw new ApiError(response.status, (data && data.message) || text || response.statusText);
  return data;
}

function toast(text) {
  const element = document.getElementById('toast');
  element.textContent = text;
  element.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => element.classList.remove('shown'), 3000);
}

function view(html) {
  document.getElementById('view').innerHTML = html;
}

function stateBadge(state, id) {
  return `<span class="state ${esc(state)}"${id ? ` id="${id}"` : ''}>${esc(state || '-')}</span>`;
}

function sparkline(points) {
  if (!points || points.length < 2) return '<svg class="spark" width="100" height="24"></svg>';
  const max = Math.max(...points, 1);
  const step = 100 / (HISTORY - 1);
  const offset = (HISTORY - points.length) * step;
  const line = points.map((p, i) => `${(offset + i * step).toFixed(1)},${(22 - (p / max) * 20).toFixed(1)}`).join(' ');
  return `<svg class="spark" width="100" height="24" viewBox="0 0 100 24"><polyline fill="none" stroke="#2f5bea" stroke-width="1.5" points="${line}"/></svg>`;
}

function rateText(name) {
  const rate = session.rates[name];
  return rate === undefined ? '-' : `${rate.toFixed(1)}/s`;
}

// Records per second per connector, from two readings of /metrics.
async function readMetrics() {
  let text;
  try {
    text = await api('GET', '/metrics');
  } catch {
    return;
  }
  if (typeof text !== 'string') return;
  const moved = {};
  const lags = {};
  const freshness = {};
  for (const line of text.split('\n')) {
    const match = line.match(/^(connect_source_records_written_total|connect_sink_records_put_total|connect_sink_record_lag_max|connect_source_lag_seconds|connect_source_lag_bytes|connect_source_snapshot_rows_done|connect_source_snapshot_rows_total)\{connector="((?:[^"\\]|\\.)*)",[^}]*\} (\S+)$/);
    if (!match) continue;
    const name = match[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = Number(match[3]);
    const fresh = (freshness[name] = freshness[name] || {});
    switch (match[1]) {
      case 'connect_sink_record_lag_max': lags[name] = (lags[name] || 0) + value; break;
      // A connector is as far behind as its furthest task; its bytes and rows add up.
      case 'connect_source_lag_seconds': fresh.seconds = Math.max(fresh.seconds || 0, value); break;
      case 'connect_source_lag_bytes': fresh.bytes = (fresh.bytes || 0) + value; break;
      case 'connect_source_snapshot_rows_done': fresh.done = (fresh.done || 0) + value; break;
      case 'connect_source_snapshot_rows_total': fresh.total = (fresh.total || 0) + value; break;
      default: moved[name] = (moved[name] || 0) + value;
    }
  }
  const now = performance.now();
  if (session.moved) {
    const seconds = Math.max((now - session.moved.at) / 1000, 0.001);
    for (const [name, total] of Object.entries(moved)) {
      const rate = Math.max(total - (session.moved.totals[name] || 0), 0) / seconds;
      session.rates[name] = rate;
      const history = (session.history[name] = session.history[name] || []);
      history.push(rate);
      if (history.length > HISTORY) history.shift();
    }
  }
  session.moved = { at: now, totals: moved };
  session.lags = lags;
  session.freshness = freshness;
}

function bytesText(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (bytes >= 1024 && unit < units.length - 1) { bytes /= 1024; unit += 1; }
  return `${unit === 0 ? bytes : bytes.toFixed(1)} ${units[unit]}`;
}

// How far behind its upstream a source is: its snapshot while one is read, then seconds and
// bytes of change log behind; undefined for a source that reports nothing.
function freshnessText(name) {
  const fresh = session.freshness[name];
  if (!fresh) return undefined;
  if (fresh.total !== undefined && fresh.done < fresh.total) {
    return `snapshot ${Math.floor((fresh.done * 100) / Math.max(fresh.total, 1))} % of ${fresh.total} rows`;
  }
  const parts = [];
  if (fresh.seconds !== undefined) parts.push(`${fresh.seconds.toFixed(fresh.seconds < 10 ? 1 : 0)} s`);
  if (fresh.bytes !== undefined) parts.push(bytesText(fresh.bytes));
  return parts.length ? parts.join(' · ') : undefined;
}

// ---- connectors ----

async function connectorsView() {
  const expanded = await api('GET', '/connectors?expand=status&expand=info');
  const names = Object.keys(expanded).sort();
  if (names.length === 0) {
    view('<h1>Connectors</h1><p class="muted">No connectors yet.</p><a class="button" href="#/new">New connector</a>');
    return;
  }
  const rows = names.map((name) => {
    const status = expanded[name].status || {};
    const tasks = status.tasks || [];
    const running = tasks.filter((t) => t.state === 'RUNNING').length;
    const failed = tasks.find((t) => t.trace) || (status.connector && status.connector.trace ? status.connector : null);
    const trace = failed ? `<pre class="trace">${esc(failed.trace.split('\n')[0])}</pre>` : '';
    const kind = (expanded[name].info || {}).type || status.type;
    // A sink's lag: records behind the end of its queues; a source's: behind its upstream.
    const lag = kind === 'sink' ? session.lags[name] : freshnessText(name);
    return `<tr data-connector="${esc(name)}">
      <td><a href="#/connectors/${enc(name)}">${esc(name)}</a>${trace}</td>
      <td>${esc(kind)}</td>
      <td>${stateBadge(status.connector && status.connector.state)}</td>
      <td class="num tasks">${running}/${tasks.length}</td>
      <td>${esc(status.connector && status.connector.worker_id)}</td>
      <td class="num rate">${rateText(name)}</td>
      <td>${sparkline(session.history[name])}</td>
      <td class="num lag">${lag === undefined ? '-' : esc(lag)}</td></tr>`;
  });
  view(`<h1>Connectors</h1>
    <table id="connectors"><thead><tr><th>Name</th><th>Type</th><th>State</th><th>Tasks</th><th>Worker</th><th>Records/s</th><th>Last minute</th><th>Lag</th></tr></thead>
    <tbody>${rows.join('')}</tbody></table>`);
}

async function connectorView(name) {
  const path = `/connectors/${enc(name)}`;
  const [info, status] = await Promise.all([api('GET', path), api('GET', `${path}/status`)]);
  let offsets = null;
  try { offsets = await api('GET', `${path}/offsets`); } catch { offsets = null; }
  const connector = status.connector || {};
  const config = Object.entries(info.config || {}).sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `<tr><td>${esc(key)}</td><td>${esc(value)}</td></tr>`).join('');
  const tasks = (status.tasks || []).map((t) => `<tr data-task="${t.id}"><td>${t.id}</td><td>${stateBadge(t.state)}</td><td>${esc(t.worker_id)}</td>
      <td>${t.trace ? `<pre class="trace">${esc(t.trace)}</pre>` : ''}</td></tr>`).join('');
  const offsetRows = offsets && offsets.offsets ? offsets.offsets.map((o) => `<tr><td>${esc(JSON.stringify(o.partition))}</td><td>${esc(JSON.stringify(o.offset))}</td></tr>`).join('') : '';
  const confirming = session.confirming === name;
  view(`<h1>${esc(name)} ${stateBadge(connector.state, 'connector-state')}</h1>
    <p class="muted">${esc(info.type)} · ${esc((info.config || {})['connector.class'])} · on ${esc(connector.worker_id)} · <span id="connector-rate">${rateText(name)}</span> ${sparkline(session.history[name])}${freshnessText(name) === undefined ? '' : ` · behind its upstream: <span id="connector-freshness">${esc(freshnessText(name))}</span>`}</p>
    ${connector.trace ? `<pre class="trace">${esc(connector.trace)}</pre>` : ''}
    <div class="actions">
      <a class="button" href="#/connectors/${enc(name)}/edit">Edit</a>
      <button data-action="pause">Pause</button>
      <button data-action="resume">Resume</button>
      <button data-action="stop">Stop</button>
      <button data-action="restart">Restart</button>
      <button data-action="reset-offsets" ${connector.state === 'STOPPED' ? '' : 'disabled title="stop the connector first"'}>Reset offsets</button>
      <button data-action="delete" class="danger">${confirming ? 'Really delete?' : 'Delete'}</button>
    </div>
    <h2>Tasks</h2><table id="tasks"><thead><tr><th>ID</th><th>State</th><th>Worker</th><th>Trace</th></tr></thead><tbody>${tasks}</tbody></table>
    <h2>Config</h2><table id="config"><tbody>${config}</tbody></table>
    <h2>Offsets</h2>${offsetRows ? `<table id="offsets"><thead><tr><th>Partition</th><th>Offset</th></tr></thead><tbody>${offsetRows}</tbody></table>` : '<p class="muted">None committed.</p>'}`);
  for (const button of document.querySelectorAll('[data-action]')) {
    button.addEventListener('click', () => act(name, button.dataset.action));
  }
}

async function act(name, action) {
  const path = `/connectors/${enc(name)}`;
  try {
    if (action === 'delete') {
      if (session.confirming !== name) {
        session.confirming = name;
        return route();
      }
      session.confirming = null;
      await api('DELETE', path);
      toast(`${name} deleted`);
      location.hash = '#/';
      return;
    }
    const calls = {
      pause: ['PUT', `${path}/pause`],
      resume: ['PUT', `${path}/resume`],
      stop: ['PUT', `${path}/stop`],
      restart: ['POST', `${path}/restart?includeTasks=true&onlyFailed=false`],
      'reset-offsets': ['DELETE', `${path}/offsets`],
    };
    const [method, url] = calls[action];
    await api(method, url);
    toast(`${action}: ${name}`);
  } catch (error) {
    toast(error.message);
  }
  route();
}

// ---- the form, generated from the plugin's JSON Schema ----

function resolve(schema, root) {
  let current = schema || {};
  while (current.$ref && current.$ref.startsWith('#/')) {
    current = current.$ref.slice(2).split('/').reduce((node, part) => (node || {})[part], root) || {};
  }
  return current;
}

function describeField(key, property, root, required) {
  const schema = resolve(property, root);
  const types = [].concat(schema.type || (schema.anyOf || []).map((s) => resolve(s, root).type).flat()).filter((t) => t && t !== 'null');
  // An enum, or text forms beside one (`""` is "unset", not a choice).
  const options = (schema.oneOf || schema.anyOf || []).map((s) => resolve(s, root));
  const choices = schema.enum || options.flatMap((s) => s.enum || ('const' in s && s.const !== '' ? [s.const] : []));
  return {
    key,
    type: choices && choices.length ? 'enum' : types[0] || 'string',
    choices: choices && choices.length ? choices : null,
    help: property.description || schema.description || '',
    default: property.default ?? schema.default,
    required,
  };
}

// The plugin's keys, as its config schema names them, after the worker's keys the form shows;
// the worker's other keys (converters, transforms, errors.*) go under "More keys".
function fieldsOf(plugin, schema) {
  const shown = new Set(['tasks.max', ...(plugin.type === 'sink' ? ['topics'] : [])]);
  const required = new Set(schema.required || []);
  const fields = [];
  for (const [key, definition] of Object.entries(schema.properties || {})) {
    if (definition['x-alias-of'] || key === 'name' || key === 'connector.class') continue;
    if (definition['x-worker-key'] && !shown.has(key)) continue;
    fields.push(describeField(key, definition, schema, required.has(key) || (key === 'topics' && plugin.type === 'sink')));
  }
  return fields.sort((a, b) => shown.has(b.key) - shown.has(a.key));
}

function inputFor(field, value) {
  const id = `field-${field.key}`;
  const shown = value === undefined || value === null ? '' : Array.isArray(value) ? value.join(',') : String(value);
  if (field.type === 'boolean') {
    const checked = value === undefined ? field.default === true : String(value) === 'true';
    return `<input type="checkbox" id="${esc(id)}" name="${esc(field.key)}" ${checked ? 'checked' : ''}>`;
  }
  if (field.type === 'enum') {
    const options = field.choices.map((c) => `<option value="${esc(c)}" ${String(c) === shown ? 'selected' : ''}>${esc(c)}</option>`).join('');
    return `<select id="${esc(id)}" name="${esc(field.key)}"><option value="">${field.default === undefined ? '' : `default (${esc(field.default)})`}</option>${options}</select>`;
  }
  const secret = SECRET_KEY.test(field.key);
  const placeholder = secret ? '${env:NAME} or ${file:/path:key}' : field.default === undefined ? '' : `default: ${field.default}`;
  return `<input type="${secret ? 'password' : 'text'}" id="${esc(id)}" name="${esc(field.key)}" value="${esc(shown)}" placeholder="${esc(placeholder)}" autocomplete="off">`;
}

function fieldRow(field, value) {
  const secretHelp = SECRET_KEY.test(field.key) ? '\nWrite a ${env:...} or ${file:...} placeholder: the secret stays out of the stored config.' : '';
  return `<div class="field" data-key="${esc(field.key)}">
    <label for="field-${esc(field.key)}">${esc(field.key)}${field.required ? ' <span class="req">*</span>' : ''}</label>
    ${inputFor(field, value)}
    <div class="help">${esc(field.type)}${field.help ? ' · ' + esc(field.help) : ''}${esc(secretHelp)}</div>
    <div class="error" data-error-for="${esc(field.key)}"></div></div>`;
}

function valueOf(field, element) {
  if (field.type === 'boolean') return element.checked;
  const text = element.value.trim();
  if (text === '') return undefined;
  if ((field.type === 'integer' || field.type === 'number') && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (field.type === 'array') return text.split(',').map((s) => s.trim()).filter(Boolean);
  return text;
}

async function formView(name) {
  const plugins = (await api('GET', '/connector-plugins')).filter((p) => p.type === 'source' || p.type === 'sink');
  const existing = name ? await api('GET', `/connectors/${enc(name)}/config`) : {};
  const options = plugins.map((p) => `<option value="${esc(p.class)}" ${p.class === existing['connector.class'] ? 'selected' : ''}>${esc(p.class)} (${esc(p.type)})</option>`).join('');
  view(`<h1>${name ? `Edit ${esc(name)}` : 'New connector'}</h1>
    <form id="connector-form" novalidate>
      <div class="field"><label for="connector-name">name <span class="req">*</span></label>
        <input type="text" id="connector-name" value="${esc(name || '')}" ${name ? 'disabled' : ''} autocomplete="off">
        <div class="error" data-error-for="name"></div></div>
      <div class="field"><label for="connector-class">connector.class <span class="req">*</span></label>
        <select id="connector-class" ${name ? 'disabled' : ''}><option value="">choose a plugin</option>${options}</select>
        <div class="help" id="plugin-help"></div></div>
      <div id="plugin-fields"></div>
      <div class="field" data-key="more"><label for="more-keys">More keys</label>
        <textarea id="more-keys" rows="4" placeholder="key=value, one a line (transforms, errors.*, converters...)"></textarea>
        <div class="error" data-error-for="more"></div></div>
      <div class="actions"><button type="submit" class="primary" id="submit">${name ? 'Save' : 'Create'}</button>
        <a class="button" href="${name ? `#/connectors/${enc(name)}` : '#/'}">Cancel</a></div>
      <div class="error" id="form-error"></div>
    </form>`);
  const form = document.getElementById('connector-form');
  const classSelect = document.getElementById('connector-class');
  let fields = [];
  const touched = new Set();
  let timer = null;

  const collect = () => {
    const config = { 'connector.class': classSelect.value };
    const connectorName = name || document.getElementById('connector-name').value.trim();
    if (connectorName) config.name = connectorName;
    for (const field of fields) {
      const value = valueOf(field, form.querySelector(`[name="${CSS.escape(field.key)}"]`));
      if (value !== undefined) config[field.key] = value;
    }
    for (const line of document.getElementById('more-keys').value.split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) config[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return config;
  };

  // Asks the worker; shows each touched key's errors beside its field (every key's with `all`).
  const validate = async (all) => {
    if (!classSelect.value) return 0;
    const verdict = await api('PUT', `/connector-plugins/${enc(classSelect.value)}/config/validate`, collect());
    let shown = 0;
    for (const element of form.querySelectorAll('[data-error-for]')) {
      element.textContent = '';
      element.parentElement.classList.remove('invalid');
    }
    for (const entry of verdict.configs || []) {
      const errors = (entry.value && entry.value.errors) || [];
      const key = (entry.value && entry.value.name) || entry.definition.name;
      if (!errors.length || (!all && !touched.has(key))) continue;
      const target = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`) || form.querySelector('[data-error-for="more"]');
      target.textContent = (target.textContent ? target.textContent + '\n' : '') + (target.dataset.errorFor === key ? '' : `${key}: `) + errors.join('; ');
      target.parentElement.classList.add('invalid');
      shown += errors.length;
    }
    return verdict.error_count || 0;
  };

  const schedule = (event) => {
    const key = event.target.name || (event.target.id === 'more-keys' ? 'more' : null);
    if (key) touched.add(key);
    if (event.target.id === 'more-keys') {
      for (const line of event.target.value.split('\n')) touched.add(line.split('=')[0].trim());
    }
    clearTimeout(timer);
    timer = setTimeout(() => validate(false).catch((e) => toast(e.message)), 300);
  };

  const loadPlugin = async () => {
    const plugin = plugins.find((p) => p.class === classSelect.value);
    const container = document.getElementById('plugin-fields');
    if (!plugin) {
      container.innerHTML = '';
      fields = [];
      return;
    }
    const schema = (await api('GET', `/plugin/config?plugin=${enc(plugin.class)}`)).body || {};
    document.getElementById('plugin-help').textContent = schema.description || '';
    fields = fieldsOf(plugin, schema);
    container.innerHTML = fields.map((f) => fieldRow(f, existing[f.key])).join('');
    const known = new Set(['name', 'connector.class', ...fields.map((f) => f.key)]);
    document.getElementById('more-keys').value = Object.entries(existing).filter(([k]) => !known.has(k)).map(([k, v]) => `${k}=${v}`).join('\n');
  };

  classSelect.addEventListener('change', () => loadPlugin().catch((e) => toast(e.message)));
  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const formError = document.getElementById('form-error');
    formError.textContent = '';
    const connectorName = name || document.getElementById('connector-name').value.trim();
    if (!connectorName) {
      form.querySelector('[data-error-for="name"]').textContent = 'a connector needs a name';
      return;
    }
    try {
      if ((await validate(true)) > 0) {
        formError.textContent = 'Fix the keys marked above.';
        return;
      }
      const config = collect();
      if (name) await api('PUT', `/connectors/${enc(name)}/config`, config);
      else await api('POST', '/connectors', { name: connectorName, config });
      toast(`${connectorName} ${name ? 'saved' : 'created'}`);
      location.hash = `#/connectors/${enc(connectorName)}`;
    } catch (error) {
      formError.textContent = error.message;
    }
  });
  if (classSelect.value) await loadPlugin();
}

// ---- cluster and plugins ----

async function clusterView() {
  const expanded = await api('GET', '/connectors?expand=status');
  const members = {};
  try {
    for (const worker of (await api('GET', '/getClusterInfo')).body || []) members[worker] = { connectors: [], tasks: [] };
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  for (const [name, entry] of Object.entries(expanded)) {
    const status = entry.status || {};
    if (status.connector && status.connector.worker_id) (members[status.connector.worker_id] ||= { connectors: [], tasks: [] }).connectors.push(name);
    for (const task of status.tasks || []) (members[task.worker_id] ||= { connectors: [], tasks: [] }).tasks.push(`${name}/${task.id}`);
  }
  const rows = Object.keys(members).sort().map((worker) => `<tr data-worker="${esc(worker)}"><td>${esc(worker)}</td>
      <td>${members[worker].connectors.map(esc).join(', ')}</td><td class="num">${members[worker].tasks.length}</td>
      <td>${members[worker].tasks.map(esc).join(', ')}</td></tr>`).join('');
  view(`<h1>Cluster</h1><table id="members"><thead><tr><th>Worker</th><th>Connectors</th><th>Tasks</th><th>Runs</th></tr></thead><tbody>${rows}</tbody></table>`);
}

async function pluginsView(name) {
  if (name) {
    const keys = await api('GET', `/connector-plugins/${enc(name)}/config`);
    const rows = keys.map((k) => `<tr><td>${esc(k.name)}${k.required ? ' <span class="req">*</span>' : ''}</td><td>${esc(k.type)}</td>
        <td>${esc(k.default_value)}</td><td>${esc(k.group)}</td><td class="muted">${esc(k.documentation)}</td></tr>`).join('');
    view(`<h1>${esc(name)}</h1><p><a href="#/plugins">All plugins</a></p>
      <table id="keys"><thead><tr><th>Key</th><th>Type</th><th>Default</th><th>Group</th><th>Doc</th></tr></thead><tbody>${rows}</tbody></table>`);
    return;
  }
  const plugins = await api('GET', '/connector-plugins?connectorsOnly=false');
  const rows = plugins.map((p) => {
    const link = p.type === 'source' || p.type === 'sink' ? `<a href="#/plugins/${enc(p.class)}">${esc(p.class)}</a>` : esc(p.class);
    return `<tr><td>${link}</td><td>${esc(p.type)}</td><td>${esc(p.version)}</td></tr>`;
  }).join('');
  view(`<h1>Plugins</h1><table id="plugins"><thead><tr><th>Class</th><th>Type</th><th>Version</th></tr></thead><tbody>${rows}</tbody></table>`);
}

function showLogin() {
  if (document.getElementById('login-form')) return;
  view(`<h1>Sign in</h1><form id="login-form" novalidate>
      <div class="field"><label for="login-credentials">Token, or user:password</label><input type="password" id="login-credentials" autocomplete="off"></div>
      <div class="actions"><button type="submit" class="primary">Sign in</button></div></form>`);
  document.getElementById('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    session.credentials = document.getElementById('login-credentials').value.trim();
    sessionStorage.setItem('connect-credentials', session.credentials);
    route();
  });
}

// ---- routing ----

async function route() {
  clearTimeout(session.timer);
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const page = parts[0] || 'connectors';
  for (const link of document.querySelectorAll('[data-nav]')) link.classList.toggle('active', link.dataset.nav === page);
  let refresh = false;
  try {
    if (page === 'connectors' && parts[1] && parts[2] === 'edit') await formView(parts[1]);
    else if (page === 'connectors' && parts[1]) { await connectorView(parts[1]); refresh = true; }
    else if (page === 'connectors') { await connectorsView(); refresh = true; }
    else if (page === 'new') await formView(null);
    else if (page === 'cluster') { await clusterView(); refresh = true; }
    else if (page === 'plugins') await pluginsView(parts[1]);
    else view('<h1>Not found</h1>');
  } catch (error) {
    if (error.status !== 401) view(`<h1>Error</h1><pre class="trace">${esc(error.message)}</pre>`);
    return;
  }
  if (refresh) {
    const hash = location.hash;
    session.timer = setTimeout(() => {
      if (location.hash === hash) route();
    }, REFRESH_MS);
  }
}

async function start() {
  try {
    const info = await api('GET', '/');
    document.getElementById('worker').textContent = `${info.worker_id} · ${info.version}`;
  } catch {
    // Shown by the page once credentials are given.
  }
  // Rates come from readings of /metrics, whatever page is shown.
  await readMetrics();
  setInterval(readMetrics, REFRESH_MS);
  window.addEventListener('hashchange', route);
  route();
}

start();
