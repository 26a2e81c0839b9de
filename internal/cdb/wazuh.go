package cdb

import (
	"bufio"
	"bytes"
	"strings"
)

// Table is a list as analysisd compiles it: key to value, the first line
// of a key winning (cdb_find returns the first record of a key).
type Table map[string]string

// Parse reads a list's text exactly as Wazuh 4.14.7's Lists_OP_MakeCDB
// does (src/analysisd/lists_make.c), odd lines included: the tests and
// doctor use it to see the lists as analysisd will.
func Parse(text []byte) Table {
	t := Table{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if k, v, ok := parseLine(sc.Text()); ok {
			if _, dup := t[k]; !dup {
				t[k] = v
			}
		}
	}
	return t
}

func parseLine(s string) (key, val string, ok bool) {
	if i := strings.IndexByte(s, '\r'); i >= 0 {
		s = s[:i]
	}
	rest := s
	quoted := false
	// A key in double quotes, if a ':' comes after the first quote.
	if q := strings.IndexByte(s, '"'); q >= 0 {
		if c := strings.IndexByte(s, ':'); c >= 0 && c > q {
			end := strings.IndexByte(s[q+1:], '"')
			if end < 0 {
				return "", "", false
			}
			key, rest, quoted = s[q+1:q+1+end], s[q+1+end+1:], true
		}
	}
	c := strings.IndexByte(rest, ':')
	if c < 0 {
		return "", "", false
	}
	if !quoted {
		key = rest[:c]
	}
	val = rest[c+1:]
	// A value in double quotes: the text between them.
	if q := strings.IndexByte(val, '"'); q >= 0 {
		end := strings.IndexByte(val[q+1:], '"')
		if end < 0 {
			return "", "", false
		}
		val = val[q+1 : q+1+end]
	}
	return key, val, true
}

// MatchKey is lookup="match_key": the field's value, byte for byte.
func (t Table) MatchKey(field string) (string, bool) {
	v, ok := t[field]
	return v, ok
}

// AddressMatchKey is lookup="address_match_key": the field's value whole,
// then each prefix of it that ends in '.', longest first
// (OS_DBSeachKeyAddress in src/analysisd/lists_list.c).
func (t Table) AddressMatchKey(field string) (key, value string, ok bool) {
	if v, ok := t[field]; ok {
		return field, v, true
	}
	for i := len(field) - 1; i > 0; i-- {
		if field[i-1] == '.' {
			if v, ok := t[field[:i]]; ok {
				return field[:i], v, true
			}
		}
	}
	return "", "", false
}
