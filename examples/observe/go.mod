module github.com/troupe-go/troupe/examples/observe

go 1.26.0

replace (
	github.com/troupe-go/troupe => ../../
	github.com/troupe-go/troupe/prom => ../../prom
)
