package strategy_test

import (
	"testing"

	"github.com/troupe-go/troupe/internal/apiedge"
)

// TestNoContextsOrOptions checks what the package doc says under "Nil
// contexts and options": nothing in strategy takes a context or options.
// Adding one means stating the rule in the doc and adding a nil-edge
// table, as the other packages do.
func TestNoContextsOrOptions(t *testing.T) {
	missing, _, err := apiedge.Diff(".", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("%s takes a context or options: state the nil rule in the package doc and test it with nil", m)
	}
}
