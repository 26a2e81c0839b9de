package ioc

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxDomainLen is the longest domain name in presentation form without
	// the root dot (RFC 1035 §2.3.4: 255 octets on the wire).
	maxDomainLen = 253
	// maxLabelLen is the longest label (RFC 1035 §2.3.4).
	maxLabelLen = 63
	// maxDomainInput caps a name before it is parsed: every rune of a
	// Unicode name yields at least one ASCII byte, and a rune is at most 4
	// bytes, so a longer input cannot become a valid name.
	maxDomainInput = 4*maxDomainLen + 1
)

// specialUse lists names that never denote a public host: the special-use
// domain names of RFC 6761/6762/7686/8375/9476 (localhost, local, test,
// example and example.com/.net/.org, invalid, onion, home.arpa, alt), the
// .arpa infrastructure zone as a whole (reverse-lookup names are not
// indicators), ICANN's private-use .internal, and the never-delegated names
// common on internal networks (lan, home, corp, intranet, localdomain). A
// name equal to or under one of them is rejected unless the operator allows
// that suffix (Policy). Read-only.
var specialUse = [...]string{
	"localhost", "local", "test", "example", "invalid", "internal", "onion", "alt", "arpa",
	"example.com", "example.net", "example.org",
	"lan", "home", "corp", "intranet", "localdomain",
}

// normDomain returns the canonical form of a public domain name, or false.
// With vet, the name must also be public (see isPublic); without, only its
// shape is judged.
func normDomain(s string, allow []string, vet bool) (string, bool) {
	d, ok := canonName(s, 2)
	if !ok || (vet && !isPublic(d, allow)) {
		return "", false
	}
	return d, true
}

// canonName returns s as MISP stores a domain: lower case, one trailing dot
// removed, Unicode labels converted to punycode (IDNA A-labels). It checks
// the shape of a host name with at least minLabels labels:
//   - labels of 1–63 characters from [a-z0-9-_], not starting or ending with
//     '-' or '_' (labels that start with '_' are service or attribute
//     leaves such as _ldap._tcp or _dmarc, RFC 8552: they name records,
//     not hosts; an inner '_' is allowed because MISP accepts it and some
//     dynamic-DNS hosts use it);
//   - at most 253 characters in all;
//   - a last label shaped like a public TLD: two or more letters, or an
//     IDN TLD "xn--…". An all-numeric last label is refused, so an IP
//     literal is never a domain.
//
// Unicode is only lower-cased before encoding (no NFC or full UTS #46
// mapping, which would need golang.org/x/text); a name written in a
// decomposed form therefore gives another A-label than a browser would.
func canonName(s string, minLabels int) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > maxDomainInput {
		return "", false
	}
	if !isASCII(s) {
		var ok bool
		if s, ok = toASCII(s); !ok {
			return "", false
		}
	}
	if !validName(s, minLabels) {
		return "", false
	}
	// validName accepts upper case so that an invalid name costs no
	// allocation; lower it only now.
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s), true
		}
	}
	return s, true
}

// validName checks the label rules of canonName on an ASCII name, in
// either case.
func validName(s string, minLabels int) bool {
	if len(s) > maxDomainLen {
		return false
	}
	for n := 1; ; n++ {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return n >= minLabels && validTLD(s)
		}
		if !validLabel(s[:i]) {
			return false
		}
		s = s[i+1:]
	}
}

func validLabel(l string) bool {
	if l == "" || len(l) > maxLabelLen {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !isLDH(l[i]) && l[i] != '_' {
			return false
		}
	}
	first, last := l[0], l[len(l)-1]
	return first != '-' && first != '_' && last != '-' && last != '_'
}

func validTLD(l string) bool {
	if len(l) < 2 || len(l) > maxLabelLen {
		return false
	}
	if len(l) > 4 && strings.EqualFold(l[:4], "xn--") {
		for i := 4; i < len(l); i++ {
			if !isLDH(l[i]) {
				return false
			}
		}
		return l[len(l)-1] != '-'
	}
	for i := 0; i < len(l); i++ {
		if c := l[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// isLDH reports whether c is a letter, digit or hyphen (RFC 952/1123).
func isLDH(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// toASCII lower-cases a name holding non-ASCII runes and converts each
// non-ASCII label to an A-label. A Unicode label may hold only letters,
// marks and digits besides the ASCII label characters; it must not already
// claim to be an A-label or start or end with a hyphen.
func toASCII(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	s = strings.ToLower(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for {
		label, rest, more := strings.Cut(s, ".")
		if isASCII(label) {
			b.WriteString(label)
		} else {
			if !validULabel(label) {
				return "", false
			}
			b.WriteString("xn--")
			punycode(&b, label)
		}
		if !more {
			return b.String(), true
		}
		b.WriteByte('.')
		s = rest
	}
}

// validULabel checks a lower-cased label that holds non-ASCII runes.
func validULabel(l string) bool {
	if strings.HasPrefix(l, "xn--") || l[0] == '-' || l[len(l)-1] == '-' ||
		utf8.RuneCountInString(l) > maxLabelLen-len("xn--")-1 {
		return false
	}
	for _, r := range l {
		switch {
		case r < utf8.RuneSelf:
			if !isLDH(byte(r)) {
				return false
			}
		case unicode.IsLetter(r), unicode.IsMark(r), unicode.IsDigit(r):
		default:
			return false
		}
	}
	return true
}

// underSuffix reports whether name equals suffix or ends with "."+suffix.
func underSuffix(name, suffix string) bool {
	return strings.HasSuffix(name, suffix) &&
		(len(name) == len(suffix) || name[len(name)-len(suffix)-1] == '.')
}

// fileExtensionTLDs are delegated TLDs that are also common file
// extensions (Markdown, QuickTime, Perl, PostScript, Python, Rust, shell,
// zip archives): a name on one of them may be a host or a file. Read-only.
var fileExtensionTLDs = [...]string{"md", "mov", "pl", "ps", "py", "rs", "sh", "zip"}

// LooksLikeFileName reports whether v, as found in an alert, reads as well
// as a file name as it does as a domain: a name and one extension that is
// on fileExtensionTLDs, in any case (readme.md, setup.zip, Invoice.ZIP).
// A value with more labels (sklep.allegro.pl), a trailing dot or a port is
// written as a host. Which of the two v is depends on the field it came
// from, which only the caller knows.
func LooksLikeFileName(v string) bool {
	name, ext, ok := strings.Cut(strings.TrimSpace(v), ".")
	if !ok || name == "" {
		return false
	}
	for _, e := range fileExtensionTLDs {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// isPublic reports whether the canonical name can denote a public host:
// it is under a TLD IANA has delegated (config.json, access.log and
// setup.exe are file names, not hosts) and under no specialUse suffix. A
// name under a suffix the operator allowed is public whatever its TLD.
func isPublic(name string, allow []string) bool {
	for _, a := range allow {
		if underSuffix(name, a) {
			return true
		}
	}
	if !isTLD(name[strings.LastIndexByte(name, '.')+1:]) {
		return false
	}
	for _, s := range specialUse {
		if underSuffix(name, s) {
			return false
		}
	}
	return true
}
