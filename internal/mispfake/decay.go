package mispfake

import (
	"math"
	"slices"
	"strconv"
)

// DecayingModel is a MISP decaying model with the Polynomial formula
// (DecayingModelsFormulas/Polynomial.php): an attribute of one of Types
// scores BaseScore × (1 − (t / lifetime)^(1 / DecaySpeed)), where t is the
// time since its timestamp or its last sighting, never below 0, and has
// decayed once Threshold > score. MISP also derives the base score from
// some taxonomies' tags; the fake always uses BaseScore.
type DecayingModel struct {
	ID, Name     string
	LifetimeDays float64
	DecaySpeed   float64
	Threshold    float64
	BaseScore    float64
	Types        []string
}

// NIDSSimpleDecayingModel is MISP's default "NIDS Simple Decaying Model"
// as the test bed enabled it (GET /decayingModel/view/3): 120 days, speed
// 2, threshold 30, base score 80, network types. A fresh attribute decays
// after 120 × (1 − 30/80)² ≈ 46.9 days with nothing changing in MISP.
func NIDSSimpleDecayingModel() DecayingModel {
	return DecayingModel{ID: "3", Name: "NIDS Simple Decaying Model", LifetimeDays: 120, DecaySpeed: 2, Threshold: 30, BaseScore: 80,
		Types: []string{"domain", "domain|ip", "hostname", "hostname|port", "ip-dst", "ip-dst|port", "ip-src", "ip-src|port",
			"url", "snort", "suricata", "zeek", "bro"}}
}

// EnableDecayingModel makes m the one enabled model; nil disables it. With
// none (the fake's default, and the test bed's as set up), includeDecayScore
// and excludeDecayed are accepted and change nothing. Decay moves no
// timestamp: only a full search with excludeDecayed sees it.
func (s *Server) EnableDecayingModel(m *DecayingModel) {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if m != nil {
		c := *m
		c.Types = slices.Clone(m.Types)
		m = &c
	}
	s.decay = m
	s.gen++
}

// Sight records a sighting of an attribute now, as POST /sightings/add
// does: no timestamp moves, but the decay score starts again from full.
func (s *Server) Sight(attrID string) error {
	return s.change(func(now int64) error {
		a, err := s.attrNamed(attrID)
		if err != nil {
			return err
		}
		s.sighted[a] = now
		return nil
	})
}

// decayScore is one entry of an attribute's "decay_score".
type decayScore struct {
	score, base float64
	decayed     bool
}

// decayOf scores a under the enabled model; ok is false when no model is
// enabled or the model does not cover a's type. threshold overrides the
// model's when positive ("score" in the query). The caller holds dbMu.
func (s *Server) decayOf(a *attribute, threshold float64) (decayScore, bool) {
	m := s.decay
	if m == nil || !slices.Contains(m.Types, a.typ) {
		return decayScore{}, false
	}
	last := max(a.ts, s.sighted[a])
	elapsed := float64(s.now().Unix() - last)
	score := 0.0
	if elapsed >= 0 {
		score = max(m.BaseScore*(1-math.Pow(elapsed/(m.LifetimeDays*86400), 1/m.DecaySpeed)), 0)
	}
	if threshold <= 0 {
		threshold = m.Threshold
	}
	return decayScore{score: score, base: m.BaseScore, decayed: threshold > score}, true
}

// appendDecay appends ,"decay_score":[...] when the model covers a.
func (s *Server) appendDecay(b []byte, q query, a *attribute) []byte {
	d, ok := s.decayOf(a, q.scoreThreshold)
	if !ok {
		return b
	}
	b = append(appendKey(b, "decay_score", false), '[', '{')
	b = strconv.AppendFloat(appendKey(b, "score", true), d.score, 'f', -1, 64)
	b = strconv.AppendFloat(appendKey(b, "base_score", false), d.base, 'f', -1, 64)
	b = appendBoolField(b, "decayed", d.decayed)
	b = appendString(appendKey(append(appendKey(b, "DecayingModel", false), '{'), "id", true), s.decay.ID)
	b = appendField(b, "name", s.decay.Name)
	return append(b, '}', '}', ']')
}
