// gas-promtool-test: `promtool test rules` without the rest of promtool.
//
// promtool links every service-discovery SDK (AWS, Azure, GCE, Kubernetes, ...) and took
// over 8 minutes to compile on the CI machine; its rule tests need only the PromQL engine,
// the rule manager and the promqltest loader. unittest.go is promtool's own test runner,
// copied unchanged from github.com/prometheus/prometheus (cmd/promtool/unittest.go, the
// version pinned in go.mod): the same file format and the same semantics as
// `promtool test rules`, evaluated by Prometheus' own engine.
//
//	gas-promtool-test [--run REGEX] [--debug] [--diff] TEST_FILE...
//
// Exit status 0 when every test passes, 1 when one fails, 2 on a usage error.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var run multiFlag
	flag.Var(&run, "run", "only test groups whose name matches this regular expression (repeatable)")
	debug := flag.Bool("debug", false, "print the series and alerts of each evaluation")
	diff := flag.Bool("diff", false, "print a diff of expected and actual alerts")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gas-promtool-test [--run REGEX] [--debug] [--diff] TEST_FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var runStrings []string
	if len(run) > 0 {
		runStrings = run
	}
	// The options `promtool test rules` uses by default.
	opts := promqltest.LazyLoaderOpts{EnableAtModifier: true, EnableNegativeOffset: true}
	os.Exit(RulesUnitTest(opts, parser.NewParser(parser.Options{}), runStrings, *diff, *debug, false, flag.Args()...))
}
