package dashboard

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/custom-misp/custom-misp/internal/event"
	"github.com/custom-misp/custom-misp/internal/ioc"
	"github.com/custom-misp/custom-misp/internal/misp"
)

var update = flag.Bool("update", false, "rewrite dashboards/custom-misp.ndjson from NDJSON() (review the diff like code)")

// ndjsonFile is the committed file admins import.
var ndjsonFile = filepath.Join("..", "..", "dashboards", "custom-misp.ndjson")

// TestNDJSON_UpToDate holds the committed file to the generator, so that
// what is reviewed here is what ships. -update rewrites it.
func TestNDJSON_UpToDate(t *testing.T) {
	got := NDJSON()
	if *update {
		if err := os.MkdirAll(filepath.Dir(ndjsonFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ndjsonFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(ndjsonFile)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/dashboard -run TestNDJSON_UpToDate -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what NDJSON() writes; run go test ./internal/dashboard -run TestNDJSON_UpToDate -update and review the diff", ndjsonFile)
	}
	if !bytes.Equal(NDJSON(), got) {
		t.Error("NDJSON() gave different bytes on a second call")
	}
}

// TestSavedObjects checks the committed file as OpenSearch Dashboards'
// import would, and every field it names against the event schema and
// real Wazuh alerts.
func TestSavedObjects(t *testing.T) {
	nd, err := os.ReadFile(ndjsonFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range validate(nd, schema(t)) {
		t.Error(p)
	}
	objs, _ := parseLines(nd)
	types := map[string]int{}
	for _, o := range objs {
		types[o.Type]++
	}
	// What the issue asks for: ten visualizations, one saved search, one
	// dashboard, and no index pattern of our own.
	if diff := cmp.Diff(map[string]int{"visualization": 10, "search": 1, "dashboard": 1}, types); diff != "" {
		t.Errorf("object types (-want +got):\n%s", diff)
	}
}

// TestValidate_CatchesBreakage shows that each check can fail: every case
// breaks the real file or the real schema in one way and expects the
// problem to be named.
func TestValidate_CatchesBreakage(t *testing.T) {
	nd, err := os.ReadFile(ndjsonFile)
	if err != nil {
		t.Fatal(err)
	}
	real := schema(t)
	tests := []struct {
		name      string
		old, new  string // replaced once in the file ("" old: append new)
		dropField string // removed from the schema
		want      string // a reported problem contains this
	}{
		{name: "schema loses the TLP", dropField: "data.misp.tlp", want: `"data.misp.tlp"`},
		{name: "schema loses the MISP instance", dropField: "data.misp.instance", want: `"data.misp.instance"`},
		{name: "schema loses the error class (query field)", dropField: "data.misp.error", want: `"data.misp.error"`},
		{name: "schema loses a search column", dropField: "data.misp.source.description", want: `"data.misp.source.description"`},
		{name: "alerts lose agent.name", dropField: "agent.name", want: `"agent.name"`},
		{name: "aggregation on an unknown field",
			old: `\"field\":\"data.misp.indicator_kind\"`, new: `\"field\":\"data.misp.indicator_type\"`,
			want: `"data.misp.indicator_type"`},
		{name: "keyword suffix the template does not have",
			old: `\"field\":\"data.misp.threat_level\"`, new: `\"field\":\"data.misp.threat_level.keyword\"`,
			want: `"data.misp.threat_level.keyword"`},
		{name: "date histogram on a keyword field",
			old: `\"field\":\"timestamp\",\"interval\"`, new: `\"field\":\"data.misp.event_date\",\"interval\"`,
			want: `date_histogram on "data.misp.event_date"`},
		{name: "max on a keyword field",
			old: `\"field\":\"rule.level\"`, new: `\"field\":\"rule.description\"`,
			want: `max on "rule.description"`},
		{name: "aggregation on an alert field of unpinned type",
			old: `\"field\":\"agent.name\"`, new: `\"field\":\"rule.id\"`,
			want: `"rule.id", an alert field whose index type stockTypes does not pin`},
		{name: "search column unknown", old: `"data.misp.permalink"`, new: `"data.misp.link"`, want: `"data.misp.link"`},
		{name: "query on an unknown field", old: `data.misp.error:*`, new: `data.misp.err:*`, want: `"data.misp.err"`},
		{name: "duplicate id",
			old: `"id":"custom-misp-matches-by-tlp"`, new: `"id":"custom-misp-matches-over-time"`,
			want: "duplicate id"},
		{name: "dashboard panel points at a missing visualization",
			old: `{"id":"custom-misp-top-agents","name":"panel_4"`, new: `{"id":"custom-misp-top-agent","name":"panel_4"`,
			want: "visualization:custom-misp-top-agent"},
		{name: "another index pattern",
			old: `{"id":"wazuh-alerts-*"`, new: `{"id":"wazuh-alerts"`,
			want: "index-pattern:wazuh-alerts"},
		{name: "panel without its reference",
			old: `\"panelRefName\":\"panel_2\"`, new: `\"panelRefName\":\"panel_x\"`,
			want: `panelRefName "panel_x"`},
		{name: "migration version newer than OpenSearch Dashboards knows",
			old: `"visualization":"7.10.0"`, new: `"visualization":"7.11.0"`,
			want: "migrationVersion"},
		{name: "attribute the saved-object mapping lacks",
			old: `"timeRestore":false`, new: `"timeRestore":false,"timeFrom2":"now-24h"`,
			want: `attribute "timeFrom2"`},
		{name: "inline index instead of a reference",
			old: `\"indexRefName\":\"kibanaSavedObjectMeta.searchSourceJSON.index\"`, new: `\"index\":\"wazuh-alerts-*\"`,
			want: "inline index"},
		{name: "panel version the dashboard would migrate",
			old: `\"version\":\"2.13.0\"`, new: `\"version\":\"6.3.0\"`,
			want: "panel version"},
		{name: "line that is not JSON", new: "{not json\n", want: "line 13"},
		{name: "visState that is not JSON",
			old: `"visState":"{`, new: `"visState":"{{`,
			want: "visState"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := string(nd)
			if tt.old != "" {
				if !strings.Contains(broken, tt.old) {
					t.Fatalf("the file has no %q: the case tests nothing", tt.old)
				}
				broken = strings.Replace(broken, tt.old, tt.new, 1)
			} else {
				broken += tt.new
			}
			fields := real
			if tt.dropField != "" {
				if _, ok := fields[tt.dropField]; !ok {
					t.Fatalf("the schema has no %q: the case tests nothing", tt.dropField)
				}
				fields = maps.Clone(real)
				delete(fields, tt.dropField)
			}
			problems := validate([]byte(broken), fields)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got %q", tt.want, problems)
			}
		})
	}
}

// latestMigration is, per saved-object type, the newest key of its
// migrations map in OpenSearch Dashboards (1.x and 2.x alike):
// src/plugins/visualizations/server/saved_objects/visualization_migrations.ts
// ('7.10.0'), src/plugins/dashboard/server/saved_objects/dashboard_migrations.ts
// ('7.9.3'), src/plugins/discover/server/saved_objects/search_migrations.ts
// ('7.9.3'), src/plugins/data/server/saved_objects/index_pattern_migrations.ts
// ('7.6.0'). The document migrator refuses a migrationVersion above it.
var latestMigration = map[string]string{"visualization": "7.10.0", "dashboard": "7.9.3", "search": "7.9.3", "index-pattern": "7.6.0"}

// TestMigrationVersions holds the generator's table to OpenSearch
// Dashboards' (above), which the issue also names.
func TestMigrationVersions(t *testing.T) {
	if diff := cmp.Diff(latestMigration, MigrationVersion); diff != "" {
		t.Errorf("MigrationVersion (-OpenSearch Dashboards +ours):\n%s", diff)
	}
}

// mappedAttributes are the attributes the saved-objects index maps for
// each type (the "mappings" of visualization.ts, search.ts and
// dashboard.ts in OpenSearch Dashboards). The index is strict: an
// attribute outside the mapping makes the import fail.
var mappedAttributes = map[string][]string{
	"visualization": {"description", "kibanaSavedObjectMeta", "savedSearchRefName", "title", "uiStateJSON", "version", "visState"},
	"search":        {"columns", "description", "hits", "kibanaSavedObjectMeta", "sort", "title", "version"},
	"dashboard":     {"description", "hits", "kibanaSavedObjectMeta", "optionsJSON", "panelsJSON", "refreshInterval", "timeFrom", "timeRestore", "timeTo", "title", "version"},
}

// object is one parsed line.
type object struct {
	Attributes       map[string]json.RawMessage `json:"attributes"`
	ID               string                     `json:"id"`
	MigrationVersion map[string]string          `json:"migrationVersion"`
	References       []reference                `json:"references"`
	Type             string                     `json:"type"`
}

// topLevelKeys are the keys of an exported object that import reads.
var topLevelKeys = []string{"attributes", "id", "migrationVersion", "references", "type"}

// parseLines reads the file as the import does (routes/utils.ts
// createSavedObjectsStreamFromNdJson): split on newlines, skip blank
// lines, JSON.parse each.
func parseLines(nd []byte) ([]object, []string) {
	var objs []object
	var problems []string
	for i, line := range bytes.Split(nd, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(line, &keys); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: not a JSON object: %v", i+1, err))
			continue
		}
		for k := range keys {
			if !slices.Contains(topLevelKeys, k) {
				problems = append(problems, fmt.Sprintf("line %d: unexpected key %q", i+1, k))
			}
		}
		var o object
		if err := json.Unmarshal(line, &o); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", i+1, err))
			continue
		}
		objs = append(objs, o)
	}
	return objs, problems
}

