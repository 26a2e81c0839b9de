package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Every line Report prints ends with a hint (README "Exit codes"): the
// error's own, else one for its exit code.
func TestReport_EveryLineEndsWithAHint(t *testing.T) {
	for code := ExitInternal; code <= ExitMISP; code++ {
		var out bytes.Buffer
		got := Report(&out, Fail(code, errors.New("something\nhappened"), ""))
		line := out.String()
		if got != code {
			t.Errorf("code %d: Report returned %d", code, got)
		}
		if !strings.HasPrefix(line, "custom-misp: something happened (hint: ") || !strings.HasSuffix(line, ")\n") || strings.Contains(line, "(hint: )") {
			t.Errorf("code %d: %q, want one line ending with a hint", code, line)
		}
	}
	var out bytes.Buffer
	if got := Report(&out, errors.New("plain")); got != ExitInternal || !strings.Contains(out.String(), "(hint: a bug") {
		t.Errorf("an error without a code: %d %q", got, out.String())
	}
	out.Reset()
	Report(&out, Fail(ExitConfig, errors.New("x"), "own hint"))
	if out.String() != "custom-misp: x (hint: own hint)\n" {
		t.Errorf("own hint: %q", out.String())
	}
}
