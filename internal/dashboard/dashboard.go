// Package dashboard builds dashboards/custom-misp.ndjson: the saved objects
// (visualizations, a saved search and the "MISP matches" dashboard) that an
// admin imports into the Wazuh dashboard 4.x (OpenSearch Dashboards 1.x/2.x,
// Dashboard management > Saved objects > Import).
//
// The objects are written out from Go, not exported from a running
// dashboard, so that they are reviewable, deterministic (the same source
// gives the same bytes) and tested against the event schema of
// internal/event (dashboard_test.go). They have the shape of an OpenSearch
// Dashboards export, as Wazuh ships its own: one object per line,
// visState, uiStateJSON, panelsJSON and searchSourceJSON as JSON strings,
// the index pattern named through references and never by an inline
// "index" key.
//
// Every object reads the stock index pattern whose id is "wazuh-alerts-*"
// (the Wazuh dashboard creates it; its time field is "timestamp"). The file
// does not define that index pattern: an imported copy would replace the
// stock one, field list and all, and the Wazuh dashboard owns it. Wazuh's
// index template maps unknown strings as keyword, so every data.misp.*
// string is aggregatable under its own name (no ".keyword" suffix).
package dashboard

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// IndexPattern is the id of the stock Wazuh alerts index pattern every
// object here reads.
const IndexPattern = "wazuh-alerts-*"

// TimeField is the time field of the wazuh-alerts-* index pattern: the
// alert's own "timestamp".
const TimeField = "timestamp"

// DashboardID is the id of the "MISP matches" dashboard.
const DashboardID = "custom-misp-dashboard"

// SearchID is the id of the saved search of enriched alerts.
const SearchID = "custom-misp-enriched-alerts"

// MigrationVersion is the migrationVersion of each saved object type: the
// latest migration OpenSearch Dashboards has for the type (see
// TestMigrationVersions). An object that claims a newer version is refused
// on import ("belongs to a more recent version"), and one that claims an
// older version is migrated again, so the latest known is what an export
// from the Wazuh dashboard carries.
var MigrationVersion = map[string]string{
	"visualization": "7.10.0",
	"search":        "7.9.3",
	"dashboard":     "7.9.3",
	"index-pattern": "7.6.0",
}

// panelVersion is the "version" of each dashboard panel: the OpenSearch
// Dashboards release Wazuh's own exported dashboards carry. Any release of
// the 1.x/2.x line is left alone by the dashboard's panel migration, which
// rewrites only versions 6.x to 7.2.
const panelVersion = "2.13.0"

// Rule groups (rules/README.md) the panels filter on.
const (
	// matchQuery selects match alerts but not the correlation rule 117630,
	// which repeats the fields of the match it fires on and would count it
	// twice.
	matchQuery = `rule.groups:"misp_match" and not rule.groups:"misp_correlation"`
	// errorQuery selects lookup errors; failed operator jobs share the
	// misp_error group but carry no misp.error class.
	errorQuery = `rule.groups:"misp_error" and data.misp.error:*`
	opsQuery   = `rule.groups:"misp_ops"`
	listQuery  = `rule.groups:"misp_list"`
	// searchQuery is every match alert, correlations included: the saved
	// search is a list for analysts, not a count.
	searchQuery = `rule.groups:"misp_match"`
)

// threatColors keeps the colour of a threat level the same in every chart.
var threatColors = map[string]string{"high": "#E7664C", "medium": "#D6BF57", "low": "#54B399", "undefined": "#A6A6A6"}

// grid places a panel on the dashboard's 48-column grid.
type grid struct{ x, y, w, h int }

// visualization is one panel of the dashboard.
type visualization struct {
	id, title, description string
	query                  string
	visType                string
	params                 map[string]any
	aggs                   []map[string]any
	uiState                map[string]any
	grid                   grid
}

