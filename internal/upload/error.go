package upload

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the web layer.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	EUNSUPPORTED  = "unsupported_type"
	ECORRUPT      = "corrupt"
	ETOOMANYPX    = "too_many_pixels"
	ERATELIMIT    = "rate_limited"
	EUNAVAILABLE  = "unavailable"
	EEXPIRED      = "expired"
)

// Error is an error with a code and a message safe to show to the person
// who caused it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of the first *Error in err's chain,
// or a generic one for unexpected errors, whose details must not leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// Wrap returns an error with code and message that keeps cause in its
// chain: the code decides the answer and the message is what the person
// sees, while the cause stays there to be logged and inspected. Store
// adapters use it to say what a driver's error means.
func Wrap(code, message string, cause error) error {
	return fmt.Errorf("%w: %w", &Error{Code: code, Message: message}, cause)
}
