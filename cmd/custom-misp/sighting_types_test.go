package main

import (
	"github.com/custom-misp/custom-misp/internal/enrich"
	"github.com/custom-misp/custom-misp/internal/mispproc"
	"github.com/custom-misp/custom-misp/internal/sighting"
)

// What integratord mode hands enrich.Hooks for sightings: the helper
// (Sighter) and the per-server memory (SightingMemory).
var (
	_ enrich.Sighter        = (*mispproc.Searcher)(nil)
	_ enrich.SightingMemory = (*sighting.Store)(nil)
)
