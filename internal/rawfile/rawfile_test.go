package rawfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	cases := []struct {
		name  string
		data  []byte
		limit int
		want  []byte
	}{
		{"empty", nil, 10, []byte{}},
		{"small", []byte(`{"a":1}`), 100, []byte(`{"a":1}`)},
		{"at the limit", []byte("12345"), 5, []byte("12345")},
		{"over the limit: limit+1 bytes", []byte("123456789"), 5, []byte("123456")},
		{"large under the limit", big, len(big), big},
		{"large over the limit", big, 1000, big[:1001]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(write(tc.name, tc.data), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

// A file without a size, such as one under /proc, is read to its end.
func TestRead_SizelessFile(t *testing.T) {
	want, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	got, err := Read("/proc/self/status", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Both list this process; only its name line is certain to match.
	if !bytes.HasPrefix(got, want[:bytes.IndexByte(want, '\n')]) || len(got) < 512 {
		t.Errorf("got %d bytes starting %q", len(got), got[:min(len(got), 40)])
	}
}

// Errors read as os.Open's do: callers unwrap them to the errno.
func TestRead_Errors(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(filepath.Join(dir, "missing"), 10)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || !errors.Is(err, fs.ErrNotExist) || errors.Unwrap(err) != syscall.ENOENT {
		t.Errorf("missing file: %v", err)
	}
	_, err = Read(dir, 10)
	if !errors.As(err, &pe) || pe.Op != "read" || errors.Unwrap(err) != syscall.EISDIR {
		t.Errorf("directory: %v", err)
	}
}