// dataSourceID is an id OpenSearch Dashboards reads as "<data source
// uuid>_<object uuid>" (import/validate_object_id.ts).
var dataSourceID = regexp.MustCompile(`(?i)^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}_[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$`)

// validate returns every problem it finds, one line each: what the
// import would refuse, what would break a panel, every field a
// visualization, query or column names that fields lacks, and every
// aggregation on a field whose index type it cannot aggregate.
func validate(nd []byte, fields map[string]string) []string {
	objs, problems := parseLines(nd)
	bad := func(o object, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%s: ", o.Type, o.ID)+fmt.Sprintf(format, args...))
	}
	inFile := map[string]bool{}
	ids := map[string]bool{}
	for _, o := range objs {
		if ids[o.ID] {
			bad(o, "duplicate id")
		}
		ids[o.ID] = true
		inFile[o.Type+":"+o.ID] = true
	}
	for _, o := range objs {
		if o.ID == "" || dataSourceID.MatchString(o.ID) {
			bad(o, "id must be set and not look like <uuid>_<uuid>")
		}
		mapped, ok := mappedAttributes[o.Type]
		if !ok {
			bad(o, "type %q is not one this file should hold", o.Type)
			continue
		}
		if want := map[string]string{o.Type: latestMigration[o.Type]}; !reflect.DeepEqual(o.MigrationVersion, want) {
			bad(o, "migrationVersion %v, want %v", o.MigrationVersion, want)
		}
		for k := range o.Attributes {
			if !slices.Contains(mapped, k) {
				bad(o, "attribute %q is not in the %s mapping", k, o.Type)
			}
		}
		var title string
		if err := json.Unmarshal(o.Attributes["title"], &title); err != nil || title == "" {
			bad(o, "no title")
		}
		refs := map[string]reference{}
		for _, r := range o.References {
			if _, dup := refs[r.Name]; dup || r.Name == "" {
				bad(o, "reference name %q empty or repeated", r.Name)
			}
			refs[r.Name] = r
			if !(r.Type == "index-pattern" && r.ID == IndexPattern) && !inFile[r.Type+":"+r.ID] {
				bad(o, "reference %s:%s is neither in the file nor index-pattern:%s", r.Type, r.ID, IndexPattern)
			}
		}
		var named []string // fields this object reads
		named = append(named, checkSearchSource(o, refs, bad)...)
		switch o.Type {
		case "visualization":
			for _, a := range checkVisualization(o, title, bad) {
				named = append(named, a.field)
				typ, known := fields[a.field]
				switch {
				case known && typ == "":
					bad(o, "%s on %q, an alert field whose index type stockTypes does not pin", a.agg, a.field)
				case known && !slices.Contains(aggregatable[a.agg], typ):
					bad(o, "%s on %q, whose index type is %q (want one of %q)", a.agg, a.field, typ, aggregatable[a.agg])
				}
			}
		case "search":
			var columns []string
			var sort [][]string
			if json.Unmarshal(o.Attributes["columns"], &columns) != nil || len(columns) == 0 {
				bad(o, "no columns")
			}
			if json.Unmarshal(o.Attributes["sort"], &sort) != nil {
				bad(o, "sort is not [[field, direction]]")
			}
			named = append(named, columns...)
			for _, s := range sort {
				if len(s) != 2 {
					bad(o, "sort entry %q is not [field, direction]", s)
					continue
				}
				named = append(named, s[0])
			}
		case "dashboard":
			checkDashboard(o, refs, bad)
		}
		for _, f := range named {
			if _, ok := fields[f]; !ok {
				bad(o, "field %q is in no event custom-misp sends and no sample alert", f)
			}
		}
	}
	return problems
}

