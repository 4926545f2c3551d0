package upload

// Multipart limits, as S3 sets them: every part but the last is at least
// MinPartSize, and an upload has at most MaxParts parts.
const (
	MinPartSize = 5 << 20
	MaxParts    = 10_000
	// DefaultPartSize is the part size for uploads up to 78 GiB (10,000 ×
	// 8 MiB). On a 2 Mbit/s phone uplink a part takes about 30 s: the most
	// a dropped connection loses. Each part is one request, so at 8 MiB the
	// requests cost under 1% of the transfer even on a fast line.
	DefaultPartSize = 8 << 20
	// DefaultMultipartThreshold is MULTIPART_THRESHOLD's default: files
	// larger than this go up in parts when their profile allows it. At 16
	// MiB a restart from zero loses about a minute on a 2 Mbit/s uplink;
	// below it, one POST (one request, works without JavaScript) is better.
	DefaultMultipartThreshold = 16 << 20
)

// PartSpec is one part of a planned multipart upload.
type PartSpec struct {
	Number int
	Size   int64
}

// PartSize returns the part size for an upload of total bytes: the default,
// doubled until MaxParts parts hold the file.
func PartSize(total int64) int64 {
	ps := int64(DefaultPartSize)
	for total > ps*MaxParts {
		ps *= 2
	}
	return ps
}

// PlanParts splits total bytes into parts of partSize, the last one
// holding the rest. It returns nil for a non-positive total or part size.
func PlanParts(total, partSize int64) []PartSpec {
	if total <= 0 || partSize <= 0 {
		return nil
	}
	n := int((total + partSize - 1) / partSize)
	parts := make([]PartSpec, n)
	for i := range parts {
		parts[i] = PartSpec{Number: i + 1, Size: partSize}
	}
	parts[n-1].Size = total - int64(n-1)*partSize
	return parts
}
