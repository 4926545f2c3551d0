// The uploader service behind Uppy (@uppy/aws-s3 v6): the smallest page
// that works. Bundle it with esbuild (see docs/uppy.md):
//
//   npm install @uppy/core@6 @uppy/aws-s3@6
//   esbuild main.js --bundle --format=iife --outfile=bundle.js
//
// The page is served from the app's origin (or behind the same proxy), so
// the API calls carry the session cookie; add an Authorization header to
// post() to use an API token instead.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

const api = document.body.dataset.api || '';
const profile = document.body.dataset.profile || '';

async function post(path, body) {
  const res = await fetch(api + path, {
    method: 'POST',
    credentials: 'include',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error((json && json.error && json.error.message) || `HTTP ${res.status}`);
  return json;
}

// The server signs each part's Content-Length from the declared size, in
// parts of this size (upload.PartSize): Uppy must cut the file the same way.
function partSize(size) {
  let ps = 8 * 1024 * 1024;
  while (size > ps * 10000) ps *= 2;
  return ps;
}

const uppy = new Uppy({ autoProceed: false, restrictions: { allowedFileTypes: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] } });

// Before anything goes to S3, the server issues each file's key (and
// decides, from the declared size, whether it goes up in parts).
uppy.addPreProcessor(async (fileIDs) => {
  for (const id of fileIDs) {
    const f = uppy.getFile(id);
    const r = await post('/api/uppy/uploads', { filename: f.name, content_type: f.type, size: f.size, profile });
    uppy.setFileMeta(id, { upload_id: r.id, upload_key: r.key, multipart: r.multipart });
    show(f, 'uploading', 'Uploading…');
  }
});

uppy.use(AwsS3, {
  shouldUseMultipart: (file) => Boolean(file.meta.multipart),
  getChunkSize: (file) => partSize(file.size),
  generateObjectKey: (file) => file.meta.upload_key,
  // Uppy sends every S3 request itself; the server signs only what the
  // upload it issued may do.
  signRequest: (request) => post('/api/uppy/sign', request),
  allowedMetaFields: [],
});

uppy.on('upload-success', async (file) => {
  const id = file.meta.upload_id;
  show(file, 'processing', 'Processing…');
  try {
    await post(`/api/uploads/${encodeURIComponent(id)}/complete`, {});
    for (;;) {
      const res = await fetch(`${api}/api/uploads/${encodeURIComponent(id)}`, { credentials: 'include' });
      const s = await res.json();
      if (s.status === 'ready' || s.status === 'failed') {
        show(file, s.status, s.status === 'ready' ? `Ready: ${s.variants.length} images` : s.error.message);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    show(file, 'failed', err.message);
  }
});

uppy.on('upload-error', (file, err) => show(file, 'failed', err.message));

const list = document.getElementById('files');
function show(file, state, text) {
  let li = list.querySelector(`li[data-file="${CSS.escape(file.id)}"]`);
  if (!li) {
    li = document.createElement('li');
    li.dataset.file = file.id;
    list.append(li);
  }
  li.dataset.state = state;
  li.dataset.multipart = String(Boolean(file.meta.multipart));
  li.textContent = `${file.name}: ${text}`;
}

document.getElementById('picker').addEventListener('change', (e) => {
  for (const f of e.target.files) uppy.addFile({ name: f.name, type: f.type, data: f });
  e.target.value = '';
  uppy.upload();
});
