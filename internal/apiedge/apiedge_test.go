package apiedge_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/internal/apiedge"
)

func TestScan(t *testing.T) {
	got, err := apiedge.Scan("testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]apiedge.Kind{
		"Wait":        apiedge.Context,
		"Spawn":       apiedge.Options,
		"Both":        apiedge.Context | apiedge.Options,
		"WithStore":   apiedge.NilValue,
		"WithFunc":    apiedge.NilValue,
		"WithMany":    apiedge.NilValue,
		"T.Stop":      apiedge.Context,
		"G.Send":      apiedge.Context,
		"Hook.Before": apiedge.Context,
	}
	if !maps.Equal(got, want) {
		t.Errorf("Scan: got %v; want %v", got, want)
	}
}

func TestDiff(t *testing.T) {
	missing, extra, err := apiedge.Diff("testdata/sample", []string{"Wait", "Spawn", "Both", "WithStore", "WithFunc", "WithMany", "T.Stop", "G.Send", "Gone"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Hook.Before (context)"}; !slices.Equal(missing, want) {
		t.Errorf("missing: got %q; want %q", missing, want)
	}
	if want := []string{"Gone"}; !slices.Equal(extra, want) {
		t.Errorf("extra: got %q; want %q", extra, want)
	}
}

func TestCheckDoc(t *testing.T) {
	if err := apiedge.CheckDoc("testdata/sample"); err != nil {
		t.Errorf("CheckDoc(sample): %v", err)
	}
	if err := apiedge.CheckDoc("."); err == nil {
		t.Errorf("CheckDoc(apiedge): got nil; want an error (its doc does not state the rule)")
	}
}
