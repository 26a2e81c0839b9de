// Package codec is the small binary encoding custom-misp keeps MISP data
// in on disk (the cache's answers, the mirror's records), walked by
// reflection: strings as a uvarint length and the bytes, bools as one
// byte, integers as varints, structs field by field in declaration order,
// slices as a uvarint count and the elements.
//
// Why not JSON: misp's flexible types decode through their own
// UnmarshalJSON, field by field, at about 100 allocations per attribute;
// decoding an answer would cost more than the rest of a cached run. Why
// reflection rather than a hand-written codec: it follows the misp types
// when fields are added. The layout depends on those types, so stores
// keep a fingerprint of them (Schema) beside what they encode.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
)

// MaxSliceLen caps a decoded slice (attributes per answer, tags per
// attribute): the bytes come from a file that may be damaged.
const MaxSliceLen = 4096

// ErrDamaged is what Decode returns for bytes Append did not write.
var ErrDamaged = errors.New("bad entry encoding")

// Append appends the encoding of v to b.
func Append(b []byte, v any) ([]byte, error) {
	return appendValue(b, reflect.ValueOf(v))
}

// Decode decodes what Append wrote into the value ptr points to; every
// string of the result shares one copy of b. All of b must be used.
func Decode(b []byte, ptr any) error {
	d := decoder{s: string(b)}
	if err := d.value(reflect.ValueOf(ptr).Elem()); err != nil {
		return err
	}
	if d.off != len(d.s) {
		return ErrDamaged
	}
	return nil
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

type decoder struct {
	s   string
	off int
}

func (d *decoder) uvarint() (uint64, error) {
	n, k := binary.Uvarint([]byte(d.s[d.off:min(len(d.s), d.off+binary.MaxVarintLen64)]))
	if k <= 0 {
		return 0, ErrDamaged
	}
	d.off += k
	return n, nil
}

func (d *decoder) value(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		n, err := d.uvarint()
		if err != nil || n > uint64(len(d.s)-d.off) {
			return ErrDamaged
		}
		v.SetString(d.s[d.off : d.off+int(n)])
		d.off += int(n)
	case reflect.Bool:
		if d.off >= len(d.s) || d.s[d.off] > 1 {
			return ErrDamaged
		}
		v.SetBool(d.s[d.off] == 1)
		d.off++
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, k := binary.Varint([]byte(d.s[d.off:min(len(d.s), d.off+binary.MaxVarintLen64)]))
		if k <= 0 || v.OverflowInt(n) {
			return ErrDamaged
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
		if err != nil || n > MaxSliceLen || n > uint64(len(d.s)-d.off) {
			return ErrDamaged
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
		return ErrDamaged
	}
	return nil
}
