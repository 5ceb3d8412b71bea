package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// FromLines adds a resumable source (see FromResumable) that emits the
// lines of the file at path, without their line ends (dropped as
// bufio.ScanLines does: "\n" and a "\r" before it), and commits byte
// offsets to cp. A line's next position is the offset just after its
// "\n"; a last line without one is emitted too, and its next position is
// the file's size.
// The committed position is therefore always the start of a line or the
// size of the file read, and a restart reads whole lines only: after a
// complete run it emits nothing.
//
// The file must not change while it is read. Between runs it may grow by
// whole lines appended (after a last line that has no line end, an
// append would change that line). A checkpoint past the end of the file,
// or inside a line, means the file was replaced or rewritten: the source
// then fails with an error wrapping ErrPosition instead of reading from
// the middle of a line.
func FromLines(p *Pipeline, name, path string, cp Checkpointer) *Stream[string] {
	if path == "" && p != nil {
		p.addErr(fmt.Errorf("source %q: %w", name, invalidf("empty path")))
	}
	return FromResumable(p, name, cp, func(ctx context.Context, from uint64, emit func(string, uint64) error) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := seekLine(f, from); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r := bufio.NewReaderSize(f, 64<<10)
		next := from
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				next += uint64(len(line))
				text := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
				if err := emit(text, next); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// seekLine moves f to offset from, after checking that from is the start
// of a line or the end of the file.
func seekLine(f *os.File, from uint64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := uint64(fi.Size())
	switch {
	case from > size:
		return fmt.Errorf("%w: checkpoint %d is past the end of the file (%d bytes)", ErrPosition, from, size)
	case from > 0 && from < size:
		var b [1]byte
		if _, err := f.ReadAt(b[:], int64(from-1)); err != nil {
			return err
		}
		if b[0] != '\n' {
			return fmt.Errorf("%w: checkpoint %d is not at the start of a line", ErrPosition, from)
		}
	}
	_, err = f.Seek(int64(from), io.SeekStart)
	return err
}
