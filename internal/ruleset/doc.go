// Package ruleset holds the checks of the Wazuh side of custom-misp: the
// decoder in decoders/, the rules in rules/ and the ossec.conf snippets in
// ossec-snippets/. It has no code of its own; the tests load those files,
// check IDs and references, and run the enrichment events the binary builds
// (internal/event) through a small model of wazuh-analysisd's decoding and
// rule matching. The model is a cross-check, not the authority: that is
// wazuh-logtest on a manager (see rules/README.md).
//
// The snippets' <group> list is derived from a stock Wazuh ruleset by
// stock_test.go (criterion and regeneration there) and kept in
// testdata/alert-groups.txt, so that CI, which has no Wazuh source, checks
// the snippets against it.
package ruleset
