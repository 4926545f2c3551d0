// upload.js enhances the server-rendered pages; without it they still work.
//
// On the upload page (#upload-form) it takes the form over: several files at
// once, drag and drop, checks before anything is sent, a fresh presigned POST
// per file from the JSON API, progress, cancel and retry, then live status and
// the resulting images. On an upload's own page (#upload-status) it follows
// the status and reloads as soon as the upload is done.
//
// Served at /embed.js, followed by embed.js, it starts nothing by itself:
// Uploader.mount builds the same form inside a host page's element and runs
// initUploadForm on it, with a bearer token instead of the session cookie.
//
// Plain ES2020, no libraries. File names and server data reach the DOM only
// through textContent and properties, never as HTML.
'use strict';

(() => {
  const MAX_IN_FLIGHT = 3;
  const POLL_MS = 1000;
  const EXT_TYPES = {
    jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg',
    png: 'image/png', gif: 'image/gif', webp: 'image/webp',
    heic: 'image/heic', heif: 'image/heif', hif: 'image/heif', avif: 'image/avif',
  };
  const TYPE_NAMES = {
    'image/jpeg': 'JPEG', 'image/png': 'PNG', 'image/gif': 'GIF', 'image/webp': 'WebP',
    'image/heic': 'HEIC', 'image/heif': 'HEIF', 'image/avif': 'AVIF',
  };
  const MSG = {
    interrupted: 'The upload was interrupted; check your connection and retry.',
    expired: 'The upload permission expired; please try again.',
    refused: 'The storage service refused this upload (it did not match the permission granted).',
    empty: 'This file is empty.',
  };
  const EXPIRABLE = new Set(['AccessDenied', 'InvalidPolicyDocument', 'SignatureDoesNotMatch']);

  // ---------------------------------------------------------------- helpers

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // unit is 1024 unless the profile limit is a round number of decimal
  // megabytes, so that the file size and the limit read the same way.
  let unit = 1024;

  function formatBytes(n) {
    n = Number(n) || 0;
    if (n < unit) return `${n} B`;
    const names = ['KB', 'MB', 'GB', 'TB'];
    let v = n / unit;
    let i = 0;
    while (v >= unit && i < names.length - 1) {
      v /= unit;
      i++;
    }
    const shown = v >= 10 ? Math.round(v) : Math.round(v * 10) / 10;
    return `${shown} ${names[i]}`;
  }

  function tooLargeMessage(size, limitText) {
    let sizeText = formatBytes(size);
    if (sizeText === limitText) sizeText = `more than ${sizeText}`;
    return `This file is ${sizeText}; the limit is ${limitText}.`;
  }

  function extOf(name) {
    const m = /\.([^./\\]{1,10})$/.exec(name || '');
    return m ? m[1].toLowerCase() : '';
  }

  function contentTypeOf(file) {
    let t = (file.type || '').toLowerCase();
    if (t === 'image/jpg' || t === 'image/pjpeg') t = 'image/jpeg';
    // Chrome on Windows labels .heic files application/octet-stream (or
    // nothing): the extension says more.
    if (t === 'application/octet-stream') t = '';
    return t || EXT_TYPES[extOf(file.name)] || '';
  }

  function parseAccept(s) {
    return (s || '').split(',').map((a) => a.trim().toLowerCase()).filter(Boolean);
  }

  function isAccepted(accept, type, ext) {
    if (accept.length === 0) return true;
    return accept.some((a) => a === type
      || (ext && a === `.${ext}`)
      || (a.endsWith('/*') && type.startsWith(a.slice(0, -1))));
  }

  function listSentence(items) {
    if (items.length <= 1) return items.join('');
    return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
  }

  function acceptedSentence(accept) {
    const names = [];
    for (const a of accept) {
      const n = TYPE_NAMES[a] || a.replace(/^\./, '').replace(/^image\//, '').toUpperCase();
      if (!names.includes(n)) names.push(n);
    }
    return names.length ? `only ${listSentence(names)} images are accepted.` : 'only images are accepted.';
  }

  // kindOf says what a refused file looks like, to follow "This file is":
  // "a PDF file", "an HEIC file", "of an unknown type".
  function kindOf(file) {
    let label = extOf(file.name);
    if (!label && file.type) label = file.type.split('/').pop().replace(/^x-/, '').split('+')[0];
    label = (label || '').slice(0, 10).toUpperCase();
    if (!label) return 'of an unknown type';
    // Letter names that start with a vowel sound: "an SVG", "an HEIC".
    const article = /^[AEFHILMNORSX]/.test(label) ? 'an' : 'a';
    return `${article} ${label} file`;
  }

  function statusText(status) {
    switch (status) {
      case 'pending': return 'Waiting for the file to arrive…';
      case 'processing': return 'Processing…';
      case 'ready': return 'Ready.';
      case 'failed': return 'Failed.';
      default: return status ? `Status: ${status}` : '';
    }
  }

  function isDone(s) {
    return !!s && (s.status === 'ready' || s.status === 'failed');
  }

  async function readJSON(res) {
    try {
      return await res.json();
    } catch {
      return null;
    }
  }

  function apiMessage(body, res) {
    const m = body && body.error && body.error.message;
    if (m) return String(m);
    return `The server could not handle this request (HTTP ${res.status}); please retry.`;
  }

  class UploadError extends Error {}

  function abortError() {
    return new DOMException('cancelled', 'AbortError');
  }

  // ------------------------------------------------------------ copy URL

  const copyTimers = new WeakMap();

  async function copyFrom(button) {
    const input = document.getElementById(button.dataset.copyTarget || '');
    if (!input) return;
    const note = button.parentElement && button.parentElement.querySelector('.copy-done');
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(input.value);
        ok = true;
      }
    } catch {
      ok = false;
    }
    if (!ok) {
      input.focus();
      input.select();
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
    }
    if (!note) return;
    note.textContent = ok ? 'Copied' : 'Press Ctrl+C to copy';
    clearTimeout(copyTimers.get(note));
    copyTimers.set(note, setTimeout(() => { note.textContent = ''; }, 2500));
  }

  function initCopyButtons() {
    for (const b of document.querySelectorAll('.copy-button[hidden]')) b.hidden = false;
    document.addEventListener('click', (e) => {
      const b = e.target instanceof Element ? e.target.closest('.copy-button') : null;
      if (b) copyFrom(b);
    });
    // A click in a URL field selects it all, ready to copy by hand.
    document.addEventListener('focusin', (e) => {
      if (e.target instanceof HTMLInputElement && e.target.classList.contains('copy-input')) e.target.select();
    });
  }

  let copyIds = 0;

  function copyRow(url, labelText) {
    const id = `copy-url-${++copyIds}`;
    const row = el('div', 'copy-row');
    const label = el('label', 'visually-hidden', labelText);
    label.htmlFor = id;
    const input = el('input', 'copy-input');
    input.type = 'text';
    input.readOnly = true;
    input.id = id;
    input.value = url;
    const button = el('button', 'button button-small copy-button', 'Copy URL');
    button.type = 'button';
    button.dataset.copyTarget = id;
    const note = el('span', 'copy-done');
    note.setAttribute('role', 'status');
    row.append(label, input, button, note);
    return row;
  }

  // ---------------------------------------------------------- live status

  // watchStatus follows one upload through its events stream, falling back to
  // polling the JSON API when EventSource is missing or fails. onStatus gets
  // every status object; watching stops by itself once the upload is done.
  function watchStatus({ eventsURL, statusURL, onStatus, onGone, auth = {} }) {
    let stopped = false;
    let es = null;
    let timer = 0;
    let ctrl = null;

    function stop() {
      stopped = true;
      if (es) es.close();
      es = null;
      clearTimeout(timer);
      if (ctrl) ctrl.abort();
    }

    function handle(data) {
      if (stopped || !data || typeof data !== 'object') return;
      onStatus(data);
      if (isDone(data)) stop();
    }

    function poll() {
      if (stopped || !statusURL) return;
      ctrl = new AbortController();
      fetch(statusURL, {
        credentials: auth.credentials || 'same-origin',
        headers: { Accept: 'application/json', ...auth.headers },
        cache: 'no-store',
        signal: ctrl.signal,
      }).then(async (res) => {
        if (res.ok) {
          handle(await readJSON(res));
        } else if (res.status === 404 || res.status === 401 || res.status === 403) {
          const body = await readJSON(res);
          stop();
          if (onGone) onGone(apiMessage(body, res));
        }
      }).catch(() => {
        // Offline for a moment: the next poll tries again.
      }).finally(() => {
        if (!stopped) timer = setTimeout(poll, POLL_MS);
      });
    }

    if (eventsURL && typeof window.EventSource === 'function') {
      es = new EventSource(eventsURL);
      const onMessage = (e) => {
        let data = null;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        handle(data);
      };
      es.addEventListener('message', onMessage);
      es.addEventListener('status', onMessage);
      es.addEventListener('error', () => {
        if (stopped) return;
        if (es) es.close();
        es = null;
        poll();
      });
    } else {
      poll();
    }
    return stop;
  }

  // ------------------------------------------------------------- variants

  // ---------------------------------------------------------- blurhash

  // The blurhash decoder (https://blurha.sh): a few cosine components,
  // drawn small and stretched under the image until it has loaded.
  const B83 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';
  function decode83(s) {
    let v = 0;
    for (const c of s) {
      const d = B83.indexOf(c);
      if (d < 0) return NaN;
      v = v * 83 + d;
    }
    return v;
  }
  function toLinear(v) {
    const x = v / 255;
    return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
  }
  function toSRGB(v) {
    const x = Math.max(0, Math.min(1, v));
    return Math.round((x <= 0.0031308 ? x * 12.92 : 1.055 * Math.pow(x, 1 / 2.4) - 0.055) * 255);
  }
  function blurhashURL(hash, w = 32, h = 32) {
    if (typeof hash !== 'string' || hash.length < 6) return '';
    const size = decode83(hash[0]);
    const nx = (size % 9) + 1;
    const ny = Math.floor(size / 9) + 1;
    if (hash.length !== 4 + 2 * nx * ny) return '';
    const maxV = (decode83(hash[1]) + 1) / 166;
    const dc = decode83(hash.slice(2, 6));
    const colors = [[toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]];
    const signPow = (v) => Math.sign(v) * v * v;
    for (let i = 1; i < nx * ny; i++) {
      const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
      colors.push([
        signPow((Math.floor(v / 361) - 9) / 9) * maxV,
        signPow(((Math.floor(v / 19) % 19) - 9) / 9) * maxV,
        signPow(((v % 19) - 9) / 9) * maxV,
      ]);
    }
    if (colors.some((c) => c.some(Number.isNaN))) return '';
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d');
    if (!ctx) return '';
    const img = ctx.createImageData(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let r = 0, g = 0, b = 0;
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const basis = Math.cos((Math.PI * x * i) / w) * Math.cos((Math.PI * y * j) / h);
            const c = colors[i + j * nx];
            r += c[0] * basis;
            g += c[1] * basis;
            b += c[2] * basis;
          }
        }
        const o = 4 * (x + y * w);
        img.data[o] = toSRGB(r);
        img.data[o + 1] = toSRGB(g);
        img.data[o + 2] = toSRGB(b);
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    return canvas.toDataURL();
  }

  // placeholder shows the blurhash under img until the image has loaded.
  // Styles set through the CSSOM are allowed by the page's CSP.
  const placeholders = new Map();
  function placeholder(img, hash) {
    if (!hash || (img.complete && img.naturalWidth > 0)) return;
    if (!placeholders.has(hash)) placeholders.set(hash, blurhashURL(hash));
    const url = placeholders.get(hash);
    if (!url) return;
    img.classList.add('blurhash');
    img.style.backgroundImage = `url("${url}")`;
    const clear = () => {
      img.classList.remove('blurhash');
      img.style.backgroundImage = '';
    };
    img.addEventListener('load', clear, { once: true });
  }

  // groupVariants pairs "w1024.jpg" with "w1024.webp" and "w1024.avif": one
  // figure per size, the JPEG/PNG/GIF in <img>, AVIF then WebP offered
  // through <source>.
  function groupVariants(variants) {
    const groups = new Map();
    for (const v of variants || []) {
      if (!v || !v.url) continue;
      const base = String(v.name || '').replace(/\.[^.]+$/, '');
      if (!groups.has(base)) groups.set(base, []);
      groups.get(base).push(v);
    }
    const out = [];
    for (const [base, vs] of groups) {
      const webp = vs.find((v) => v.content_type === 'image/webp') || null;
      const avif = vs.find((v) => v.content_type === 'image/avif') || null;
      const main = vs.find((v) => v.content_type !== 'image/webp' && v.content_type !== 'image/avif') || webp || avif;
      out.push({ base, main, webp: webp === main ? null : webp, avif: avif === main ? null : avif });
    }
    return out;
  }

  function variantFigure(group, filename, hash) {
    const { base, main, webp, avif } = group;
    const fig = el('figure', 'variant');
    const picture = el('picture', 'variant-picture');
    if (avif) {
      const source = document.createElement('source');
      source.type = 'image/avif';
      source.srcset = avif.url;
      picture.append(source);
    }
    if (webp) {
      const source = document.createElement('source');
      source.type = 'image/webp';
      source.srcset = webp.url;
      picture.append(source);
    }
    const img = el('img', 'variant-img');
    img.alt = filename || base;
    img.loading = 'lazy';
    img.decoding = 'async';
    if (main.width) img.width = main.width;
    if (main.height) img.height = main.height;
    img.src = main.url;
    placeholder(img, hash);
    picture.append(img);

    const caption = el('figcaption', 'variant-caption',
      `${base} · ${main.width}×${main.height} · ${formatBytes(main.bytes)}`);
    fig.append(picture, caption, copyRow(main.url, `URL of ${base}`));
    if (webp) fig.append(copyRow(webp.url, `URL of ${base} (WebP)`));
    if (avif) fig.append(copyRow(avif.url, `URL of ${base} (AVIF)`));
    return fig;
  }

  // ---------------------------------------------------------- upload items

  // initUploadForm runs the form. opts, given by embed.js only: parts (the
  // input, list, zone and limits elements, instead of the page's ids),
  // endpoint (the app's origin) and token (sent as a bearer, without cookies).
  function initUploadForm(form, opts = {}) {
    const parts = opts.parts || {};
    const input = parts.input || form.querySelector('#file');
    const list = parts.list || document.getElementById('uploads');
    const zone = parts.zone || document.getElementById('drop-zone');
    const limits = parts.limits || document.getElementById('upload-limits');
    const submit = opts.parts ? null : document.getElementById('upload-submit');
    if (!input || !list) return;

    const base = opts.endpoint || '';
    const api = base ? `${base}/api/uploads` : form.dataset.api || '/api/uploads';
    // The embed has no session on the app's origin: a token, no page links,
    // and polling (EventSource cannot send an Authorization header).
    const auth = opts.token
      ? { credentials: 'omit', headers: { Authorization: `Bearer ${opts.token}` } }
      : { credentials: 'same-origin', headers: {} };
    const queue = [];
    let inFlight = 0;

    function limitsOf() {
      const maxBytes = Number(form.dataset.maxBytes) || 0;
      return {
        profile: form.dataset.profile || '',
        maxBytes,
        maxText: form.dataset.maxText || formatBytes(maxBytes),
        accept: parseAccept(form.dataset.accept),
      };
    }

    function applyLimits() {
      const l = limitsOf();
      if (l.maxBytes && l.maxBytes % 1000000 === 0 && l.maxBytes % 1048576 !== 0) unit = 1000;
      else unit = 1024;
      input.accept = form.dataset.accept || '';
      if (limits) {
        const types = l.accept.length ? listSentence(l.accept.map((a) => TYPE_NAMES[a] || a)) : 'Images';
        limits.textContent = `${types}${l.maxBytes ? `, up to ${l.maxText} each` : ''}. Several files at once are fine.`;
      }
    }

    // The JS path asks the API for a policy per file, so the whole form can
    // take several files; the server-signed hidden fields go unused.
    input.multiple = true;
    const label = form.querySelector('label[for="file"]');
    if (label) label.textContent = 'Choose images';
    input.required = false;
    if (submit) submit.hidden = true;
    form.classList.add('is-enhanced');
    applyLimits();

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      addFiles(input.files);
    });
    input.addEventListener('change', () => {
      addFiles(input.files);
      input.value = '';
    });

    if (zone) {
      let depth = 0;
      const hasFiles = (e) => !!e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
      zone.addEventListener('dragenter', (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        depth++;
        zone.classList.add('is-dragover');
      });
      zone.addEventListener('dragover', (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        zone.classList.add('is-dragover');
      });
      zone.addEventListener('dragleave', () => {
        depth = Math.max(0, depth - 1);
        if (depth === 0) zone.classList.remove('is-dragover');
      });
      zone.addEventListener('drop', (e) => {
        e.preventDefault();
        depth = 0;
        zone.classList.remove('is-dragover');
        if (e.dataTransfer) addFiles(e.dataTransfer.files);
      });
      // A file dropped next to the zone would make the browser leave the page.
      for (const type of ['dragover', 'drop']) {
        window.addEventListener(type, (e) => {
          if (e.target instanceof Node && zone.contains(e.target)) return;
          if (!hasFiles(e)) return;
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = 'none';
        });
      }
    }

    if (!opts.parts) initProfilePicker(form, applyLimits);

    function addFiles(fileList) {
      for (const file of Array.from(fileList || [])) {
        const item = newItem(file);
        list.append(item.li);
        if (check(item)) enqueue(item);
      }
    }

    function newItem(file) {
      const li = el('li', 'upload-item');
      const head = el('div', 'upload-head');
      const name = el('span', 'upload-name', file.name || 'unnamed file');
      const size = el('span', 'upload-size', formatBytes(file.size));
      // A local preview of what was chosen, before any byte is sent. Only
      // for types the browser can show; the blob URL is freed once drawn.
      if (/^image\/(jpeg|png|gif|webp)$/.test(file.type) && file.size <= 50 * 1024 * 1024) {
        const thumb = el('img', 'upload-thumb');
        thumb.alt = '';
        thumb.decoding = 'async';
        const url = URL.createObjectURL(file);
        const free = () => URL.revokeObjectURL(url);
        thumb.addEventListener('load', free, { once: true });
        thumb.addEventListener('error', () => { free(); thumb.remove(); }, { once: true });
        thumb.src = url;
        head.append(thumb);
      }
      head.append(name, size);
      const progress = el('progress', 'upload-progress');
      progress.max = 100;
      progress.value = 0;
      progress.hidden = true;
      progress.setAttribute('aria-label', `Upload progress of ${file.name}`);
      const status = el('p', 'upload-status');
      const rate = el('span', 'upload-rate');
      rate.setAttribute('aria-hidden', 'true'); // progress is announced by state, not every tick
      const actions = el('div', 'upload-actions');
      const cancel = el('button', 'button button-small button-secondary', 'Cancel');
      cancel.type = 'button';
      cancel.hidden = true;
      cancel.setAttribute('aria-label', `Cancel ${file.name}`);
      const retry = el('button', 'button button-small', 'Retry');
      retry.type = 'button';
      retry.hidden = true;
      retry.setAttribute('aria-label', `Retry ${file.name}`);
      actions.append(cancel, retry);
      const result = el('div', 'upload-result');
      li.append(head, progress, rate, status, actions, result);

      const item = {
        file, li, progress, status, rate, cancel, retry, result,
        profile: '', maxText: '', type: contentTypeOf(file),
        attempt: 0, xhr: null, ctrl: null, stopWatch: null, errorBox: null,
      };
      cancel.addEventListener('click', () => cancelItem(item));
      retry.addEventListener('click', () => {
        retry.hidden = true;
        enqueue(item);
      });
      return item;
    }

    function setState(item, state, text) {
      item.li.dataset.state = state;
      if (text !== undefined && item.status.textContent !== text) item.status.textContent = text;
    }

    function showError(item, message, canRetry) {
      clearError(item);
      const box = el('p', 'upload-error', message);
      box.setAttribute('role', 'alert');
      item.status.after(box);
      item.errorBox = box;
      setState(item, 'failed', '');
      item.progress.hidden = true;
      item.rate.textContent = '';
      item.cancel.hidden = true;
      item.retry.hidden = !canRetry;
    }

    function clearError(item) {
      if (item.errorBox) item.errorBox.remove();
      item.errorBox = null;
    }

    // check refuses what the policy would refuse anyway, before any request.
    function check(item) {
      const l = limitsOf();
      item.profile = l.profile;
      item.maxText = l.maxText;
      if (item.file.size === 0) {
        showError(item, MSG.empty, false);
        return false;
      }
      if (l.maxBytes && item.file.size > l.maxBytes) {
        showError(item, tooLargeMessage(item.file.size, l.maxText), false);
        return false;
      }
      if (!isAccepted(l.accept, item.type, extOf(item.file.name))) {
        showError(item, `This file is ${kindOf(item.file)}; ${acceptedSentence(l.accept)}`, false);
        return false;
      }
      return true;
    }

    function enqueue(item) {
      if (item.stopWatch) item.stopWatch();
      item.stopWatch = null;
      item.result.replaceChildren();
      clearError(item);
      item.attempt++;
      item.progress.hidden = true;
      item.rate.textContent = '';
      item.cancel.hidden = false;
      item.retry.hidden = true;
      setState(item, 'queued', 'Waiting to upload…');
      queue.push(item);
      pump();
    }

    function pump() {
      while (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
        const item = queue.shift();
        inFlight++;
        run(item, item.attempt).finally(() => {
          inFlight--;
          pump();
        });
      }
    }

    function cancelItem(item) {
      item.attempt++; // whatever is still running for this item stops quietly
      const i = queue.indexOf(item);
      if (i >= 0) queue.splice(i, 1);
      if (item.xhr) item.xhr.abort();
      if (item.ctrl) item.ctrl.abort();
      item.xhr = null;
      item.ctrl = null;
      item.progress.hidden = true;
      item.rate.textContent = '';
      item.cancel.hidden = true;
      item.retry.hidden = false;
      clearError(item);
      setState(item, 'cancelled', 'Cancelled.');
    }

    // run takes one file from asking for a policy to the complete call; it
    // holds one of the MAX_IN_FLIGHT slots until then.
    async function run(item, attempt) {
      const current = () => item.attempt === attempt;
      try {
        setState(item, 'starting', 'Preparing the upload…');
        item.ctrl = new AbortController();
        const created = await resumeOrCreate(item, item.ctrl.signal);
        if (!current()) return;
        const id = String(created.id || '');
        if (created.multipart && id) {
          await runMultipart(item, id, created, current);
          return;
        }
        const upload = created.upload || {};
        if (!id || !upload.url) throw new UploadError('The server sent an incomplete answer; please retry.');

        setState(item, 'uploading', 'Uploading…');
        item.progress.hidden = false;
        item.progress.value = 0;
        const s3 = await sendToS3(item, upload);
        item.xhr = null;
        if (!current()) return;
        if (s3.status !== 200 && s3.status !== 201 && s3.status !== 204) {
          throw new UploadError(s3Message(s3.status, s3.text, item));
        }
        item.progress.value = 100;
        item.rate.textContent = '';

        setState(item, 'completing', 'Uploaded; confirming…');
        item.ctrl = new AbortController();
        const completed = await completeUpload(id, item.ctrl.signal);
        item.ctrl = null;
        if (!current()) return;
        item.progress.hidden = true;
        item.cancel.hidden = true;
        follow(item, id, created.status_url, completed);
      } catch (err) {
        item.xhr = null;
        item.ctrl = null;
        if (!current()) return;
        if (err && err.name === 'AbortError') return;
        if (err instanceof UploadError) showError(item, err.message, true);
        else showError(item, MSG.interrupted, true);
      }
    }

    async function createUpload(item, signal) {
      const res = await fetch(api, {
        method: 'POST',
        credentials: auth.credentials,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...auth.headers },
        body: JSON.stringify({
          filename: item.file.name,
          content_type: item.type,
          size: item.file.size,
          profile: item.profile,
        }),
        signal,
      });
      const body = await readJSON(res);
      if (!res.ok || !body) throw new UploadError(apiMessage(body, res));
      return body;
    }

    async function completeUpload(id, signal, parts) {
      const res = await fetch(`${api}/${encodeURIComponent(id)}/complete`, {
        method: 'POST',
        credentials: auth.credentials,
        headers: parts ? { Accept: 'application/json', 'Content-Type': 'application/json', ...auth.headers } : { Accept: 'application/json', ...auth.headers },
        body: parts ? JSON.stringify({ parts }) : undefined,
        signal,
      });
      const body = await readJSON(res);
      if (!res.ok) throw new UploadError(apiMessage(body, res));
      return body || {};
    }

    // sendToS3 posts the policy fields in the order given, then the file last
    // (S3 ignores whatever follows the file).
    function sendToS3(item, upload) {
      return new Promise((resolve, reject) => {
        const fd = new FormData();
        for (const [k, v] of Object.entries(upload.fields || {})) fd.append(k, String(v));
        fd.append('file', item.file);

        const xhr = new XMLHttpRequest();
        item.xhr = xhr;
        let lastT = performance.now();
        let lastLoaded = 0;
        let rate = 0;
        xhr.upload.addEventListener('progress', (e) => {
          const total = e.lengthComputable && e.total ? e.total : item.file.size;
          const pct = Math.min(100, Math.floor((e.loaded / total) * 100));
          const now = performance.now();
          const dt = (now - lastT) / 1000;
          if (dt >= 0.25) {
            const r = (e.loaded - lastLoaded) / dt;
            rate = rate ? rate * 0.6 + r * 0.4 : r;
            lastT = now;
            lastLoaded = e.loaded;
          }
          item.progress.value = pct;
          item.progress.textContent = `${pct}%`;
          item.rate.textContent = rate ? `${pct}% · ${formatBytes(rate)}/s` : `${pct}%`;
          // The last bytes can sit in buffers for a while before S3 answers.
          if (pct >= 100) setState(item, 'uploading', 'Finishing the upload…');
        });
        xhr.addEventListener('load', () => resolve({ status: xhr.status, text: xhr.responseText }));
        xhr.addEventListener('error', () => resolve({ status: 0, text: '' }));
        xhr.addEventListener('timeout', () => resolve({ status: 0, text: '' }));
        xhr.addEventListener('abort', () => reject(abortError()));
        xhr.open('POST', upload.url);
        xhr.send(fd);
      });
    }

    // ------------------------------------------------------ multipart

    // A file above the server's threshold goes up in parts: PART_PARALLEL at
    // a time, each retried with backoff, all on one progress bar. The upload
    // id is remembered (with the file's name, size and mtime) so that
    // choosing the same file again after a reload resumes it.

    function resumeKey(item) {
      const f = item.file;
      return `uploader:multipart:${item.profile}:${f.name}:${f.size}:${f.lastModified}`;
    }

    // The ETags of the parts this browser saw stored are kept too: on
    // resume, a part the server lists but this browser never saw finish (a
    // PUT cut short by the reload) is sent again.
    function rememberMultipart(item, id, expiresAt, etags) {
      try {
        localStorage.setItem(resumeKey(item), JSON.stringify({ id, expires_at: expiresAt, etags: Object.fromEntries(etags || []) }));
      } catch {
        // Private mode or full storage: the upload works, it just cannot resume.
      }
    }

    function forgetMultipart(item) {
      try {
        localStorage.removeItem(resumeKey(item));
      } catch {
        // nothing to forget
      }
    }

    function recallMultipart(item) {
      try {
        const saved = JSON.parse(localStorage.getItem(resumeKey(item)) || 'null');
        if (saved && saved.id && Date.parse(saved.expires_at) > Date.now()) return saved;
      } catch {
        // unreadable: start afresh
      }
      forgetMultipart(item);
      return null;
    }

    async function fetchParts(id, signal) {
      const res = await fetch(`${api}/${encodeURIComponent(id)}/parts`, {
        credentials: auth.credentials, headers: { Accept: 'application/json', ...auth.headers }, cache: 'no-store', signal,
      });
      const body = await readJSON(res);
      return res.ok && body && body.multipart ? body : null;
    }

    async function resumeOrCreate(item, signal) {
      const saved = recallMultipart(item);
      if (saved) {
        const body = await fetchParts(saved.id, signal);
        if (body) {
          const mine = saved.etags || {};
          for (const p of body.multipart.parts) if (p.etag && mine[p.number] !== p.etag) p.etag = '';
          return Object.assign(body, { resumed: true });
        }
        forgetMultipart(item);
      }
      return createUpload(item, signal);
    }

    function sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => { clearTimeout(timer); reject(abortError()); }, { once: true });
      });
    }

    // putPart PUTs one part with XHR (fetch has no upload progress).
    function putPart(url, blob, signal, onProgress) {
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(abortError());
          return;
        }
        const xhr = new XMLHttpRequest();
        const onAbort = () => xhr.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        };
        xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
        xhr.addEventListener('load', () => settle({ status: xhr.status, etag: xhr.getResponseHeader('ETag') || '', text: xhr.responseText }));
        xhr.addEventListener('error', () => settle({ status: 0, etag: '', text: '' }));
        xhr.addEventListener('timeout', () => settle({ status: 0, etag: '', text: '' }));
        xhr.addEventListener('abort', () => reject(abortError()));
        xhr.open('PUT', url);
        xhr.send(blob);
      });
    }

    const PART_PARALLEL = 3;
    const PART_TRIES = 5;

    async function sendParts(item, id, created, signal) {
      const plan = created.multipart;
      const total = item.file.size || 1;
      const etags = new Map();
      const sending = new Map();
      let doneBytes = 0;
      for (const p of plan.parts) {
        if (p.etag) {
          etags.set(p.number, p.etag);
          doneBytes += p.size;
        }
      }
      const urls = new Map(plan.parts.filter((p) => p.url).map((p) => [p.number, p.url]));
      const show = () => {
        let b = doneBytes;
        for (const v of sending.values()) b += v;
        const pct = Math.min(100, Math.floor((b / total) * 100));
        item.progress.value = pct;
        item.progress.textContent = `${pct}%`;
        item.rate.textContent = `${pct}%`;
      };
      show();
      rememberMultipart(item, id, created.expires_at, etags);
      const sendOne = async (p) => {
        const start = (p.number - 1) * plan.part_size;
        for (let attempt = 1; ; attempt++) {
          const r = await putPart(urls.get(p.number), item.file.slice(start, start + p.size), signal, (n) => {
            sending.set(p.number, n);
            show();
          });
          sending.delete(p.number);
          if (r.status === 200 && r.etag) {
            etags.set(p.number, r.etag);
            doneBytes += p.size;
            show();
            rememberMultipart(item, id, created.expires_at, etags);
            return;
          }
          if (attempt >= PART_TRIES) throw new UploadError(s3Message(r.status, r.text, item));
          show();
          // 1, 2, 4, 8 s, with jitter so parallel parts do not retry in step.
          await sleep(1000 * 2 ** (attempt - 1) * (0.5 + Math.random() / 2), signal);
          if (r.status === 403) {
            // The URL may have expired: ask for fresh ones.
            const fresh = await fetchParts(id, signal);
            if (fresh) for (const q of fresh.multipart.parts) if (q.url) urls.set(q.number, q.url);
          }
        }
      };
      const unsent = plan.parts.filter((p) => !p.etag);
      let failed = null;
      const worker = async () => {
        while (unsent.length && !failed) {
          try {
            await sendOne(unsent.shift());
          } catch (err) {
            failed = failed || err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_PARALLEL, unsent.length) }, worker));
      if (failed) throw failed;
      return plan.parts.map((p) => ({ number: p.number, etag: etags.get(p.number) }));
    }

    async function runMultipart(item, id, created, current) {
      setState(item, 'uploading', created.resumed ? 'Resuming the upload…' : 'Uploading…');
      item.progress.hidden = false;
      const parts = await sendParts(item, id, created, item.ctrl.signal);
      if (!current()) return;
      item.progress.value = 100;
      item.rate.textContent = '';
      setState(item, 'completing', 'Uploaded; confirming…');
      const completed = await completeUpload(id, item.ctrl.signal, parts);
      forgetMultipart(item);
      item.ctrl = null;
      if (!current()) return;
      item.progress.hidden = true;
      item.cancel.hidden = true;
      follow(item, id, created.status_url, completed);
    }

    // s3Message turns S3's XML error into a sentence a person can act on.
    function s3Message(status, text, item) {
      if (status === 0) return MSG.interrupted;
      let code = '';
      let message = '';
      let maxAllowed = 0;
      if (text && text.trim().startsWith('<')) {
        const doc = new DOMParser().parseFromString(text, 'application/xml');
        if (!doc.getElementsByTagName('parsererror').length) {
          const get = (tag) => {
            const n = doc.getElementsByTagName(tag)[0];
            return n ? n.textContent.trim() : '';
          };
          code = get('Code');
          message = get('Message');
          maxAllowed = Number(get('MaxSizeAllowed')) || 0;
        }
      }
      if (code === 'EntityTooLarge') {
        return tooLargeMessage(item.file.size, item.maxText || formatBytes(maxAllowed));
      }
      if (code === 'EntityTooSmall') return MSG.empty;
      if (EXPIRABLE.has(code) && /expired/i.test(message)) return MSG.expired;
      if (code === 'ExpiredToken' || code === 'RequestExpired') return MSG.expired;
      if (code === 'AccessDenied') return MSG.refused;
      if (message || code) return `Upload failed: ${message || code}`;
      return `Upload failed: the storage service answered HTTP ${status}.`;
    }

    // follow shows the processing status and, once ready, the images.
    function follow(item, id, statusURL, first) {
      const pageURL = opts.token ? '' : `/uploads/${encodeURIComponent(id)}`;
      const show = (s) => {
        if (s.status === 'ready') {
          setState(item, 'ready', 'Ready.');
          renderReady(item, s, pageURL);
        } else if (s.status === 'failed') {
          const m = s.error && s.error.message ? String(s.error.message) : 'This image could not be processed.';
          showError(item, m, false);
          if (pageURL) {
            const details = el('a', 'upload-details', 'Details');
            details.href = pageURL;
            item.result.replaceChildren(details);
          }
        } else {
          setState(item, s.status || 'processing', statusText(s.status || 'processing'));
        }
      };
      // The complete answer has no variants or error message: the stream (or
      // the status API) sends the full state, even when it is already final.
      show(first && first.status && !isDone(first) ? first : { status: 'processing' });
      item.stopWatch = watchStatus({
        eventsURL: opts.token ? '' : `/uploads/${encodeURIComponent(id)}/events`,
        statusURL: statusURL ? base + statusURL : `${api}/${encodeURIComponent(id)}`,
        auth,
        onStatus: show,
        onGone: (m) => showError(item, m, false),
      });
    }

    function renderReady(item, s, pageURL) {
      const figures = el('div', 'variants');
      for (const g of groupVariants(s.variants)) figures.append(variantFigure(g, s.filename || item.file.name, s.blurhash));
      if (!pageURL) {
        item.result.replaceChildren(figures);
        return;
      }
      const details = el('a', 'upload-details', 'Details');
      details.href = pageURL;
      item.result.replaceChildren(figures, details);
    }
  }

  // initProfilePicker switches the profile in place: the options carry each
  // profile's limits, and the JS path asks for a policy per file anyway.
  function initProfilePicker(form, applyLimits) {
    const select = document.getElementById('profile');
    const button = document.getElementById('profile-submit');
    if (!select) return;
    if (button) button.hidden = true;
    select.addEventListener('change', () => {
      const opt = select.selectedOptions[0];
      if (!opt) return;
      form.dataset.profile = opt.value;
      if (opt.dataset.maxBytes) form.dataset.maxBytes = opt.dataset.maxBytes;
      if (opt.dataset.maxText) form.dataset.maxText = opt.dataset.maxText;
      if (opt.dataset.accept !== undefined) form.dataset.accept = opt.dataset.accept;
      applyLimits();
      const url = new URL(window.location.href);
      url.searchParams.set('profile', opt.value);
      window.history.replaceState(null, '', url);
    });
  }

  // ---------------------------------------------------------- upload page

  function initStatusPage(box) {
    const eventsURL = box.dataset.eventsUrl;
    const statusURL = box.dataset.statusUrl;
    if (!eventsURL && !statusURL) return;
    const text = box.querySelector('p');
    watchStatus({
      eventsURL,
      statusURL,
      onStatus: (s) => {
        if (isDone(s)) {
          window.location.reload();
        } else if (text && s.status && s.status !== box.dataset.status) {
          box.dataset.status = s.status;
          text.textContent = statusText(s.status);
        }
      },
    });
  }

  // ------------------------------------------------------------------ start

  function init() {
    initCopyButtons();
    for (const img of document.querySelectorAll('img[data-blurhash]')) placeholder(img, img.dataset.blurhash);
    const form = document.getElementById('upload-form');
    if (form) initUploadForm(form);
    const box = document.getElementById('upload-status');
    if (box) initStatusPage(box);
  }

  const script = document.currentScript;
  if (script && /\/embed\.js(?:[?#]|$)/.test(script.src)) {
    // embed.js, appended to this file, takes initUploadForm from here.
    window.Uploader = { initUploadForm, copyFrom };
    return;
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
