// Package web holds the browser side of uploader: the HTML templates and the
// static files (upload.js, app.css), embedded so that the binary carries them.
package web

import "embed"

// Templates holds templates/*.html. layout.html defines "layout", the page
// frame, which calls "head" (empty unless a page defines it) and "content";
// every other file defines "content" for one page. A template set is
// layout.html plus one page file, executed as "layout".
//
//go:embed templates
var Templates embed.FS

// Static holds static/, the files served under content-hashed URLs:
// upload.js (progressive enhancement of the upload form) and app.css.
//
//go:embed static
var Static embed.FS
