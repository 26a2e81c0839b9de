package misp

import (
	"fmt"
	"reflect"
	"testing"
)

// The cache scope hashes this text: it must stay what fmt wrote in the
// first versions, or every existing store would lose its answers on
// upgrade.
func TestQuery_FilterKeyAsFmtWroteIt(t *testing.T) {
	yes, no := true, false
	cases := map[string]Query{
		"defaults":   {ToIDs: &yes, EnforceWarninglist: true, Limit: 100},
		"every kind": {ToIDs: &yes, Published: &no, EnforceWarninglist: true, Tags: []string{"tlp:white", `misp-galaxy:mitre-attack-pattern="Phishing - T1566"`}, ExcludeTags: []string{}, Limit: 100},
		"odd bytes":  {Tags: []string{"é", "\x00\xff", "a b"}, ExcludeTags: []string{"false-positive"}, Limit: 1},
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			if got, want := q.FilterKey(), fmtFilterKey(q); got != want {
				t.Errorf("FilterKey:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// fmtFilterKey is the format the first versions hashed.
func fmtFilterKey(q Query) string {
	str := func(b *bool) string {
		if b == nil {
			return "any"
		}
		return fmt.Sprint(*b)
	}
	return fmt.Sprintf("to_ids=%s published=%s warninglist=%t tags=%q exclude_tags=%q limit=%d",
		str(q.ToIDs), str(q.Published), q.EnforceWarninglist, q.Tags, q.ExcludeTags, q.Limit)
}

// Two keys pinned as literals, the form the first versions hashed.
func TestQuery_FilterKeyLiteral(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{ToIDs: &yes, EnforceWarninglist: true, Limit: 100}, `to_ids=true published=any warninglist=true tags=[] exclude_tags=[] limit=100`},
		{Query{ToIDs: &yes, Published: &yes, Tags: []string{"tlp:white", `a"b`}, ExcludeTags: []string{"false-positive"}, Limit: 50},
			`to_ids=true published=true warninglist=false tags=["tlp:white" "a\"b"] exclude_tags=["false-positive"] limit=50`},
	} {
		if got := tc.q.FilterKey(); got != tc.want {
			t.Errorf("FilterKey:\n got %s\nwant %s", got, tc.want)
		}
	}
}

// A filter added to Query but not to FilterKey would let the cache serve
// answers given under other settings. Every field but the looked-up values
// must change the key.
func TestQuery_FilterKeyCoversEveryFilter(t *testing.T) {
	perRequest := map[string]bool{"Values": true, "Types": true}
	base := Query{}.FilterKey()
	typ := reflect.TypeFor[Query]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if perRequest[f.Name] {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			var q Query
			setNonZero(t, reflect.ValueOf(&q).Elem().Field(i))
			if q.FilterKey() == base {
				t.Errorf("setting Query.%s does not change FilterKey: add it there (and so to the cache scope)", f.Name)
			}
		})
	}
}

func setNonZero(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.String:
		v.SetString("x")
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		setNonZero(t, s.Index(0))
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		v.Set(p) // a pointer to the zero value is already a filter (false)
	default:
		t.Fatalf("no non-zero value for %s: extend setNonZero", v.Type())
	}
}

func FuzzFilterKey(f *testing.F) {
	f.Add("tlp:white", "", 100, true)
	f.Add("\"\\\x00\xff\u2028", "x y", -1, false)
	f.Fuzz(func(t *testing.T, tag, exclude string, limit int, flag bool) {
		q := Query{ToIDs: &flag, EnforceWarninglist: flag, Tags: []string{tag, exclude}, ExcludeTags: []string{exclude}, Limit: limit}
		if got, want := q.FilterKey(), fmtFilterKey(q); got != want {
			t.Fatalf("FilterKey:\n got %q\nwant %q", got, want)
		}
	})
}
