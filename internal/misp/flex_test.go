package misp

import (
	"encoding/json"
	"testing"
)

func TestFlex_AcceptsWhatMISPVersionsSend(t *testing.T) {
	// MISP 2.5 sends ids as strings and flags as booleans; older servers
	// and proxies send numbers, "0"/"1" and null (misp-and-peers.md §4.4).
	var v struct {
		ID    FlexString `json:"id"`
		Num   FlexString `json:"num"`
		Null  FlexString `json:"null"`
		Bool  FlexString `json:"bool"`
		ToIDs FlexBool   `json:"to_ids"`
		One   FlexBool   `json:"one"`
		Str1  FlexBool   `json:"str1"`
		Zero  FlexBool   `json:"zero"`
		Nil   FlexBool   `json:"nil"`
	}
	in := `{"id":"12","num":29791818362,"null":null,"bool":true,"to_ids":true,"one":1,"str1":"1","zero":"0","nil":null}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != "12" || v.Num != "29791818362" || v.Null != "" || v.Bool != "true" {
		t.Errorf("strings: %+v", v)
	}
	if !v.ToIDs || !v.One || !v.Str1 || v.Zero || v.Nil {
		t.Errorf("bools: %+v", v)
	}
	if err := json.Unmarshal([]byte(`{"id":{"x":1}}`), &v); err == nil {
		t.Error("an object as an id was accepted")
	}
}
