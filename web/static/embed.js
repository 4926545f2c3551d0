// embed.js: the uploader on another site's page. Served at /embed.js right
// after upload.js, which leaves its form logic in window.Uploader; this
// replaces that with the public API:
//
//   Uploader.mount(element, { endpoint: 'https://uploads.example.com', token, profile: 'photo' })
//
// token comes from POST /api/sessions, made by the host app's server. The
// API answers this page only if its origin is in ALLOWED_ORIGINS.
'use strict';

(() => {
  const core = window.Uploader;
  if (!core || typeof core.initUploadForm !== 'function') return;
  let mounts = 0;

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text) e.textContent = text;
    return e;
  }

  // mount renders the file input, drop zone, progress and results inside
  // element. It returns { unmount }.
  function mount(element, options) {
    const opts = options || {};
    if (!(element instanceof Element)) throw new TypeError('Uploader.mount: the first argument must be an element');
    const endpoint = String(opts.endpoint || '').replace(/\/+$/, '');
    if (!/^https?:\/\//.test(endpoint)) throw new TypeError('Uploader.mount: endpoint must be the app URL, e.g. https://uploads.example.com');
    if (!opts.token) throw new TypeError('Uploader.mount: token is missing (your server gets one from POST /api/sessions)');

    const n = ++mounts;
    const root = el('div', 'uploader-embed');
    const form = el('form', 'upload-form');
    form.noValidate = true;
    form.dataset.profile = opts.profile || '';
    form.dataset.accept = opts.accept || 'image/jpeg,image/png,image/gif,image/webp';
    const zone = el('div', 'drop-zone');
    const title = el('p', 'drop-zone-title', 'Drop images here or choose files');
    const input = el('input', 'file-input');
    input.type = 'file';
    input.id = `uploader-embed-file-${n}`;
    const label = el('label', 'file-label', 'Choose images');
    label.htmlFor = input.id;
    const limits = el('p', 'hint');
    zone.append(title, label, input, limits);
    form.append(zone);
    const list = el('ul', 'uploads');
    list.setAttribute('aria-live', 'polite');
    root.append(form, list);
    // A visible drop target without any stylesheet of ours on the page;
    // styles set through the CSSOM pass a host's CSP.
    Object.assign(zone.style, { border: '2px dashed #8a8f98', borderRadius: '8px', padding: '1rem', textAlign: 'center' });
    root.addEventListener('click', (e) => {
      const b = e.target instanceof Element ? e.target.closest('.copy-button') : null;
      if (b && root.contains(b) && core.copyFrom) core.copyFrom(b);
    });
    element.replaceChildren(root);
    const token = String(opts.token);
    const start = () => core.initUploadForm(form, { parts: { input, list, zone, limits }, endpoint, token });
    // The profile's limits, so a file too large or of the wrong type is
    // refused before it is sent, as on the upload page. Without them the
    // server still refuses it, in the same words.
    fetch(`${endpoint}/api/profiles`, { credentials: 'omit', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } })
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => {
        const list = (body && body.profiles) || [];
        const p = list.find((x) => x.name === form.dataset.profile) || (!form.dataset.profile && list[0]);
        if (p) {
          form.dataset.profile = p.name;
          form.dataset.maxBytes = String(p.max_bytes || '');
          form.dataset.accept = (p.allowed_types || []).join(',');
        }
      })
      .catch(() => {})
      .finally(start);
    return { unmount: () => root.remove() };
  }

  window.Uploader = { mount };
})();
