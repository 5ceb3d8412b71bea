module github.com/troupe-go/troupe

go 1.25

require (
	go.uber.org/goleak v1.3.0
	go.uber.org/zap v1.28.0
	golang.org/x/sync v0.19.0
)

require go.uber.org/multierr v1.10.0 // indirect
