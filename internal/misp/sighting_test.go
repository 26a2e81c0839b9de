package misp

import "testing"

func TestIsUUID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"9249a9e4-96db-4e3d-a8a0-b45dff69d435", true}, // a real attribute UUID from the demo event
		{"9249A9E4-96DB-4E3D-A8A0-B45DFF69D435", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{"9249a9e4-96db-4e3d-a8a0-b45dff69d43", false},   // one short
		{"9249a9e4-96db-4e3d-a8a0-b45dff69d4355", false}, // one long
		{"9249a9e4096db-4e3d-a8a0-b45dff69d435", false},  // no first dash
		{"9249a9e4-96db-4e3d-a8a0-b45dff69d43g", false},  // not hex
		{"{9249a9e4-96db-4e3d-a8a0-b45dff69d43}", false},
		{"9249a9e4-96db-4e3d-a8a0-b45dff69d43\u00e9", false},
	} {
		if got := IsUUID(tc.s); got != tc.want {
			t.Errorf("IsUUID(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
