package ioc

import (
	"strings"
	"unicode/utf8"
)

// Bootstring parameters for punycode (RFC 3492 §5).
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 0x80
)

// punycode appends the RFC 3492 encoding of label (without the "xn--"
// prefix) to b. Callers cap the label at 58 runes, so delta stays far below
// overflow (at most 0x10FFFF × 59 < 2^31) and the encoding is bounded; the
// overflow checks of §6.4 are therefore not needed.
func punycode(b *strings.Builder, label string) {
	n, delta, bias := pcInitialN, 0, pcInitialBias

	// Basic code points first, then a delimiter if there were any.
	basic, total := 0, 0
	for _, r := range label {
		total++
		if r < utf8.RuneSelf {
			b.WriteByte(byte(r))
			basic++
		}
	}
	if basic > 0 {
		b.WriteByte('-')
	}

	// Then, for each code point in increasing order, the deltas between
	// insertion states (§6.3).
	for h := basic; h < total; {
		m := int(utf8.MaxRune) + 1
		for _, r := range label {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, r := range label {
			if int(r) < n {
				delta++
				continue
			}
			if int(r) > n {
				continue
			}
			q := delta
			for k := pcBase; ; k += pcBase {
				t := k - bias
				if t < pcTMin {
					t = pcTMin
				} else if t > pcTMax {
					t = pcTMax
				}
				if q < t {
					break
				}
				b.WriteByte(pcDigit(t + (q-t)%(pcBase-t)))
				q = (q - t) / (pcBase - t)
			}
			b.WriteByte(pcDigit(q))
			bias = pcAdapt(delta, h+1, h == basic)
			delta = 0
			h++
		}
		delta++
		n++
	}
}

// pcAdapt is the bias adaptation function of RFC 3492 §6.1.
func pcAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// pcDigit maps 0–25 to a–z and 26–35 to 0–9 (lower case, as DNS stores).
func pcDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}