// Panels lists the visualizations in dashboard order. Each description says
// what question the panel answers (docs/dashboard.md repeats them).
func panels() []visualization {
	return []visualization{
		{
			id:          "custom-misp-matches-over-time",
			title:       "MISP matches over time by threat level",
			description: "When did alerts match MISP, and how severe were the MISP events they matched?",
			query:       matchQuery,
			visType:     "histogram",
			params:      xyParams("histogram"),
			aggs: []map[string]any{
				count(),
				dateHistogram("2"),
				terms("3", "group", "data.misp.threat_level", 4, "Threat level", ""),
			},
			uiState: map[string]any{"vis": map[string]any{"colors": threatColors}},
			grid:    grid{0, 0, 32, 14},
		},
		{
			id:          "custom-misp-matches-by-tlp",
			title:       "MISP matches by TLP",
			description: "How may the matched intelligence be shared? The most restrictive TLP tag of each match; no TLP tag is its own slice.",
			query:       matchQuery,
			visType:     "pie",
			params:      pieParams(),
			aggs:        []map[string]any{count(), terms("2", "segment", "data.misp.tlp", 6, "TLP", "no TLP tag")},
			grid:        grid{32, 0, 16, 14},
		},
		{
			id:          "custom-misp-top-indicators",
			title:       "MISP top matched indicators",
			description: "Which indicators from our alerts matched MISP most often, of what kind, in which MISP event?",
			query:       matchQuery,
			visType:     "table",
			params:      tableParams(),
			aggs: []map[string]any{
				count(),
				terms("2", "bucket", "data.misp.indicator", 20, "Indicator", ""),
				terms("3", "bucket", "data.misp.indicator_kind", 1, "Kind", ""),
				terms("4", "bucket", "data.misp.event_id", 3, "MISP event", ""),
				topHit("5", "data.misp.event_info", "Event title"),
			},
			grid: grid{0, 14, 24, 16},
		},
		{
			id:          "custom-misp-top-events",
			title:       "MISP top events by matches",
			description: "Which MISP events do our alerts match most, how severe are they, and on how many agents and indicators?",
			query:       matchQuery,
			visType:     "table",
			params:      tableParams(),
			aggs: []map[string]any{
				count(),
				terms("2", "bucket", "data.misp.event_id", 20, "MISP event", ""),
				terms("3", "bucket", "data.misp.event_info", 1, "Event title", ""),
				terms("4", "bucket", "data.misp.threat_level", 1, "Threat level", ""),
				cardinality("5", "agent.name", "Agents"),
				cardinality("6", "data.misp.indicator", "Indicators"),
			},
			grid: grid{24, 14, 24, 16},
		},
		{
			id:          "custom-misp-top-agents",
			title:       "MISP agents with the most matches",
			description: "Which agents see the most MISP indicators, how many different ones, and how high did their alerts rank?",
			query:       matchQuery,
			visType:     "table",
			params:      tableParams(),
			aggs: []map[string]any{
				count(),
				terms("2", "bucket", "agent.name", 20, "Agent", ""),
				cardinality("3", "data.misp.indicator", "Indicators"),
				maxOf("4", "rule.level", "Highest level"),
			},
			grid: grid{0, 30, 16, 15},
		},
		{
			id:          "custom-misp-matches-by-technique",
			title:       "MISP matches by ATT&CK technique",
			description: "Which ATT&CK techniques do the matched MISP attributes and events name (misp-galaxy:mitre-attack-pattern tags)?",
			query:       matchQuery,
			visType:     "table",
			params:      tableParams(),
			aggs: []map[string]any{
				count(),
				terms("2", "bucket", "data.misp.mitre_techniques", 20, "ATT&CK technique", ""),
			},
			grid: grid{16, 30, 16, 15},
		},
		{
			id:          "custom-misp-matches-by-instance",
			title:       "MISP matches by MISP server",
			description: "Which MISP server answered? Only with several servers configured (option instances); with one, every match is in the single-server slice.",
			query:       matchQuery,
			visType:     "pie",
			params:      pieParams(),
			aggs:        []map[string]any{count(), terms("2", "segment", "data.misp.instance", 10, "MISP server", "single server")},
			grid:        grid{32, 30, 16, 15},
		},
		{
			id:          "custom-misp-errors-over-time",
			title:       "MISP lookup errors over time by class",
			description: "When did lookups fail, and why (auth, rate_limited, unavailable, timeout, tls, bad_response, config, stale_mirror, no_mirror, forbidden)?",
			query:       errorQuery,
			visType:     "histogram",
			params:      xyParams("histogram"),
			aggs: []map[string]any{
				count(),
				dateHistogram("2"),
				terms("3", "group", "data.misp.error", 10, "Error class", ""),
			},
			grid: grid{0, 45, 24, 14},
		},
		{
			id:          "custom-misp-operator-jobs",
			title:       "MISP operator jobs",
			description: "Did the feeds fetch, the mirror sync and the CDB export run, and did they succeed? A successful sync is level 2 and becomes an alert only if you raise rule 117663.",
			query:       opsQuery,
			visType:     "table",
			params:      tableParams(),
			aggs: []map[string]any{
				count(),
				terms("2", "bucket", "data.misp.operation", 10, "Job", ""),
				terms("3", "bucket", "data.misp.result", 2, "Result", ""),
				maxOf("4", TimeField, "Last run"),
				topHit("5", "data.misp.message", "Last message"),
			},
			grid: grid{24, 45, 24, 14},
		},
		{
			id:          "custom-misp-cdb-list-hits",
			title:       "MISP CDB list hits",
			description: "Which events did analysisd find in the MISP CDB lists (rules 117670-117689), and on which agents?",
			query:       listQuery,
			visType:     "table",
			params:      tableParams(),
			aggs: []map[string]any{
				count(),
				terms("2", "bucket", "rule.description", 20, "Rule", ""),
				terms("3", "bucket", "agent.name", 5, "Agent", ""),
				maxOf("4", TimeField, "Last hit"),
			},
			grid: grid{0, 59, 48, 14},
		},
	}
}

