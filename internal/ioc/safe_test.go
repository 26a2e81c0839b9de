package ioc

import (
	"strings"
	"testing"
)

func TestSafe(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"domain", "evil.com", true},
		{"url with inner percent", "http://evil.com/a%20b", true},
		{"single ampersand and pipe", "a&b|c", true},
		{"empty", "", false},
		{"negation", "!1.2.3.4", false},
		{"inner bang", "a!b", true},
		{"leading percent", "%evil.com", false},
		{"trailing percent", "evil.com%", false},
		{"and", "a&&b", false},
		{"or", "a||b", false},
		{"newline", "a\nb", false},
		{"nul", "a\x00b", false},
		{"del", "a\x7fb", false},
		{"c1 control", "a\u0085b", false},
		{"invalid utf8", "a\xffb", false},
		{"replacement char", "a\ufffdb", false},
		{"bmp", "http://evil.com/ü", true},
		{"astral (utf8mb3)", "a😀b", false},
		{"max length", strings.Repeat("a", MaxValueLen), true},
		{"over max length", strings.Repeat("a", MaxValueLen+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Safe(tc.in); got != tc.want {
				t.Errorf("Safe(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
