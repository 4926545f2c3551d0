package web

import "time"

// layout is what every page's frame needs.
type layout struct {
	Title  string
	CSSURL string // content-hashed URL of web/static/app.css
	JSURL  string // content-hashed URL of web/static/upload.js
	User   string // the signed-in person, who can sign out; "" otherwise
}

// field is one hidden form field of a presigned POST, in the order to send.
type field struct {
	Name, Value string
}

// profileOption is one entry of the profile picker.
type profileOption struct {
	Name         string
	Selected     bool
	MaxBytes     int64
	MaxBytesText string // "20 MB"
	Accept       string // "image/jpeg,image/png,image/gif,image/webp"
}

// uploadForm is the server-rendered form that already carries a presigned
// POST policy, so the page works without JavaScript.
type uploadForm struct {
	Action  string  // the S3 POST URL
	Fields  []field // hidden inputs, sent before the file input named "file"
	Profile profileOption
}

// indexPage is the upload page.
type indexPage struct {
	layout
	Profiles []profileOption
	Form     uploadForm
	Recent   []uploadView
}

// uploadPage shows one upload: waiting, result or failure.
type uploadPage struct {
	layout
	Upload  uploadView
	Refresh bool // not finished yet: the page refreshes itself (no-JS)
}

// galleryPage lists the owner's uploads, newest first.
type galleryPage struct {
	layout
	Uploads  []uploadView
	NextPage string // URL of the next page, "" on the last
}

// errorPage explains a failure in plain words.
type errorPage struct {
	layout
	Status  int
	Message string
}

// uploadView is an upload as pages show it.
type uploadView struct {
	ID           string
	Filename     string
	Profile      string
	Status       string // pending, processing, ready, failed
	Done         bool   // ready or failed
	ErrorMessage string
	Width        int
	Height       int
	Blurhash     string
	PageURL      string        // /uploads/{id}
	StatusURL    string        // /api/uploads/{id}
	EventsURL    string        // /uploads/{id}/events
	Preview      *variantView  // a mid-size image for the page
	Variants     []variantView // in the profile's order, largest first
	Snippet      string        // <picture> HTML to paste into other sites (shown as text)
	CreatedAt    time.Time
}

// variantView is one published image as pages show it.
type variantView struct {
	Name        string // "w1024.jpg"
	URL         string // absolute CDN URL
	ContentType string
	Width       int
	Height      int
	Bytes       int64
	BytesText   string // "182 KB"
	SavingText  string // "-23% (optimized)" or ""
	Crop        bool   // a cover crop (another aspect ratio than the original)
}

// messagePage says one thing, e.g. that the visitor is signed out.
type messagePage struct {
	layout
	Message string
}

// adminPage mints sign-in links for people, where no host app does.
type adminPage struct {
	layout
	Profiles  []string
	User      string // the form's values, kept after a refusal
	ExpiresIn string
	Durations []string // the choices of ExpiresIn
	Checked   map[string]bool
	Error     string
	Link      *sessionResponse // the link just made
}
