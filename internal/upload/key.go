package upload

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Object key prefixes. The client never chooses a key: every key is built
// from a server-made ID.
const (
	IncomingPrefix = "incoming/"
	OriginalPrefix = "originals/"
	VariantPrefix  = "variants/"
)

// IncomingKey is where the browser writes the upload.
func IncomingKey(id string) string { return IncomingPrefix + id }

// OriginalKey is the private copy the worker keeps.
func OriginalKey(id string) string { return OriginalPrefix + id }

// VariantKey is a published rendition; file is the variant's name with its
// extension, e.g. "w1024.jpg". The version makes the key immutable, so it can
// be cached for a year and reprocessing never serves stale bytes.
func VariantKey(id string, version int, file string) string {
	return fmt.Sprintf("%s%s/%d/%s", VariantPrefix, id, version, file)
}

// VariantDir is the prefix holding every variant of an upload.
func VariantDir(id string) string { return VariantPrefix + id + "/" }

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random 128-bit ID that sorts by creation time: 48 bits of
// Unix milliseconds then 80 random bits, as 26 lowercase Crockford base32
// characters (URL-safe, no padding).
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the shape of an ID made by NewID. Checking
// it before any lookup keeps hostile input out of keys and queries.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", c) {
			return false
		}
	}
	_, err := idEncoding.DecodeString(s)
	return err == nil
}
