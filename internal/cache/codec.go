package cache

import (
	"github.com/custom-misp/custom-misp/internal/codec"
	"github.com/custom-misp/custom-misp/internal/misp"
)

// The disk form of an answer is []misp.Attribute in package codec's
// encoding. The layout depends on the misp types, so each entry carries a
// fingerprint of them (see attrSchema) and a mismatch reads as a miss.

var errCodec = codec.ErrDamaged

// attrSchema is the fingerprint of the attribute types' layout (field
// names and kinds, recursively) that every entry carries: entries written
// under another layout are misses. It is a constant rather than computed
// at start-up because the reflection walk cost every cached run about
// 0.1 ms; TestAttrSchema_MatchesTypes recomputes it (schemaOf) and fails,
// with the new value, when the misp types change.
var attrSchema = [4]byte{0x17, 0x95, 0x2f, 0x49}

func encodeAttrs(b []byte, attrs []misp.Attribute) ([]byte, error) {
	return codec.Append(b, attrs)
}

func decodeAttrs(b []byte) ([]misp.Attribute, error) {
	var attrs []misp.Attribute
	if err := codec.Decode(b, &attrs); err != nil {
		return nil, err
	}
	return attrs, nil
}