// checkSearchSource checks kibanaSavedObjectMeta.searchSourceJSON and
// returns the fields its query names.
func checkSearchSource(o object, refs map[string]reference, bad func(object, string, ...any)) []string {
	var meta struct {
		SearchSourceJSON string `json:"searchSourceJSON"`
	}
	if err := json.Unmarshal(o.Attributes["kibanaSavedObjectMeta"], &meta); err != nil {
		bad(o, "kibanaSavedObjectMeta: %v", err)
		return nil
	}
	var ss struct {
		Index        *string `json:"index"`
		IndexRefName string  `json:"indexRefName"`
		Query        struct {
			Query    string `json:"query"`
			Language string `json:"language"`
		} `json:"query"`
		Filter []json.RawMessage `json:"filter"`
	}
	if err := json.Unmarshal([]byte(meta.SearchSourceJSON), &ss); err != nil {
		bad(o, "searchSourceJSON: %v", err)
		return nil
	}
	if ss.Index != nil {
		bad(o, "searchSourceJSON has an inline index; name it through references (indexRefName)")
	}
	if o.Type != "dashboard" {
		r, ok := refs[ss.IndexRefName]
		if ss.IndexRefName == "" || !ok || r.Type != "index-pattern" {
			bad(o, "searchSourceJSON indexRefName %q names no index-pattern reference", ss.IndexRefName)
		}
	}
	if ss.Query.Language != "kuery" || len(ss.Filter) != 0 {
		bad(o, "want a kuery query and no filters, got %q and %d filters", ss.Query.Language, len(ss.Filter))
	}
	return queryFields(ss.Query.Query)
}

