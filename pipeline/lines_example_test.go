package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/troupe-go/troupe/pipeline"
)

// This example reads a file's lines with a checkpoint of byte offsets:
// a second run reads only what was appended since the first.
func ExampleFromLines() {
	dir, err := os.MkdirTemp("", "lines")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "orders.csv")
	cp := pipeline.NewFileCheckpointer(filepath.Join(dir, "orders.pos"))

	load := func() {
		p := pipeline.New()
		out := pipeline.Collect(pipeline.FromLines(p, "orders", path, cp), "out")
		if err := p.Run(context.Background()); err != nil {
			fmt.Println(err)
			return
		}
		pos, _, _ := cp.Load(context.Background())
		fmt.Printf("%q, checkpoint %d\n", out.Items(), pos)
	}
	appendLines := func(s string) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			_, err = f.WriteString(s)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Println(err)
		}
	}

	appendLines("1,alice,30\n2,bob,12\n")
	load()
	load()
	appendLines("3,carol,7\n")
	load()
	// Output:
	// ["1,alice,30" "2,bob,12"], checkpoint 20
	// [], checkpoint 20
	// ["3,carol,7"], checkpoint 30
}
