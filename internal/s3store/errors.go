package s3store

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"uploader/internal/upload"
)

// The messages people see for the two kinds of S3 failure classify tells
// apart. The causes go to the log, never to them.
const (
	unavailableMessage = "Storage did not answer; please retry in a moment."
	refusedMessage     = "Storage refused this server's request. This is a configuration problem on our side, " +
		"which has been logged; retrying will not help until it is fixed."
)

// classify says what an S3 error means. S3 slowing us down, failing on its
// side (5xx), a timeout or a lost connection are upload.EUNAVAILABLE: the
// client may retry. S3 refusing our credentials or permissions
// (AccessDenied, a wrong or disabled key, a missing bucket) is not going to
// change on a retry: it is upload.EINTERNAL, with a message saying so, and
// the operator learns the cause from the log. Other errors are returned as
// they are; every error keeps its cause in the chain.
func classify(err error) error {
	if err == nil || upload.ErrorCode(err) != upload.EINTERNAL {
		return err
	}
	switch {
	case refused(err):
		return upload.Wrap(upload.EINTERNAL, refusedMessage, err)
	case transient(err):
		return upload.Wrap(upload.EUNAVAILABLE, unavailableMessage, err)
	}
	return err
}

func refused(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
			"AccountProblem", "InvalidToken", "NoSuchBucket", "InvalidBucketState", "Forbidden":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 403
}

func transient(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeoutException",
			"InternalError", "ServiceUnavailable", "ExpiredToken", "TokenRefreshRequired":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 429) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