// kueryField is a field name in front of ":" in a DQL query, once quoted
// values are taken out.
var (
	kueryQuoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	kueryField  = regexp.MustCompile(`([A-Za-z_@][\w.@]*)\s*:`)
)

func queryFields(q string) []string {
	var fields []string
	for _, m := range kueryField.FindAllStringSubmatch(kueryQuoted.ReplaceAllString(q, `""`), -1) {
		fields = append(fields, m[1])
	}
	return fields
}

// aggField is a field an aggregation reads, and the aggregation's type.
type aggField struct{ agg, field string }

// aggregatable lists, per aggregation type the panels use, the index
// types it works on. A text field cannot be aggregated at all, which is
// why Wazuh maps strings as keyword.
var aggregatable = map[string][]string{
	"terms":          {"keyword", "long", "boolean"},
	"cardinality":    {"keyword", "long", "boolean"},
	"top_hits":       {"keyword", "long", "boolean", "date"},
	"max":            {"long", "date"},
	"date_histogram": {"date"},
}

// checkVisualization checks visState and uiStateJSON and returns the
// fields the aggregations read.
func checkVisualization(o object, title string, bad func(object, string, ...any)) []aggField {
	var visJSON, uiJSON string
	if json.Unmarshal(o.Attributes["visState"], &visJSON) != nil || json.Unmarshal(o.Attributes["uiStateJSON"], &uiJSON) != nil {
		bad(o, "visState and uiStateJSON must be JSON strings")
		return nil
	}
	var ui map[string]any
	if err := json.Unmarshal([]byte(uiJSON), &ui); err != nil {
		bad(o, "uiStateJSON: %v", err)
	}
	var vis struct {
		Title string           `json:"title"`
		Type  string           `json:"type"`
		Aggs  []map[string]any `json:"aggs"`
	}
	if err := json.Unmarshal([]byte(visJSON), &vis); err != nil {
		bad(o, "visState: %v", err)
		return nil
	}
	if vis.Title != title || vis.Type == "" || len(vis.Aggs) == 0 {
		bad(o, "visState: title %q (object %q), type %q, %d aggs", vis.Title, title, vis.Type, len(vis.Aggs))
	}
	var fields []aggField
	aggIDs := map[any]bool{}
	for _, a := range vis.Aggs {
		if aggIDs[a["id"]] {
			bad(o, "visState: agg id %v repeated", a["id"])
		}
		aggIDs[a["id"]] = true
		params, _ := a["params"].(map[string]any)
		typ, _ := a["type"].(string)
		if f, ok := params["field"].(string); ok {
			if _, known := aggregatable[typ]; !known {
				bad(o, "visState: agg type %q is not one this file uses", typ)
			}
			fields = append(fields, aggField{typ, f})
		}
		if f, ok := params["sortField"].(string); ok {
			fields = append(fields, aggField{"max", f}) // sorting needs what max needs
		}
		if ob, ok := params["orderBy"].(string); ok && !aggIDs[ob] && ob != "_key" {
			bad(o, "visState: agg %v is ordered by agg %q, which comes nowhere before it", a["id"], ob)
		}
	}
	return fields
}

