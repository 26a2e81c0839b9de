package ioc

import (
	"strings"
	"testing"
)

func TestNormalize_Hash(t *testing.T) {
	const (
		eicarMD5    = "44d88612fea8a8f36de82e1278abb02f"
		emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		emptySHA1   = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	)
	sha512 := "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	tests := []struct {
		name string
		k    Kind
		in   string
		want string // "" means rejected
	}{
		{"md5 eicar stays valid", MD5, eicarMD5, eicarMD5},
		{"md5 upper case from sysmon", MD5, strings.ToUpper(eicarMD5), eicarMD5},
		{"sha1 empty file stays valid", SHA1, emptySHA1, emptySHA1},
		{"sha256 empty file stays valid", SHA256, emptySHA256, emptySHA256},
		{"sha512 empty file", SHA512, strings.ToUpper(sha512), sha512},
		{"imphash", Imphash, "0260E20BABE90A4695F5D896C7489486", "0260e20babe90a4695f5d896c7489486"},
		{"imphash all zero placeholder", Imphash, strings.Repeat("0", 32), ""},
		{"sha256 all zero", SHA256, strings.Repeat("0", 64), ""},
		{"md5 all f placeholder", MD5, strings.Repeat("F", 32), ""},
		{"md5 too short", MD5, eicarMD5[:31], ""},
		{"md5 too long", MD5, eicarMD5 + "0", ""},
		{"sha1 given as md5", MD5, emptySHA1, ""},
		{"md5 given as sha1", SHA1, eicarMD5, ""},
		{"non-hex", MD5, "g4d88612fea8a8f36de82e1278abb02f", ""},
		{"sysmon prefix kept", MD5, "MD5=" + eicarMD5, ""},
		{"0x prefix", SHA1, "0x" + emptySHA1[:38], ""},
		{"inner space", MD5, "44d88612fea8a8f3 de82e1278abb02f", ""},
		{"surrounding space", MD5, " " + eicarMD5 + " ", eicarMD5},
		{"empty", MD5, "", ""},
		{"not a hash kind", Domain, eicarMD5, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(tc.k, tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Normalize(%s, %q) = %q, %v; want %q", tc.k, tc.in, got, ok, tc.want)
			}
		})
	}
}
