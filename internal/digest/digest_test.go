package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

func TestSum256_KnownAnswers(t *testing.T) {
	// FIPS 180-4 examples and the empty string.
	tests := map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq": "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	}
	for in, want := range tests {
		got := Sum256([]byte(in))
		if hex.EncodeToString(got[:]) != want {
			t.Errorf("Sum256(%q) = %x, want %s", in, got, want)
		}
	}
}

func TestSum256_MatchesCrypto(t *testing.T) {
	// Every length around the 55/56/64-byte padding edges, and random data.
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if got, want := Sum256(data), sha256.Sum256(data); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
	}
}

func FuzzSum256(f *testing.F) {
	f.Add([]byte("custom-misp cache v1\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Sum256(data), sha256.Sum256(data); got != want {
			t.Fatalf("%x: %x, want %x", data, got, want)
		}
	})
}