// checkDashboard checks panelsJSON: every panel names a reference, sits
// inside the 48-column grid without overlapping another, and has a
// version the dashboard's panel migration leaves alone
// (common/migrate_to_730_panels.ts rewrites 6.x to 7.2 panels).
func checkDashboard(o object, refs map[string]reference, bad func(object, string, ...any)) {
	var panelsJSON, optionsJSON string
	if json.Unmarshal(o.Attributes["panelsJSON"], &panelsJSON) != nil || json.Unmarshal(o.Attributes["optionsJSON"], &optionsJSON) != nil {
		bad(o, "panelsJSON and optionsJSON must be JSON strings")
		return
	}
	var options map[string]any
	if err := json.Unmarshal([]byte(optionsJSON), &options); err != nil {
		bad(o, "optionsJSON: %v", err)
	}
	var panels []struct {
		Version      string `json:"version"`
		PanelIndex   string `json:"panelIndex"`
		PanelRefName string `json:"panelRefName"`
		GridData     struct {
			X, Y, W, H int
			I          string
		} `json:"gridData"`
	}
	if err := json.Unmarshal([]byte(panelsJSON), &panels); err != nil {
		bad(o, "panelsJSON: %v", err)
		return
	}
	used := map[string]bool{}
	cells := map[[2]int]string{}
	for _, p := range panels {
		if _, ok := refs[p.PanelRefName]; !ok {
			bad(o, "panel %s: panelRefName %q names no reference", p.PanelIndex, p.PanelRefName)
		}
		if used[p.PanelIndex] || p.GridData.I != p.PanelIndex {
			bad(o, "panel %s: panelIndex repeated or not the gridData i", p.PanelIndex)
		}
		used[p.PanelIndex] = true
		var major, minor int
		if _, err := fmt.Sscanf(p.Version, "%d.%d", &major, &minor); err != nil || major == 6 || major == 7 && minor < 3 {
			bad(o, "panel %s: panel version %q is one the dashboard migrates", p.PanelIndex, p.Version)
		}
		g := p.GridData
		if g.X < 0 || g.Y < 0 || g.W <= 0 || g.H <= 0 || g.X+g.W > 48 {
			bad(o, "panel %s: gridData %+v outside the 48-column grid", p.PanelIndex, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, taken := cells[[2]int{x, y}]; taken {
					bad(o, "panel %s overlaps panel %s", p.PanelIndex, other)
					return
				}
				cells[[2]int{x, y}] = p.PanelIndex
			}
		}
	}
	if len(panels) != len(refs) {
		bad(o, "%d panels for %d references", len(panels), len(refs))
	}
}

