package ioc

import "strings"

// hexLen is the length in hex digits of a hash kind, or -1 for other kinds.
func hexLen(k Kind) int {
	switch k {
	case MD5, Imphash:
		return 32
	case SHA1:
		return 40
	case SHA256:
		return 64
	case SHA512:
		return 128
	}
	return -1
}

// normHash returns s in lower case when it is exactly the hex length of k.
//
// A digest made of one repeated digit (all '0', all 'f') is a placeholder,
// not a hash of anything: Sysmon writes IMPHASH=000…0 for content that is
// not a PE file, and tools print all-zero or all-f values for "unknown".
// The chance that a real digest is one repeated digit is 16^-31, so
// rejecting them costs nothing. Well-known real hashes (EICAR, the empty
// file) stay valid: keeping MISP warninglist hits out is MISP's job.
func normHash(k Kind, s string, vet bool) (string, bool) {
	n := hexLen(k)
	if n < 0 || len(s) != n {
		return "", false
	}
	upper := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	if vet && strings.Count(s, s[:1]) == len(s) {
		return "", false
	}
	return s, true
}