// searchColumns are the columns of the saved search: what an analyst reads
// first about a match, left to right.
var searchColumns = []string{
	"agent.name",
	"rule.level",
	"data.misp.indicator",
	"data.misp.indicator_kind",
	"data.misp.threat_level",
	"data.misp.event_info",
	"data.misp.tlp",
	"data.misp.source.description",
	"data.misp.permalink",
}

// searchGrid places the saved search below the visualizations.
var searchGrid = grid{0, 73, 48, 20}

// NDJSON returns the saved objects, one JSON object per line: the
// visualizations, the saved search, then the dashboard that holds them all
// (OpenSearch Dashboards imports them in any order; this one reads well).
func NDJSON() []byte {
	var b bytes.Buffer
	vis := panels()
	var panelRefs []map[string]any
	var refs []reference
	addPanel := func(typ, id string, g grid) {
		i := len(panelRefs)
		name := "panel_" + strconv.Itoa(i)
		index := strconv.Itoa(i + 1)
		panelRefs = append(panelRefs, map[string]any{
			"version":          panelVersion,
			"gridData":         map[string]any{"x": g.x, "y": g.y, "w": g.w, "h": g.h, "i": index},
			"panelIndex":       index,
			"embeddableConfig": map[string]any{},
			"panelRefName":     name,
		})
		refs = append(refs, reference{ID: id, Name: name, Type: typ})
	}
	for _, v := range vis {
		writeLine(&b, savedObject{
			Attributes: map[string]any{
				"title":       v.title,
				"description": v.description,
				"visState": jsonString(map[string]any{
					"title":  v.title,
					"type":   v.visType,
					"params": v.params,
					"aggs":   v.aggs,
				}),
				"uiStateJSON":           jsonString(orEmpty(v.uiState)),
				"version":               1,
				"kibanaSavedObjectMeta": searchSource(v.query, false),
			},
			ID:               v.id,
			MigrationVersion: map[string]string{"visualization": MigrationVersion["visualization"]},
			References:       []reference{indexReference()},
			Type:             "visualization",
		})
		addPanel("visualization", v.id, v.grid)
	}
	writeLine(&b, savedObject{
		Attributes: map[string]any{
			"title":                 "MISP enriched alerts",
			"description":           "Alerts custom-misp enriched with a MISP match, newest first, with the columns an analyst reads first.",
			"columns":               searchColumns,
			"sort":                  [][]string{{TimeField, "desc"}},
			"hits":                  0,
			"version":               1,
			"kibanaSavedObjectMeta": searchSource(searchQuery, true),
		},
		ID:               SearchID,
		MigrationVersion: map[string]string{"search": MigrationVersion["search"]},
		References:       []reference{indexReference()},
		Type:             "search",
	})
	addPanel("search", SearchID, searchGrid)
	writeLine(&b, savedObject{
		Attributes: map[string]any{
			"title":       "MISP matches",
			"description": "Wazuh alerts that custom-misp enriched with MISP: matches, the indicators and MISP events behind them, errors and operator jobs.",
			"hits":        0,
			"panelsJSON":  jsonString(panelRefs),
			"optionsJSON": jsonString(map[string]any{"useMargins": true, "hidePanelTitles": false}),
			"timeRestore": false,
			"version":     1,
			"kibanaSavedObjectMeta": map[string]any{
				"searchSourceJSON": jsonString(map[string]any{
					"query":  map[string]any{"query": "", "language": "kuery"},
					"filter": []any{},
				}),
			},
		},
		ID:               DashboardID,
		MigrationVersion: map[string]string{"dashboard": MigrationVersion["dashboard"]},
		References:       refs,
		Type:             "dashboard",
	})
	return b.Bytes()
}

// savedObject is one line of an OpenSearch Dashboards export, keys in the
// order the dashboard writes them.
type savedObject struct {
	Attributes       map[string]any    `json:"attributes"`
	ID               string            `json:"id"`
	MigrationVersion map[string]string `json:"migrationVersion"`
	References       []reference       `json:"references"`
	Type             string            `json:"type"`
}

// reference names another saved object; searchSourceJSON and panelsJSON
// point at references by name, never at ids.
type reference struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// indexRefName is the reference name OpenSearch Dashboards gives the index
// pattern of a searchSourceJSON.
const indexRefName = "kibanaSavedObjectMeta.searchSourceJSON.index"