// schema is every field a dashboard can read in wazuh-alerts-*, with its
// index type where the test knows it: the fields of the events
// custom-misp sends, built by internal/event with every optional field set
// and written by its own JSON writer, under "data." as analysisd indexes
// them (strings become keyword through the template's string_as_keyword,
// booleans boolean); and the fields of the real Wazuh 4.14.7 alerts in
// testdata/alerts, typed by stockTypes where a panel aggregates them ("" :
// present, type not pinned here).
func schema(t testing.TB) map[string]string {
	fields := map[string]string{}
	for _, m := range sampleEvents(t) {
		var v any
		if err := json.Unmarshal(m.AppendJSON(nil), &v); err != nil {
			t.Fatal(err)
		}
		flatten("data", v, fields, true)
	}
	alerts, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "alerts", "*.json"))
	extra, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "alerts", "extra", "*.json"))
	n := 0
	for _, name := range append(alerts, extra...) {
		if strings.HasSuffix(name, "expected.json") {
			continue
		}
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		flatten("", v, fields, false)
		n++
	}
	if n < 30 {
		t.Fatalf("only %d sample alerts found under testdata/alerts", n)
	}
	for f, typ := range stockTypes {
		if _, ok := fields[f]; !ok {
			t.Fatalf("no sample alert has %q", f)
		}
		fields[f] = typ
	}
	return fields
}

// stockTypes are the index types, in Wazuh 4.x's alerts template
// (extensions/elasticsearch/7.x/wazuh-template.json), of the stock alert
// fields the panels aggregate or sort on.
var stockTypes = map[string]string{
	"timestamp":        "date",
	"agent.name":       "keyword",
	"rule.description": "keyword",
	"rule.groups":      "keyword",
	"rule.level":       "long",
}

// flatten adds the dotted path of every leaf of v to fields; an array
// adds its elements under its own path, as the indexer maps them. With
// typed, a leaf gets the type the template's dynamic mapping gives it.
func flatten(prefix string, v any, fields map[string]string, typed bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, fields, typed)
		}
	case []any:
		for _, e := range v {
			flatten(prefix, e, fields, typed)
		}
	default:
		typ := ""
		if typed {
			switch v.(type) {
			case string:
				typ = "keyword"
			case bool:
				typ = "boolean"
			case float64:
				typ = "long"
			}
		}
		if _, seen := fields[prefix]; !seen || typ != "" {
			fields[prefix] = typ
		}
	}
}

