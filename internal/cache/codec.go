package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"github.com/custom-misp/custom-misp/internal/misp"
)

// The disk form of an answer is a small binary encoding of
// []misp.Attribute, walked by reflection: strings as a uvarint length and
// the bytes, bools as one byte, integers as varints, structs field by field
// in declaration order, slices as a uvarint count and the elements.
//
// Why not JSON: misp's flexible types decode through their own
// UnmarshalJSON, field by field, at about 100 allocations per attribute;
// decoding an answer would cost more than the rest of a cached run. Why
// reflection rather than a hand-written codec: it follows the misp types
// when fields are added. The layout depends on those types, so each entry
// carries a fingerprint of them (see attrSchema) and a mismatch reads as a miss.

// maxSliceLen caps a decoded slice (attributes per answer, tags per
// attribute): the bytes come from a file that may be damaged.
const maxSliceLen = 4096

var errCodec = errors.New("bad entry encoding")

// attrSchema is the fingerprint of the attribute types' layout (field
// names and kinds, recursively) that every entry carries: entries written
// under another layout are misses. It is a constant rather than computed
// at start-up because the reflection walk cost every cached run about
// 0.1 ms; TestAttrSchema_MatchesTypes recomputes it (schemaOf) and fails,
// with the new value, when the misp types change.
var attrSchema = [4]byte{0x17, 0x95, 0x2f, 0x49}

func encodeAttrs(b []byte, attrs []misp.Attribute) ([]byte, error) {
	return appendValue(b, reflect.ValueOf(attrs))
}

func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.String:
		b = binary.AppendUvarint(b, uint64(v.Len()))
		return append(b, v.String()...), nil
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int()), nil
	case reflect.Struct:
		var err error
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				return nil, fmt.Errorf("encode %s: unexported field %s", v.Type(), v.Type().Field(i).Name)
			}
			if b, err = appendValue(b, v.Field(i)); err != nil {
				return nil, err
			}
		}
		return b, nil
	case reflect.Slice:
		b = binary.AppendUvarint(b, uint64(v.Len()))
		var err error
		for i := range v.Len() {
			if b, err = appendValue(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("encode %s: unsupported kind %s", v.Type(), v.Kind())
}

// decodeAttrs decodes what encodeAttrs wrote; every string of the result
// shares one copy of b.
func decodeAttrs(b []byte) ([]misp.Attribute, error) {
	var attrs []misp.Attribute
	d := decoder{s: string(b)}
	if err := d.value(reflect.ValueOf(&attrs).Elem()); err != nil {
		return nil, err
	}
	if d.off != len(d.s) {
		return nil, errCodec
	}
	return attrs, nil
}

type decoder struct {
	s   string
	off int
}

func (d *decoder) uvarint() (uint64, error) {
	n, k := binary.Uvarint([]byte(d.s[d.off:min(len(d.s), d.off+binary.MaxVarintLen64)]))
	if k <= 0 {
		return 0, errCodec
	}
	d.off += k
	return n, nil
}

func (d *decoder) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.s)-d.off) {
			return errCodec
		}
		v.SetString(d.s[d.off : d.off+int(n)])
		d.off += int(n)
	case reflect.Bool:
		if d.off >= len(d.s) || d.s[d.off] > 1 {
			return errCodec
		}
		v.SetBool(d.s[d.off] == 1)
		d.off++
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, k := binary.Varint([]byte(d.s[d.off:min(len(d.s), d.off+binary.MaxVarintLen64)]))
		if k <= 0 || v.OverflowInt(n) {
			return errCodec
		}
		v.SetInt(n)
		d.off += k
	case reflect.Struct:
		for i := range v.NumField() {
			if err := d.value(v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		n, err := d.uvarint()
		// Every element takes at least a byte, so a count beyond what is
		// left is damage, not a reason to allocate.
		if err != nil || n > maxSliceLen || n > uint64(len(d.s)-d.off) {
			return errCodec
		}
		if n == 0 {
			return nil
		}
		v.Set(reflect.MakeSlice(v.Type(), int(n), int(n)))
		for i := range int(n) {
			if err := d.value(v.Index(i)); err != nil {
				return err
			}
		}
	default:
		return errCodec
	}
	return nil
}