func indexReference() reference {
	return reference{ID: IndexPattern, Name: indexRefName, Type: "index-pattern"}
}

// searchSource is the kibanaSavedObjectMeta of a visualization or search:
// a DQL (kuery) query on the wazuh-alerts-* index pattern.
func searchSource(query string, discover bool) map[string]any {
	s := map[string]any{
		"query":        map[string]any{"query": query, "language": "kuery"},
		"filter":       []any{},
		"indexRefName": indexRefName,
	}
	if discover {
		s["highlightAll"] = true
		s["version"] = true
	}
	return map[string]any{"searchSourceJSON": jsonString(s)}
}

func count() map[string]any {
	return agg("1", "count", "metric", map[string]any{})
}

func dateHistogram(id string) map[string]any {
	return agg(id, "date_histogram", "segment", map[string]any{
		"field":           TimeField,
		"interval":        "auto",
		"min_doc_count":   1,
		"extended_bounds": map[string]any{},
	})
}

// terms buckets by a keyword field, biggest first (ordered by the count,
// agg "1"). A non-empty missing label adds a bucket for documents without
// the field.
func terms(id, schema, field string, size int, label, missing string) map[string]any {
	p := map[string]any{
		"field":            field,
		"orderBy":          "1",
		"order":            "desc",
		"size":             size,
		"otherBucket":      false,
		"otherBucketLabel": "Other",
		"missingBucket":    missing != "",
		"customLabel":      label,
	}
	if missing != "" {
		p["missingBucketLabel"] = missing
	} else {
		p["missingBucketLabel"] = "Missing"
	}
	return agg(id, "terms", schema, p)
}

func cardinality(id, field, label string) map[string]any {
	return agg(id, "cardinality", "metric", map[string]any{"field": field, "customLabel": label})
}

func maxOf(id, field, label string) map[string]any {
	return agg(id, "max", "metric", map[string]any{"field": field, "customLabel": label})
}

// topHit shows a keyword field of the newest document in the bucket.
func topHit(id, field, label string) map[string]any {
	return agg(id, "top_hits", "metric", map[string]any{
		"field":       field,
		"aggregate":   "concat",
		"size":        1,
		"sortField":   TimeField,
		"sortOrder":   "desc",
		"customLabel": label,
	})
}

func agg(id, typ, schema string, params map[string]any) map[string]any {
	return map[string]any{"id": id, "enabled": true, "type": typ, "schema": schema, "params": params}
}

func tableParams() map[string]any {
	return map[string]any{
		"perPage":                10,
		"showPartialRows":        false,
		"showMetricsAtAllLevels": false,
		"sort":                   map[string]any{"columnIndex": nil, "direction": nil},
		"showTotal":              false,
		"totalFunc":              "sum",
		"percentageCol":          "",
	}
}

func pieParams() map[string]any {
	return map[string]any{
		"type":           "pie",
		"addTooltip":     true,
		"addLegend":      true,
		"legendPosition": "right",
		"isDonut":        true,
		"labels":         map[string]any{"show": false, "values": true, "last": true, "truncate": 100},
	}
}

// xyParams are the parameters of a bar or line chart over time, the
// defaults of the dashboard's own editor.
func xyParams(chart string) map[string]any {
	return map[string]any{
		"type": chart,
		"grid": map[string]any{"categoryLines": false},
		"categoryAxes": []any{map[string]any{
			"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": true, "style": map[string]any{},
			"scale":  map[string]any{"type": "linear"},
			"labels": map[string]any{"show": true, "filter": true, "truncate": 100},
			"title":  map[string]any{},
		}},
		"valueAxes": []any{map[string]any{
			"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": true, "style": map[string]any{},
			"scale":  map[string]any{"type": "linear", "mode": "normal"},
			"labels": map[string]any{"show": true, "rotate": 0, "filter": false, "truncate": 100},
			"title":  map[string]any{"text": "Count"},
		}},
		"seriesParams": []any{map[string]any{
			"show": true, "type": chart, "mode": "stacked", "data": map[string]any{"label": "Count", "id": "1"},
			"valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": true, "lineWidth": 2, "showCircles": true,
		}},
		"addTooltip":     true,
		"addLegend":      true,
		"legendPosition": "right",
		"times":          []any{},
		"addTimeMarker":  false,
		"labels":         map[string]any{"show": false},
		"thresholdLine":  map[string]any{"show": false, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// jsonString encodes v as the dashboard stores nested JSON: a compact
// string, map keys sorted (encoding/json's order, hence deterministic),
// without HTML escaping, as JavaScript's JSON.stringify writes it.
func jsonString(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("dashboard: " + err.Error()) // only our own literals get here
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func writeLine(b *bytes.Buffer, o savedObject) {
	b.WriteString(jsonString(o))
	b.WriteByte('\n')
}
