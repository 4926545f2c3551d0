package upload

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"sync"
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

// An issued ID is a NewID whose last 40 bits are not random but a MAC, so
// the server can tell, without storing anything, that it issued the ID and
// to whom: 48 bits of Unix milliseconds, 40 random bits, then the first 40
// bits of HMAC-SHA256(key, time and random part, claim).
const (
	idRandomBytes = 5
	idMACBytes    = 5
	idMACAt       = 6 + idRandomBytes
)

// IDKey issues and checks IDs with one MAC key. It is safe for concurrent
// use.
type IDKey struct {
	states sync.Pool // of *idState, reused: no allocation but the ID's string
}

// idState is one HMAC keyed for IDs with room for what it reads and writes.
type idState struct {
	mac  hash.Hash
	id   [16]byte
	in   [64]byte
	sum  [sha256.Size]byte
	text [26]byte
}

// NewIDKey returns an IDKey for key (at least 16 bytes of secret).
func NewIDKey(key []byte) *IDKey {
	key = bytes.Clone(key)
	return &IDKey{states: sync.Pool{New: func() any { return &idState{mac: hmac.New(sha256.New, key)} }}}
}

// Issue returns an ID made at now for claim (who it is issued to), with
// the MAC IssuedTo checks. It sorts and looks like any NewID.
func (k *IDKey) Issue(now time.Time, claim string) string {
	st := k.states.Get().(*idState)
	defer k.states.Put(st)
	b := st.id[:]
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:idMACAt]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	copy(b[idMACAt:], st.macOf(b[:idMACAt], claim))
	idEncoding.Encode(st.text[:], b)
	return string(st.text[:])
}

// IssuedTo reports whether id was made by Issue with this key for claim,
// and when it was made.
func (k *IDKey) IssuedTo(id, claim string) (time.Time, bool) {
	var b [16]byte
	if !decodeID(&b, id) {
		return time.Time{}, false
	}
	st := k.states.Get().(*idState)
	defer k.states.Put(st)
	if !hmac.Equal(b[idMACAt:], st.macOf(b[:idMACAt], claim)) {
		return time.Time{}, false
	}
	return IDTime(id), true
}

// macOf returns the ID MAC of head and claim, in st.
func (st *idState) macOf(head []byte, claim string) []byte {
	st.mac.Reset()
	in := append(append(st.in[:0], head...), claim...) // in st.in unless claim is long
	st.mac.Write(in)
	return st.mac.Sum(st.sum[:0])[:idMACBytes]
}

// IDTime returns when the ID was made, to the millisecond; the zero time
// for a string that is not an ID.
func IDTime(id string) time.Time {
	var b [16]byte
	if !decodeID(&b, id) {
		return time.Time{}
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]) >> 16))
}

func decodeID(b *[16]byte, id string) bool {
	if len(id) != 26 {
		return false
	}
	var src [26]byte
	copy(src[:], id)
	n, err := idEncoding.Decode(b[:], src[:])
	return err == nil && n == len(b)
}
