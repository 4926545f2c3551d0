package upload

// MaxAttempts is how many processing runs one upload gets in all: the first
// one that complete queues, and the re-runs a later complete may ask for
// after a transient failure. Each run already retries transient errors
// with backoff inside the queue, so a few runs are plenty; the bound stops
// anyone from re-running a costly decode forever.
const MaxAttempts = 3

// Retryable reports whether an upload that failed with code may be
// processed again. Only failures on our side or of a dependency (the
// database, S3, the queue) can turn out differently on another run; a file
// that is not an image, too large, or corrupt fails the same way every time.
func Retryable(code string) bool {
	return code == EINTERNAL || code == EUNAVAILABLE
}
