// Package upload holds the domain of the uploader service: uploads, their
// variants, statuses, profiles, the object key scheme and error codes.
// It imports nothing else of the project; every other package depends on it.
package upload

import (
	"context"
	"time"
)

// Status is where an upload is in its life.
type Status string

// The statuses an upload moves through: pending (policy signed, bytes not yet
// confirmed), processing (object verified, job queued), then ready or failed.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// The statuses of an upload sent in one POST that has no row yet, as the
// API reports them; never stored. Awaiting: the ID was issued and its
// permission runs, no file has arrived. Arrived: the file is in storage
// and complete (or the bucket's event, or the reconciler) will record it.
// Expired: the permission lapsed with no file.
const (
	StatusAwaitingUpload Status = "awaiting_upload"
	StatusArrived        Status = "arrived"
	StatusExpired        Status = "expired"
)

// Upload is one file a client sent, and what became of it.
type Upload struct {
	ID       string
	Profile  string
	Owner    string
	User     string // the owner's user who uploaded it (a signed-in person); "" for the owner itself
	Filename string

	DeclaredType  string // Content-Type the client declared and the policy enforced
	DeclaredBytes int64  // size the client declared
	ContentType   string // type found by sniffing the bytes
	Bytes         int64  // size of the object in S3

	Status       Status
	ErrorCode    string
	ErrorMessage string

	Width    int
	Height   int
	Blurhash string
	Version  int // bumped on every processing run; part of variant keys
	Attempts int // processing runs queued by MarkProcessing; at most MaxAttempts

	// MultipartID is S3's UploadId when the file goes up in parts, and
	// PartSize the size of every part but the last; both empty for a
	// single POST.
	MultipartID string
	PartSize    int64

	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   time.Time // when the presigned policy lapses (for multipart: when the resume window closes)
	ProcessedAt *time.Time

	Variants []Variant
}

// Variant is one published rendition of an upload.
type Variant struct {
	UploadID      string
	Name          string // file name, unique per upload: e.g. "w1024.jpg", "w1024.webp"
	Key           string // object key under variants/
	ContentType   string
	Width         int
	Height        int
	Bytes         int64 // bytes published
	OriginalBytes int64 // bytes before the optimizer chain ran
}

// Store persists uploads and their variants. Implementations return errors
// with the codes of this package (ENOTFOUND, ECONFLICT).
type Store interface {
	CreateUpload(ctx context.Context, u *Upload) error
	// Upload returns the upload with its variants.
	Upload(ctx context.Context, id string) (*Upload, error)
	// ListUploads returns the owner's uploads, newest first, with IDs
	// strictly older than cursor when it is not empty.
	ListUploads(ctx context.Context, owner, cursor string, limit int) ([]*Upload, error)
	// ListUserUploads is ListUploads restricted to one user of the owner.
	ListUserUploads(ctx context.Context, owner, user, cursor string, limit int) ([]*Upload, error)
	// MarkProcessing moves a pending upload, or one that failed for a
	// Retryable reason with fewer than MaxAttempts runs, to processing,
	// counts the attempt and records the verified content type and size.
	// It reports whether the row changed; any other upload is left alone.
	MarkProcessing(ctx context.Context, id, contentType string, bytes int64) (bool, error)
	// MarkReady replaces the upload's variants and sets it ready.
	MarkReady(ctx context.Context, u *Upload) error
	// MarkFailed sets the upload failed with a code and a readable message.
	MarkFailed(ctx context.Context, id, code, message string) error
	// BumpVersion increments the version for a new processing run and returns it.
	BumpVersion(ctx context.Context, id string) (int, error)
	// BindMultipart records the S3 multipart upload ID of an upload that
	// has none yet (a client that creates the multipart upload itself, as
	// Uppy does). Recording the same ID again is fine; another is ECONFLICT.
	BindMultipart(ctx context.Context, id, multipartID string) error
	DeleteUpload(ctx context.Context, id string) error
	// UploadsByStatus returns uploads in status last updated before the given time.
	UploadsByStatus(ctx context.Context, status Status, updatedBefore time.Time, limit int) ([]*Upload, error)
}
