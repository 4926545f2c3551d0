// Package jsonstr appends JSON strings exactly as encoding/json writes
// them, without its reflection: the presign answer and the POST policy are
// written by hand on the hot path, and both must match json.Marshal byte
// for byte (the policy is compared with the SDK's).
package jsonstr

import "encoding/json"

// Append appends s as encoding/json writes it (HTML characters escaped
// too). Plain strings take the fast path; anything else is handed to
// json.Marshal.
func Append(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			enc, _ := json.Marshal(s) // a string always marshals
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain marks the bytes encoding/json writes as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