// sampleEvents builds one event of each kind through internal/event, with
// every optional field set (TestSampleEvents_EveryFieldSet holds them to
// that). The match events describe real MISP 2.5 attributes: the capture
// of a restSearch with tags (TLP, ATT&CK galaxy) in internal/mispfake,
// and a CIDR attribute as the mirror matches one.
func sampleEvents(t testing.TB) []event.Message {
	raw, err := os.ReadFile(filepath.Join("..", "mispfake", "testdata", "captures", "restsearch_context_and_tags.json"))
	if err != nil {
		t.Fatal(err)
	}
	var capture struct {
		Response struct {
			Attribute []misp.Attribute `json:"Attribute"`
		} `json:"response"`
	}
	if err := json.Unmarshal(raw, &capture); err != nil || len(capture.Response.Attribute) == 0 {
		t.Fatalf("capture: %v, %d attributes", err, len(capture.Response.Attribute))
	}
	attrs := capture.Response.Attribute
	src := event.Source{AlertID: "1795798024.117930", RuleID: "61650", RuleLevel: "3", Description: "Sysmon - Event 22: DNS Query event"}
	yes := true

	live := event.Match(ioc.Indicator{Kind: ioc.IP, Value: string(attrs[0].Value), Raw: "::ffff:" + string(attrs[0].Value), Field: "data.win.eventdata.destinationIp"},
		attrs, "https://misp.example.org", src)
	live.MISP.Cached = &yes
	live.MISP.Instance = "misp-eu"

	network := attrs[0]
	network.Value, network.Type = "203.0.113.0/24", "ip-dst"
	mirror := event.Match(ioc.Indicator{Kind: ioc.IP, Value: "203.0.113.77", Raw: "203.0.113.77", Field: "data.srcip"},
		[]misp.Attribute{network}, "https://misp.example.org", src)
	mirror.MISP.Lookup = "mirror"
	mirror.MISP.MirrorAge = "212"
	mirror.MISP.Truncated = true

	failure := event.Failure(misp.ClassRateLimited, 429, "rate limit reached", 3, src)
	failure.MISP.Suppressed = "9"
	job := event.Job("mirror_sync", "failed", "connection refused")
	return []event.Message{live, mirror, failure, job}
}

// TestSampleEvents_EveryFieldSet makes the schema follow the code: a field
// added to event.Payload or event.Source must be set in sampleEvents, so a
// dashboard may use it, and a field removed from them drops out of the
// schema (and fails TestSavedObjects if a panel reads it).
func TestSampleEvents_EveryFieldSet(t *testing.T) {
	events := sampleEvents(t)
	check := func(typ reflect.Type, value func(event.Message) reflect.Value) {
		for i := range typ.NumField() {
			set := slices.ContainsFunc(events, func(m event.Message) bool { return !value(m).Field(i).IsZero() })
			if !set {
				t.Errorf("no sample event sets %s.%s: set it in sampleEvents", typ.Name(), typ.Field(i).Name)
			}
		}
	}
	check(reflect.TypeFor[event.Payload](), func(m event.Message) reflect.Value { return reflect.ValueOf(m.MISP) })
	check(reflect.TypeFor[event.Source](), func(m event.Message) reflect.Value {
		if m.MISP.Source == nil {
			return reflect.ValueOf(event.Source{})
		}
		return reflect.ValueOf(*m.MISP.Source)
	})
}

// TestDoc_PanelTable holds the panel table of docs/dashboard.md to the
// panels: a row per panel and the saved search, titled as in the
// dashboard, naming exactly the fields the panel aggregates (or the
// search shows).
func TestDoc_PanelTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "dashboard.md"))
	if err != nil {
		t.Fatal(err)
	}
	inDoc := map[string][]string{}
	backticked := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| MISP ") || len(cells) != 4 {
			continue
		}
		title := strings.TrimSuffix(strings.TrimPrefix(cells[0], "| "), " (saved search)")
		var fields []string
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			fields = append(fields, m[1])
		}
		inDoc[title] = fields
	}
	want := map[string][]string{"MISP enriched alerts": searchColumns}
	for _, v := range panels() {
		var fields []string
		for _, a := range v.aggs {
			if f, ok := a["params"].(map[string]any)["field"].(string); ok {
				fields = append(fields, f)
			}
		}
		want[v.title] = fields
	}
	if diff := cmp.Diff(want, inDoc); diff != "" {
		t.Errorf("docs/dashboard.md panel table (-panels +doc):\n%s", diff)
	}
}
